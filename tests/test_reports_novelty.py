"""The novelty detection report (earmark.reports.novelty), read without a browser: the page of a
real cross-validation of a NoveltyDetector on generated normal and anomalous clips holds the
metrics of the result, a score histogram per fold with its threshold, the ROC curves with the
operating points, and the highest-scoring clips with audio and spectrogram; bad results are
refused; `earmark evaluate --task novelty --report` writes it."""

import os

import pytest

import earmark
from earmark.cli import main
from earmark.errors import ParameterError
from earmark.reports import novelty_plots
from earmark.reports.novelty import (highest_scoring, missed_anomalies, roc_curves,
                                     write_novelty_report)
from test_novelty import _write
from test_reports import _decode_data_uri, page_numbers, parse, with_attr


@pytest.fixture(scope="module")
def cv(tmp_path_factory):
    root = _write(tmp_path_factory.mktemp("novelty_report"), n=32, folds=2)
    home = tmp_path_factory.mktemp("home")
    before = os.environ.get("EARMARK_HOME")
    os.environ["EARMARK_HOME"] = str(home)
    try:
        r = earmark.cross_validate(root, folds="fold", progress=False,
                                   estimator=earmark.NoveltyDetector(false_alarms="10%",
                                                                     progress=False))
    finally:
        if before is None:
            os.environ.pop("EARMARK_HOME", None)
        else:
            os.environ["EARMARK_HOME"] = before
    return r, root


@pytest.fixture(scope="module")
def page(cv, tmp_path_factory):
    r, _ = cv
    out = tmp_path_factory.mktemp("page") / "report.html"
    spied = {}

    def spy(name):
        real = getattr(novelty_plots, name)

        def wrapper(arg, **kw):
            spied[name] = arg
            return real(arg, **kw)
        return wrapper

    mp = pytest.MonkeyPatch()
    for name in ("score_histograms_png", "roc_curves_png"):
        mp.setattr(novelty_plots, name, spy(name))
    try:
        write_novelty_report(r, out, max_clips=5, progress=False)
    finally:
        mp.undo()
    return out.read_text(), spied


def test_numbers_on_the_page_equal_the_result(cv, page):
    r, _ = cv
    got = page_numbers([(e[1], e[2]) for e in parse(page[0])])
    for key in ("roc_auc", "pauc", "false_alarm_rate", "recall"):
        assert got[("metric", key)] == f"{r[key]:.3f}"
        assert got[("metric", key + "_std")] == f"{r[key + '_std']:.3f}"
    assert got[("metric", "n_predictions")] == str(len(r["predictions"]))
    for f in r["folds"]:
        assert got[("fold", f["fold"], "roc_auc")] == f"{f['roc_auc']:.3f}"
        assert got[("fold", f["fold"], "file_threshold")] == f"{f['file_threshold']:.4g}"
    els = parse(page[0])
    fam = with_attr(els, "data-family", data_family="tone", data_metric="roc_auc")[0]
    assert float(fam[1]["data-value"]) == pytest.approx(r["per_family"]["tone"]["roc_auc"])


def test_histograms_show_each_folds_scores_and_threshold(cv, page):
    r, _ = cv
    html, spied = page
    panels = spied["score_histograms_png"]
    assert [p["fold"] for p in panels] == [f["fold"] for f in r["folds"]]
    for p, f in zip(panels, r["folds"]):
        mine = [q for q in r["predictions"] if q["fold"] == f["fold"]]
        assert p["threshold"] == f["file_threshold"]
        assert sorted(p["normal"]) == sorted(q["score"] for q in mine if not q["anomalous"])
        assert sorted(p["anomalous"]) == sorted(q["score"] for q in mine if q["anomalous"])
    img = [e for e in parse(html) if e[0] == "img" and e[1].get("alt") == "score histograms"]
    mime, data = _decode_data_uri(img[0][1]["src"])
    assert mime == "image/png" and data[:4] == b"\x89PNG"


def test_roc_curves_and_operating_points_match_the_folds(cv, page):
    r, _ = cv
    curves = page[1]["roc_curves_png"]
    for c, f in zip(curves, r["folds"]):
        assert c["operating_point"] == pytest.approx((f["false_alarm_rate"], f["recall"]))
        from sklearn.metrics import auc
        assert auc(c["fpr"], c["tpr"]) == pytest.approx(f["roc_auc"])
    assert any(e[0] == "img" and e[1].get("alt") == "ROC curves" for e in parse(page[0]))


def test_highest_scoring_clips_have_audio_and_spectrogram(cv, page):
    r, _ = cv
    els = parse(page[0])
    top = with_attr(els, "data-clip", data_clip="top")
    want = [p["path"] for p, _ in highest_scoring(r["predictions"], r["folds"], n=5)]
    assert [e[1]["data-path"] for e in top] == want
    missed = with_attr(els, "data-clip", data_clip="missed")
    assert len(missed) == len(missed_anomalies(r["predictions"], r["folds"], n=5))
    audios = [e for e in els if e[0] == "audio"]
    specs = [e for e in els if e[0] == "img" and e[1].get("alt") == "log-mel spectrogram"]
    assert len(audios) == len(specs) == len(top) + len(missed)
    mime, _ = _decode_data_uri(audios[0][1]["src"])
    assert mime in ("audio/ogg", "audio/flac")
    # the highest-scoring clips are mostly the anomalies
    assert sum(p["anomalous"] for p in r["predictions"] if p["path"] in want) >= 4


def test_ranking_helpers_by_hand():
    preds = [{"path": "a", "fold": "1", "anomalous": False, "score": 1.0, "flagged": False},
             {"path": "b", "fold": "1", "anomalous": False, "score": 3.0, "flagged": False},
             {"path": "c", "fold": "2", "anomalous": True, "score": 10.0, "flagged": False},
             {"path": "d", "fold": "2", "anomalous": False, "score": 4.0, "flagged": False},
             {"path": "e", "fold": "2", "anomalous": False, "score": 6.0, "flagged": False}]
    folds = [{"fold": "1", "file_threshold": 3.5}, {"fold": "2", "file_threshold": 12.0}]
    # fold 1's normal spread is 1, fold 2's is 1: margins -2.5, -0.5, -2.0, -8, -6
    assert [p["path"] for p, _ in highest_scoring(preds, folds)] == ["b", "c", "a", "e", "d"]
    assert [p["path"] for p, _ in missed_anomalies(preds, folds)] == ["c"]
    curves = roc_curves(preds, folds)
    assert curves[0]["fpr"] is None and curves[1]["operating_point"] == (0.0, 0.0)


def test_missing_audio_and_bad_results(cv, tmp_path):
    r, _ = cv
    broken = {**r, "predictions": [dict(p) for p in r["predictions"]]}
    top = highest_scoring(broken["predictions"], broken["folds"], n=1)[0][0]
    top["path"] = str(tmp_path / "gone.wav")
    out = write_novelty_report(broken, tmp_path / "r.html", max_clips=1, progress=False)
    assert "Audio not shown" in open(out).read()
    with pytest.raises(ParameterError, match="not 'novelty'"):
        write_novelty_report({**r, "task": "tagging"}, tmp_path / "x.html", progress=False)
    bad = {k: v for k, v in r.items() if k != "roc_auc"}
    with pytest.raises(ParameterError, match="lacks roc_auc"):
        write_novelty_report(bad, tmp_path / "x.html", progress=False)
    folds = [{k: v for k, v in f.items() if k != "file_threshold"} for f in r["folds"]]
    with pytest.raises(ParameterError, match=r"folds\[0\].*lacks file_threshold"):
        write_novelty_report({**r, "folds": folds}, tmp_path / "x.html", progress=False)
    assert not (tmp_path / "x.html").exists()


def test_failure_midway_keeps_an_existing_report(cv, tmp_path, monkeypatch):
    out = tmp_path / "report.html"
    out.write_text("previous report")

    def broken(*args, **kwargs):
        raise RuntimeError("plot failed")

    monkeypatch.setattr(novelty_plots, "roc_curves_png", broken)
    with pytest.raises(RuntimeError, match="plot failed"):
        write_novelty_report(cv[0], out, progress=False)
    assert out.read_text() == "previous report" and os.listdir(tmp_path) == ["report.html"]


def test_cli_evaluate_writes_json_and_report(cv, tmp_path, monkeypatch, capsys):
    _, root = cv
    monkeypatch.setenv("EARMARK_HOME", str(tmp_path / "home"))
    js, html = tmp_path / "cv.json", tmp_path / "report.html"
    assert main(["evaluate", str(root), "--task", "novelty", "--folds", "fold", "--json",
                 str(js), "--report", str(html), "-q"]) == 0
    assert js.exists() and f"wrote {html}" in capsys.readouterr().out
    text = html.read_text()
    assert "earmark evaluation (novelty)" in text and 'alt="score histograms"' in text
    assert text.count("<audio") >= 1


@pytest.mark.parametrize("name", ["earmark.reports.novelty", "earmark.reports.novelty_plots"])
def test_docstring_examples(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name),
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
