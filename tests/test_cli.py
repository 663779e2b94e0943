"""The real commands, run as a user would run them (python -m earmark)."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from _signals import SR, make_clip, write_dataset

FAST_ARGS = ["--model", "sbcnn", "--epochs", "8", "--batch-size", "16", "--augment", "none",
             "--sample-rate", str(SR), "--n-fft", "256", "--hop-length", "128", "--n-mels", "32",
             "--window-s", "0.5", "-q"]


def run(*args, ok=True):
    p = subprocess.run([sys.executable, "-m", "earmark", *map(str, args)], capture_output=True,
                       text=True, timeout=600)
    if ok:
        assert p.returncode == 0, p.stderr
    return p


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("cli"), per_class=10, seed=1, groups=3)


def test_inspect_prints_counts_and_writes_json(data, tmp_path):
    p = run("inspect", data, "--json", tmp_path / "i.json", "-q")
    assert "30 clips in 3 classes" in p.stdout
    assert "problems: none" in p.stdout
    r = json.loads((tmp_path / "i.json").read_text())
    assert r["classes"]["low"]["count"] == 10
    assert r["folds"] == {"1": {"high": 4, "low": 4, "noise": 4},
                          "2": {"high": 3, "low": 3, "noise": 3},
                          "3": {"high": 3, "low": 3, "noise": 3}}


def test_inspect_reports_duplicate_leak(data, tmp_path):
    import shutil
    d = tmp_path / "d"
    shutil.copytree(data, d)
    meta = (d / "metadata.csv").read_text().splitlines()
    shutil.copy(d / "low/low_00.wav", d / "low/copy_of_low_00.wav")
    meta.append("low/copy_of_low_00.wav,low,2,g1")   # low_00 is in fold 1
    (d / "metadata.csv").write_text("\n".join(meta) + "\n")
    p = run("inspect", d, "-q", "--strict", ok=False)
    assert p.returncode == 1
    assert "1 across folds (leakage)" in p.stdout and "LEAK" in p.stdout


def test_train_chooses_the_window_unless_given(data, tmp_path):
    import earmark
    args = [a for a in FAST_ARGS if a not in ("--window-s", "0.5")]
    args[args.index("--epochs") + 1] = "1"
    model = tmp_path / "auto.earmark"
    run("train", data, "--out", model, *args)
    clf = earmark.load(model)
    # clips of 0.6-1.2 s (median about 0.9 s): a 1-s window holds them
    assert (clf.features_.window_s, clf.features_.hop_s) == (1.0, 0.5)
    assert clf.features_.n_mels == 32            # the given front-end options are kept
    run("train", data, "--out", model, *args, "--window-s", "0.5")
    given = earmark.load(model).features_
    assert (given.window_s, given.hop_s) == (0.5, 0.25)


def test_train_evaluate_predict(data, tmp_path):
    model = tmp_path / "m.earmark"
    run("train", data, "--out", model, *FAST_ARGS)
    assert model.stat().st_size > 10_000

    cv = tmp_path / "cv.json"
    p = run("evaluate", data, "--folds", "fold", "--json", cv, *FAST_ARGS)
    r = json.loads(cv.read_text())
    assert {"balanced_accuracy", "accuracy", "macro_f1", "folds"} <= set(r)
    assert [f["fold"] for f in r["folds"]] == ["1", "2", "3"]
    assert sum(f["n_test"] for f in r["folds"]) == 30
    assert r["config"]["training"]["epochs"] == 8 and r["config"]["augmentation"] is None
    assert r["balanced_accuracy"] == pytest.approx(np.mean([f["balanced_accuracy"]
                                                            for f in r["folds"]]))
    assert (tmp_path / "cv_confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert "balanced accuracy" in p.stdout

    rng = np.random.default_rng(9)
    more = tmp_path / "more"
    more.mkdir()
    sf.write(more / "a.wav", make_clip("high", rng), SR)
    sf.write(more / "b.flac", make_clip("low", rng), SR)
    (more / "broken.wav").write_bytes(b"not audio at all")
    one = tmp_path / "one.wav"
    sf.write(one, make_clip("noise", rng), SR)
    out = tmp_path / "pred.csv"
    p = run("predict", model, one, more, "--out", out, "-q")
    t = pd.read_csv(out)
    assert list(t.columns) == ["path", "label", "high", "low", "noise", "error"]
    assert len(t) == 4 and t["error"].notna().sum() == 1
    assert "1 with errors" in p.stdout

    out_w = tmp_path / "pred_windows.csv"
    run("predict", model, one, "--out", out_w, "--windows", "-q")
    tw = pd.read_csv(out_w)
    assert {"start_s", "end_s"} <= set(tw.columns) and len(tw) >= 2


def test_grouped_kfold_and_bad_input(data, tmp_path):
    cv = tmp_path / "cv.json"
    run("evaluate", data, "--groups", "group", "--k", "3", "--json", cv, *FAST_ARGS,
        "--epochs", "2")
    r = json.loads(cv.read_text())
    assert r["protocol"] == "groups=group, k=3" and len(r["folds"]) == 3

    p = run("train", tmp_path / "nope", "--out", tmp_path / "x.earmark", ok=False)
    assert p.returncode == 2 and "no such file or folder" in p.stderr
    p = run("predict", tmp_path / "missing.earmark", data, "--out", tmp_path / "p.csv", ok=False)
    assert p.returncode == 2 and "model file not found" in p.stderr
    assert not (tmp_path / "p.csv").exists()


# -- the parser: options, help and errors (in-process, no training) ------------------------------

COMMANDS = ("inspect", "train", "evaluate", "predict", "detect", "segment", "embed", "models",
            "datasets", "serve", "batch", "stream", "export")


def test_python_m_earmark_help_lists_the_commands():
    p = run("--help")
    for command in COMMANDS:
        assert command in p.stdout
    assert "{" + ",".join(COMMANDS) + "}" in p.stdout.replace("\n", "").replace(" ", "")


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_task_and_annotations_in_help(command, capsys):
    from earmark.cli import main

    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--task {classification,tagging,detection,novelty}" in out
    assert "multi-label tagging: a clip may carry several labels" in out
    assert "per-class thresholds tuned to maximise F1" in out
    assert "--annotations FILE" in out
    assert "--aggregation {mean,max,vote,lse}" in out


def test_inspect_takes_annotations(capsys):
    from earmark.cli import main

    with pytest.raises(SystemExit):
        main(["inspect", "--help"])
    assert "--annotations FILE" in capsys.readouterr().out


def _args(*argv):
    from earmark.cli import build_parser
    return build_parser().parse_args(["train", "d", "--out", "m.earmark", *argv])


def test_estimator_from_options_classification_by_default():
    from earmark import SoundClassifier
    from earmark.cli._options import _estimator

    clf = _estimator(_args("--epochs", "3"))
    assert type(clf) is SoundClassifier and clf.epochs == 3
    assert clf.aggregation == SoundClassifier().aggregation   # the estimator's own default
    assert _estimator(_args("--aggregation", "max")).aggregation == "max"


def test_task_tagging_builds_a_sound_tagger_with_the_same_params():
    import earmark
    from earmark.cli._options import _estimator

    tagger = _estimator(_args("--task", "tagging", "--epochs", "3", "--seed", "4"))
    assert type(tagger) is earmark.SoundTagger
    assert tagger.aggregation is None and tagger.aggregation_ == "lse"   # its own default
    assert tagger.val_fraction is None and tagger.window_labels == "clip"
    assert tagger.epochs == 3 and tagger.seed == 4
    # the open-set options ('unknown' answers) are the classifier's alone
    assert set(tagger.get_params()) == (set(earmark.SoundClassifier().get_params())
                                        - {"unknown", "rejection"}) | {"window_labels"}
    assert _estimator(_args("--task", "tagging", "--aggregation", "lse")).aggregation == "lse"
    assert _estimator(_args("--task", "tagging", "--window-labels", "events")
                      ).window_labels == "events"
    with pytest.raises(earmark.ParameterError, match="--window-labels applies to --task tagging"):
        _estimator(_args("--window-labels", "events"))


def test_annotations_load_the_dataset_with_them(monkeypatch):
    import earmark.data
    from earmark.cli._options import load_data

    calls = []
    monkeypatch.setattr(earmark.data, "load_dataset",
                        lambda source, **kw: calls.append((source, kw)) or "the dataset")
    assert load_data(_args()) == "d" and calls == []      # without it: the path, as before
    assert load_data(_args("--annotations", "events.csv")) == "the dataset"
    assert calls == [("d", {"annotations": "events.csv"})]
