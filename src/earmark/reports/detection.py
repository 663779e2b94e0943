"""The evaluation report of a sound event detector.

What ``earmark evaluate DATA --task detection --report report.html`` writes. A detector answers
*when* each sound happens, so the page asks: how well do the frame scores separate events from
the rest at every operating point (PSDS1 and PSDS2, with each fold's PSD-ROC curve), how good
are the events it gives after post-processing (collar-based F1, segment-based F1 and error
rate), which classes it finds and with which tuned post-processing, how training went, and,
for a few recordings per fold, what it heard: the spectrogram, the reference and detected
events and the frame scores on one time axis, with the audio to listen along.

The page is built from the same parts as :func:`earmark.reports.write_evaluation_report`, which
hands a result with ``"task": "detection"`` to :func:`write_detection_report`.
"""

import math
import numbers

import numpy as np
from tqdm.auto import tqdm

from .. import audio as earmark_audio
from .._validation import check_number
from ..errors import EarmarkError, ParameterError
from ..features import log_mel
from . import detection_plots
from .evaluation import (_bar_td, _build_sections, _check_fields, _clip_path, _config_section,
                         _folds_section, _metric_card, _num_td, _report_page, _require,
                         _training_section)
from .html import (attrs, card, check_output_path, data_uri, esc, fmt_duration_long, fmt_int,
                   fmt_metric, fmt_seconds, pretty_json, table, write_atomic)
from .media import CLIP_SAMPLE_RATE, SPEC_HOP, SPEC_SAMPLE_RATE, _clip_format, _fix_ogg_serial
from .plots import PALETTE, history_curves_png
from .tagging import _history_panels

__all__ = ["write_detection_report", "shown_classes", "MAX_RECORDING_S"]

#: A longer example recording is drawn and played over its first ``MAX_RECORDING_S`` seconds.
MAX_RECORDING_S = 30.0

_OWNER = "write_detection_report"
#: The metrics of the summary cards and of the folds table.
_METRICS = (("psds1", "PSDS1"), ("psds2", "PSDS2"), ("collar_f1", "collar F1"),
            ("segment_f1", "segment F1"), ("segment_er", "segment ER"))
#: Every scalar metric of the result and of each fold, with its name.
_ALL_METRICS = _METRICS + (("collar_f1_micro", "collar F1 (micro)"),
                           ("collar_precision", "collar precision"),
                           ("collar_recall", "collar recall"),
                           ("segment_f1_macro", "segment F1 (macro)"),
                           ("segment_precision", "segment precision"),
                           ("segment_recall", "segment recall"))
_SCALARS = tuple(k for k, _ in _ALL_METRICS)
# the error rate is not bounded by 1, so it stays out of the 0-1 figure of the folds
_PLOTTED = ("psds1", "psds2", "collar_f1", "segment_f1")
_REQUIRED = ("task",) + _SCALARS + ("labels", "per_class", "folds", "examples")
_FOLD_REQUIRED = ("fold", "n_train", "n_test") + _SCALARS
_CLASS_REQUIRED = ("collar_f1", "collar_precision", "collar_recall", "segment_f1",
                   "segment_precision", "segment_recall", "n_ref", "n_detected",
                   "onset_threshold", "offset_threshold", "median_filter_s", "min_duration_s",
                   "min_gap_s")
_EXAMPLE_REQUIRED = ("fold", "path", "duration_s", "reference", "detected", "frame_step_s",
                     "scores")
# (key, header HTML): headers broken over two lines keep the table within a laptop screen
_CLASS_BARS = (("collar_f1", "collar<br>F1"), ("collar_precision", "collar<br>precision"),
               ("collar_recall", "collar<br>recall"), ("segment_f1", "segment<br>F1"))
_THRESHOLDS = (("onset_threshold", "onset<br>threshold"),
               ("offset_threshold", "offset<br>threshold"))
_POSTPROCESSING_S = (("median_filter_s", "median<br>filter (s)"),
                     ("min_duration_s", "min.<br>duration (s)"), ("min_gap_s", "min.<br>gap (s)"))
_COMMAND = "earmark evaluate --task detection --json"
_FOLDS_LEAD = ("PSDS judges the frame scores over all thresholds (PSDS1: tight onsets, no "
               "cross-triggers; PSDS2: loose timing, cross-triggers penalised). Collar F1 judges "
               "the events after the tuned post-processing, an event counting when its onset "
               "and offset fall within the collar; segment F1 and the error rate (ER, lower is "
               "better) judge activity in fixed segments. The figure leaves ER out: it is not "
               "bounded by 1. Every metric per fold is in the table under the figure.")


def _events_before(events, until_s):
    return [e for e in events if until_s is None or float(e[0]) < until_s]


def shown_classes(example, labels, *, min_score=0.5, until_s=None):
    """The classes worth drawing for an example recording, in ``labels`` order.

    A class is shown when it has a reference or detected event, or when its frame score
    exceeds ``min_score`` anywhere; with ``until_s``, only events starting and frames starting
    before ``until_s`` count (what the figure of a long recording shows). Classes of the
    example that ``labels`` lacks come last, sorted.

    Parameters
    ----------
    example : dict
        ``reference`` (``[onset, offset, label]``), ``detected`` (``[onset, offset, label,
        score]``), ``scores`` (``{label: [score per frame]}``) and ``frame_step_s``.
    labels : list of str
        The classes of the result.
    min_score : float
        A class without events is shown when a frame score is above this.
    until_s : float or None
        The end of the window the figure shows; None: the whole recording.

    Returns
    -------
    list of str

    Examples
    --------
    >>> ex = {"reference": [[0.5, 1.0, "dog"]], "detected": [[3.0, 4.0, "bird", 0.7]],
    ...       "scores": {"dog": [0.2, 0.4], "rain": [0.1, 0.6], "car": [0.3, 0.5]},
    ...       "frame_step_s": 1.0}
    >>> shown_classes(ex, ["bird", "car", "dog", "rain"])
    ['bird', 'dog', 'rain']
    >>> shown_classes(ex, ["bird", "car", "dog", "rain"], until_s=1.0)
    ['dog']
    """
    check_number(min_score, "min_score", "shown_classes")
    check_number(until_s, "until_s", "shown_classes", low=0, allow_none=True)
    found = {str(e[2]) for e in _events_before(example["reference"], until_s)}
    found |= {str(e[2]) for e in _events_before(example["detected"], until_s)}
    step = float(example["frame_step_s"])
    for label, values in (example.get("scores") or {}).items():
        values = np.asarray(values if values is not None else [], dtype=float)
        if until_s is not None:
            values = values[: max(0, int(math.ceil(until_s / step - 1e-9)))]
        if values.size and np.nanmax(values) > min_score:
            found.add(str(label))
    order = [str(c) for c in labels]
    return [c for c in order if c in found] + sorted(found - set(order))


def _check_result(result):
    _check_fields(result, _REQUIRED, _OWNER, "detection", _COMMAND)
    if result["task"] != "detection":
        raise ParameterError(f"{_OWNER}: the result's task is {result['task']!r}, not "
                             "'detection'; write it with write_evaluation_report.")
    for i, f in enumerate(result["folds"]):
        where = f"folds[{i}] (fold {f.get('fold', '?')!s})"
        _require(f, _FOLD_REQUIRED, _OWNER, where, _COMMAND)
        roc = f.get("psd_roc")
        if roc is not None:
            _require(roc, ("efpr", "tpr"), _OWNER, f"{where} psd_roc", _COMMAND)
            if len(roc["efpr"]) != len(roc["tpr"]):
                raise ParameterError(f"{_OWNER}: {where} psd_roc has {len(roc['efpr'])} efpr "
                                     f"but {len(roc['tpr'])} tpr values; expected one of each "
                                     "per point of the curve.")
    for label, m in result["per_class"].items():
        _require(m, _CLASS_REQUIRED, _OWNER, f"per_class[{label!r}]", _COMMAND)
    for i, ex in enumerate(result["examples"]):
        where = f"examples[{i}] ({ex.get('path', '?')!s})"
        _require(ex, _EXAMPLE_REQUIRED, _OWNER, where, _COMMAND)
        for key in ("reference", "detected"):
            short = [e for e in ex[key] if len(e) < 3]
            if short:
                raise ParameterError(f"{_OWNER}: {where} has {key} events without onset, "
                                     f"offset and label: {short[0]!r}; expected "
                                     "[onset_s, offset_s, label" +
                                     (", score]." if key == "detected" else "]."))
        step = ex["frame_step_s"]
        if isinstance(step, bool) or not isinstance(step, numbers.Real) or \
                not math.isfinite(step) or step <= 0:
            raise ParameterError(f"{_OWNER}: {where} frame_step_s must be a float in (0, inf). "
                                 f"Got {step!r} instead.")


def _page_view(result):
    """The result as the shared page parts read it: recipe and estimator under ``config``
    (where cross_validate puts them), so the subtitle names the model."""
    config = dict(result.get("config") or {})
    estimator = dict(config.get("estimator") or result.get("estimator") or {})
    if result.get("recipe") is not None:
        estimator.setdefault("recipe", result["recipe"])
    config["estimator"] = estimator
    return dict(result, config=config)


# ---------------------------------------------------------------------------------------------
# Cards and cells

def _value_span(key, value):
    v = None if value is None else repr(float(value))
    return f"<span{attrs(data_metric=key, data_value=v)}>{fmt_metric(value)}</span>"


def _summary_cards(result):
    pr = {}
    for kind in ("collar", "segment"):
        p, r = f"{kind}_precision", f"{kind}_recall"
        pr[kind] = f"P {_value_span(p, result[p])} · R {_value_span(r, result[r])}"
    cards = [
        _metric_card("PSDS1", "psds1", result["psds1"], result.get("psds1_std"),
                     note="tight onsets"),
        _metric_card("PSDS2", "psds2", result["psds2"], result.get("psds2_std"),
                     note="cross-triggers"),
        _metric_card("collar F1", "collar_f1", result["collar_f1"], result.get("collar_f1_std"),
                     note=pr["collar"]),
        _metric_card("segment F1", "segment_f1", result["segment_f1"],
                     result.get("segment_f1_std"), note=pr["segment"]),
        _metric_card("segment ER", "segment_er", result["segment_er"],
                     result.get("segment_er_std"), note="lower is better"),
    ]
    n = result.get("n_clips")
    if n is None:
        n = sum(int(f["n_test"]) for f in result["folds"])
    wall = ""
    if result.get("wall_s") is not None:
        wall = (f' · <span{attrs(data_metric="wall_s", data_value=repr(float(result["wall_s"])))}>'
                f'{esc(fmt_duration_long(result["wall_s"]))}</span>')
    cards.append(card("recordings", fmt_int(n),
                      sub=f"{len(result['labels'])} classes · {len(result['folds'])} "
                          f"folds{wall}", data_metric="n_clips", data_value=n))
    return "".join(cards)


def _seconds_td(value, **data):
    v = None if value is None else repr(float(value))
    return f'<td class="num"{attrs(data_value=v, **data)}>{fmt_seconds(value)}</td>'


def _int_td(value, **data):
    shown = "–" if value is None else fmt_int(value)
    return f'<td class="num"{attrs(data_value=value, **data)}>{shown}</td>'


# ---------------------------------------------------------------------------------------------
# Sections

def _f1_order(per_class, labels):
    rank = {str(k): i for i, k in enumerate(labels)}
    return sorted(per_class, key=lambda c: (per_class[c]["collar_f1"] is None,
                                            -(per_class[c]["collar_f1"] or 0.0),
                                            rank.get(str(c), 1 << 30), str(c)))


def _all_folds_section(result):
    """The folds table and figure of the headline metrics, then every metric per fold (folds
    as columns, so that the table stays narrow however many metrics there are)."""
    sid, heading, lead, body = _folds_section(result, _METRICS, _FOLDS_LEAD, figure_beside=False,
                                              plotted=_PLOTTED)
    folds = result["folds"]
    rows = [[esc(name)] +
            [_num_td(f[k], data_fold=str(f["fold"]), data_metric=k) for f in folds] +
            [f'<td class="num"><b>{fmt_metric(result[k])}</b> ± '
             f'{fmt_metric(result.get(k + "_std"))}</td>'] for k, name in _ALL_METRICS]
    header = ["metric"] + [f"fold {esc(f['fold'])}" for f in folds] + ["mean ± std"]
    body += ("<details><summary>Every metric per fold</summary>"
             f"{table(header, rows)}</details>")
    return sid, heading, lead, body


def _per_class_section(result):
    per_class = result["per_class"]
    scores, post = [], []
    for label in _f1_order(per_class, result["labels"]):
        m = per_class[label]
        name = f"<td><b>{esc(label)}</b></td>"
        scores.append([name] +
                      [_bar_td(m[k], data_class=label, data_metric=k) for k, _ in _CLASS_BARS] +
                      [_int_td(m[k], data_class=label, data_metric=k)
                       for k in ("n_ref", "n_detected")])
        post.append([name] +
                    [_num_td(m[k], data_class=label, data_metric=k) for k, _ in _THRESHOLDS] +
                    [_seconds_td(m[k], data_class=label, data_metric=k)
                     for k, _ in _POSTPROCESSING_S])
    notes = []
    scored = [(c, m) for c, m in per_class.items() if m["collar_f1"] is not None]
    if len(scored) > 3:
        weakest = sorted(scored, key=lambda cm: (cm[1]["collar_f1"], str(cm[0])))[:3]
        names = ", ".join(f"<b>{esc(c)}</b> ({fmt_metric(m['collar_f1'])})" for c, m in weakest)
        notes.append(f"Lowest collar F1: {names}.")
    absent = [c for c, m in per_class.items() if not m["n_ref"]]
    if absent:
        notes.append("No reference event in the test folds, so no recall: "
                     f"{', '.join(f'<b>{esc(c)}</b>' for c in absent)}.")
    note = "".join(f'<p class="note">{n}</p>' for n in notes)
    scores_header = (["class"] + [name for _, name in _CLASS_BARS] +
                     ["reference<br>events", "detected<br>events"])
    post_header = (["class"] + [name for _, name in _THRESHOLDS] +
                   [name for _, name in _POSTPROCESSING_S])
    lead = ("Pooled over the test folds, best collar F1 first; reference and detected count "
            "events. The post-processing that turns each class's frame scores into events was "
            "tuned in each fold; the second table shows its mean over the folds: the "
            "hysteresis thresholds (an event starts above the onset threshold and ends below "
            "the offset threshold), the median filter, and the shortest event and shortest gap "
            "kept.")
    body = (note + table(scores_header, scores) + "<h3>Tuned post-processing</h3>" +
            table(post_header, post))
    return ("per-class", "Per-class scores", lead, body)


def _has_curve(fold):
    efpr = (fold.get("psd_roc") or {}).get("efpr")
    return efpr is not None and len(efpr) > 0


def _psd_roc_section(result):
    folds = result["folds"]
    img = (f'<figure><img alt="PSD-ROC curves" src="{detection_plots.psd_roc_png(folds)}">'
           "<figcaption>One curve per fold: the true positive rate reached at each effective "
           "false positive rate, over all thresholds.</figcaption></figure>")
    missing = [str(f["fold"]) for f in folds if not _has_curve(f)]
    note = ""
    if missing:
        note = (f'<p class="note">No PSD-ROC curve for fold {esc(", ".join(missing))}.</p>')
    lead = ("The curves behind PSDS1: PSDS is the normalised area under each curve up to the "
            "largest false positive rate it allows. A curve that rises early finds the events "
            "while raising few false alarms per hour.")
    return ("psd-roc", "PSD-ROC curves", lead, note + img)


def _draw_history(folds):
    names = dict(_ALL_METRICS)
    panels = [(names.get(p[1].split("_", 1)[1], p[0]),) + tuple(p[1:])
              for p in _history_panels(folds)]
    return history_curves_png(folds, panels)


def _examples_by_fold(result, max_examples):
    """``[(fold, shown examples, number in the result)]`` in fold order: the first
    ``max_examples`` of each fold, as the result lists them."""
    order = [str(f["fold"]) for f in result["folds"]]
    groups = {}
    for ex in result["examples"]:
        fold = str(ex["fold"])
        groups.setdefault(fold, []).append(ex)
        if fold not in order:
            order.append(fold)
    return [(fold, groups[fold][:max_examples], len(groups[fold]))
            for fold in order if fold in groups]


def _encode_recording(y, sample_rate):
    """A ``data:`` URI of ``y`` encoded as the media helpers encode clips (16 kHz OGG/Vorbis,
    fixed stream serial), but not cut to their 4 s."""
    import io

    import soundfile as sf

    y = np.clip(earmark_audio.resample(y, sample_rate, CLIP_SAMPLE_RATE), -1.0, 1.0)
    fmt, subtype, mime = _clip_format()
    buf = io.BytesIO()
    sf.write(buf, y, CLIP_SAMPLE_RATE, format=fmt, subtype=subtype)
    data = buf.getvalue()
    return data_uri(_fix_ogg_serial(data) if fmt == "OGG" else data, mime)


def _read_recording(full):
    """The first ``MAX_RECORDING_S`` of a recording: ``(audio_uri, spectrogram, seconds)``.

    Raises
    ------
    AudioError
        The file is missing or cannot be decoded.
    """
    y, sr = earmark_audio.load(full, end_s=MAX_RECORDING_S)
    spec_sr = min(sr, SPEC_SAMPLE_RATE)
    y_spec = earmark_audio.resample(y, sr, spec_sr)
    S = log_mel(y_spec, sample_rate=spec_sr, n_fft=1024, hop_length=SPEC_HOP, n_mels=64)
    spectrogram = {"S_db": S, "sample_rate": spec_sr, "hop_length": SPEC_HOP,
                   "fmax": spec_sr / 2}
    return _encode_recording(y, sr), spectrogram, len(y) / sr


def _event_rows(events, detected):
    rows = []
    for e in sorted(events, key=lambda e: (float(e[0]), float(e[1]), str(e[2]))):
        row = [esc(e[2]), fmt_seconds(e[0]), fmt_seconds(e[1])]
        if detected:
            row.append(fmt_metric(e[3]) if len(e) > 3 and e[3] is not None else "–")
        rows.append(row)
    return rows


def _events_table(ex):
    parts = []
    for key, name, detected in (("reference", "Reference", False), ("detected", "Detected",
                                                                    True)):
        header = ["class", "onset (s)", "offset (s)"] + (["score"] if detected else [])
        rows = _event_rows(ex[key], detected)
        parts.append(f"<div><h3>{name}</h3>"
                     f"{table(header, rows) if rows else '<p class=muted>none</p>'}</div>")
    return (f"<details><summary>Events as a table</summary><div class=\"figs\">{''.join(parts)}"
            "</div></details>")


def _example_card(ex, result, audio_root, colours, fold_thresholds):
    full, path_html = _clip_path(ex, audio_root)
    duration = float(ex["duration_s"])
    try:
        audio_uri, spectrogram, shown_s = _read_recording(full)
        problem = None
    except EarmarkError as exc:
        audio_uri, spectrogram, problem = None, None, exc
        shown_s = min(duration, MAX_RECORDING_S)
    classes = shown_classes(ex, result["labels"], until_s=shown_s)
    for c in classes:
        colours.setdefault(c, PALETTE[len(colours) % len(PALETTE)])
    figure = detection_plots.example_png(
        classes=classes, reference=ex["reference"], detected=ex["detected"],
        scores=ex["scores"] or {}, frame_step_s=ex["frame_step_s"], duration_s=shown_s,
        spectrogram=spectrogram, thresholds=fold_thresholds, colours=colours)
    others = [str(c) for c in result["labels"] if str(c) not in classes]
    drawn = (f'<figcaption{attrs(data_classes=",".join(classes))}>Classes drawn: '
             f'{esc(", ".join(classes)) if classes else "none"}'
             + (f"; not drawn (no event, no score above 0.5): {esc(', '.join(others))}"
                if others else "") + ".</figcaption>")
    n_ref, n_det = len(ex["reference"]), len(ex["detected"])
    cut = duration > shown_s + 1e-6
    head = (f'<div class="verdict"><span class="muted">fold {esc(ex["fold"])}</span> · '
            f'{fmt_seconds(duration)} s · '
            f'<b{attrs(data_n_ref=n_ref)}>{n_ref}</b> reference event{"s" * (n_ref != 1)} · '
            f'<b{attrs(data_n_detected=n_det)}>{n_det}</b> detected</div>')
    if problem is None:
        caption = (f"first {MAX_RECORDING_S:g} s of {fmt_seconds(duration)} s shown" if cut
                   else f"{fmt_seconds(shown_s)} s shown")
        media = (f'<audio controls preload="metadata" src="{audio_uri}"></audio>'
                 f'<div class="muted" style="font-size:12px">{esc(caption)}</div>')
    else:
        over = f" over the first {MAX_RECORDING_S:g} s" if cut else ""
        media = (f'<p class="note">Audio not shown: {esc(problem)}. The figure shows its '
                 f"events and scores{over}, without the spectrogram.</p>")
    return (f'<div class="mistake" style="margin-bottom:14px"'
            f'{attrs(data_example=ex["path"], data_fold=ex["fold"])}>{path_html}{head}'
            f'<figure><img alt="recording {esc(ex["path"])}" src="{figure}">{drawn}</figure>'
            f"{media}"
            f"{_events_table(ex)}</div>")


def _onset_thresholds(fold, labels):
    """``{class: onset threshold}`` of a fold: from its ``per_class``, else from its
    ``postprocessing`` (one threshold, or one per class in ``labels`` order)."""
    found = {str(c): float(m["onset_threshold"]) for c, m in (fold.get("per_class") or {}).items()
             if isinstance(m, dict) and m.get("onset_threshold") is not None}
    if found:
        return found
    thr = (fold.get("postprocessing") or {}).get("onset_threshold")
    if isinstance(thr, numbers.Real):
        return {str(c): float(thr) for c in labels}
    if isinstance(thr, (list, tuple)) and len(thr) == len(labels):
        return {str(c): float(t) for c, t in zip(labels, thr) if t is not None}
    return {}


def _examples_section(result, audio_root, max_examples, bar):
    colours = detection_plots.class_colours(result["labels"])
    fold_thr = {str(f["fold"]): _onset_thresholds(f, result["labels"]) for f in result["folds"]}
    parts = []
    for fold, shown, n_all in _examples_by_fold(result, max_examples):
        cards = []
        for ex in shown:
            cards.append(_example_card(ex, result, audio_root, colours, fold_thr.get(fold)))
            bar.update(1)
        body = "".join(cards) or (f'<p class="note">{n_all} recordings, none shown '
                                  f"(max_examples is {max_examples}).</p>")
        parts.append(f"<h3>Fold {esc(fold)} <span class=\"muted\">({len(shown)} of {n_all} "
                     f"recordings)</span></h3>{body}")
    if not parts:
        parts.append('<p class="note">The result holds no example recordings.</p>')
    lead = ("A few test recordings of each fold. Top to bottom: the log-mel spectrogram, the "
            "reference events, the detected events (more opaque: higher score) and the frame "
            "scores of the classes that occur or score above 0.5, with each class's onset "
            f"threshold in that fold dashed. Recordings longer than {MAX_RECORDING_S:g} s are "
            f"drawn and played over their first {MAX_RECORDING_S:g} s.")
    return ("examples", "Example recordings", lead, "".join(parts))


def _configuration_section(result):
    view = _page_view(result)
    sid, heading, lead, body = _config_section(view)
    info = {str(f["fold"]): f["train_info"] for f in result["folds"] if f.get("train_info")}
    if info:
        body += ("<details><summary>Training per fold</summary>"
                 f"{pretty_json(info)}</details>")
    return sid, heading, lead, body


def write_detection_report(result, path, *, audio_root=None, max_examples=3, progress=True):
    """Write the cross-validation results of a sound event detector as one HTML page.

    The page holds the summary metrics (PSDS1, PSDS2, collar-based F1, segment-based F1 and
    error rate, each with its spread across folds), the metrics per fold, the per-class table
    (collar F1, precision and recall, segment F1, event counts and the tuned post-processing),
    the PSD-ROC curve of each fold, training curves per fold, a few recordings per fold (each
    drawn as its spectrogram, reference and detected events and frame scores on one time axis,
    with an audio player) and the configuration and versions. Images are PNG and audio
    OGG/Vorbis, embedded as ``data:`` URIs: the file opens offline and needs no server.
    :func:`earmark.reports.write_evaluation_report` calls this for a result whose ``task`` is
    ``"detection"``.

    Parameters
    ----------
    result : dict
        The detection evaluation result, as ``earmark evaluate --task detection --json``
        writes it.
    path : str or path-like
        The HTML file to write. It is replaced atomically: a failure leaves an existing file as
        it was.
    audio_root : str or path-like or None
        Folder that relative example paths are relative to; None: the current folder.
    max_examples : int
        How many example recordings to draw per fold, in the order the result lists them (0
        for none). A recording longer than ``MAX_RECORDING_S`` (30 s) is drawn and played over
        its first 30 s; one that cannot be read is drawn without spectrogram and audio, saying
        why.
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    ParameterError
        ``result`` is not a detection result or lacks a field (the message names it), or
        ``path`` cannot be written.

    Examples
    --------
    >>> import json
    >>> from earmark.reports.detection import write_detection_report
    >>> result = json.load(open("cv.json"))  # doctest: +SKIP
    >>> write_detection_report(result, "report.html", audio_root="data/")  # doctest: +SKIP
    'report.html'
    """
    _check_result(result)
    check_number(max_examples, "max_examples", _OWNER, low=0, closed="left", integer=True)
    path = check_output_path(path, _OWNER)

    n_examples = sum(len(shown) for _, shown, _ in _examples_by_fold(result, max_examples))
    with tqdm(total=4 + n_examples, desc="detection report", unit="part",
              disable=not progress, leave=False) as bar:
        sections = _build_sections(
            (lambda: _all_folds_section(result),
             lambda: _per_class_section(result), lambda: _psd_roc_section(result),
             lambda: _training_section(result, _draw_history)), bar)
        sections.append(_examples_section(result, audio_root, max_examples, bar))
        sections.append(_configuration_section(result))
        html_text = _report_page(_page_view(result), sections,
                                 title="earmark evaluation (detection)",
                                 kind="sound event detection · ",
                                 cards_html=_summary_cards(result),
                                 footer="Summary and per-fold numbers are means over the test "
                                        "folds; per-class numbers pool the test folds' events; "
                                        "post-processing settings are means over the folds.")
        write_atomic(path, [html_text])
    return path
