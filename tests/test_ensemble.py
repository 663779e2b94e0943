"""Ensembles: the mean of the members' clip probabilities, one model file, and their CV score
from the members' out-of-fold predictions."""

import numpy as np
import pytest

import earmark
from earmark import SoundClassifier
from earmark.bundle import read_bundle
from earmark.cli import main
from earmark.ensemble import EnsembleClassifier, combine_cv_results
from earmark.errors import NotFittedError, ParameterError

from _signals import FAST, write_dataset

CNN = {**{k: v for k, v in FAST.items() if k != "progress"}, "val_fraction": 0.0, "epochs": 6}
CLASSIC = {"recipe": "embed:classic+logreg", "progress": False}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("ens"), per_class=8, seed=3)


@pytest.fixture(scope="module")
def fitted(data):
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return EnsembleClassifier([SoundClassifier(**CNN, progress=False), SoundClassifier(**CLASSIC)],
                                  progress=False).fit(data)
    finally:
        torch.set_num_threads(before)


def _wavs(data):
    return sorted(str(p) for p in data.rglob("*.wav"))[:6]


def test_probabilities_are_the_mean_of_the_members(fitted, data):
    files = _wavs(data)
    a, b = (m.predict_proba(files) for m in fitted.members_)
    p = fitted.predict_proba(files)
    np.testing.assert_allclose(p, (a + b) / 2, rtol=1e-6)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    assert list(fitted.predict(files)) == [fitted.classes_[i] for i in p.argmax(1)]
    assert fitted.recipe == "ensemble:cnn,embed:classic+logreg"


def test_round_trip_through_one_model_file(fitted, data, tmp_path):
    path = fitted.save(tmp_path / "ens.earmark")
    meta, arrays = read_bundle(path)
    assert meta["kind"] == "ensemble" and len(meta["members"]) == 2
    assert all(k.startswith(("m0/", "m1/")) for k in arrays)
    loaded = earmark.load(path)
    assert isinstance(loaded, EnsembleClassifier)
    files = _wavs(data)
    np.testing.assert_allclose(loaded.predict_proba(files), fitted.predict_proba(files),
                               rtol=1e-5, atol=1e-6)


def test_table_has_errors_per_file_and_refuses_windows(fitted, data, tmp_path):
    bad = tmp_path / "corrupt.wav"
    bad.write_bytes(b"RIFF not audio")
    files = _wavs(data)[:2]
    table = fitted.predict_table([files[0], str(bad), files[1]], progress=False)
    assert list(table.columns) == ["path", "label", *fitted.classes_, "error"]
    assert table["error"].isna().tolist() == [True, False, True]
    assert "corrupt.wav" in table["error"][1] and table["label"][1] is None
    np.testing.assert_allclose(table.loc[[0, 2], fitted.classes_].to_numpy(),
                               fitted.predict_proba(files), rtol=1e-5)
    with pytest.raises(ParameterError, match="ensemble scores whole files"):
        fitted.predict_table(files, windows=True)


def test_bad_members_and_unfitted_use_are_refused(data):
    with pytest.raises(ParameterError, match="at least 2 classifiers"):
        EnsembleClassifier([SoundClassifier(**CLASSIC)]).fit(data)
    with pytest.raises(ParameterError, match="earmark estimators"):
        EnsembleClassifier([SoundClassifier(**CLASSIC), "cnn"]).fit(data)
    with pytest.raises(NotFittedError, match="EnsembleClassifier is not fitted"):
        EnsembleClassifier([SoundClassifier(**CLASSIC)] * 2).predict(["a.wav"])


def _result(probs, truth, folds, labels=("a", "b")):
    return {"labels": list(labels), "predictions": [
        {"path": f"{i}.wav", "start_s": None, "end_s": None, "fold": f, "label": t,
         "probabilities": dict(zip(labels, p))}
        for i, (p, t, f) in enumerate(zip(probs, truth, folds))]}


def test_combine_cv_results_known_answer():
    truth, folds = ["a", "b", "a", "b"], ["1", "1", "2", "2"]
    # each alone gets one clip of each fold wrong; their mean gets all four right
    r1 = _result([(0.9, 0.1), (0.6, 0.4), (0.8, 0.2), (0.7, 0.3)], truth, folds)
    r2 = _result([(0.4, 0.6), (0.1, 0.9), (0.45, 0.55), (0.0, 1.0)], truth, folds)
    for r in (r1, r2):
        assert combine_cv_results([r, r])["balanced_accuracy"] == pytest.approx(0.5)
    both = combine_cv_results([r1, r2])
    assert both["balanced_accuracy"] == pytest.approx(1.0)
    assert [f["fold"] for f in both["folds"]] == ["1", "2"]
    assert both["predictions"][1]["probabilities"]["b"] == pytest.approx(0.65)
    with pytest.raises(ParameterError, match="same clips"):
        combine_cv_results([r1, _result([(1, 0)] * 3, truth[:3], folds[:3])])
    with pytest.raises(ParameterError, match="at least 2"):
        combine_cv_results([r1])


def test_auto_scores_ensembles_of_the_best_from_their_folds(data, one_torch_thread):
    cands = (("embed:classic+logreg", {}), ("cnn", CNN))
    r = earmark.auto_select(data, budget_min=10, candidates=cands, progress=False)
    recipes = [row["recipe"] for row in r["rows"]]
    assert recipes[:2] == ["embed:classic+logreg", "cnn"] and len(recipes) == 3
    ens = r["rows"][2]
    done = sorted(r["rows"][:2], key=lambda row: -row["balanced_accuracy"])
    assert ens["recipe"] == "ensemble:" + ",".join(row["recipe"] for row in done)
    cvs = {rec: earmark.cross_validate(data, folds="fold", recipe=rec, seed=0, progress=False,
                                       **extra)
           for rec, extra in cands}
    expected = combine_cv_results([cvs[row["recipe"]] for row in done])
    assert ens["balanced_accuracy"] == pytest.approx(expected["balanced_accuracy"])
    assert [m["recipe"] for m in ens["params"]["members"]] == [row["recipe"] for row in done]
    no = earmark.auto_select(data, budget_min=10, candidates=cands[:1], progress=False)
    assert len(no["rows"]) == 1          # one finished candidate: no ensemble row


def test_cli_auto_can_save_an_ensemble(data, tmp_path, monkeypatch, capsys, one_torch_thread):
    import earmark.auto as A

    # force the ensemble to win: the members' own rows get a lower score than the ensemble row
    real = A._ensemble_rows

    def winning(done, results, **kw):
        rows = real(done, results, **kw)
        for row in rows:
            row["score"] = row["balanced_accuracy"] = 2.0
        return rows

    monkeypatch.setattr(A, "_ensemble_rows", winning)
    monkeypatch.setattr(A, "AUTO_CANDIDATES", (("embed:classic+logreg", {}),
                                               ("cnn", {"features": CNN["features"]})))
    out = tmp_path / "auto.earmark"
    assert main(["train", str(data), "--recipe", "auto", "--budget-min", "10", "--epochs", "3",
                 "--augment", "none", "--out", str(out), "-q"]) == 0
    text = capsys.readouterr().out
    assert "mean of the members' clip probabilities" in text
    clf = earmark.load(out)
    assert isinstance(clf, EnsembleClassifier)
    assert sorted(m.recipe for m in clf.members_) == ["cnn", "embed:classic+logreg"]
    assert clf.train_info_["auto"]["rows"][-1]["recipe"].startswith("ensemble:")
    pred = tmp_path / "p.csv"
    assert main(["predict", str(out), *_wavs(data)[:2], "--out", str(pred), "-q"]) == 0
    assert pred.read_text().count("\n") == 3


def test_cli_train_and_evaluate_an_ensemble_recipe(data, tmp_path, capsys, one_torch_thread):
    import json

    recipe = "ensemble:embed:classic+logreg,embed:classic+rf"
    cv = tmp_path / "cv.json"
    report = tmp_path / "cv.html"
    assert main(["evaluate", str(data), "--folds", "fold", "--recipe", recipe, "--json",
                 str(cv), "--report", str(report), "-q"]) == 0
    r = json.loads(cv.read_text())
    members = [earmark.cross_validate(data, folds="fold", recipe=m, progress=False)
               for m in ("embed:classic+logreg", "embed:classic+rf")]
    assert r["balanced_accuracy"] == pytest.approx(
        combine_cv_results(members)["balanced_accuracy"])
    assert {"accuracy", "macro_f1", "folds", "confusion_matrix"} <= set(r)
    assert len(r["members"]) == 2 and len(r["folds"]) == 4
    assert (tmp_path / "cv_confusion.png").stat().st_size > 0 and report.stat().st_size > 0
    out = tmp_path / "e.earmark"
    assert main(["train", str(data), "--recipe", recipe, "--out", str(out), "-q"]) == 0
    assert earmark.load(out).recipe == recipe
    for bad in ("ensemble:cnn", "ensemble:cnn,auto"):
        with pytest.raises(SystemExit, match="an ensemble names 2 or more recipes"):
            main(["train", str(data), "--recipe", bad, "--out", str(out), "-q"])
    with pytest.raises(SystemExit, match="feature options do not apply to an ensemble"):
        main(["train", str(data), "--recipe", recipe, "--n-mels", "32", "--out", str(out)])


def test_a_recipe_named_again_gets_the_next_seed():
    from earmark.cli import _ensemble, build_parser

    args = build_parser().parse_args(["train", "d", "--recipe",
                                      "ensemble:cnn,embed:classic+logreg,cnn,cnn", "--seed", "5",
                                      "--out", "m.earmark"])
    ens = _ensemble(args)
    assert [(m.recipe, m.seed) for m in ens.members] == [
        ("cnn", 5), ("embed:classic+logreg", 5), ("cnn", 6), ("cnn", 7)]
    assert args.seed == 5


def test_a_missing_model_is_named_before_any_member_trains(data, tmp_path, monkeypatch,
                                                            capsys):
    import time

    from earmark.models.embeddings import ModelNotInstalledError

    monkeypatch.setenv("EARMARK_HOME", str(tmp_path / "empty"))
    ens = EnsembleClassifier([SoundClassifier(**{**CNN, "epochs": 500}, progress=False),
                              SoundClassifier(recipe="embed:yamnet+logreg", progress=False)])
    t = time.perf_counter()
    with pytest.raises(ModelNotInstalledError, match="earmark models install yamnet"):
        ens.fit(data)
    assert time.perf_counter() - t < 10 and not hasattr(ens, "members_")
    t = time.perf_counter()
    assert main(["evaluate", str(data), "--folds", "fold", "--recipe",
                 "ensemble:cnn,embed:yamnet+logreg", "--epochs", "500", "-q"]) == 2
    assert "earmark models install yamnet" in capsys.readouterr().err
    assert time.perf_counter() - t < 10
