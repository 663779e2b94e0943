"""The evaluation report: what ``earmark evaluate ... --report report.html`` writes.

It answers the questions a practitioner asks before trusting a classifier: how good, how stable
across folds, which classes get confused, whether the scores can be read as probabilities, how
training went, and which clips the model gets confidently wrong (with the audio to hear why).
"""

import os

import numpy as np
from tqdm.auto import tqdm

from .._validation import check_number
from ..errors import ParameterError
from . import plots
from .html import (dataset_name, attrs, card, check_output_path, earmark_version, esc, fmt_duration_long,
                   fmt_int, fmt_metric, fmt_seconds, page, pretty_json, table, write_atomic)
from .media import media_html

__all__ = ["write_evaluation_report", "reliability_bins", "confident_mistakes",
           "most_confused_pairs"]

_OWNER = "write_evaluation_report"
_REQUIRED = ("balanced_accuracy", "accuracy", "macro_f1", "labels", "confusion_matrix",
             "per_class", "folds", "predictions")
_METRICS = (("balanced_accuracy", "balanced accuracy"), ("accuracy", "accuracy"),
            ("macro_f1", "macro F1"))
_FOLDS_HEADERS = ("balanced acc.", "accuracy", "macro F1")
_FOLDS_LEAD = ("A wide spread means the score depends on which recordings land in the test fold; "
               "compare models on the mean and keep the spread in mind.")


def reliability_bins(confidences, correct, *, n_bins=10):
    """Bin top-1 confidences and compare each bin's mean confidence with its accuracy.

    Parameters
    ----------
    confidences : array-like of float in [0, 1]
        The score of the predicted class, one per clip.
    correct : array-like of bool
        Whether each prediction was right.
    n_bins : int
        Equal-width bins over [0, 1]; a confidence of exactly 1 falls in the last bin.

    Returns
    -------
    dict
        ``edges`` (n_bins + 1), per bin ``count``, ``confidence`` and ``accuracy`` (None for an
        empty bin), and ``ece``: the expected calibration error, the count-weighted mean of
        ``|accuracy - confidence|`` over the bins.

    Examples
    --------
    >>> b = reliability_bins([0.95, 0.95, 0.15, 0.15], [True, True, False, False], n_bins=10)
    >>> round(b["ece"], 3)
    0.1
    """
    check_number(n_bins, "n_bins", "reliability_bins", low=1, closed="left", integer=True)
    conf = np.clip(np.asarray(confidences, dtype=float), 0.0, 1.0)
    ok = np.asarray(correct, dtype=bool)
    if conf.shape != ok.shape:
        raise ParameterError(f"reliability_bins: {conf.size} confidences but {ok.size} "
                             "correctness flags; give one of each per clip.")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    count, mean_conf, acc = [], [], []
    ece = 0.0
    for b in range(n_bins):
        sel = which == b
        n = int(sel.sum())
        count.append(n)
        if n == 0:
            mean_conf.append(None)
            acc.append(None)
            continue
        c, a = float(conf[sel].mean()), float(ok[sel].mean())
        mean_conf.append(c)
        acc.append(a)
        ece += n * abs(a - c)
    total = max(1, conf.size)
    return {"edges": edges.tolist(), "count": count, "confidence": mean_conf, "accuracy": acc,
            "ece": ece / total}


def _top_score(p):
    probs = p.get("probabilities") or {}
    if p["predicted"] in probs:
        return float(probs[p["predicted"]])
    return max((float(v) for v in probs.values()), default=0.0)


def confident_mistakes(predictions, *, n=12):
    """The ``n`` wrong predictions with the highest score for the (wrong) predicted class.

    Ties are broken by path and start time, so the choice is the same on every run.

    Examples
    --------
    >>> preds = [{"path": "a.wav", "label": "x", "predicted": "y", "probabilities": {"y": 0.9}},
    ...          {"path": "b.wav", "label": "x", "predicted": "x", "probabilities": {"x": 0.99}},
    ...          {"path": "c.wav", "label": "y", "predicted": "x", "probabilities": {"x": 0.6}}]
    >>> [p["path"] for p in confident_mistakes(preds, n=5)]
    ['a.wav', 'c.wav']
    """
    wrong = [p for p in predictions if p["predicted"] != p["label"]]
    wrong.sort(key=lambda p: (-_top_score(p), str(p["path"]), p.get("start_s") or 0.0))
    return wrong[:n]


def most_confused_pairs(cm, labels, *, n=5):
    """The ``n`` largest off-diagonal cells as (true, predicted, count, share of the true class).

    Examples
    --------
    >>> most_confused_pairs([[8, 2], [0, 10]], ["a", "b"])
    [('a', 'b', 2, 0.2)]
    """
    cm = np.asarray(cm, dtype=int)
    totals = cm.sum(axis=1)
    cells = [(int(cm[i, j]), labels[i], labels[j], i, j)
             for i in range(len(labels)) for j in range(len(labels)) if i != j and cm[i, j] > 0]
    cells.sort(key=lambda c: (-c[0], c[3], c[4]))
    return [(t, p, c, c / int(totals[i])) for c, t, p, i, _ in cells[:n]]


# ---------------------------------------------------------------------------------------------
# Parts shared with the tagging report (earmark.reports.tagging)

def _require(d, keys, owner, where, command):
    """Raise ParameterError naming the ``keys`` that the dict ``d`` (``where`` in the result
    that ``command`` writes) lacks."""
    missing = [k for k in keys if k not in d]
    if missing:
        raise ParameterError(f"{owner}: {where} lacks {', '.join(missing)}; expected the dict "
                             f"written by `{command}`.")


def _check_fields(result, required, owner, kind, command):
    """Raise ParameterError unless ``result`` is a dict with every key in ``required``."""
    if not isinstance(result, dict):
        raise ParameterError(f"{owner}: 'result' must be the dict written by `{command}`. Got "
                             f"{type(result).__name__} instead.")
    _require(result, required, owner, f"the {kind} result", command)


def _num_td(value, **data):
    """A metric cell; an undefined metric (None) reads '–' and carries no data-value."""
    v = None if value is None else repr(float(value))
    return f'<td class="num"{attrs(data_value=v, **data)}>{fmt_metric(value)}</td>'


def _bar_td(value, **data):
    """A metric cell with a bar filled to the value; None reads '–', as in :func:`_num_td`."""
    if value is None:
        return _num_td(None, **data)
    v = float(value)
    return (f'<td class="num bar"{attrs(data_value=repr(v), **data)}>'
            f'<span class="fill" style="width:{max(0.0, min(1.0, v)) * 100:.1f}%"></span>'
            f'<span class="v">{fmt_metric(v)}</span></td>')


def _metric_card(name, key, value, std=None, *, note=None):
    """A summary card of a metric, its spread across folds (when given) and a note."""
    sub = note
    if std is not None:
        sub = (f'± <span{attrs(data_metric=f"{key}_std", data_value=repr(float(std)))}>'
               f"{fmt_metric(std)}</span> across folds" + (f" · {note}" if note else ""))
    return card(name, fmt_metric(value), sub=sub, tone="good" if value is not None else "warn",
                data_metric=key, data_value=None if value is None else repr(float(value)))


def _folds_section(result, metrics, lead, *, headers=None, figure_beside=True, plotted=None):
    """Clip counts and ``metrics`` per fold, their mean ± std, and a figure of the spread.

    ``headers`` names the metric columns (default: the metrics' names); ``plotted`` the keys
    drawn in the figure (default: all; the figure's axis is a 0-1 score). A metric undefined
    (None) in some fold is left out of the figure. ``lead`` follows the protocol.
    """
    folds = result["folds"]
    rows = []
    for f in folds:
        fold = str(f["fold"])
        rows.append([esc(fold)] +
                    [f'<td class="num"{attrs(data_fold=fold, data_metric=k, data_value=f[k])}>'
                     f"{fmt_int(f[k])}</td>" for k in ("n_train", "n_test")] +
                    [_num_td(f[k], data_fold=fold, data_metric=k) for k, _ in metrics] +
                    [fmt_seconds(f.get("wall_s"))])
    rows.append(['<td><b>mean ± std</b></td>', "", ""] +
                [f'<td class="num"><b>{fmt_metric(result[k])}</b> ± '
                 f'{fmt_metric(result.get(k + "_std"))}</td>' for k, _ in metrics] + [""])
    if headers is None:
        headers = [esc(name) for _, name in metrics]
    tbl = table(["fold", "train clips", "test clips"] + list(headers) + ["time (s)"], rows)
    shown = [(k, name) for k, name in metrics if (plotted is None or k in plotted)
             and all(f[k] is not None for f in folds)]
    body = tbl
    if folds and shown:
        fig = (f'<img alt="metrics per fold" src="{plots.fold_spread_png(folds, shown)}">'
               "<figcaption>Each dot is a fold; the bar is the mean ± one standard deviation."
               "</figcaption>")
        body = (f'<div class="figs"><div>{tbl}</div><figure>{fig}</figure></div>'
                if figure_beside else f'{tbl}<figure style="margin-top:14px">{fig}</figure>')
    lead = f"Protocol: <code>{esc(result.get('protocol', '?'))}</code>. {lead}"
    return ("folds", "Scores across folds", lead, body)


def _training_section(result, draw):
    """The training curves, drawn by ``draw(folds)``, or a note for a model without history."""
    folds = result["folds"]
    if not any(f.get("history") for f in folds):
        body = ('<p class="note">This model has no per-epoch history (it is not trained by '
                "gradient descent), so there are no training curves.</p>")
    else:
        body = (f'<figure><img alt="training curves" src="{draw(folds)}">'
                "<figcaption>Solid: training set; dashed: validation set.</figcaption></figure>")
    lead = ("A validation loss that rises while the training loss keeps falling is overfitting; "
            "curves still falling at the last epoch suggest more epochs would help.")
    return ("training", "Training curves", lead, body)


def _resolve(path, audio_root):
    path = os.fspath(path)
    if os.path.isabs(path) or audio_root is None:
        return path
    return os.path.join(os.fspath(audio_root), path)


def _clip_path(p, audio_root):
    """The file of a prediction (relative paths under ``audio_root``) and the line of its card
    that names it, with the region when there is one."""
    region = ""
    if p.get("start_s") is not None or p.get("end_s") is not None:
        region = (f" · {fmt_seconds(p.get('start_s') or 0.0)}–"
                  f"{fmt_seconds(p['end_s']) if p.get('end_s') is not None else 'end'} s")
    full = _resolve(p["path"], audio_root)
    return full, f'<div class="path" title="{esc(full)}">{esc(p["path"])}{esc(region)}</div>'


def _clip_media(full, p):
    """The spectrogram, player and caption of a prediction's clip (see media_html)."""
    return media_html(full, start_s=p.get("start_s"), end_s=p.get("end_s"))


def _score_row(label, score, cls, *, name_html=None, tick=""):
    """A row of a card's score table: the class, a bar of its score (with ``tick`` drawn on
    it) and the score."""
    return (f'<tr class="{cls}"><td>{esc(label) if name_html is None else name_html}</td>'
            f'<td style="width:55%"><div class="sbar">'
            f'<i style="width:{min(1.0, max(0.0, score)) * 100:.1f}%"></i>{tick}</div></td>'
            f'<td class="num"{attrs(data_score_label=label, data_value=repr(score))}>'
            f"{fmt_metric(score)}</td></tr>")


def _build_sections(builders, bar):
    """Call each section builder, one step of the progress bar each."""
    sections = []
    for build in builders:
        sections.append(build())
        bar.update(1)
    return sections


def _report_page(result, sections, *, title, cards_html, footer, kind=""):
    """The page of an evaluation report, its subtitle naming the dataset, protocol and model."""
    dataset = result.get("dataset") or "dataset"
    subtitle = (f"{kind}dataset <code>{esc(dataset)}</code> · protocol "
                f"<code>{esc(result.get('protocol', '?'))}</code> · "
                f"model <code>{esc(_model_name(result))}</code>")
    return page(title=f"{title} — {dataset_name(dataset)}", subtitle_html=subtitle,
                cards_html=cards_html, sections=sections,
                footer_html=f"Written by earmark {esc(earmark_version())}. {footer}")


# ---------------------------------------------------------------------------------------------
# The classification report

def _check_result(result):
    _check_fields(result, _REQUIRED, _OWNER, "evaluation", "earmark evaluate --json")
    n = len(result["labels"])
    cm = np.asarray(result["confusion_matrix"])
    if cm.shape != (n, n):
        raise ParameterError(f"{_OWNER}: confusion_matrix has shape {cm.shape} but there are "
                             f"{n} labels; expected ({n}, {n}).")


def _summary_cards(result, bins):
    cards = [_metric_card(name, key, result[key], result.get(f"{key}_std"))
             for key, name in _METRICS]
    n_pred = len(result["predictions"])
    cards.append(card("clips scored", fmt_int(n_pred), sub=f"{len(result['labels'])} classes, "
                      f"{len(result['folds'])} folds", data_metric="n_predictions",
                      data_value=n_pred))
    cards.append(card("calibration error", fmt_metric(bins["ece"]),
                      sub="ECE of the top-1 score", tone="warn" if bins["ece"] > 0.1 else None,
                      data_metric="ece", data_value=repr(bins["ece"])))
    if result.get("wall_s") is not None:
        cards.append(card("wall time", esc(fmt_duration_long(result["wall_s"])),
                          data_metric="wall_s", data_value=repr(float(result["wall_s"]))))
    return "".join(cards)


def _confusion_section(result):
    labels = [str(x) for x in result["labels"]]
    cm = np.asarray(result["confusion_matrix"], dtype=int)
    figs = (f'<div class="figs"><figure><img alt="confusion matrix, counts" '
            f'src="{plots.confusion_matrix_png(cm, labels)}"></figure>'
            f'<figure><img alt="confusion matrix, normalised" '
            f'src="{plots.confusion_matrix_png(cm, labels, normalize=True)}"></figure></div>')
    pairs = most_confused_pairs(cm, labels, n=8)
    if pairs:
        items = "".join(
            f"<li><b>{esc(t)}</b> taken for <b>{esc(p)}</b>: {c} clip{'s' if c != 1 else ''} "
            f"({share * 100:.0f}% of {esc(t)})</li>" for t, p, c, share in pairs)
        confused = f"<h3>Most confused pairs</h3><ul class=\"notes\">{items}</ul>"
    else:
        confused = '<p class="note">No confusions: every clip was classified correctly.</p>'
    header = ["true \\ predicted"] + [esc(x) for x in labels]
    rows = [[f"<td><b>{esc(t)}</b></td>"] +
            [f'<td class="num"{attrs(data_cm="counts", data_true=t, data_pred=p)}>{int(cm[i, j])}'
             "</td>" for j, p in enumerate(labels)]
            for i, t in enumerate(labels)]
    counts_tbl = f"<details><summary>Counts as a table</summary>{table(header, rows)}</details>"
    lead = ("Rows are the true class, columns the prediction, summed over the test folds. The "
            "normalised matrix divides each row by its total, so its diagonal is each class's "
            "recall.")
    return ("confusion", "Confusion matrix", lead, figs + confused + counts_tbl)


def _per_class_section(result):
    rows = []
    for label in result["labels"]:
        m = result["per_class"].get(label)
        if m is None:
            continue
        rows.append([f"<td><b>{esc(label)}</b></td>"] +
                    [_bar_td(m[k], data_class=label, data_metric=k)
                     for k in ("precision", "recall", "f1")] +
                    [f'<td class="num"{attrs(data_class=label, data_metric="support")}>'
                     f'{fmt_int(m["support"])}</td>'])
    weakest = sorted(result["per_class"].items(), key=lambda kv: (kv[1]["f1"], kv[0]))[:3]
    note = ""
    if weakest and len(result["per_class"]) > 3:
        names = ", ".join(f"<b>{esc(k)}</b> ({fmt_metric(v['f1'])})" for k, v in weakest)
        note = f'<p class="note">Lowest F1: {names}.</p>'
    lead = ("Pooled over the test folds. Precision: of the clips given this label, how many had "
            "it. "
            "Recall: of the clips with this label, how many were found.")
    return ("per-class", "Per-class scores", lead,
            note + table(["class", "precision", "recall", "F1", "support"], rows))


def _calibration_section(bins):
    lead = ("Clips are binned by the score of their predicted class. For a calibrated model, the "
            "bars meet the diagonal: of the clips scored 0.8, 80% are right. Bars below the "
            "diagonal mean over-confidence.")
    img = (f'<figure><img alt="reliability diagram" src="{plots.reliability_png(bins)}">'
           f"<figcaption>Expected calibration error (ECE): {fmt_metric(bins['ece'])}"
           "</figcaption></figure>")
    return ("calibration", "Calibration", lead, img)


def _mistake_card(p, labels_order, audio_root):
    probs = {str(k): float(v) for k, v in (p.get("probabilities") or {}).items()}
    ranked = sorted(probs.items(), key=lambda kv: (-kv[1], labels_order.get(kv[0], 1 << 30)))
    top = ranked[:3]
    rows = []
    for label, score in top:
        cls = "is-pred" if label == p["predicted"] else ("is-true" if label == p["label"] else "")
        rows.append(_score_row(label, score, cls))
    if p["label"] not in dict(top) and p["label"] in probs:
        rank = [k for k, _ in ranked].index(p["label"]) + 1
        rows.append(f'<tr class="is-true"><td colspan="3" class="muted">true class '
                    f'<b>{esc(p["label"])}</b>: {fmt_metric(probs[p["label"]])} (rank {rank})'
                    "</td></tr>")
    full, path_html = _clip_path(p, audio_root)
    return (f'<div class="mistake"{attrs(data_mistake=p["path"])}>{path_html}'
            f'<div class="verdict">true <span class="pill pill-ok">{esc(p["label"])}</span> '
            f'predicted <span class="pill pill-bad">{esc(p["predicted"])}</span> '
            f'<span class="muted">fold {esc(p.get("fold", "?"))}</span></div>'
            f'{_clip_media(full, p)}<table class="scores">{"".join(rows)}</table></div>')


def _mistakes_section(result, audio_root, max_mistakes, bar):
    mistakes = confident_mistakes(result["predictions"], n=max_mistakes)
    labels_order = {str(k): i for i, k in enumerate(result["labels"])}
    cards = []
    for p in mistakes:
        cards.append(_mistake_card(p, labels_order, audio_root))
        bar.update(1)
    n_wrong = sum(1 for p in result["predictions"] if p["predicted"] != p["label"])
    if not cards:
        body = '<p class="note">No mistakes to show.</p>'
    else:
        body = f'<div class="mistakes">{"".join(cards)}</div>'
    lead = (f"The {len(mistakes)} wrong predictions (of {n_wrong}) the model was most sure of. "
            "Listen for label errors, recordings that contain both classes, or a cue the model "
            "learnt instead of the sound (background, level, silence).")
    return ("mistakes", "Most confident mistakes", lead, body)


def _config_section(result):
    versions = result.get("versions") or {}
    vt = table(["package", "version"], [[k, str(v)] for k, v in sorted(versions.items())],
               numeric_from=2)
    body = (f"<div class=\"figs\"><div style=\"flex:1 1 520px;min-width:0\"><h3>Configuration</h3>"
            f"{pretty_json(result.get('config') or {})}</div>"
            f"<div><h3>Versions</h3>{vt}</div></div>")
    return ("config", "Configuration and versions", "Everything needed to reproduce this run.",
            body)


def write_evaluation_report(result, path, *, audio_root=None, max_mistakes=12, progress=True):
    """Write the cross-validation results as one self-contained HTML page.

    The page holds summary metrics with their spread across folds, the confusion matrix (counts
    and row-normalised), per-class precision/recall/F1, a reliability diagram, training curves
    per fold, the most confident mistakes (each with its log-mel spectrogram, an audio player and
    the top-3 scores) and the full configuration and versions. Images are PNG and audio short
    OGG/Vorbis clips, embedded as ``data:`` URIs: the file opens offline and needs no server.

    Parameters
    ----------
    result : dict
        The evaluation result, as ``earmark evaluate --json`` writes it.
    path : str or path-like
        The HTML file to write. It is replaced atomically: a failure leaves an existing file as
        it was.
    audio_root : str or path-like or None
        Folder that relative prediction paths are relative to; None: the current folder.
    max_mistakes : int
        How many confident mistakes to show with audio (0 for none).
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    ParameterError
        ``result`` lacks a required field, or ``path`` cannot be written.

    Examples
    --------
    >>> import json
    >>> from earmark.reports import write_evaluation_report
    >>> result = json.load(open("cv.json"))  # doctest: +SKIP
    >>> write_evaluation_report(result, "report.html", audio_root="data/")  # doctest: +SKIP
    'report.html'
    """
    if isinstance(result, dict) and result.get("task") == "tagging":
        from .tagging import write_tagging_report  # tagging imports this module's helpers
        return write_tagging_report(result, path, audio_root=audio_root,
                                    max_mistakes=max_mistakes, progress=progress)
    if isinstance(result, dict) and result.get("task") == "detection":
        from .detection import write_detection_report  # detection imports this module's helpers
        return write_detection_report(result, path, audio_root=audio_root, progress=progress)
    if isinstance(result, dict) and result.get("task") == "novelty":
        from .novelty import write_novelty_report
        return write_novelty_report(result, path, audio_root=audio_root, max_clips=max_mistakes,
                                    progress=progress)
    _check_result(result)
    check_number(max_mistakes, "max_mistakes", _OWNER, low=0, closed="left", integer=True)
    path = check_output_path(path, _OWNER)

    preds = result["predictions"]
    bins = reliability_bins([_top_score(p) for p in preds],
                            [p["predicted"] == p["label"] for p in preds])
    n_mistakes = min(max_mistakes, sum(1 for p in preds if p["predicted"] != p["label"]))
    with tqdm(total=5 + n_mistakes, desc="evaluation report", unit="part", disable=not progress,
              leave=False) as bar:
        sections = _build_sections(
            (lambda: _folds_section(result, _METRICS, _FOLDS_LEAD, headers=_FOLDS_HEADERS),
             lambda: _confusion_section(result), lambda: _per_class_section(result),
             lambda: _calibration_section(bins),
             lambda: _training_section(result, plots.training_curves_png)), bar)
        sections.append(_mistakes_section(result, audio_root, max_mistakes, bar))
        sections.append(_config_section(result))
        html_text = _report_page(result, sections, title="earmark evaluation",
                                 cards_html=_summary_cards(result, bins),
                                 footer="Numbers are means over the test folds unless marked "
                                        "otherwise.")
        write_atomic(path, [html_text])
    return path


def _model_name(result):
    est = (result.get("config") or {}).get("estimator")
    if isinstance(est, dict):            # what earmark.cross_validate records
        recipe = est.get("recipe")
        if recipe and recipe != "cnn":
            return str(recipe)
        if est.get("model"):
            return str(est["model"])
    model = (result.get("config") or {}).get("model")
    if isinstance(model, dict):
        for key in ("name", "kind", "type", "architecture", "family"):
            if key in model:
                return str(model[key])
    if isinstance(model, str):
        return model
    return "?"
