"""The evaluation report of a multi-label tagging model.

What ``earmark evaluate DATA --task tagging --report report.html`` writes. A clip may carry any
number of tags, so the questions differ from single-label classification: how well the scores
rank each tag (average precision, ROC-AUC), how good the decisions are at the tuned thresholds
(F1), where each class's threshold sits on its precision-recall curve, and which tags the model
adds with confidence or misses although they are there (with the audio to hear why).

The page is built from the same parts as :func:`earmark.reports.write_evaluation_report`, which
hands a result with ``"task": "tagging"`` to :func:`write_tagging_report`.
"""

import math

import numpy as np
from tqdm.auto import tqdm

from .._validation import check_number
from ..errors import ParameterError
from . import plots
from .evaluation import (_bar_td, _build_sections, _check_fields, _clip_media, _clip_path,
                         _config_section, _folds_section, _metric_card, _num_td, _report_page,
                         _require, _score_row, _training_section)
from .html import (attrs, card, check_output_path, esc, fmt_duration_long, fmt_int, fmt_metric,
                   table, write_atomic)

__all__ = ["write_tagging_report", "confident_wrong_tags", "precision_recall_curves"]

_OWNER = "write_tagging_report"
_METRICS = (("map_macro", "macro mAP"), ("map_micro", "micro mAP"), ("f1_micro", "micro-F1"),
            ("f1_macro", "macro F1"), ("roc_auc_macro", "ROC-AUC"), ("lrap", "LRAP"))
_CARD_METRICS = ("map_macro", "map_micro", "f1_micro", "roc_auc_macro", "lrap")
_CARD_NOTES = {"map_macro": "mean AP over classes", "map_micro": "AP of all clip-tag pairs",
               "f1_micro": "at the tuned thresholds", "roc_auc_macro": "mean over classes",
               "lrap": "label ranking avg. precision"}
_REQUIRED = ("task",) + tuple(k for k, _ in _METRICS) + ("labels", "per_class", "folds",
                                                          "predictions")
_FOLD_REQUIRED = ("fold", "n_train", "n_test") + tuple(k for k, _ in _METRICS)
_PREDICTION_REQUIRED = ("path", "labels", "predicted", "probabilities")
_CLASS_REQUIRED = ("ap", "roc_auc", "f1", "precision", "recall", "support", "threshold")
_CLASS_BARS = (("ap", "AP"), ("roc_auc", "ROC-AUC"), ("f1", "F1"), ("precision", "precision"),
               ("recall", "recall"))
_COMMAND = "earmark evaluate --task tagging --json"
_FOLDS_LEAD = ("mAP and ROC-AUC judge how the scores rank the clips and need no threshold; F1 "
               "judges the tags given at each fold's tuned thresholds. A wide spread means the "
               "score depends on which recordings land in the test fold.")


def _scores(p):
    return {str(k): float(v) for k, v in (p.get("probabilities") or {}).items()}


def _clip_key(p):
    return (str(p["path"]), p.get("start_s") or 0.0)


def confident_wrong_tags(predictions, *, n=12):
    """The clips with the most confident false tags and with the least-scored missed tags.

    A false tag is predicted but not true; a missed tag is true but not predicted (both read off
    each prediction's ``labels`` and ``predicted``). Each clip is counted once per list, with its
    worst tag: the highest-scoring false tag, the lowest-scoring missed tag.

    Parameters
    ----------
    predictions : list of dict
        The ``predictions`` of a tagging result: ``path``, ``labels`` (true tags),
        ``predicted`` (tags at or above the fold's thresholds) and ``probabilities``.
    n : int
        The most clips to return in each list.

    Returns
    -------
    (false_tags, missed_tags) : two lists of ``(prediction, tag, score)``
        ``false_tags`` by descending score, ``missed_tags`` by ascending score; ``score`` is
        None where the prediction has no probability for the tag (such entries come last). Ties
        are broken by path, start time and tag, so the choice is the same on every run.

    Examples
    --------
    >>> preds = [{"path": "a.wav", "labels": ["dog"], "predicted": ["dog", "rain"],
    ...           "probabilities": {"dog": 0.9, "rain": 0.7}},
    ...          {"path": "b.wav", "labels": ["rain"], "predicted": ["dog"],
    ...           "probabilities": {"dog": 0.95, "rain": 0.1}}]
    >>> false_tags, missed = confident_wrong_tags(preds)
    >>> [(p["path"], tag, s) for p, tag, s in false_tags]
    [('b.wav', 'dog', 0.95), ('a.wav', 'rain', 0.7)]
    >>> [(p["path"], tag, s) for p, tag, s in missed]
    [('b.wav', 'rain', 0.1)]
    """
    check_number(n, "n", "confident_wrong_tags", low=0, closed="left", integer=True)
    false_tags, missed = [], []
    for p in predictions:
        truth = {str(t) for t in p["labels"]}
        predicted = {str(t) for t in p["predicted"]}
        probs = _scores(p)
        fp = sorted(predicted - truth, key=lambda t: (-probs.get(t, -math.inf), t))
        fn = sorted(truth - predicted, key=lambda t: (probs.get(t, math.inf), t))
        if fp:
            false_tags.append((p, fp[0], probs.get(fp[0])))
        if fn:
            missed.append((p, fn[0], probs.get(fn[0])))
    false_tags.sort(key=lambda e: (-(-math.inf if e[2] is None else e[2]), *_clip_key(e[0]),
                                   e[1]))
    missed.sort(key=lambda e: (math.inf if e[2] is None else e[2], *_clip_key(e[0]), e[1]))
    return false_tags[:n], missed[:n]


def precision_recall_curves(predictions, labels, *, thresholds=None):
    """Each class's precision-recall curve over the pooled predictions, and its operating point.

    Parameters
    ----------
    predictions : list of dict
        ``labels`` (true tags) and ``probabilities`` (a missing score counts as 0) per clip.
    labels : list of str
        The classes, in the order returned.
    thresholds : dict or None
        ``{label: threshold}``; a class with a threshold gets the precision and recall of
        ``score >= threshold`` as its operating point.

    Returns
    -------
    dict
        ``{label: {"precision", "recall", "prevalence", "n_positive", "threshold",
        "operating_point"}}``. ``precision`` and ``recall`` are the arrays of
        ``sklearn.metrics.precision_recall_curve`` (None for a class without a positive clip);
        ``prevalence`` is the share of clips with the tag; ``operating_point`` is ``(recall,
        precision)``, with precision None when no clip reaches the threshold, or None without a
        threshold.

    Examples
    --------
    >>> preds = [{"labels": ["a"], "probabilities": {"a": 0.9}},
    ...          {"labels": [], "probabilities": {"a": 0.6}},
    ...          {"labels": ["a"], "probabilities": {"a": 0.4}}]
    >>> c = precision_recall_curves(preds, ["a"], thresholds={"a": 0.5})["a"]
    >>> c["operating_point"], round(c["prevalence"], 3)
    ((0.5, 0.5), 0.667)
    """
    from sklearn.metrics import precision_recall_curve  # slow import: lazy

    thresholds = thresholds or {}
    out = {}
    for label in labels:
        label = str(label)
        truth = np.array([label in {str(t) for t in p["labels"]} for p in predictions],
                         dtype=bool)
        score = np.array([_scores(p).get(label, 0.0) for p in predictions], dtype=float)
        n_pos = int(truth.sum())
        curve = {"precision": None, "recall": None, "n_positive": n_pos,
                 "prevalence": n_pos / len(truth) if len(truth) else None,
                 "threshold": thresholds.get(label), "operating_point": None}
        if n_pos:
            precision, recall, _ = precision_recall_curve(truth, score)
            curve["precision"], curve["recall"] = precision, recall
            if curve["threshold"] is not None:
                tagged = score >= float(curve["threshold"])
                tp = int((tagged & truth).sum())
                curve["operating_point"] = (tp / n_pos,
                                            tp / int(tagged.sum()) if tagged.any() else None)
        out[label] = curve
    return out


def _check_result(result):
    _check_fields(result, _REQUIRED, _OWNER, "tagging", _COMMAND)
    if result["task"] != "tagging":
        raise ParameterError(f"{_OWNER}: the result's task is {result['task']!r}, not "
                             "'tagging'; write it with write_evaluation_report.")
    for i, f in enumerate(result["folds"]):
        _require(f, _FOLD_REQUIRED, _OWNER, f"folds[{i}] (fold {f.get('fold', '?')!s})",
                 _COMMAND)
    for i, p in enumerate(result["predictions"]):
        _require(p, _PREDICTION_REQUIRED, _OWNER, f"predictions[{i}] ({p.get('path', '?')!s})",
                 _COMMAND)
    for label, m in result["per_class"].items():
        _require(m, _CLASS_REQUIRED, _OWNER, f"per_class[{label!r}]", _COMMAND)


# ---------------------------------------------------------------------------------------------
# Cells and cards

def _summary_cards(result):
    names = dict(_METRICS)
    cards = []
    for key in _CARD_METRICS:
        cards.append(_metric_card(names[key], key, result[key], result.get(f"{key}_std"),
                                  note=_CARD_NOTES[key]))
    preds = result["predictions"]
    n_pred = len(preds)
    per_clip = sum(len(p["labels"]) for p in preds) / n_pred if n_pred else 0.0
    # the run time shares this card so that the summary fits one row on a laptop screen
    wall = ""
    if result.get("wall_s") is not None:
        wall = (f' · <span{attrs(data_metric="wall_s", data_value=repr(float(result["wall_s"])))}>'
                f'{esc(fmt_duration_long(result["wall_s"]))}</span>')
    cards.append(card("clips scored", fmt_int(n_pred),
                      sub=f"{len(result['labels'])} tags, {per_clip:.2f} per clip · "
                          f"{len(result['folds'])} folds{wall}",
                      data_metric="n_predictions", data_value=n_pred))
    return "".join(cards)


# ---------------------------------------------------------------------------------------------
# Sections

def _ap_order(per_class, labels):
    rank = {str(k): i for i, k in enumerate(labels)}
    return sorted(per_class, key=lambda c: (per_class[c]["ap"] is None,
                                            -(per_class[c]["ap"] or 0.0),
                                            rank.get(str(c), 1 << 30), str(c)))


def _per_class_section(result):
    per_class = result["per_class"]
    rows = []
    for label in _ap_order(per_class, result["labels"]):
        m = per_class[label]
        rows.append([f"<td><b>{esc(label)}</b></td>"] +
                    [_bar_td(m[k], data_class=label, data_metric=k)
                     for k, _ in _CLASS_BARS] +
                    [f'<td class="num"{attrs(data_class=label, data_metric="support")}>'
                     f'{fmt_int(m["support"])}</td>',
                     _num_td(m["threshold"], data_class=label, data_metric="threshold")])
    notes = []
    scored = [(c, m) for c, m in per_class.items() if m["ap"] is not None]
    if len(scored) > 3:
        weakest = sorted(scored, key=lambda cm: (cm[1]["ap"], str(cm[0])))[:3]
        names = ", ".join(f"<b>{esc(c)}</b> ({fmt_metric(m['ap'])})" for c, m in weakest)
        notes.append(f"Lowest AP: {names}.")
    absent = [c for c, m in per_class.items() if m["ap"] is None]
    if absent:
        notes.append("No positive clip, so no AP or recall: "
                     f"{', '.join(f'<b>{esc(c)}</b>' for c in absent)}.")
    note = "".join(f'<p class="note">{n}</p>' for n in notes)
    lead = ("Pooled over the test folds, best average precision (AP) first. AP summarises the "
            "precision-recall curve: 1 when every clip with the tag outscores every clip "
            "without it. Precision, recall and F1 are those of the tags given at the threshold; "
            "support is the number of clips that carry the tag.")
    header = ["class"] + [esc(name) for _, name in _CLASS_BARS] + ["support", "threshold"]
    return ("per-class", "Per-class scores", lead, note + table(header, rows))


def _pr_section(result):
    labels = _ap_order(result["per_class"], result["labels"])
    labels += [str(c) for c in result["labels"] if c not in result["per_class"]]
    thresholds = {str(c): m["threshold"] for c, m in result["per_class"].items()}
    curves = precision_recall_curves(result["predictions"], labels, thresholds=thresholds)
    shown = []
    for label in labels:
        c = dict(curves[label], label=label)
        m = result["per_class"].get(label)
        c["ap"] = m["ap"] if m is not None else None
        shown.append(c)
    img = (f'<figure><img alt="precision-recall curves" src="{plots.precision_recall_png(shown)}">'
           "<figcaption>Dotted: the share of clips with the tag (the precision of tagging "
           "every clip). Red dot: the precision and recall of the pooled scores at the "
           "threshold in the per-class table (its value next to it).</figcaption></figure>")
    lead = ("One curve per class, from the out-of-fold scores of all folds pooled: moving the "
            "threshold down trades precision for recall. A curve that stays high to the right "
            "ranks the class well; the dot shows where the tuned threshold sits on it.")
    return ("pr-curves", "Precision–recall curves", lead, img)


def _history_panels(folds):
    keys = set()
    for f in folds:
        for h in f.get("history") or []:
            keys.update(k for k, v in h.items() if v is not None)
    panels = [("loss", "train_loss", "val_loss")]
    suffixes = sorted({k.split("_", 1)[1] for k in keys
                       if k.startswith(("train_", "val_")) and k not in ("train_loss",
                                                                         "val_loss")})
    names = dict(_METRICS)
    panels += [(names.get(s, s.replace("_", " ")), f"train_{s}", f"val_{s}")
               for s in suffixes[:3]]
    return panels


def _draw_history(folds):
    return plots.history_curves_png(folds, _history_panels(folds))


def _pills(tags, tone):
    if not tags:
        return '<span class="muted">none</span>'
    return " ".join(f'<span class="pill pill-{tone}">{esc(t)}</span>' for t in tags)


def _score_rows(p, tag, thresholds, labels_order):
    probs = _scores(p)
    truth = {str(t) for t in p["labels"]}
    predicted = {str(t) for t in p["predicted"]}
    ranked = sorted(probs, key=lambda t: (-probs[t], labels_order.get(t, 1 << 30)))
    # the offending tag, every true and predicted tag, then the next best, six rows at most
    must = [tag] + [t for t in ranked if t != tag and (t in truth or t in predicted)]
    chosen = set(must[:6]) | set(ranked[:max(0, 6 - len(must))])
    rows = []
    for t in (t for t in ranked if t in chosen):
        thr = thresholds.get(t)
        cls = "is-true" if t in truth else ("is-pred" if t in predicted else "")
        tick = ("" if thr is None else
                f'<b title="threshold {fmt_metric(thr)}" style="position:absolute;top:-3px;'
                f"bottom:-3px;width:2px;background:#1c2430;left:{min(1.0, max(0.0, thr)) * 100:.1f}"
                '%"></b>')
        rows.append(_score_row(t, probs[t], cls, tick=tick,
                               name_html=f"<b>{esc(t)}</b>" if t == tag else None))
    return "".join(rows)


def _wrong_tag_card(kind, p, tag, score, result, audio_root, labels_order, cache):
    fold = str(p.get("fold", "?"))
    fold_thr = next((f.get("thresholds") or {} for f in result["folds"]
                     if str(f["fold"]) == fold), {})
    thresholds = {str(c): m["threshold"] for c, m in result["per_class"].items()}
    thresholds.update({str(c): float(v) for c, v in fold_thr.items()})
    thr = thresholds.get(tag)
    if kind == "false":
        verdict = f'false tag <span class="pill pill-bad">{esc(tag)}</span> scored'
        relation = "≥"
    else:
        verdict = f'missed tag <span class="pill pill-warn">{esc(tag)}</span> scored only'
        relation = "<"
    score_html = (f'<b{attrs(data_wrong_score=None if score is None else repr(score))}>'
                  f"{fmt_metric(score)}</b>")
    thr_html = "" if thr is None else f" {relation} threshold {fmt_metric(thr)}"
    full, path_html = _clip_path(p, audio_root)
    truth = [str(t) for t in p["labels"]]
    predicted = [str(t) for t in p["predicted"]]
    key = (full, p.get("start_s"), p.get("end_s"))  # a clip may be in both lists: draw it once
    if key not in cache:
        cache[key] = _clip_media(full, p)
    return (f'<div class="mistake"{attrs(data_wrong_tag=kind, data_path=p["path"], data_tag=tag)}>'
            f"{path_html}"
            f'<div class="verdict">{verdict} {score_html}{thr_html} '
            f'<span class="muted">fold {esc(fold)}</span></div>'
            f'<div style="font-size:13px;margin:2px 0 8px"><span class="muted">true</span> '
            f'{_pills(truth, "ok")} <span class="muted">&nbsp;predicted</span> '
            f'{_pills(predicted, "info")}</div>'
            f"{cache[key]}"
            f'<table class="scores">{_score_rows(p, tag, thresholds, labels_order)}</table>'
            "</div>")


def _wrong_tags_section(result, audio_root, max_mistakes, bar):
    preds = result["predictions"]
    false_tags, missed = confident_wrong_tags(preds, n=max_mistakes)
    n_false = sum(1 for p in preds if set(map(str, p["predicted"])) - set(map(str, p["labels"])))
    n_missed = sum(1 for p in preds if set(map(str, p["labels"])) - set(map(str, p["predicted"])))
    labels_order = {str(k): i for i, k in enumerate(result["labels"])}
    cache = {}
    parts = []
    for kind, entries, n_all, title, empty in (
            ("false", false_tags, n_false, "False tags, highest score first",
             "No false tags: every predicted tag is true."),
            ("missed", missed, n_missed, "Missed tags, lowest score first",
             "No missed tags: every true tag was predicted.")):
        cards = []
        for p, tag, score in entries:
            cards.append(_wrong_tag_card(kind, p, tag, score, result, audio_root, labels_order,
                                         cache))
            bar.update(1)
        if not cards and n_all:
            empty = f"{n_all} clips, none shown (max_mistakes is {max_mistakes})."
        body = (f'<div class="mistakes">{"".join(cards)}</div>' if cards
                else f'<p class="note">{empty}</p>')
        parts.append(f"<h3>{esc(title)}</h3>{body}")
    lead = (f"Clips given a tag they do not carry ({len(false_tags)} shown of {n_false}), and "
            f"clips whose tag the model scored lowest although it is there ({len(missed)} of "
            f"{n_missed}); each with its worst tag. Listen for missing labels in the data, "
            "tags too faint or short to hear, or a cue the model learnt instead of the sound. "
            "The black tick on a score bar is that tag's threshold in the clip's fold.")
    return ("wrong-tags", "Most confident wrong tags", lead, "".join(parts))


def write_tagging_report(result, path, *, audio_root=None, max_mistakes=12, progress=True):
    """Write the cross-validation results of a multi-label tagging model as one HTML page.

    The page holds the summary metrics (macro and micro mAP, micro-F1 at the tuned thresholds,
    ROC-AUC and LRAP, each with its spread across folds), the metrics per fold, the per-class
    table sorted by average precision, one precision-recall curve per class with its threshold
    marked, training curves per fold, the clips with the most confident false tags and the
    least-scored missed tags (each with its log-mel spectrogram, an audio player and its
    scores), and the configuration and versions. Images are PNG and audio short OGG/Vorbis
    clips, embedded as ``data:`` URIs: the file opens offline and needs no server.
    :func:`earmark.reports.write_evaluation_report` calls this for a result whose ``task`` is
    ``"tagging"``.

    Parameters
    ----------
    result : dict
        The tagging evaluation result, as ``earmark evaluate --task tagging --json`` writes it.
    path : str or path-like
        The HTML file to write. It is replaced atomically: a failure leaves an existing file as
        it was.
    audio_root : str or path-like or None
        Folder that relative prediction paths are relative to; None: the current folder.
    max_mistakes : int
        How many clips to show with audio in each list (false tags, missed tags); 0 for none.
        A clip that cannot be read is shown without audio, saying why.
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    ParameterError
        ``result`` is not a tagging result or lacks a field (the message names it), or ``path``
        cannot be written.

    Examples
    --------
    >>> import json
    >>> from earmark.reports.tagging import write_tagging_report
    >>> result = json.load(open("cv.json"))  # doctest: +SKIP
    >>> write_tagging_report(result, "report.html", audio_root="data/")  # doctest: +SKIP
    'report.html'
    """
    _check_result(result)
    check_number(max_mistakes, "max_mistakes", _OWNER, low=0, closed="left", integer=True)
    path = check_output_path(path, _OWNER)

    false_tags, missed = confident_wrong_tags(result["predictions"], n=max_mistakes)
    with tqdm(total=4 + len(false_tags) + len(missed), desc="tagging report", unit="part",
              disable=not progress, leave=False) as bar:
        sections = _build_sections(
            (lambda: _folds_section(result, _METRICS, _FOLDS_LEAD, figure_beside=False),
             lambda: _per_class_section(result), lambda: _pr_section(result),
             lambda: _training_section(result, _draw_history)), bar)
        sections.append(_wrong_tags_section(result, audio_root, max_mistakes, bar))
        sections.append(_config_section(result))
        html_text = _report_page(result, sections, title="earmark evaluation (tagging)",
                                 kind="multi-label tagging · ",
                                 cards_html=_summary_cards(result),
                                 footer="Summary numbers are means over the test folds; "
                                        "per-class numbers and curves pool the test folds' "
                                        "predictions.")
        write_atomic(path, [html_text])
    return path
