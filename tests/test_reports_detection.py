"""Tests of the sound event detection report (earmark.reports.detection) without a browser.

The fixture writes a few generated recordings (a tone per class at each reference event) and a
detection result in the shape `earmark evaluate --task detection --json` writes, its metrics
made consistent by hand (precision, recall and F1 from event counts, means and spreads from the
folds). test_reports_detection_browser.py reuses it.
"""

import doctest
import io
import os

import numpy as np
import pytest
import soundfile as sf
from matplotlib.collections import PolyCollection
from matplotlib.patches import StepPatch

import earmark.reports.detection
import earmark.reports.detection_plots
from earmark.errors import ParameterError
from earmark.reports import write_evaluation_report
from earmark.reports.detection import MAX_RECORDING_S, shown_classes, write_detection_report
from earmark.reports.detection_plots import example_figure, psd_roc_png
from _reports_helpers import check_failure_midway_keeps_report
from test_reports import _decode_data_uri, page_numbers, parse, with_attr

LABELS = ["alarm", "dog", "frying", "speech"]
FREQ_HZ = {"alarm": 2500.0, "dog": 400.0, "frying": 5000.0, "speech": 900.0}
SR = 16000
STEP_S = 0.0464
METRICS = ("psds1", "psds2", "collar_f1", "collar_f1_micro", "segment_f1", "segment_f1_macro",
           "segment_er")
SCALARS = METRICS + ("collar_precision", "collar_recall", "segment_precision", "segment_recall")
CARD_METRICS = ("psds1", "psds2", "collar_f1", "segment_f1", "segment_er")

# The example recordings: (file, fold, seconds, reference, detected, score bumps, written?).
# A score bump (class, start, end, value) raises that class's frame scores over [start, end).
EXAMPLES = [
    ("rec_00.wav", "1", 10.0,
     [[1.0, 2.5, "alarm"], [4.0, 6.0, "dog"], [7.0, 7.8, "alarm"]],
     [[1.1, 2.4, "alarm", 0.91], [4.2, 5.5, "dog", 0.74], [8.5, 9.0, "speech", 0.55]],
     [("alarm", 1.0, 2.5, 0.9), ("alarm", 7.0, 7.8, 0.8), ("dog", 4.0, 6.0, 0.7),
      ("speech", 8.5, 9.0, 0.6), ("frying", 3.0, 3.1, 0.5)], True),
    # longer than 30 s: the dog event is cut at 30 s, frying only happens after it
    ("rec_01.wav", "1", 32.0,
     [[2.0, 3.0, "speech"], [29.5, 31.0, "dog"], [30.5, 31.5, "frying"]],
     [[2.1, 3.2, "speech", 0.8], [31.0, 31.8, "frying", 0.7]],
     [("speech", 2.0, 3.0, 0.85), ("dog", 29.5, 31.0, 0.6), ("frying", 30.5, 31.5, 0.9)], True),
    # never written: drawn from its events and scores, no audio
    ("rec_02.wav", "1", 10.0, [[3.0, 4.0, "frying"]], [],
     [("frying", 3.0, 4.0, 0.4), ("alarm", 6.0, 7.0, 0.7)], False),
    # the fourth of fold 1: beyond max_examples=3
    ("rec_03.wav", "1", 6.0, [[1.0, 2.0, "dog"]], [[1.0, 2.0, "dog", 0.9]],
     [("dog", 1.0, 2.0, 0.9)], True),
    ("rec_04.wav", "2", 8.0, [[0.5, 1.5, "dog"], [5.0, 7.5, "frying"]],
     [[0.4, 1.6, "dog", 0.88], [5.2, 7.0, "frying", 0.66], [2.0, 2.6, "alarm", 0.52]],
     [("dog", 0.5, 1.5, 0.9), ("frying", 5.0, 7.5, 0.7), ("alarm", 2.0, 2.6, 0.55)], True),
    # nothing happens and nothing scores above 0.5: no class is drawn
    ("rec_05.wav", "2", 10.0, [], [], [("speech", 4.0, 5.0, 0.45)], True),
]
#: What each figure must draw, worked out by hand from EXAMPLES (rules: an event starting
#: before the end of the figure, or a score above 0.5 in a frame starting before it).
EXPECTED_SHOWN = {"rec_00.wav": ["alarm", "dog", "speech"], "rec_01.wav": ["dog", "speech"],
                  "rec_02.wav": ["alarm", "frying"], "rec_04.wav": ["alarm", "dog", "frying"],
                  "rec_05.wav": []}
MAX_EXAMPLES = 3
MISSING = "rec_02.wav"
LONG = "rec_01.wav"


# ---------------------------------------------------------------------------------------------
# Fixture builders (also imported by test_reports_detection_browser.py)


def _recording(seconds, reference, rng):
    t = np.arange(int(round(seconds * SR))) / SR
    y = 0.01 * rng.standard_normal(t.size)
    for onset, offset, label in reference:
        on = (t >= onset) & (t < offset)
        y[on] += 0.3 * np.sin(2 * np.pi * FREQ_HZ[label] * t[on])
    return y.astype(np.float32)


def _scores(seconds, bumps, rng):
    n = int(np.ceil(seconds / STEP_S))
    starts = np.arange(n) * STEP_S
    scores = {c: (0.05 + 0.1 * rng.uniform(size=n)).round(4) for c in LABELS}
    for label, start, end, value in bumps:
        scores[label][(starts + STEP_S > start) & (starts < end)] = value
    return {c: v.tolist() for c, v in scores.items()}


def _class_metrics(rng, tp, n_ref, n_det):
    return {"collar_f1": 2 * tp / (n_ref + n_det) if n_ref + n_det else None,
            "collar_precision": tp / n_det if n_det else None,
            "collar_recall": tp / n_ref if n_ref else None,
            "segment_f1": round(float(rng.uniform(0.4, 0.9)), 4),
            "segment_precision": round(float(rng.uniform(0.4, 0.9)), 4),
            "segment_recall": round(float(rng.uniform(0.4, 0.9)), 4),
            "n_ref": n_ref, "n_detected": n_det,
            "onset_threshold": round(float(rng.uniform(0.3, 0.7)), 3),
            "offset_threshold": round(float(rng.uniform(0.1, 0.3)), 3),
            "median_filter_s": float(rng.choice([0.1, 0.25, 0.45])),
            "min_duration_s": float(rng.choice([0.0, 0.1, 0.2])),
            "min_gap_s": float(rng.choice([0.0, 0.05, 0.1]))}


def make_detection_result(root, *, seed=0, n_epochs=5):
    """A 4-class, 2-fold detection result with six example recordings under ``root``.

    Fold 1's examples have absolute paths, fold 2's are relative to ``root`` (pass it as
    ``audio_root``); ``rec_02.wav`` is never written.
    """
    rng = np.random.default_rng(seed)
    examples = []
    for name, fold, seconds, reference, detected, bumps, written in EXAMPLES:
        if written:
            sf.write(os.path.join(root, name), _recording(seconds, reference, rng), SR,
                     subtype="PCM_16")
        examples.append({"fold": fold, "path": os.path.join(root, name) if fold == "1" else name,
                         "duration_s": seconds, "reference": reference, "detected": detected,
                         "frame_step_s": STEP_S, "scores": _scores(seconds, bumps, rng)})
    # events per class: (true positives, reference, detected) in each fold
    counts = {"1": {"alarm": (5, 7, 6), "dog": (3, 6, 5), "frying": (1, 4, 3), "speech": (4, 5, 7)},
              "2": {"alarm": (2, 4, 5), "dog": (4, 5, 4), "frying": (2, 5, 2), "speech": (3, 3, 6)}}
    folds = []
    for k, fold in enumerate(("1", "2")):
        hist = [{"epoch": e + 1, "train_loss": 0.6 * 0.8 ** e + 0.02 * k,
                 "val_loss": 0.65 * 0.85 ** e + 0.03 * k, "val_score": 0.3 + 0.07 * e,
                 "lr": 1e-3} for e in range(n_epochs)]
        efpr = [0.0, 4.0, 11.0, 27.0, 58.0, 100.0, 160.0]
        tpr = np.minimum(1.0, np.linspace(0.1, 0.75, len(efpr)) + 0.05 * k).round(4).tolist()
        f = {"fold": fold, "n_train": 40 + 3 * k, "n_test": 20 - 3 * k,
             **{key: round(float(rng.uniform(0.3, 0.8)), 4) for key in SCALARS},
             "per_class": {c: _class_metrics(rng, *counts[fold][c]) for c in LABELS},
             "psd_roc": {"efpr": efpr, "tpr": tpr}, "history": hist,
             "train_info": {"best_epoch": n_epochs - 1, "n_windows": 900 + k},
             "wall_s": 12.0 + k}
        f["segment_er"] = round(float(rng.uniform(0.5, 1.3)), 4)  # an error rate may exceed 1
        folds.append(f)
    per_class = {}
    for c in LABELS:
        tp, n_ref, n_det = (sum(counts[fold][c][i] for fold in ("1", "2")) for i in range(3))
        per_class[c] = _class_metrics(rng, tp, n_ref, n_det)
        for key in ("onset_threshold", "offset_threshold", "median_filter_s", "min_duration_s",
                    "min_gap_s"):  # the mean over folds, as the result keeps it
            per_class[c][key] = float(np.mean([f["per_class"][c][key] for f in folds]))
    out = {"task": "detection", "protocol": "predefined folds (fold)", "recipe": "crnn",
           "estimator": {"recipe": "crnn", "n_mels": 64, "epochs": n_epochs},
           "labels": list(LABELS), "wall_s": 25.5, "n_clips": 37, "per_class": per_class,
           "folds": folds, "examples": examples, "dataset": "/data/sed_toy",
           "versions": {"earmark": "0.1.0", "numpy": np.__version__}}
    for key in SCALARS:
        values = [f[key] for f in folds]
        out[key], out[key + "_std"] = float(np.mean(values)), float(np.std(values))
    return out


def expected_detection_numbers(result):
    """{(kind, keys...): text} as the detection report must print them."""
    def fmt(x):
        return "–" if x is None else f"{x:.3f}"

    def fmt_s(x):
        return "–" if x is None else f"{x:.2f}"

    exp = {}
    for key in CARD_METRICS:
        exp[("metric", key)] = fmt(result[key])
        if result.get(key + "_std") is not None:
            exp[("metric", key + "_std")] = fmt(result[key + "_std"])
    for key in ("collar_precision", "collar_recall", "segment_precision", "segment_recall"):
        exp[("metric", key)] = fmt(result[key])
    exp[("metric", "n_clips")] = str(result["n_clips"])
    exp[("metric", "wall_s")] = f"{result['wall_s']:.1f} s"
    for label, m in result["per_class"].items():
        for k in ("collar_f1", "collar_precision", "collar_recall", "segment_f1",
                  "onset_threshold", "offset_threshold"):
            exp[("class", label, k)] = fmt(m[k])
        for k in ("median_filter_s", "min_duration_s", "min_gap_s"):
            exp[("class", label, k)] = fmt_s(m[k])
        for k in ("n_ref", "n_detected"):
            exp[("class", label, k)] = str(m[k])
    for f in result["folds"]:
        for k in SCALARS:  # the headline metrics in the folds table, all of them under it
            exp[("fold", f["fold"], k)] = fmt(f[k])
        for k in ("n_train", "n_test"):
            exp[("fold", f["fold"], k)] = str(f[k])
    return exp


def expected_examples(result, max_examples=MAX_EXAMPLES):
    """[(fold, path)] of the example cards: the first ``max_examples`` of each fold."""
    seen, out = {}, []
    for ex in result["examples"]:
        seen[ex["fold"]] = seen.get(ex["fold"], 0) + 1
        if seen[ex["fold"]] <= max_examples:
            out.append((ex["fold"], ex["path"]))
    return out


_BUILT = {}


def built_report(tmp_path_factory):
    """The fixture's result and its report, written once per test session: the browser test
    opens the same file (a report takes seconds to draw)."""
    if not _BUILT:
        root = tmp_path_factory.mktemp("detection")
        result = make_detection_result(str(root))
        path = root / "report.html"
        write_detection_report(result, path, audio_root=root, progress=False)
        _BUILT.update(dir=root, result=result, path=path, html=path.read_text("utf-8"))
    return _BUILT


@pytest.fixture(scope="module")
def detection(tmp_path_factory):
    return built_report(tmp_path_factory)


def _cards(els):
    return with_attr(els, "data-example")


# ---------------------------------------------------------------------------------------------
# The page


def test_sections_and_title(detection):
    els = parse(detection["html"])
    ids = [e[1]["id"] for e in els if e[0] == "section"]
    assert ids == ["folds", "per-class", "psd-roc", "training", "examples", "config"]
    (title,) = [e[2] for e in els if e[0] == "title"]
    assert title == "earmark evaluation (detection) — sed_toy"
    html = detection["html"]
    assert "sound event detection" in html and "<code>crnn</code>" in html
    assert "<script" not in html.lower()
    # the configuration holds the estimator's parameters and each fold's training info
    (config,) = [e for e in els if e[0] == "section" and e[1]["id"] == "config"]
    assert '"n_mels": 64' in config[2] and '"n_windows": 901' in config[2]


def test_numbers_equal_result(detection):
    els = parse(detection["html"])
    got = page_numbers([(e[1], e[2]) for e in els])
    assert got == expected_detection_numbers(detection["result"])
    # exact values travel with the formatted text
    (m,) = [e for e in with_attr(els, "data-metric", data_metric="psds1")
            if "data-fold" not in e[1]]
    assert float(m[1]["data-value"]) == detection["result"]["psds1"]
    (thr,) = with_attr(els, "data-class", data_class="dog", data_metric="median_filter_s")
    assert float(thr[1]["data-value"]) == detection["result"]["per_class"]["dog"][
        "median_filter_s"]


def test_per_class_rows_sorted_by_collar_f1(detection):
    els = parse(detection["html"])
    shown = [e[1]["data-class"] for e in with_attr(els, "data-class", data_metric="collar_f1")]
    per_class = detection["result"]["per_class"]
    # hand-computed pooled F1: alarm 14/22, dog 14/20, frying 6/14, speech 14/21
    assert [round(per_class[c]["collar_f1"], 4) for c in LABELS] == [0.6364, 0.7, 0.4286,
                                                                     0.6667]
    assert shown == ["dog", "speech", "alarm", "frying"]


def test_images_are_pngs(detection):
    els = parse(detection["html"])
    imgs = {e[1]["alt"]: e[1]["src"] for e in els if e[0] == "img"}
    for alt in ("PSD-ROC curves", "metrics per fold", "training curves"):
        mime, data = _decode_data_uri(imgs[alt])
        assert mime == "image/png" and data[:8] == b"\x89PNG\r\n\x1a\n"
    figures = [src for alt, src in imgs.items() if alt.startswith("recording ")]
    assert len(figures) == len(expected_examples(detection["result"]))
    for src in figures:
        mime, data = _decode_data_uri(src)
        w = int.from_bytes(data[16:20], "big")
        assert mime == "image/png" and w > 800  # one wide figure, spectrogram to scores


def test_examples_per_fold_with_counts_and_classes(detection):
    els = parse(detection["html"])
    cards = _cards(els)
    result = detection["result"]
    assert [(c[1]["data-fold"], c[1]["data-example"]) for c in cards] == \
        expected_examples(result)
    assert "rec_03.wav" not in detection["html"]  # the fourth of fold 1
    by_path = {ex["path"]: ex for ex in result["examples"]}
    got_ref = [int(e[1]["data-n-ref"]) for e in with_attr(els, "data-n-ref")]
    got_det = [int(e[1]["data-n-detected"]) for e in with_attr(els, "data-n-detected")]
    shown = [by_path[p] for _, p in expected_examples(result)]
    assert got_ref == [len(ex["reference"]) for ex in shown]
    assert got_det == [len(ex["detected"]) for ex in shown]
    drawn = [e[1]["data-classes"] for e in with_attr(els, "data-classes")]
    assert drawn == [",".join(EXPECTED_SHOWN[os.path.basename(ex["path"])]) for ex in shown]
    assert "Fold 1 (3 of 4 recordings)" in " ".join(e[2] for e in els if e[0] == "h3")


def test_audio_players_long_and_unreadable_recordings(detection):
    els = parse(detection["html"])
    cards = _cards(els)
    audios = [e[1]["src"] for e in els if e[0] == "audio"]
    assert len(audios) == len(cards) - 1  # rec_02.wav is missing
    assert detection["html"].count("Audio not shown") == 1
    (missing,) = [c for c in cards if c[1]["data-example"].endswith(MISSING)]
    assert "Audio not shown" in missing[2] and "file not found" in missing[2]
    seconds = {name: s for name, _, s, *_ in EXAMPLES}
    expected = [min(seconds[os.path.basename(p)], MAX_RECORDING_S)
                for _, p in expected_examples(detection["result"])
                if not p.endswith(MISSING)]
    got = []
    for src in audios:
        mime, data = _decode_data_uri(src)
        y, sr = sf.read(io.BytesIO(data))
        assert mime in ("audio/ogg", "audio/flac") and sr == 16000
        got.append(len(y) / sr)
    np.testing.assert_allclose(got, expected, atol=0.02)
    (long_card,) = [c for c in cards if c[1]["data-example"].endswith(LONG)]
    assert "first 30 s of 32.00 s shown" in long_card[2]


def test_unreadable_recordings_do_not_break_the_page(detection, tmp_path, monkeypatch):
    # without audio_root, fold 2's relative path does not resolve either
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "r.html"
    write_detection_report(detection["result"], out, max_examples=1, progress=False)
    text = out.read_text()
    els = parse(text)
    assert [e[1]["id"] for e in els if e[0] == "section"] == \
        ["folds", "per-class", "psd-roc", "training", "examples", "config"]
    assert [c[1]["data-example"] for c in _cards(els)] == \
        [os.path.join(detection["dir"], "rec_00.wav"), "rec_04.wav"]
    assert text.count("Audio not shown") == 1 and "rec_04.wav: file not found" in text
    assert len([e for e in els if e[0] == "audio"]) == 1
    assert len([e for e in els if e[0] == "img" and e[1]["alt"].startswith("recording ")]) == 2
    assert page_numbers([(e[1], e[2]) for e in els]) == \
        expected_detection_numbers(detection["result"])
    # written again, the first recording's figure and audio are the same bytes
    first = {e[1]["alt"]: e[1]["src"] for e in els if e[0] == "img"}
    fixture = {e[1]["alt"]: e[1]["src"] for e in parse(detection["html"]) if e[0] == "img"}
    alt = f"recording {os.path.join(detection['dir'], 'rec_00.wav')}"
    assert first[alt] == fixture[alt]
    audio = [e[1]["src"] for e in els if e[0] == "audio"]
    assert audio[0] in detection["html"]


def test_evaluation_report_dispatches_detection_results(detection, tmp_path, monkeypatch):
    calls = []

    def recorder(result, path, **kwargs):
        calls.append((result, path, kwargs))
        return "written"

    monkeypatch.setattr(earmark.reports.detection, "write_detection_report", recorder)
    out = tmp_path / "r.html"
    assert write_evaluation_report(detection["result"], out, audio_root="data", max_mistakes=5,
                                   progress=False) == "written"
    assert calls == [(detection["result"], out, {"audio_root": "data", "progress": False})]


def test_undefined_metrics_no_history_no_examples(detection, tmp_path):
    result = make_detection_result(str(tmp_path))
    result["psds2"] = result["psds2_std"] = None
    result["per_class"]["frying"].update(collar_f1=None, collar_recall=None, n_ref=0)
    for f in result["folds"]:
        f["psds2"] = None
        f["history"] = []
    del result["folds"][1]["psd_roc"]
    out = tmp_path / "r.html"
    write_detection_report(result, out, max_examples=0, progress=False)
    text = out.read_text()
    els = parse(text)
    assert page_numbers([(e[1], e[2]) for e in els]) == expected_detection_numbers(result)
    assert [e[1]["data-class"] for e in with_attr(els, "data-class",
                                                  data_metric="collar_f1")][-1] == "frying"
    assert "No reference event in the test folds" in text and "no per-epoch history" in text
    assert "No PSD-ROC curve for fold 2" in text
    assert "<audio" not in text and "none shown (max_examples is 0)" in text


@pytest.mark.parametrize("key", ["task", "psds1", "segment_er", "collar_recall", "labels",
                                 "per_class", "folds", "examples"])
def test_missing_keys_are_named(detection, tmp_path, key):
    bad = {k: v for k, v in detection["result"].items() if k != key}
    with pytest.raises(ParameterError, match=f"lacks {key}"):
        write_detection_report(bad, tmp_path / "r.html", progress=False)
    assert not os.listdir(tmp_path)


def test_bad_results_are_rejected(detection, tmp_path):
    result = detection["result"]
    out = tmp_path / "r.html"
    with pytest.raises(ParameterError, match="task is 'tagging'"):
        write_detection_report(dict(result, task="tagging"), out)
    folds = [dict(result["folds"][0]), result["folds"][1]]
    del folds[0]["n_test"]
    with pytest.raises(ParameterError, match=r"folds\[0\] \(fold 1\) lacks n_test"):
        write_detection_report(dict(result, folds=folds), out)
    folds = [dict(result["folds"][0], psd_roc={"efpr": [0, 1], "tpr": [0.5]})]
    with pytest.raises(ParameterError, match=r"folds\[0\] \(fold 1\) psd_roc has 2 efpr"):
        write_detection_report(dict(result, folds=folds), out)
    examples = [{k: v for k, v in result["examples"][0].items() if k != "scores"}]
    with pytest.raises(ParameterError, match=r"examples\[0\] \(.*rec_00.wav\) lacks scores"):
        write_detection_report(dict(result, examples=examples), out)
    examples = [dict(result["examples"][0], detected=[[1.0, 2.0]])]
    with pytest.raises(ParameterError, match=r"detected events without onset, offset and label"):
        write_detection_report(dict(result, examples=examples), out)
    examples = [dict(result["examples"][0], frame_step_s=0)]
    with pytest.raises(ParameterError, match=r"frame_step_s must be a float in \(0, inf\)"):
        write_detection_report(dict(result, examples=examples), out)
    per_class = dict(result["per_class"], dog={"collar_f1": 0.5})
    with pytest.raises(ParameterError, match=r"per_class\['dog'\] lacks collar_precision"):
        write_detection_report(dict(result, per_class=per_class), out)
    with pytest.raises(ParameterError, match="'max_examples' parameter"):
        write_detection_report(result, out, max_examples=-1)
    with pytest.raises(ParameterError, match="does not exist"):
        write_detection_report(result, tmp_path / "no" / "r.html")
    with pytest.raises(ParameterError, match="must be the dict"):
        write_detection_report([result], out)
    assert not os.listdir(tmp_path)


def test_failure_midway_leaves_existing_report_untouched(detection, tmp_path, monkeypatch):
    check_failure_midway_keeps_report(
        lambda out: write_detection_report(detection["result"], out, max_examples=0,
                                           progress=False),
        "fold_spread_png", tmp_path, monkeypatch)


# ---------------------------------------------------------------------------------------------
# Helpers and figures with known answers


def test_shown_classes_known_answers():
    ex = {"reference": [[0.5, 1.0, "dog"], [9.0, 9.5, "owl"]],
          "detected": [[3.0, 4.0, "bird", 0.7]], "frame_step_s": 0.5,
          "scores": {"rain": [0.1, 0.5, 0.2], "car": [0.1, 0.2, 0.1, 0.51], "dog": [0.9]}}
    labels = ["bird", "car", "dog", "rain"]
    # rain peaks at exactly 0.5 (not above); owl is not a label: last
    assert shown_classes(ex, labels) == ["bird", "car", "dog", "owl"]
    # the car's 0.51 is in the frame starting at 1.5 s; bird starts at 3 s
    assert shown_classes(ex, labels, until_s=1.5) == ["dog"]
    assert shown_classes(ex, labels, until_s=1.6) == ["car", "dog"]
    assert shown_classes(ex, labels, min_score=0.05) == ["bird", "car", "dog", "rain", "owl"]
    with pytest.raises(ParameterError, match="'until_s' parameter of shown_classes"):
        shown_classes(ex, labels, until_s=-1)


def test_onset_thresholds_of_a_fold():
    from earmark.reports.detection import _onset_thresholds

    labels = ["a", "b"]
    per_class = {"a": {"onset_threshold": 0.3}, "b": {"onset_threshold": 0.6}}
    assert _onset_thresholds({"per_class": per_class}, labels) == {"a": 0.3, "b": 0.6}
    # what cross-validation keeps when the fold's per-class metrics carry no thresholds
    assert _onset_thresholds({"per_class": {"a": {"collar_f1": 0.5}},
                              "postprocessing": {"onset_threshold": [0.4, 0.7]}}, labels) == \
        {"a": 0.4, "b": 0.7}
    assert _onset_thresholds({"postprocessing": {"onset_threshold": 0.5}}, labels) == \
        {"a": 0.5, "b": 0.5}
    assert _onset_thresholds({"postprocessing": {"onset_threshold": [0.5]}}, labels) == {}
    assert _onset_thresholds({}, labels) == {}


def _bars(ax):
    """[(label lane, onset, offset)] of the event bars drawn on ``ax``."""
    out = []
    for coll in ax.collections:
        if isinstance(coll, PolyCollection):
            for path in coll.get_paths():
                x, y = path.vertices[:, 0], path.vertices[:, 1]
                out.append((int(round(y.mean())), round(float(x.min()), 6),
                            round(float(x.max()), 6)))
    return sorted(out)


def test_example_figure_draws_lanes_bars_and_scores():
    classes = ["alarm", "dog"]
    spec = {"S_db": np.random.default_rng(0).normal(-40, 10, (64, 120)), "sample_rate": 16000,
            "hop_length": 256, "fmax": 8000.0}
    fig = example_figure(
        classes=classes, duration_s=1.92, frame_step_s=0.5, spectrogram=spec,
        reference=[[0.2, 0.6, "alarm"], [1.5, 2.5, "dog"], [1.95, 2.2, "alarm"]],
        detected=[[0.25, 0.7, "alarm", 0.9], [1.0, 1.1, "speech", 0.8]],
        scores={"alarm": [0.9, 0.2, 0.1, 0.1, 0.8], "dog": [0.1, 0.1, 0.3, 0.7, 0.9],
                "speech": [0.6] * 5}, thresholds={"alarm": 0.4})
    spec_ax, ref_ax, det_ax, score_ax = fig.axes[:4]
    assert [ax.get_ylabel() for ax in fig.axes[:4]] == ["kHz", "reference", "detected", "score"]
    for ax in (ref_ax, det_ax):
        assert [t.get_text() for t in ax.get_yticklabels()] == classes
    for ax in fig.axes[:4]:
        assert ax.get_xlim() == pytest.approx((0, 1.92))
    # the dog event is cut at the end (1.92 s), the alarm starting after it is not drawn
    assert _bars(ref_ax) == [(0, 0.2, 0.6), (1, 1.5, 1.92)]
    assert _bars(det_ax) == [(0, 0.25, 0.7)]  # speech is not a drawn class
    steps = [p for p in score_ax.patches if isinstance(p, StepPatch)]
    assert [p.get_label() for p in steps] == classes
    for p in steps:  # 4 frames start before 1.92 s; the last one is cut there
        np.testing.assert_allclose(p.get_data().edges, [0, 0.5, 1.0, 1.5, 1.92])
    assert [ln.get_ydata()[0] for ln in score_ax.lines] == [0.4]  # alarm's onset threshold
    # an unreadable recording: no spectrogram panel
    fig = example_figure(classes=[], reference=[], detected=[], scores={}, frame_step_s=0.1,
                         duration_s=3.0)
    assert [ax.get_ylabel() for ax in fig.axes] == ["reference", "detected", "score"]


def test_psd_roc_png_with_and_without_curves():
    for folds in ([{"fold": "1", "psds1": 0.4, "psd_roc": {"efpr": [0, 10, 50],
                                                             "tpr": [0.1, 0.5, 0.7]}},
                   {"fold": "2", "psd_roc": None}], []):
        mime, data = _decode_data_uri(psd_roc_png(folds))
        assert mime == "image/png" and data[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("module", [earmark.reports.detection, earmark.reports.detection_plots])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
