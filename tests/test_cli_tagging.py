"""The tagging flow from the command line: evaluate, train, predict (generated clips)."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from _signals import write_tagging_dataset


def run(*args):
    p = subprocess.run([sys.executable, "-m", "earmark", *map(str, args)], capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    return p


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_tagging_dataset(tmp_path_factory.mktemp("cli_tags") / "data", n_clips=32)


def test_evaluate_train_predict_tagging(data, tmp_path):
    cv = tmp_path / "cv.json"
    report = tmp_path / "report.html"
    out = run("evaluate", data, "--task", "tagging", "--folds", "fold", "--json", cv,
              "--report", report, "--recipe", "embed:classic+logreg", "-q").stdout
    assert "macro mAP" in out and "threshold" in out
    r = json.loads(cv.read_text())
    for key in ("map_macro", "map_micro", "f1_micro"):
        assert 0.5 < r[key] <= 1.0
    assert r["task"] == "tagging" and len(r["folds"]) == 4
    assert r["map_macro"] == pytest.approx(sum(f["map_macro"] for f in r["folds"]) / 4)
    assert "Precision-recall" in report.read_text() or "precision-recall" in report.read_text()
    model = tmp_path / "tags.earmark"
    out = run("train", data, "--task", "tagging", "--recipe", "embed:classic+logreg",
              "--out", model, "-q").stdout
    assert "decision thresholds" in out
    table = tmp_path / "tags.csv"
    run("predict", model, data / "audio", "--out", table, "-q")
    t = pd.read_csv(table, keep_default_na=False)
    assert list(t.columns[:2]) == ["path", "labels"]
    assert set(t.columns[2:5]) == {"high", "low", "noise"} and len(t) == 32
    truth = pd.read_csv(data / "metadata.csv")
    by_name = dict(zip(truth["filename"].str.replace("audio/", ""), truth["labels"]))
    right = sum(set(row.labels.split(";")) - {""} == set(by_name[row.path.split("/")[-1]]
                                                         .split(";"))
                for row in t.itertuples())
    assert right >= 24                  # training clips: most tag sets exactly right
