"""Tests of the multi-label tagging report (earmark.reports.tagging) without a browser.

The fixture writes a dozen short WAVs and a tagging result whose every number is computed here
with scikit-learn from its predictions, in the shape `earmark evaluate --task tagging --json`
writes. test_reports_tagging_browser.py reuses it.
"""

import io
import os

import numpy as np
import pytest
import soundfile as sf
from sklearn.metrics import (average_precision_score, f1_score,
                             label_ranking_average_precision_score, precision_recall_curve,
                             roc_auc_score)

from earmark.errors import ParameterError
from earmark.reports import write_evaluation_report
from earmark.reports.tagging import (confident_wrong_tags, precision_recall_curves,
                                     write_tagging_report)
from _reports_helpers import check_failure_midway_keeps_report
from test_reports import _decode_data_uri, page_numbers, parse, with_attr

TAGS = ["bird", "dog", "rain"]
METRICS = ("map_macro", "map_micro", "f1_micro", "f1_macro", "roc_auc_macro", "lrap")
# multi-hot truth of the 12 clips; each fold (6 clips) has positives and negatives of each tag
TRUTH = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1], [0, 0, 0],
                  [1, 0, 1], [0, 1, 0], [1, 0, 0], [0, 0, 1], [1, 1, 1], [0, 1, 0]])
FOLD_THRESHOLDS = {"1": [0.5, 0.45, 0.55], "2": [0.4, 0.5, 0.6]}
MISSING = 10  # this clip's file is never written: its cards show no audio


# ---------------------------------------------------------------------------------------------
# Fixture builders (also imported by test_reports_tagging_browser.py)


def _class_metrics(truth, scores, thresholds):
    pred = scores >= np.asarray(thresholds)
    out = {}
    for j, tag in enumerate(TAGS):
        t, s, d = truth[:, j], scores[:, j], pred[:, j]
        tp, n_pos, n_pred = int((t & d).sum()), int(t.sum()), int(d.sum())
        out[tag] = {"ap": float(average_precision_score(t, s)) if n_pos else None,
                    "roc_auc": float(roc_auc_score(t, s)) if 0 < n_pos < len(t) else None,
                    "f1": 2 * tp / (n_pos + n_pred) if n_pos + n_pred else None,
                    "precision": tp / n_pred if n_pred else None,
                    "recall": tp / n_pos if n_pos else None, "support": n_pos,
                    "threshold": float(thresholds[j])}
    return out


def _summary(truth, scores, pred):
    return {"map_macro": float(average_precision_score(truth, scores, average="macro")),
            "map_micro": float(average_precision_score(truth.ravel(), scores.ravel())),
            "f1_micro": float(f1_score(truth, pred, average="micro", zero_division=0)),
            "f1_macro": float(f1_score(truth, pred, average="macro", zero_division=0)),
            "roc_auc_macro": float(roc_auc_score(truth, scores, average="macro")),
            "lrap": float(label_ranking_average_precision_score(truth, scores))}


def make_tagging_result(root, *, seed=0, n_epochs=6):
    """A 3-tag, 2-fold, 12-clip tagging result; clip ``MISSING``'s file is absent."""
    rng = np.random.default_rng(seed)
    scores = np.clip(0.3 * TRUTH + rng.uniform(0.0, 0.7, TRUTH.shape), 0.0, 1.0).round(4)
    folds_of = ["1"] * 6 + ["2"] * 6
    sr = 16000
    predictions = []
    for i, truth in enumerate(TRUTH):
        path = os.path.join(root, f"clip_{i:02d}.wav")
        if i != MISSING:
            t = np.arange(int(0.5 * sr)) / sr
            sf.write(path, (0.3 * np.sin(2 * np.pi * (300 + 100 * i) * t)).astype(np.float32),
                     sr, subtype="PCM_16")
        thr = FOLD_THRESHOLDS[folds_of[i]]
        predictions.append({
            "path": path, "start_s": None, "end_s": None, "fold": folds_of[i],
            "labels": [c for c, on in zip(TAGS, truth) if on],
            "predicted": [c for c, s, th in zip(TAGS, scores[i], thr) if s >= th],
            "probabilities": {c: float(s) for c, s in zip(TAGS, scores[i])}})
    pred = np.array([[c in p["predicted"] for c in TAGS] for p in predictions], dtype=int)
    folds = []
    for k, fold in enumerate(("1", "2")):
        sel = np.array([f == fold for f in folds_of])
        hist = [{"epoch": e + 1, "train_loss": 0.7 * 0.8 ** e + 0.02 * k,
                 "val_loss": 0.75 * 0.85 ** e + 0.03 * k, "lr": 1e-3 * 0.5 ** (e // 3),
                 "val_map_macro": 0.5 + 0.06 * e, "epoch_s": 1.5} for e in range(n_epochs)]
        folds.append({"fold": fold, "n_train": int((~sel).sum()), "n_test": int(sel.sum()),
                      **_summary(TRUTH[sel], scores[sel], pred[sel]),
                      "per_class": _class_metrics(TRUTH[sel], scores[sel],
                                                  FOLD_THRESHOLDS[fold]),
                      "thresholds": dict(zip(TAGS, FOLD_THRESHOLDS[fold])), "history": hist,
                      "best_epoch": n_epochs - 1, "window_s": 1.0, "hop_s": 0.5,
                      "wall_s": 4.0 + k})
    # pooled: the mean of the folds' thresholds is shown, but the decisions are those of each
    # clip's own fold thresholds, as in the predictions
    per_class = _class_metrics(TRUTH, scores, np.mean(list(FOLD_THRESHOLDS.values()), axis=0))
    for j, tag in enumerate(TAGS):
        t, d = TRUTH[:, j], pred[:, j]
        tp, n_pos, n_pred = int((t & d).sum()), int(t.sum()), int(d.sum())
        per_class[tag].update(precision=tp / n_pred if n_pred else None, recall=tp / n_pos,
                              f1=2 * tp / (n_pos + n_pred))
    out = {"task": "tagging", "labels": list(TAGS), "per_class": per_class, "folds": folds,
           "predictions": predictions,
           "config": {"estimator": {"recipe": "cnn", "model": "cnn-small"},
                      "features": {"sample_rate": 16000, "n_mels": 64}},
           "versions": {"earmark": "0.1.0", "numpy": np.__version__},
           "dataset": "/data/tags", "protocol": "folds=fold", "n_clips": len(predictions),
           "wall_s": 9.5}
    for key in METRICS:
        values = [f[key] for f in folds]
        out[key], out[key + "_std"] = float(np.mean(values)), float(np.std(values))
    return out


def expected_tagging_numbers(result):
    """{(kind, keys...): text} as the tagging report must print them."""
    def fmt(x):
        return "–" if x is None else f"{x:.3f}"

    exp = {}
    for key in ("map_macro", "map_micro", "f1_micro", "roc_auc_macro", "lrap"):
        exp[("metric", key)] = fmt(result[key])
        if result.get(key + "_std") is not None:
            exp[("metric", key + "_std")] = fmt(result[key + "_std"])
    exp[("metric", "n_predictions")] = str(len(result["predictions"]))
    exp[("metric", "wall_s")] = f"{result['wall_s']:.1f} s"
    for label, m in result["per_class"].items():
        for k in ("ap", "roc_auc", "f1", "precision", "recall", "threshold"):
            exp[("class", label, k)] = fmt(m[k])
        exp[("class", label, "support")] = str(m["support"])
    for f in result["folds"]:
        for k in METRICS:
            exp[("fold", f["fold"], k)] = fmt(f[k])
        for k in ("n_train", "n_test"):
            exp[("fold", f["fold"], k)] = str(f[k])
    return exp


def expected_wrong_tags(result, n=12):
    """(false tags, missed tags) as [(path, tag, score)], computed without the library."""
    fp, fn = [], []
    for p in result["predictions"]:
        probs = p["probabilities"]
        false = [t for t in p["predicted"] if t not in p["labels"]]
        missed = [t for t in p["labels"] if t not in p["predicted"]]
        if false:
            tag = max(false, key=lambda t: probs[t])
            fp.append((p["path"], tag, probs[tag]))
        if missed:
            tag = min(missed, key=lambda t: probs[t])
            fn.append((p["path"], tag, probs[tag]))
    fp.sort(key=lambda e: -e[2])
    fn.sort(key=lambda e: e[2])
    return fp[:n], fn[:n]


@pytest.fixture(scope="module")
def tagging(tmp_path_factory):
    root = tmp_path_factory.mktemp("tagging")
    result = make_tagging_result(str(root))
    path = root / "report.html"
    write_tagging_report(result, path, progress=False)
    return {"dir": root, "result": result, "path": path, "html": path.read_text("utf-8")}


# ---------------------------------------------------------------------------------------------
# The page


def test_sections_and_title(tagging):
    els = parse(tagging["html"])
    ids = [e[1]["id"] for e in els if e[0] == "section"]
    assert ids == ["folds", "per-class", "pr-curves", "training", "wrong-tags", "config"]
    (title,) = [e[2] for e in els if e[0] == "title"]
    assert title == "earmark evaluation (tagging) — tags"
    assert "multi-label tagging" in tagging["html"] and "<code>cnn-small</code>" in tagging["html"]
    assert "<script" not in tagging["html"].lower()


def test_numbers_equal_result(tagging):
    els = parse(tagging["html"])
    got = page_numbers([(e[1], e[2]) for e in els])
    assert got == expected_tagging_numbers(tagging["result"])
    # exact values travel with the formatted text
    (m,) = [e for e in with_attr(els, "data-metric", data_metric="map_macro")
            if "data-fold" not in e[1]]
    assert float(m[1]["data-value"]) == tagging["result"]["map_macro"]


def test_per_class_rows_sorted_by_ap(tagging):
    els = parse(tagging["html"])
    shown = [e[1]["data-class"] for e in with_attr(els, "data-class", data_metric="ap")]
    per_class = tagging["result"]["per_class"]
    assert shown == sorted(per_class, key=lambda c: -per_class[c]["ap"])
    assert all(e[1]["class"] == "num bar" for e in with_attr(els, "data-class", data_metric="ap"))


def test_images_are_pngs_and_the_pr_figure_is_there(tagging):
    els = parse(tagging["html"])
    imgs = {e[1]["alt"]: e[1]["src"] for e in els if e[0] == "img"}
    for alt in ("precision-recall curves", "metrics per fold", "training curves"):
        mime, data = _decode_data_uri(imgs[alt])
        assert mime == "image/png" and data[:8] == b"\x89PNG\r\n\x1a\n"
    _, data = _decode_data_uri(imgs["precision-recall curves"])
    w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert w > 600 and h > 150  # three panels side by side


def test_wrong_tags_in_order(tagging):
    els = parse(tagging["html"])
    exp_fp, exp_fn = expected_wrong_tags(tagging["result"])
    assert exp_fp and exp_fn
    for kind, expected in (("false", exp_fp), ("missed", exp_fn)):
        cards = with_attr(els, "data-wrong-tag", data_wrong_tag=kind)
        assert [(c[1]["data-path"], c[1]["data-tag"]) for c in cards] == \
            [(p, t) for p, t, _ in expected]
    scores = [float(e[1]["data-wrong-score"]) for e in with_attr(els, "data-wrong-score")]
    assert scores == [s for _, _, s in exp_fp + exp_fn]
    # the first false-tag card names its clip's true and predicted tags
    first = with_attr(els, "data-wrong-tag", data_wrong_tag="false")[0]
    pred = next(p for p in tagging["result"]["predictions"] if p["path"] == exp_fp[0][0])
    assert f"fold {pred['fold']}" in first[2]
    for t in pred["labels"] + pred["predicted"]:
        assert t in first[2]


def test_audio_players_and_unreadable_clips(tagging):
    els = parse(tagging["html"])
    exp_fp, exp_fn = expected_wrong_tags(tagging["result"])
    entries = exp_fp + exp_fn
    missing = sum(1 for p, _, _ in entries if p.endswith(f"clip_{MISSING:02d}.wav"))
    assert missing > 0, "the fixture should show the unreadable clip"
    audios = [e[1]["src"] for e in els if e[0] == "audio"]
    assert len(audios) == len(entries) - missing
    assert tagging["html"].count("Audio not shown") == missing
    for src in audios:
        mime, data = _decode_data_uri(src)
        y, sr = sf.read(io.BytesIO(data))
        assert mime in ("audio/ogg", "audio/flac") and sr == 16000 and 0 < len(y) <= 4 * 16000


def test_evaluation_report_dispatches_tagging_results(tagging, tmp_path):
    via = tmp_path / "via.html"
    assert write_evaluation_report(tagging["result"], via, progress=False) == str(via)
    assert via.read_bytes() == tagging["path"].read_bytes()  # also: deterministic


def test_undefined_metrics_and_no_history(tagging, tmp_path):
    result = make_tagging_result(str(tmp_path))
    result["roc_auc_macro"] = result["roc_auc_macro_std"] = None
    result["per_class"]["rain"].update(ap=None, roc_auc=None, recall=None, support=0)
    for f in result["folds"]:
        f["roc_auc_macro"] = None
        f["history"] = []
    out = tmp_path / "r.html"
    write_tagging_report(result, out, max_mistakes=0, progress=False)
    text = out.read_text()
    els = parse(text)
    assert page_numbers([(e[1], e[2]) for e in els]) == expected_tagging_numbers(result)
    assert [e[1]["data-class"] for e in with_attr(els, "data-class", data_metric="ap")][-1] == \
        "rain"
    assert "No positive clip" in text and "no per-epoch history" in text
    assert "<audio" not in text and "No false tags" not in text  # none shown, but there are some
    assert "none shown (max_mistakes is 0)" in text


@pytest.mark.parametrize("key", ["task", "map_macro", "lrap", "labels", "per_class", "folds",
                                 "predictions"])
def test_missing_keys_are_named(tagging, tmp_path, key):
    bad = {k: v for k, v in tagging["result"].items() if k != key}
    with pytest.raises(ParameterError, match=f"lacks {key}"):
        write_tagging_report(bad, tmp_path / "r.html", progress=False)
    assert not os.listdir(tmp_path)


def test_bad_results_are_rejected(tagging, tmp_path):
    result = tagging["result"]
    with pytest.raises(ParameterError, match="task is 'classification'"):
        write_tagging_report(dict(result, task="classification"), tmp_path / "r.html")
    folds = [dict(result["folds"][0]), result["folds"][1]]
    del folds[0]["n_test"]
    with pytest.raises(ParameterError, match=r"folds\[0\] \(fold 1\) lacks n_test"):
        write_tagging_report(dict(result, folds=folds), tmp_path / "r.html")
    preds = [{k: v for k, v in result["predictions"][0].items() if k != "probabilities"}]
    with pytest.raises(ParameterError, match=r"predictions\[0\] .* lacks probabilities"):
        write_tagging_report(dict(result, predictions=preds), tmp_path / "r.html")
    per_class = dict(result["per_class"], dog={"ap": 0.5})
    with pytest.raises(ParameterError, match=r"per_class\['dog'\] lacks roc_auc"):
        write_tagging_report(dict(result, per_class=per_class), tmp_path / "r.html")
    with pytest.raises(ParameterError, match="max_mistakes"):
        write_tagging_report(result, tmp_path / "r.html", max_mistakes=-1)
    with pytest.raises(ParameterError, match="does not exist"):
        write_tagging_report(result, tmp_path / "no" / "r.html")
    with pytest.raises(ParameterError, match="must be the dict"):
        write_tagging_report([result], tmp_path / "r.html")
    assert not os.listdir(tmp_path)


def test_failure_midway_leaves_existing_report_untouched(tagging, tmp_path, monkeypatch):
    check_failure_midway_keeps_report(
        lambda out: write_tagging_report(tagging["result"], out, max_mistakes=0, progress=False),
        "precision_recall_png", tmp_path, monkeypatch)


# ---------------------------------------------------------------------------------------------
# Helpers with known answers


def test_confident_wrong_tags_known_answers():
    preds = [
        {"path": "a", "labels": ["x"], "predicted": ["x", "y", "z"],
         "probabilities": {"x": 0.9, "y": 0.6, "z": 0.8}},           # false z (0.8), y ignored
        {"path": "b", "labels": ["x", "y"], "predicted": [],
         "probabilities": {"x": 0.3, "y": 0.1}},                     # missed y (0.1)
        {"path": "c", "labels": ["y"], "predicted": ["x"],
         "probabilities": {"x": 0.8, "y": 0.2}},                     # false x (0.8), missed y
        {"path": "d", "labels": ["z"], "predicted": ["z"], "probabilities": {"z": 0.9}},
        {"path": "e", "labels": ["q"], "predicted": ["w"], "probabilities": {}},  # no scores
    ]
    false_tags, missed = confident_wrong_tags(preds)
    assert [(p["path"], t, s) for p, t, s in false_tags] == \
        [("a", "z", 0.8), ("c", "x", 0.8), ("e", "w", None)]
    assert [(p["path"], t, s) for p, t, s in missed] == \
        [("b", "y", 0.1), ("c", "y", 0.2), ("e", "q", None)]
    assert [p["path"] for p, _, _ in confident_wrong_tags(preds, n=1)[0]] == ["a"]
    assert confident_wrong_tags(preds, n=0) == ([], [])
    with pytest.raises(ParameterError, match="'n' parameter"):
        confident_wrong_tags(preds, n=-1)


def test_precision_recall_curves_match_sklearn(tagging):
    result = tagging["result"]
    thresholds = {"bird": 0.5, "dog": 0.45, "rain": 0.99}
    curves = precision_recall_curves(result["predictions"], TAGS, thresholds=thresholds)
    assert list(curves) == TAGS
    scores = np.array([[p["probabilities"][t] for t in TAGS] for p in result["predictions"]])
    for j, tag in enumerate(TAGS):
        precision, recall, _ = precision_recall_curve(TRUTH[:, j], scores[:, j])
        c = curves[tag]
        np.testing.assert_array_equal(c["precision"], precision)
        np.testing.assert_array_equal(c["recall"], recall)
        assert c["n_positive"] == TRUTH[:, j].sum()
        assert c["prevalence"] == pytest.approx(TRUTH[:, j].mean())
        tagged = scores[:, j] >= thresholds[tag]
        tp = (tagged & (TRUTH[:, j] == 1)).sum()
        exp_precision = tp / tagged.sum() if tagged.any() else None
        assert c["operating_point"] == (pytest.approx(tp / TRUTH[:, j].sum()),
                                        exp_precision if exp_precision is None
                                        else pytest.approx(exp_precision))
    assert curves["rain"]["operating_point"][1] is None  # no clip reaches 0.99
    empty = precision_recall_curves(result["predictions"], ["none"], thresholds={"none": 0.5})
    assert empty["none"]["precision"] is None and empty["none"]["operating_point"] is None
