"""Open-set classification: rejection scores against references, the threshold from a target
known-class recall, the classifier that answers 'unknown' (fit, predict, the model file), the
leave-classes-out evaluation and the command line, on generated tones and noise."""

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from scipy.special import logsumexp
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors

import earmark
from earmark.cli import main
from earmark.errors import DatasetError, ModelFileError, NotFittedError, ParameterError
from earmark.evaluation.open_set import evaluate_open_set, open_set_metrics
from earmark.models.rejection import (Rejector, clip_window_outputs, parse_unknown,
                                      window_outputs)
from earmark.tasks.classification import UNKNOWN_LABEL, OpenSetClassificationTask
from _signals import FAST, SR, make_clip, write_dataset

TINY = {**FAST, "epochs": 8, "val_fraction": 0.0}


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("EARMARK_HOME", str(tmp_path / "home"))


def _write_clips(folder, kind, n, seed):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        sf.write(folder / f"{kind}_{i}.wav", make_clip(kind, rng), SR, subtype="PCM_16")
    return folder


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A CNN trained on low and high tones with a kNN rejection at 10 %, and noise clips it
    never saw."""
    root = tmp_path_factory.mktemp("open_set")
    data = write_dataset(root / "known", per_class=12, kinds=("low", "high"))
    torch.manual_seed(0)
    clf = earmark.SoundClassifier(unknown="10%", rejection="knn", **TINY).fit(data)
    noise = _write_clips(root / "noise", "noise", 6, seed=7)
    known = root / "known_new"
    _write_clips(known, "low", 3, seed=8)
    _write_clips(known, "high", 3, seed=9)
    return clf, data, noise, known, root


# -- pieces ---------------------------------------------------------------------------------------

def test_open_set_metrics_equal_sklearn_and_hand_counts(rng):
    k, u = rng.normal(0, 1, 40), rng.normal(1, 1, 15)
    ok = rng.uniform(size=40) < 0.8
    m = open_set_metrics(k, u, threshold=0.7, known_correct=ok)
    assert m["auroc"] == pytest.approx(roc_auc_score(np.r_[np.zeros(40), np.ones(15)],
                                                     np.r_[k, u]))
    assert m["known_rejected"] == pytest.approx(np.mean(k > 0.7))
    assert m["unknown_rejected"] == pytest.approx(np.mean(u > 0.7))
    assert m["known_accuracy"] == pytest.approx(np.mean(ok & (k <= 0.7)))
    assert open_set_metrics(k, [])["auroc"] is None
    with pytest.raises(ParameterError, match="finite"):
        open_set_metrics([np.nan], [1.0])


@pytest.mark.parametrize("share", ["5%", "10%", 0.25])
def test_threshold_rejects_at_most_the_share_of_held_out_known_clips(rng, share):
    scores = rng.normal(size=203)
    r = Rejector(score="maxprob", unknown=share).set_calibration(scores)
    fraction = parse_unknown(share)
    assert np.mean(scores > r.threshold_) <= fraction
    # the smallest such threshold: one held-out score lower would reject too many
    lower = np.sort(scores)[np.sort(scores) < r.threshold_]
    assert not len(lower) or np.mean(scores > lower[-1]) > fraction
    # another share moves the threshold on the stored scores
    assert r.set_unknown("40%").threshold_ < np.sort(scores)[-int(0.2 * len(scores))]


@pytest.mark.parametrize("bad", ["0%", "60%", "5", -0.1, 0.9, True, None])
def test_bad_unknown_share_is_refused(bad):
    with pytest.raises(ParameterError, match="The 'unknown' parameter of SoundClassifier"):
        parse_unknown(bad)
    with pytest.raises(ParameterError):
        earmark.SoundClassifier(unknown=bad).check_params() if bad is not None else \
            earmark.SoundClassifier(rejection="entropy").check_params()


def test_knn_distance_is_mean_distance_to_standardised_unit_neighbours(rng):
    ref, query = rng.normal(size=(300, 6)) * [1, 5, 0.1, 2, 1, 3], rng.normal(size=(20, 6))
    r = Rejector(score="knn", n_neighbors=4).fit_reference(ref)
    unit = lambda x: (lambda z: z / np.linalg.norm(z, axis=1, keepdims=True))(  # noqa: E731
        (x - ref.mean(0)) / ref.std(0))
    d, _ = NearestNeighbors(n_neighbors=4).fit(unit(ref)).kneighbors(unit(query))
    np.testing.assert_allclose(r.knn_distance(query), d.mean(axis=1), atol=1e-4)


def test_energy_is_minus_logsumexp_of_logits(rng):
    z = rng.normal(size=(10, 4)) * 5
    r = Rejector(score="energy")
    np.testing.assert_allclose(r.window_values(None, z, None), -logsumexp(z, axis=1))
    with pytest.raises(ParameterError, match="needs the model's logits"):
        r.window_values(np.ones((2, 2)) / 2, None, None)


def test_open_set_task_aggregates_and_decides():
    task = OpenSetClassificationTask(score="energy", threshold=-1.0)
    clip = task.aggregate(np.array([[0.8, 0.2, -3.0], [0.6, 0.4, 0.0]]))
    np.testing.assert_allclose(clip, [0.7, 0.3, -1.5])
    assert task.decide(np.array([clip, [0.1, 0.9, -0.5]]), ["a", "b", "x"]).tolist() == \
        ["a", UNKNOWN_LABEL]


# -- the classifier ------------------------------------------------------------------------------

def test_window_outputs_of_a_cnn_are_its_logits_and_penultimate_layer(fitted):
    clf = fitted[0]
    w = np.random.default_rng(0).standard_normal((5, clf.features_.window_samples)) \
        .astype(np.float32) * 0.3
    p, z, e = window_outputs(clf.model_, w)
    np.testing.assert_allclose(p, clf.model_.score_windows(w), atol=1e-5)
    np.testing.assert_allclose(p, torch.softmax(torch.from_numpy(z), 1).numpy(), atol=1e-5)
    net = clf.model_.net.eval()
    with torch.inference_mode():
        x = clf.model_.featurize(torch.from_numpy(w))
        penultimate = net.head[:-1](net.features(x)).numpy()      # SB-CNN: before the output
    np.testing.assert_allclose(e, penultimate, atol=1e-4)


def test_classifier_answers_unknown_for_a_class_it_never_saw(fitted):
    clf, _, noise, known, _ = fitted
    info = clf.train_info_["rejection"]
    assert info["score"] == "knn" and info["n_held_out_clips"] >= 2
    # a CNN's penultimate activations are only scaled to unit length, not standardised
    assert not clf.rejector_.mean_.any() and (clf.rejector_.scale_ == 1).all()
    assert np.mean(clf.rejector_.calibration_scores_ > clf.rejector_.threshold_) <= 0.1
    assert list(clf.predict([noise])) == [UNKNOWN_LABEL] * 6
    answers = clf.predict([known])
    assert (answers != UNKNOWN_LABEL).sum() >= 5
    # the rejection scores rank noise above new tones
    assert clf.rejection_scores([noise]).min() > np.median(clf.rejection_scores([known]))
    # trained on the clips left after holding out ~20 % by group
    assert info["n_held_out_clips"] + clf.train_info_["n_train_clips"] == 24


def test_predict_table_has_rejection_score_and_model_file_round_trips(fitted, tmp_path):
    clf, _, noise, known, _ = fitted
    table = clf.predict_table([noise, known], progress=False)
    assert list(table.columns) == ["path", "label", "high", "low", "rejection_score", "error"]
    rejected = table["rejection_score"] > clf.rejector_.threshold_
    assert ((table["label"] == UNKNOWN_LABEL) == rejected).all()
    np.testing.assert_allclose(table["rejection_score"],
                               clf.rejection_scores([noise, known]), rtol=1e-5)
    path = clf.save(tmp_path / "open.earmark")
    back = earmark.load(path)
    assert back.rejector_.score == "knn" and back.unknown == "10%"
    assert back.rejector_.threshold_ == pytest.approx(clf.rejector_.threshold_)
    pd.testing.assert_frame_equal(back.predict_table([noise, known], progress=False), table,
                                  atol=1e-5)
    # a looser share: the threshold moves on the stored held-out scores, nothing is refitted
    assert back.set_unknown("40%").rejector_.threshold_ <= clf.rejector_.threshold_


def test_classifier_without_unknown_keeps_its_file_layout(fitted, tmp_path):
    _, data, noise, _, _ = fitted
    plain = earmark.SoundClassifier(**{**TINY, "epochs": 1}).fit(data)
    assert plain.rejector_ is None
    back = earmark.load(plain.save(tmp_path / "plain.earmark"))
    assert back.rejector_ is None and "rejection_score" not in back.predict_table(
        [noise], progress=False)
    with pytest.raises(NotFittedError, match="unknown="):
        back.set_unknown("5%")


def test_damaged_rejection_in_the_model_file_is_refused(fitted, tmp_path):
    import zipfile

    clf = fitted[0]
    good = clf.save(tmp_path / "good.earmark")
    bad = tmp_path / "bad.earmark"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "earmark.json":
                meta = json.loads(data)
                meta["rejection"]["score"] = "energy"   # arrays of a knn rejection
                data = json.dumps(meta).encode()
            zout.writestr(item, data)
    with pytest.raises(ModelFileError, match="bad.earmark.*rejection"):
        earmark.load(bad)


def test_unknown_needs_clips_to_hold_out(tmp_path):
    data = write_dataset(tmp_path / "d", per_class=2, kinds=("low", "high"), groups=1)
    with pytest.raises(DatasetError, match="held out"):
        earmark.SoundClassifier(unknown="5%", **TINY).fit(data)


def test_embedding_recipe_rejects_with_energy_of_its_logreg_head(tmp_path):
    data = write_dataset(tmp_path / "d", per_class=8, kinds=("low", "high"))
    clf = earmark.SoundClassifier(recipe="embed:classic+logreg", unknown="10%",
                                  rejection="energy", progress=False).fit(data)
    w = np.random.default_rng(1).standard_normal((4, clf.features_.window_samples)) \
        .astype(np.float32)
    p, z, e = window_outputs(clf.model_, w)
    np.testing.assert_allclose(p, torch.softmax(torch.from_numpy(z), 1).numpy(), atol=1e-6)
    assert e.shape == (4, clf.model_.embedder.dim)
    outs = clip_window_outputs(clf.model_, [np.zeros(SR, np.float32), np.ones(SR // 2)])
    assert [len(o[0]) for o in outs] == [len(o[2]) for o in outs]
    back = earmark.load(clf.save(tmp_path / "emb.earmark"))
    assert back.rejector_.score == "energy"


# -- evaluation and the command line -----------------------------------------------------------

@pytest.mark.slow
def test_leave_one_class_out_evaluation(tmp_path):
    data = write_dataset(tmp_path / "d", per_class=8, kinds=("low", "high", "noise"))
    r = evaluate_open_set(data, folds="fold", test_folds=["1"], progress=False,
                          estimator=earmark.SoundClassifier(recipe="embed:classic+logreg",
                                                            progress=False))
    assert [run["unknown"] for run in r["runs"]] == [["high"], ["low"], ["noise"]]
    for run in r["runs"]:
        assert run["n_known"] == 4 and run["n_unknown"] == 2   # fold 1: 2 clips per class
        for s in ("maxprob", "energy", "knn"):
            assert 0 <= run[s]["auroc"] <= 1
    assert r["summary"]["knn"]["auroc"] == pytest.approx(
        np.mean([run["knn"]["auroc"] for run in r["runs"]]))
    with pytest.raises(ParameterError, match="unknown_classes"):
        evaluate_open_set(data, folds="fold", unknown_classes=["cat"],
                          estimator=earmark.SoundClassifier())


def test_cli_train_predict_with_unknown(fitted, tmp_path, capsys):
    _, data, noise, known, _ = fitted
    model = tmp_path / "m.earmark"
    assert main(["train", str(data), "--out", str(model), "--unknown", "10%", "--rejection",
                 "knn", "--epochs", "6", "--augment", "none", "--window-s", "0.5",
                 "--sample-rate", str(SR), "--n-fft", "256", "--hop-length", "128",
                 "--n-mels", "32", "-q"]) == 0
    out = capsys.readouterr().out
    assert "answers 'unknown' when the knn rejection score is above" in out
    table = tmp_path / "p.csv"
    assert main(["predict", str(model), str(noise), str(known), "--out", str(table), "-q"]) == 0
    t = pd.read_csv(table)
    assert "rejection_score" in t.columns
    assert (t["label"] == UNKNOWN_LABEL).sum() >= 4
    loose = tmp_path / "loose.csv"
    assert main(["predict", str(model), str(known), "--out", str(loose), "--unknown", "50%",
                 "-q"]) == 0


@pytest.mark.parametrize("argv, message", [
    (["--unknown", "5%", "--task", "tagging"], "classification only"),
    (["--unknown", "5%", "--recipe", "ensemble:cnn,cnn"], "does not apply to --recipe"),
    (["--rejection", "knn"], "give --unknown too"),
    (["--unknown", "5%", "--task", "novelty"], "classification only"),
])
def test_cli_refuses_unknown_where_it_does_not_apply(tmp_path, argv, message, capsys):
    data = write_dataset(tmp_path / "d", per_class=2, kinds=("low", "high"))
    try:
        code = main(["train", str(data), "--out", str(tmp_path / "m.earmark"), *argv])
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("name", ["earmark.models.rejection", "earmark.evaluation.open_set",
                                  "earmark.tasks.classification"])
def test_docstring_examples(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name),
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.slow
def test_cli_evaluate_open_set_prints_the_table_and_writes_json(tmp_path, capsys):
    data = write_dataset(tmp_path / "d", per_class=12, kinds=("low", "high", "noise"))
    js = tmp_path / "open.json"
    assert main(["evaluate", str(data), "--groups", "group", "--k", "2", "--open-set",
                 "noise,low",
                 "--recipe", "embed:classic+logreg", "--json", str(js), "-q"]) == 0
    out = capsys.readouterr().out
    assert "energy AUROC" in out and "(default)" in out
    r = json.loads(js.read_text())
    assert [run["unknown"] for run in r["runs"]] == [["noise"]] * 2 + [["low"]] * 2
    assert r["protocol"] == "groups=group, k=2"   # 2 held-out classes x 2 folds
    assert set(r["summary"]) == {"maxprob", "energy", "knn"}


def test_an_ensemble_keeps_its_members_without_their_rejection(fitted, tmp_path):
    clf, data, noise, _, _ = fitted
    other = earmark.SoundClassifier(**{**TINY, "epochs": 1, "seed": 1}).fit(data)
    ens = earmark.EnsembleClassifier.from_fitted([clf, other])
    back = earmark.load(ens.save(tmp_path / "ens.earmark"))
    assert back.members_[0].rejector_ is None
    assert UNKNOWN_LABEL not in back.predict([noise])
