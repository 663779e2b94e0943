"""The detection flow from the command line: evaluate, train, detect (every output format),
segment, and training again on the segments (generated scenes with known events)."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from _detection_signals import write_detection_dataset

FAST = ["--sample-rate", "8000", "--n-fft", "256", "--hop-length", "128", "--n-mels", "32",
        "--window-s", "2", "--augment", "none", "-q"]


def run(*args, ok=True):
    p = subprocess.run([sys.executable, "-m", "earmark", *map(str, args)], capture_output=True,
                       text=True, timeout=600)
    if ok:
        assert p.returncode == 0, p.stderr
    return p


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_detection_dataset(tmp_path_factory.mktemp("cli_det") / "data", n_clips=24)


@pytest.fixture(scope="module")
def model(data, tmp_path_factory):
    path = tmp_path_factory.mktemp("cli_det_model") / "calls.earmark"
    out = run("train", data, "--task", "detection", "--out", path, "--epochs", "6", *FAST).stdout
    assert "event post-processing (tuned on" in out and "onset" in out
    return path


def test_evaluate_writes_the_dcase_metrics(data, tmp_path):
    cv, report = tmp_path / "cv.json", tmp_path / "report.html"
    out = run("evaluate", data, "--task", "detection", "--folds", "fold", "--json", cv,
              "--report", report, "--recipe", "embed:classic+logreg", "-q").stdout
    assert "PSDS1" in out and "collar F1" in out
    r = json.loads(cv.read_text())
    for key in ("psds1", "psds2", "collar_f1", "segment_f1"):
        assert 0.0 <= r[key] <= 1.0, key
        assert r[key] == pytest.approx(sum(f[key] for f in r["folds"]) / len(r["folds"]))
    assert r["segment_f1"] > 0.4           # tones in noise: found by a window classifier
    assert r["task"] == "detection" and len(r["folds"]) == 4 and r["examples"]
    assert "PSD-ROC" in report.read_text()


def test_detect_writes_every_format(model, data, tmp_path):
    csv, scores = tmp_path / "events.csv", tmp_path / "scores"
    out = run("detect", model, data / "audio", "--out", csv, "--scores", scores, "-q").stdout
    assert "events in 24 recordings" in out
    t = pd.read_csv(csv)
    assert list(t.columns) == ["filename", "onset", "offset", "event_label", "score"]
    assert (t["offset"] > t["onset"]).all() and set(t["event_label"]) <= {"low", "high"}
    assert len(list(scores.glob("*.tsv"))) == 24
    frame = pd.read_csv(sorted(scores.glob("*.tsv"))[0], sep="\t")
    assert list(frame.columns) == ["onset", "offset", "high", "low"]
    run("detect", model, data / "audio", "--out", tmp_path / "aud", "--format", "audacity", "-q")
    assert len(list((tmp_path / "aud").glob("*.txt"))) == 24
    run("detect", model, data / "audio", "--out", tmp_path / "ev.txt", "--format", "raven", "-q")
    raven = pd.read_csv(tmp_path / "ev.txt", sep="\t")
    assert len(raven) == len(t) and "Begin Path" in raven.columns
    parquet = tmp_path / "ev.parquet"
    run("detect", model, data / "audio", "--out", parquet, "-q")
    pd.testing.assert_frame_equal(pd.read_parquet(parquet)[t.columns].reset_index(drop=True),
                                  t, check_dtype=False, atol=1e-6)


def test_detect_refuses_a_classifier_and_a_bad_output(model, data, tmp_path):
    p = run("detect", model, data / "audio", "--out", data / "audio", ok=False)
    assert p.returncode == 2 and "earmark: error:" in p.stderr


def test_segments_become_training_data(model, data, tmp_path):
    clips = tmp_path / "clips"
    out = run("segment", model, data / "audio", "--out", clips, "--padding", "0.1", "-q").stdout
    assert "manifest.csv" in out
    manifest = pd.read_csv(clips / "manifest.csv")
    assert len(manifest) > 10 and set(manifest["label"]) <= {"low", "high"}
    assert all((clips / p).is_file() for p in manifest["path"])
    run("train", clips / "manifest.csv", "--out", tmp_path / "again.earmark",
        "--recipe", "embed:classic+logreg", "-q")
