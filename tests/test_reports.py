"""Tests of earmark.reports without a browser: content, numbers, size, atomic writes.

The fixtures build a small dataset of generated sounds (tones, noise bursts, chirps) in a
temporary folder, an inspection dict and an evaluation result consistent with it, in the shapes
`earmark inspect` and `earmark evaluate --json` produce. test_reports_browser.py reuses them.
"""

import base64
import hashlib
import io
import math
import os
import re
from html.parser import HTMLParser

import numpy as np
import pytest
import soundfile as sf
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score,
                             precision_recall_fscore_support)

import earmark.reports
from earmark.errors import ParameterError
from earmark.reports import html as html_mod
from earmark.reports import write_dataset_report, write_evaluation_report
from earmark.data.suggest import extra_suggestions, suggest_window
from earmark.reports.dataset import pick_examples
from earmark.reports.evaluation import confident_mistakes, most_confused_pairs, reliability_bins
from earmark.reports.media import media_html

from _reports_helpers import check_failure_midway_keeps_report

LABELS = ["chirp", "noise", "tone"]
FOLDS = ["fold1", "fold2", "fold3"]


# ---------------------------------------------------------------------------------------------
# Fixture builders (also imported by test_reports_browser.py)


def _sound(kind, duration_s, sr, rng, freq=440.0):
    t = np.arange(int(duration_s * sr)) / sr
    if kind == "tone":
        return 0.4 * np.sin(2 * np.pi * freq * t)
    if kind == "noise":
        y = 0.3 * rng.standard_normal(t.size)
        env = np.zeros(t.size)
        env[int(0.1 * sr):int(0.45 * sr)] = 1.0  # one burst
        return y * env
    if kind == "chirp":
        f0, f1 = 300.0, 3000.0
        return 0.35 * np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t ** 2 / (2 * duration_s)))
    raise AssertionError(kind)


def make_audio_dataset(root, *, seed=0):
    """Write 3 classes x 4 files, plus a silent, a clipped, a stereo file and a cross-fold
    duplicate. Returns a list of (path, label, fold)."""
    rng = np.random.default_rng(seed)
    rows = []
    for c, label in enumerate(LABELS):
        os.makedirs(os.path.join(root, label), exist_ok=True)
        for i in range(4):
            sr = 16000 if label == "noise" else 22050
            dur = 0.6 + 0.3 * i
            y = _sound(label, dur, sr, rng, freq=440.0 * (1 + i / 2))
            path = os.path.join(root, label, f"{label}_{i}.wav")
            if label == "chirp" and i == 3:
                y = np.stack([y, 0.5 * y], axis=1)  # one stereo file
            sf.write(path, y.astype(np.float32), sr, subtype="PCM_16")
            rows.append((path, label, FOLDS[i % 3]))
    silent = os.path.join(root, "noise", "noise_silent.wav")
    sf.write(silent, np.zeros(16000, np.float32), 16000, subtype="PCM_16")
    rows.append((silent, "noise", "fold2"))
    clipped = os.path.join(root, "tone", "tone_clipped.wav")
    sf.write(clipped, np.clip(3 * _sound("tone", 1.0, 22050, rng), -1, 1).astype(np.float32),
             22050, subtype="PCM_16")
    rows.append((clipped, "tone", "fold3"))
    # the same audio as chirp_0 (fold1) filed in fold2: a leak
    dup = os.path.join(root, "chirp", "chirp_copy.wav")
    y, sr = sf.read(os.path.join(root, "chirp", "chirp_0.wav"), dtype="int16")
    sf.write(dup, y, sr, subtype="PCM_16")
    rows.append((dup, "chirp", "fold2"))
    return rows


def make_inspection(root, rows):
    """The dict `earmark inspect` computes, computed here independently from the files."""
    files = []
    for path, label, fold in rows:
        y, sr = sf.read(path, dtype="float32", always_2d=True)
        peak = float(np.abs(y).max())
        rms = float(np.sqrt(np.mean(y.astype(np.float64) ** 2)))
        clipped_fraction = float(np.mean(np.abs(y) >= 0.999))
        raw, _ = sf.read(path, dtype="int16", always_2d=True)
        files.append({
            "path": path, "label": label, "fold": fold, "group": None,
            "duration_s": y.shape[0] / sr, "sample_rate": sr, "channels": y.shape[1],
            "peak_dbfs": 20 * math.log10(peak) if peak > 0 else float("-inf"),
            "rms_dbfs": 20 * math.log10(rms) if rms > 0 else float("-inf"),
            "clipped_fraction": clipped_fraction,
            "hash": hashlib.sha1(raw.tobytes()).hexdigest(),
            "silent": peak < 1e-3, "clipped": clipped_fraction > 0.001,
        })
    classes = {}
    for label in LABELS:
        d = [f["duration_s"] for f in files if f["label"] == label]
        classes[label] = {"count": len(d), "duration_s_total": sum(d),
                          "duration_s_mean": sum(d) / len(d), "duration_s_min": min(d),
                          "duration_s_max": max(d)}
    folds = {fold: {label: sum(1 for f in files if f["fold"] == fold and f["label"] == label)
                    for label in LABELS} for fold in FOLDS}
    by_hash = {}
    for f in files:
        by_hash.setdefault(f["hash"], []).append(f)
    duplicates = [{"hash": h, "paths": [f["path"] for f in group],
                   "folds": [f["fold"] for f in group],
                   "leak": len({f["fold"] for f in group}) > 1}
                  for h, group in by_hash.items() if len(group) > 1]
    sample_rates, channels = {}, {}
    for f in files:
        sample_rates[str(f["sample_rate"])] = sample_rates.get(str(f["sample_rate"]), 0) + 1
        channels[str(f["channels"])] = channels.get(str(f["channels"]), 0) + 1
    return {"root": str(root), "n_files": len(files), "n_clips": len(files),
            "total_duration_s": sum(f["duration_s"] for f in files), "classes": classes,
            "folds": folds, "sample_rates": sample_rates, "channels": channels, "files": files,
            "duplicates": duplicates,
            "problems": ["class 'tone' has only 5 examples; at least 10 are recommended"],
            "suggestions": ["Folds come from the 'fold' column: keep them fixed to compare "
                            "with published results."]}


def _per_class(y_true, y_pred):
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=LABELS, zero_division=0)
    return {label: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                    "support": int(s[i])} for i, label in enumerate(LABELS)}


def make_result(rows, *, seed=0, relative_to=None, n_epochs=5):
    """An evaluation result whose metrics are computed (with scikit-learn) from its predictions."""
    rng = np.random.default_rng(seed)
    predictions = []
    for k, (path, label, fold) in enumerate(rows):
        logits = rng.normal(0, 1.0, len(LABELS))
        logits[LABELS.index(label)] += 1.5  # mostly right, with confident mistakes among them
        probs = np.exp(logits) / np.exp(logits).sum()
        shown = os.path.relpath(path, relative_to) if relative_to else path
        predictions.append({
            "path": shown, "start_s": None, "end_s": None, "fold": fold, "label": label,
            "predicted": LABELS[int(np.argmax(probs))],
            "probabilities": {lab: float(p) for lab, p in zip(LABELS, probs)}})
    folds = []
    for fi, fold in enumerate(FOLDS):
        sel = [p for p in predictions if p["fold"] == fold]
        yt, yp = [p["label"] for p in sel], [p["predicted"] for p in sel]
        hist = [{"epoch": e + 1, "train_loss": 1.1 * math.exp(-e / 2) + 0.05 * fi,
                 "train_accuracy": min(1.0, 0.4 + 0.12 * e), "val_loss": 1.2 - 0.1 * e + 0.02 * fi,
                 "val_accuracy": 0.35 + 0.08 * e, "lr": 1e-3 * 0.5 ** (e // 2)}
                for e in range(n_epochs)]
        folds.append({"fold": fold, "n_train": len(predictions) - len(sel), "n_test": len(sel),
                      "balanced_accuracy": float(balanced_accuracy_score(yt, yp)),
                      "accuracy": float(accuracy_score(yt, yp)),
                      "macro_f1": float(f1_score(yt, yp, labels=LABELS, average="macro",
                                                 zero_division=0)),
                      "confusion_matrix": confusion_matrix(yt, yp, labels=LABELS).tolist(),
                      "per_class": _per_class(yt, yp), "history": hist, "wall_s": 3.5 + fi})
    yt, yp = [p["label"] for p in predictions], [p["predicted"] for p in predictions]
    out = {"labels": LABELS,
           "confusion_matrix": confusion_matrix(yt, yp, labels=LABELS).tolist(),
           "per_class": _per_class(yt, yp), "folds": folds, "predictions": predictions,
           "config": {"features": {"sample_rate": 22050, "n_mels": 64, "window_s": 1.0,
                                   "homepage": "https://example.org/not-a-link"},
                      "model": {"name": "cnn", "width": 32}, "training": {"epochs": n_epochs}},
           "versions": {"earmark": "0.1.0", "torch": "2.13.0", "numpy": np.__version__},
           "dataset": "/data/toy", "protocol": "folds=fold", "wall_s": 12.3}
    for key in ("balanced_accuracy", "accuracy", "macro_f1"):
        values = [f[key] for f in folds]
        out[key] = float(np.mean(values))
        out[key + "_std"] = float(np.std(values))
    return out


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    data = root / "data"
    rows = make_audio_dataset(str(data))
    return {"dir": root, "data": str(data), "rows": rows,
            "inspection": make_inspection(str(data), rows), "result": make_result(rows)}


@pytest.fixture(scope="module")
def eval_html(toy):
    path = toy["dir"] / "report.html"
    write_evaluation_report(toy["result"], path, progress=False)
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def dataset_html(toy):
    path = toy["dir"] / "dataset.html"
    write_dataset_report(toy["inspection"], path, progress=False)
    return path.read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# A tiny HTML reader: elements' attributes and text


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements = []  # [tag, attrs dict, text]
        self._open = []

    def handle_starttag(self, tag, attrs):
        el = [tag, dict(attrs), ""]
        self.elements.append(el)
        if tag not in ("img", "br", "meta", "input", "source"):
            self._open.append(el)

    def handle_endtag(self, tag):
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i][0] == tag:
                del self._open[i:]
                break

    def handle_data(self, data):
        for el in self._open:
            el[2] += data


def parse(text):
    c = _Collector()
    c.feed(text)
    return c.elements


def with_attr(elements, name, **match):
    return [e for e in elements if name in e[1]
            and all(e[1].get(k.replace("_", "-")) == v for k, v in match.items())]


def expected_page_numbers(result):
    """{(kind, keys...): text} as the evaluation report must print them."""
    exp = {}
    for key in ("balanced_accuracy", "accuracy", "macro_f1"):
        exp[("metric", key)] = f"{result[key]:.3f}"
        exp[("metric", key + "_std")] = f"{result[key + '_std']:.3f}"
    exp[("metric", "n_predictions")] = str(len(result["predictions"]))
    exp[("metric", "wall_s")] = f"{result['wall_s']:.1f} s"
    # expected calibration error over 10 equal bins, computed here independently
    conf = np.array([p["probabilities"][p["predicted"]] for p in result["predictions"]])
    right = np.array([p["predicted"] == p["label"] for p in result["predictions"]])
    ece = sum(abs(right[b].mean() - conf[b].mean()) * b.sum()
              for b in (np.floor(conf * 10).clip(0, 9) == k for k in range(10)) if b.any())
    exp[("metric", "ece")] = f"{ece / len(conf):.3f}"
    for label, m in result["per_class"].items():
        for k in ("precision", "recall", "f1"):
            exp[("class", label, k)] = f"{m[k]:.3f}"
        exp[("class", label, "support")] = str(m["support"])
    for f in result["folds"]:
        for k in ("balanced_accuracy", "accuracy", "macro_f1"):
            exp[("fold", f["fold"], k)] = f"{f[k]:.3f}"
        for k in ("n_train", "n_test"):
            exp[("fold", f["fold"], k)] = str(f[k])
    for i, t in enumerate(result["labels"]):
        for j, p in enumerate(result["labels"]):
            exp[("cm", t, p)] = str(result["confusion_matrix"][i][j])
    return exp


def page_numbers(items):
    """Same keys from (attrs, text) pairs read off a page (by the HTML parser or a browser)."""
    got = {}
    for a, text in items:
        text = text.strip()
        if "data-cm" in a:
            got[("cm", a["data-true"], a["data-pred"])] = text
        elif "data-class" in a and "data-metric" in a:
            got[("class", a["data-class"], a["data-metric"])] = text
        elif "data-fold" in a and "data-metric" in a:
            got[("fold", a["data-fold"], a["data-metric"])] = text
        elif "data-metric" in a:
            got[("metric", a["data-metric"])] = text
    return got


def expected_dataset_numbers(ins):
    exp = {("stat", "n_files"): str(ins["n_files"]), ("stat", "n_clips"): str(ins["n_clips"]),
           ("stat", "n_classes"): str(len(ins["classes"])),
           ("stat", "n_problems"): str(len(ins["problems"])),
           ("stat", "n_duplicates"): str(len(ins["duplicates"])),
           ("stat", "n_leaks"): str(sum(d["leak"] for d in ins["duplicates"])),
           ("stat", "n_silent"): str(sum(f["silent"] for f in ins["files"])),
           ("stat", "n_clipped"): str(sum(f["clipped"] for f in ins["files"]))}
    for label, c in ins["classes"].items():
        exp[("class", label, "count")] = str(c["count"])
        for k in ("duration_s_total", "duration_s_mean", "duration_s_min", "duration_s_max"):
            exp[("class", label, k)] = f"{c[k]:.2f}"
    for fold, counts in ins["folds"].items():
        for label, n in counts.items():
            exp[("fold", fold, label)] = str(n)
    for rate, n in ins["sample_rates"].items():
        exp[("sample_rate", rate)] = str(n)
    for ch, n in ins["channels"].items():
        exp[("channels", ch)] = str(n)
    return exp


def dataset_page_numbers(items):
    got = {}
    for a, text in items:
        text = text.strip()
        stat = a.get("data-stat")
        if stat == "fold_count":
            got[("fold", a["data-fold"], a["data-class"])] = text
        elif stat in ("sample_rate", "channels"):
            got[(stat, a["data-key"])] = text
        elif "data-class" in a:
            got[("class", a["data-class"], stat)] = text
        elif stat is not None and stat != "total_duration_s":
            got[("stat", stat)] = text
    return got


def _decode_data_uri(uri):
    head, payload = uri.split(",", 1)
    assert head.endswith(";base64"), head
    return head[5:-7], base64.b64decode(payload)


# ---------------------------------------------------------------------------------------------
# Evaluation report


def test_evaluation_report_numbers_equal_result(toy, eval_html):
    els = parse(eval_html)
    got = page_numbers([(e[1], e[2]) for e in els])
    assert got == expected_page_numbers(toy["result"])
    # exact values travel with the formatted text
    ba = with_attr(els, "data-metric", data_metric="balanced_accuracy")[0]
    assert float(ba[1]["data-value"]) == toy["result"]["balanced_accuracy"]


def test_evaluation_report_is_self_contained(eval_html):
    links = re.findall(r'(?:src|href)\s*=\s*["\']?\s*([^"\'\s>]+)', eval_html, flags=re.I)
    assert links, "the page has no src/href at all"
    assert not [u for u in links if re.match(r"(https?:)?//", u, flags=re.I)]
    assert "<script" not in eval_html.lower()
    assert "@import" not in eval_html and "url(" not in eval_html


def test_evaluation_report_embeds_decodable_media(toy, eval_html):
    els = parse(eval_html)
    imgs = [e[1]["src"] for e in els if e[0] == "img"]
    audios = [e[1]["src"] for e in els if e[0] == "audio"]
    n_wrong = sum(p["label"] != p["predicted"] for p in toy["result"]["predictions"])
    assert len(audios) == min(12, n_wrong) > 0
    # fold spread, 2 confusion matrices, reliability, training curves + one per mistake
    assert len(imgs) == 5 + len(audios)
    for src in imgs:
        mime, data = _decode_data_uri(src)
        assert mime == "image/png" and data[:8] == b"\x89PNG\r\n\x1a\n"
    for src in audios:
        mime, data = _decode_data_uri(src)
        assert mime in ("audio/ogg", "audio/flac")
        y, sr = sf.read(io.BytesIO(data))
        assert sr == 16000 and y.ndim == 1 and 0 < len(y) <= 4 * 16000


def test_mistakes_are_the_most_confident_wrong_predictions(toy, eval_html):
    els = parse(eval_html)
    shown = [e[1]["data-mistake"] for e in with_attr(els, "data-mistake")]
    wrong = [p for p in toy["result"]["predictions"] if p["label"] != p["predicted"]]
    wrong.sort(key=lambda p: -p["probabilities"][p["predicted"]])
    assert shown == [p["path"] for p in wrong[:12]]
    # each card lists the top-3 scores, highest first, with the predicted class on top
    top = with_attr(els, "data-score-label")[:3]
    probs = wrong[0]["probabilities"]
    expected = sorted(probs.items(), key=lambda kv: -kv[1])[:3]
    assert [(e[1]["data-score-label"], e[2]) for e in top] == \
        [(k, f"{v:.3f}") for k, v in expected]


def test_relative_paths_use_audio_root_and_missing_audio_is_reported(toy, tmp_path):
    result = make_result(toy["rows"], relative_to=toy["data"])
    ok = tmp_path / "ok.html"
    write_evaluation_report(result, ok, audio_root=toy["data"], max_mistakes=2, progress=False)
    text = ok.read_text()
    assert text.count("<audio") == 2 and "Audio not shown" not in text
    missing = tmp_path / "missing.html"
    write_evaluation_report(result, missing, audio_root=str(tmp_path / "nowhere"),
                            max_mistakes=2, progress=False)
    text = missing.read_text()
    assert "<audio" not in text and text.count("Audio not shown") == 2
    assert "file not found" in text


def test_long_regions_are_cut_to_four_seconds(toy, tmp_path):
    long_path = tmp_path / "long.wav"
    sr = 22050
    sf.write(long_path, (0.3 * np.sin(np.arange(10 * sr) * 0.1)).astype(np.float32), sr)
    result = make_result(toy["rows"])
    result["predictions"] = [{"path": str(long_path), "start_s": 1.0, "end_s": 9.0,
                              "fold": "fold1", "label": "tone", "predicted": "noise",
                              "probabilities": {"chirp": 0.1, "noise": 0.8, "tone": 0.1}}]
    out = tmp_path / "r.html"
    write_evaluation_report(result, out, progress=False)
    (src,) = [e[1]["src"] for e in parse(out.read_text()) if e[0] == "audio"]
    y, clip_sr = sf.read(io.BytesIO(_decode_data_uri(src)[1]))
    assert clip_sr == 16000 and abs(len(y) - 4 * 16000) <= 1
    assert "1.00–9.00 s" in out.read_text()
    assert "4.00 s shown (first 4 s)" in out.read_text()


def test_media_block_caption_alt_and_unreadable_file(tmp_path):
    path = tmp_path / "a & b.wav"
    sf.write(path, np.zeros(8000, np.float32), 16000)
    html_text = media_html(path, alt="spectrogram of <dog>",
                           caption=lambda shown_s: f"{shown_s:.1f} s of <dog>")
    assert [e[0] for e in parse(html_text)] == ["img", "audio", "div"]
    assert 'alt="spectrogram of &lt;dog&gt;"' in html_text
    assert html_text.endswith("0.5 s of &lt;dog&gt;</div>")
    assert media_html(path).endswith("0.50 s shown</div>")
    missing = media_html(tmp_path / "nothing.wav")
    assert missing.startswith('<p class="note">Audio not shown: ') and "nothing.wav" in missing


def test_report_over_1000_clips_stays_small(toy, tmp_path):
    rows = [toy["rows"][k % len(toy["rows"])] for k in range(1000)]
    result = make_result(rows, seed=1, n_epochs=60)
    out = tmp_path / "big.html"
    write_evaluation_report(result, out, progress=False)
    size = out.stat().st_size
    assert size < 20 * 1024 * 1024
    text = out.read_text()
    assert text.count("<audio") == 12
    assert 'data-value="1000"' in text


def test_non_neural_model_has_no_training_curves(toy, tmp_path):
    result = make_result(toy["rows"])
    for f in result["folds"]:
        f["history"] = []
    out = tmp_path / "r.html"
    write_evaluation_report(result, out, max_mistakes=0, progress=False)
    text = out.read_text()
    assert "no per-epoch history" in text and 'alt="training curves"' not in text
    assert "<audio" not in text


def test_minimal_inputs_still_give_a_page(tmp_path):
    result = {"balanced_accuracy": 0.5, "accuracy": 0.5, "macro_f1": 0.5, "labels": ["a", "b"],
              "confusion_matrix": [[0, 0], [0, 0]], "per_class": {}, "folds": [],
              "predictions": []}
    out = tmp_path / "r.html"
    write_evaluation_report(result, out, progress=False)
    els = parse(out.read_text())
    assert with_attr(els, "data-metric", data_metric="balanced_accuracy")[0][2] == "0.500"
    assert "No mistakes to show" in out.read_text()
    inspection = {"root": str(tmp_path), "n_files": 0, "n_clips": 0, "total_duration_s": 0.0,
                  "classes": {}, "folds": None, "sample_rates": {}, "channels": {}, "files": [],
                  "duplicates": [], "problems": ["no audio files found"], "suggestions": []}
    write_dataset_report(inspection, tmp_path / "d.html", progress=False)
    text = (tmp_path / "d.html").read_text()
    assert "no audio files found" in text and "No two files hold the same audio" in text


def test_same_input_gives_identical_report(toy, tmp_path):
    a, b = tmp_path / "a.html", tmp_path / "b.html"
    write_evaluation_report(toy["result"], a, max_mistakes=3, progress=False)
    write_evaluation_report(toy["result"], b, max_mistakes=3, progress=False)
    assert a.read_bytes() == b.read_bytes()


def test_failure_midway_leaves_existing_report_untouched(toy, tmp_path, monkeypatch):
    check_failure_midway_keeps_report(
        lambda out: write_evaluation_report(toy["result"], out, progress=False),
        "reliability_png", tmp_path, monkeypatch)


def test_write_atomic_failure_while_writing(tmp_path):
    out = tmp_path / "page.html"
    out.write_text("old")

    def parts():
        yield "<html>" + "x" * 100_000
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        html_mod.write_atomic(out, parts())
    assert out.read_text() == "old"
    assert os.listdir(tmp_path) == ["page.html"]
    html_mod.write_atomic(out, ["new", " page"])
    assert out.read_text() == "new page"
    assert os.listdir(tmp_path) == ["page.html"]


def test_bad_input_is_rejected_with_a_clear_message(toy, tmp_path):
    bad = dict(toy["result"])
    del bad["confusion_matrix"]
    with pytest.raises(ParameterError, match="lacks confusion_matrix"):
        write_evaluation_report(bad, tmp_path / "r.html", progress=False)
    with pytest.raises(ParameterError, match="does not exist"):
        write_evaluation_report(toy["result"], tmp_path / "no" / "r.html", progress=False)
    with pytest.raises(ParameterError, match="max_mistakes"):
        write_evaluation_report(toy["result"], tmp_path / "r.html", max_mistakes=-1,
                                progress=False)
    with pytest.raises(ParameterError, match="lacks files"):
        write_dataset_report({k: v for k, v in toy["inspection"].items() if k != "files"},
                             tmp_path / "d.html", progress=False)
    assert not os.listdir(tmp_path)


# ---------------------------------------------------------------------------------------------
# Helpers with known answers


def test_reliability_bins_known_answers():
    # 10 clips at 0.9 with 9 right: perfectly calibrated
    b = reliability_bins([0.9] * 10, [True] * 9 + [False])
    assert b["ece"] == pytest.approx(0.0, abs=1e-12)
    assert b["count"][9] == 10 and sum(b["count"]) == 10
    # certain and always wrong: ECE 1; a score of exactly 1.0 lands in the last bin
    b = reliability_bins([1.0, 1.0], [False, False], n_bins=5)
    assert b["ece"] == pytest.approx(1.0) and b["count"] == [0, 0, 0, 0, 2]
    # two bins, weighted by count: (3 * |1 - 0.7| + 1 * |0 - 0.2|) / 4
    b = reliability_bins([0.7, 0.7, 0.7, 0.2], [True, True, True, False], n_bins=10)
    assert b["ece"] == pytest.approx((3 * 0.3 + 0.2) / 4)
    assert b["accuracy"][7] == 1.0 and b["accuracy"][0] is None
    with pytest.raises(ParameterError):
        reliability_bins([0.5], [True, False])


def test_confident_mistakes_and_confused_pairs():
    preds = [{"path": p, "label": "a", "predicted": q, "probabilities": {q: s}}
             for p, q, s in [("x", "b", 0.6), ("y", "b", 0.95), ("z", "a", 0.99), ("w", "c", 0.6)]]
    assert [p["path"] for p in confident_mistakes(preds, n=10)] == ["y", "w", "x"]
    assert [p["path"] for p in confident_mistakes(preds, n=1)] == ["y"]
    cm = [[5, 3, 0], [1, 9, 0], [0, 4, 2]]
    assert most_confused_pairs(cm, ["a", "b", "c"], n=2) == [("c", "b", 4, 4 / 6),
                                                             ("a", "b", 3, 3 / 8)]
    assert most_confused_pairs([[2, 0], [0, 2]], ["a", "b"]) == []


@pytest.mark.parametrize("durations, window", [([2.2, 2.5, 2.4], 3.0), ([0.1], 0.25),
                                               ([0.6, 0.7, 30.0], 1.0), ([12, 60], 10.0),
                                               ([1.0, 1.0], 1.0), ([1.05, 1.05], 1.0),
                                               ([0.76, 0.8, 0.9], 1.0), ([2.0, 2.0], 2.0),
                                               ([0.3, 0.4], 0.5)])
def test_suggest_window(durations, window):
    w, hop, text = suggest_window(durations)
    assert (w, hop) == (window, window / 2)
    assert f"{w:g} s" in text


def test_extra_suggestions_and_examples(toy):
    ins = toy["inspection"]
    text = " ".join(extra_suggestions(ins))
    assert "16000, 22050 Hz" in text and "window of 1 s" in text
    assert "imbalanced" not in text  # 5/5/5 clips
    skewed = dict(ins, classes={"a": {"count": 30}, "b": {"count": 5}}, files=[],
                  sample_rates={"44100": 35})
    assert extra_suggestions(skewed) == [extra_suggestions(skewed)[0]]
    assert "ratio 6.0" in extra_suggestions(skewed)[0]
    chosen = pick_examples(ins["files"])
    assert sorted(chosen) == LABELS
    assert not any(f["silent"] or f["clipped"] for f in chosen.values())


# ---------------------------------------------------------------------------------------------
# Dataset report


def test_dataset_report_numbers_equal_inspection(toy, dataset_html):
    els = parse(dataset_html)
    got = dataset_page_numbers([(e[1], e[2]) for e in els])
    assert got == expected_dataset_numbers(toy["inspection"])


def test_dataset_report_content(toy, dataset_html):
    els = parse(dataset_html)
    ins = toy["inspection"]
    assert [e[1]["data-example"] for e in with_attr(els, "data-example")] == LABELS
    audios = [e for e in els if e[0] == "audio"]
    assert len(audios) == 3
    imgs = [e[1]["src"] for e in els if e[0] == "img"]
    assert len(imgs) == 1 + 3 + 3  # balance, 3 histograms, 3 spectrograms
    assert all(_decode_data_uri(s)[1][:4] == b"\x89PNG" for s in imgs)
    assert [e[1]["data-leak"] for e in with_attr(els, "data-leak")] == ["1"]
    assert "noise_silent.wav" in dataset_html and "tone_clipped.wav" in dataset_html
    assert ins["problems"][0].replace("'", "&#x27;") in dataset_html
    assert len(with_attr(els, "data-suggestion")) == len(ins["suggestions"])
    assert not re.findall(r'(?:src|href)\s*=\s*["\']?(?:https?:)?//', dataset_html, flags=re.I)


def test_public_api():
    assert earmark.reports.__all__ == ["write_evaluation_report", "write_dataset_report"]
