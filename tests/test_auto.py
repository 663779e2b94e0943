"""--recipe auto: candidates cross-validated on the same folds within a budget, the best kept."""

import json

import pytest

import earmark
import earmark.auto as A
from earmark.bundle import read_bundle
from earmark.cli import main
from earmark.errors import EarmarkError, ParameterError

from _signals import write_dataset, write_tagging_dataset

CNN = {"epochs": 6, "batch_size": 16, "augment": None,
       "features": {"sample_rate": 8000, "n_fft": 256, "hop_length": 128, "n_mels": 32,
                    "window_s": 0.5, "hop_s": 0.25}}
CANDIDATES = (("embed:classic+logreg", {}), ("embed:yamnet+logreg", {}), ("cnn", CNN))


@pytest.fixture(autouse=True)
def empty_home(tmp_path, monkeypatch):
    """No installed models: YAMNet is skipped with its install command."""
    monkeypatch.setenv("EARMARK_HOME", str(tmp_path / "home"))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("auto"), per_class=10, seed=0)


def test_candidates_run_on_the_same_folds_and_the_best_wins(data, one_torch_thread):
    r = earmark.auto_select(data, budget_min=10, candidates=CANDIDATES, ensembles=False,
                            progress=False)
    rows = {row["recipe"]: row for row in r["rows"]}
    assert [row["recipe"] for row in r["rows"]] == [c[0] for c in CANDIDATES]
    assert rows["embed:yamnet+logreg"]["status"] == "skipped"
    assert "earmark models install yamnet" in rows["embed:yamnet+logreg"]["note"]
    done = [row for row in r["rows"] if row["status"] == "done"]
    assert len(done) == 2
    assert r["best"]["balanced_accuracy"] == max(row["balanced_accuracy"] for row in done)
    assert r["protocol"] == "folds=fold"
    # the scores are those of a plain cross-validation with the same settings
    cv = earmark.cross_validate(data, folds="fold", recipe="embed:classic+logreg",
                                progress=False)
    assert rows["embed:classic+logreg"]["balanced_accuracy"] == pytest.approx(
        cv["balanced_accuracy"])
    assert r["best_params"]["recipe"] == r["best"]["recipe"]


def test_a_candidate_over_budget_is_stopped_and_reported(data):
    with pytest.raises(EarmarkError, match="no recipe finished"):
        earmark.auto_select(data, budget_min=0.0005, candidates=CANDIDATES[:1], progress=False)
    with pytest.raises(earmark.BudgetExceededError, match="after 1 of 4 folds") as exc:
        earmark.cross_validate(data, folds="fold", recipe="embed:classic+logreg",
                               progress=False, time_limit_s=0.01)
    assert len(exc.value.completed) == 1


def test_auto_needs_folds_or_groups(tmp_path):
    root = write_dataset(tmp_path / "d", per_class=4)
    (root / "metadata.csv").unlink()             # class folders only: no fold, no group
    with pytest.raises(ParameterError, match="needs a 'fold' or 'group' column"):
        earmark.auto_select(root, budget_min=1, progress=False)


def test_cli_auto_trains_the_winner_and_records_the_table(data, tmp_path, monkeypatch, capsys,
                                                          one_torch_thread):
    monkeypatch.setattr(A, "AUTO_CANDIDATES", (("embed:classic+logreg", {}),
                                               ("cnn", {"features": CNN["features"]})))
    out = tmp_path / "auto.earmark"
    rc = main(["train", str(data), "--recipe", "auto", "--budget-min", "10", "--epochs", "4",
               "--augment", "none", "--out", str(out), "-q"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "--recipe auto (folds=fold, budget 10 min" in text
    assert "embed:classic+logreg" in text and "cnn" in text
    table_lines = [ln for ln in text.splitlines()
                   if ln.startswith(("  ", "* ")) and "balanced accuracy" in ln]
    assert len(table_lines) == 3            # two candidates and their ensemble, aligned
    assert len({ln.index("balanced accuracy") for ln in table_lines}) == 1
    meta, _ = read_bundle(out)
    table = meta["training"]["info"]["auto"]
    assert [r["recipe"] for r in table["rows"]][:2] == ["embed:classic+logreg", "cnn"]
    assert table["rows"][2]["recipe"].startswith("ensemble:")      # the mean of the two
    best = max((r for r in table["rows"] if r["status"] == "done"),
               key=lambda r: r["balanced_accuracy"])
    assert earmark.load(out).recipe == best["recipe"]
    json.dumps(table)


def test_training_stops_at_the_deadline_inside_a_fold(data, one_torch_thread):
    import time
    t = time.perf_counter()
    with pytest.raises(earmark.BudgetExceededError, match="training stopped after epoch") as e:
        earmark.cross_validate(data, folds="fold", recipe="cnn", progress=False,
                               time_limit_s=2.0,
                               **{**CNN, "epochs": 10_000, "patience": 10_000})
    assert time.perf_counter() - t < 20
    assert 1 <= len(e.value.completed) < 10_000          # the epochs it did run


def test_evaluate_points_auto_to_train(data, capsys):
    with pytest.raises(SystemExit, match="--recipe auto is for 'earmark train'"):
        main(["evaluate", str(data), "--folds", "fold", "--recipe", "auto", "-q"])


def test_negative_budget_is_refused(data):
    with pytest.raises(ParameterError, match="'budget_min' parameter of auto_select"):
        earmark.auto_select(data, budget_min=-1, progress=False)


def test_cli_auto_for_tagging_ranks_by_macro_map(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(A, "AUTO_CANDIDATES", (("embed:classic+logreg", {}),
                                               ("embed:classic+rf", {})))
    data = write_tagging_dataset(tmp_path / "tags", n_clips=32)
    out = tmp_path / "auto.earmark"
    assert main(["train", str(data), "--task", "tagging", "--recipe", "auto", "--budget-min",
                 "10", "--out", str(out), "-q"]) == 0
    text = capsys.readouterr().out
    rows = [ln for ln in text.splitlines() if ln.startswith(("  ", "* ")) and "macro mAP" in ln]
    assert len(rows) == 3                      # two candidates and their ensemble
    meta, _ = read_bundle(out)
    table = meta["training"]["info"]["auto"]["rows"]
    assert all(r["metric"] == "map_macro" for r in table)
    best = max(table, key=lambda r: r["score"])
    assert [ln for ln in rows if ln.startswith("* ")][0].split()[1] == best["recipe"]
    assert isinstance(earmark.load(out), (earmark.SoundTagger, earmark.EnsembleClassifier))
    assert earmark.load(out).task == "tagging"
