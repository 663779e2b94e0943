"""The evaluation report of a novelty (anomaly) detector.

What ``earmark evaluate DATA --task novelty --folds fold --report report.html`` writes. A novelty
detector gives every clip an anomaly score and flags it above a threshold set from a false-alarm
budget, so the page asks: how well do the scores rank anomalous clips above normal ones
(ROC-AUC, pAUC, each fold's ROC curve with its operating point), where the threshold sits
between the normal and the anomalous scores (a histogram per fold), how many false alarms and
how much recall that threshold gives, which anomaly families are found, and which clips score
highest and which anomalies it misses (with the audio and spectrogram, to hear why).

:func:`write_novelty_report` takes the result of :func:`earmark.cross_validate` with a
:class:`~earmark.NoveltyDetector` (``earmark evaluate --task novelty --json``).
"""

import numpy as np
from tqdm.auto import tqdm

from .._validation import check_number
from ..errors import ParameterError
from . import novelty_plots
from .evaluation import (_bar_td, _build_sections, _check_fields, _clip_media, _clip_path,
                         _config_section, _folds_section, _metric_card, _report_page, _require)
from .html import (attrs, card, check_output_path, esc, fmt_duration_long, fmt_int, table,
                   write_atomic)

__all__ = ["write_novelty_report", "highest_scoring", "missed_anomalies", "roc_curves"]

_OWNER = "write_novelty_report"
_METRICS = (("roc_auc", "ROC-AUC"), ("pauc", "pAUC (FPR ≤ 0.1)"),
            ("false_alarm_rate", "false-alarm rate"), ("recall", "recall"))
_CARD_NOTES = {"roc_auc": "anomalous ranked above normal", "pauc": "McClish-standardised",
               "false_alarm_rate": "normal clips flagged", "recall": "anomalous clips flagged"}
_REQUIRED = ("task",) + tuple(k for k, _ in _METRICS) + ("folds", "predictions", "per_family")
_FOLD_REQUIRED = ("fold", "n_fit", "n_test", "file_threshold") + tuple(k for k, _ in _METRICS)
_PREDICTION_REQUIRED = ("path", "fold", "label", "anomalous", "score", "flagged")
_COMMAND = "earmark evaluate --task novelty --json"
_FOLDS_LEAD = ("ROC-AUC and pAUC judge how the scores rank the test clips and need no "
               "threshold; the false-alarm rate and recall judge the flags at each fold's "
               "threshold, set from the false-alarm budget on normal clips held out of fitting. "
               "'train clips' are the normal clips each fold's detector was fitted on.")


def _fold_key(p):
    return str(p["fold"])


def _margins(predictions, folds):
    """Per prediction, how far its score is above its fold's threshold, in units of the spread
    of that fold's normal test scores (scores of different folds come from different scorers,
    so only such a relative margin ranks clips across folds)."""
    thresholds = {str(f["fold"]): float(f["file_threshold"]) for f in folds}
    spread = {}
    for fold in thresholds:
        normal = np.array([p["score"] for p in predictions
                           if _fold_key(p) == fold and not p["anomalous"]], float)
        sd = float(normal.std()) if normal.size > 1 else 0.0
        spread[fold] = sd if sd > 0 else 1.0
    return [(float(p["score"]) - thresholds.get(_fold_key(p), 0.0)) /
            spread.get(_fold_key(p), 1.0) for p in predictions]


def highest_scoring(predictions, folds, *, n=12):
    """The ``n`` clips that score furthest above their fold's threshold (relative to the spread
    of the fold's normal scores), highest first, as ``(prediction, margin)``.

    Ties are broken by path, so the choice is the same on every run.

    Examples
    --------
    >>> preds = [{"path": "a.wav", "fold": "1", "anomalous": False, "score": 1.0},
    ...          {"path": "b.wav", "fold": "1", "anomalous": False, "score": 3.0},
    ...          {"path": "c.wav", "fold": "1", "anomalous": True, "score": 9.0}]
    >>> [p["path"] for p, _ in highest_scoring(preds, [{"fold": "1", "file_threshold": 2.5}])]
    ['c.wav', 'b.wav', 'a.wav']
    """
    check_number(n, "n", "highest_scoring", low=0, closed="left", integer=True)
    ranked = sorted(zip(predictions, _margins(predictions, folds)),
                    key=lambda pm: (-pm[1], str(pm[0]["path"])))
    return ranked[:n]


def missed_anomalies(predictions, folds, *, n=12):
    """The ``n`` anomalous clips that were not flagged, furthest below their fold's threshold
    first, as ``(prediction, margin)``.

    Examples
    --------
    >>> preds = [{"path": "a.wav", "fold": "1", "anomalous": True, "score": 1.0,
    ...           "flagged": False},
    ...          {"path": "b.wav", "fold": "1", "anomalous": True, "score": 2.0,
    ...           "flagged": False}]
    >>> [p["path"] for p, _ in missed_anomalies(preds, [{"fold": "1", "file_threshold": 2.5}])]
    ['a.wav', 'b.wav']
    """
    check_number(n, "n", "missed_anomalies", low=0, closed="left", integer=True)
    missed = [(p, m) for p, m in zip(predictions, _margins(predictions, folds))
              if p["anomalous"] and not p["flagged"]]
    missed.sort(key=lambda pm: (pm[1], str(pm[0]["path"])))
    return missed[:n]


def roc_curves(predictions, folds):
    """Per fold, its ROC curve (``fpr``, ``tpr`` of :func:`sklearn.metrics.roc_curve`; None
    without both kinds of clip), ``roc_auc`` and the ``operating_point`` (false-alarm rate,
    recall) of its threshold.

    Examples
    --------
    >>> preds = [{"fold": "1", "anomalous": a, "score": s}
    ...          for a, s in [(False, 0.1), (False, 0.4), (True, 0.35), (True, 0.8)]]
    >>> c = roc_curves(preds, [{"fold": "1", "file_threshold": 0.5, "roc_auc": 0.75}])[0]
    >>> c["operating_point"]
    (0.0, 0.5)
    """
    from sklearn.metrics import roc_curve  # slow import: lazy

    out = []
    for f in folds:
        fold = str(f["fold"])
        mine = [p for p in predictions if _fold_key(p) == fold]
        y = np.array([bool(p["anomalous"]) for p in mine])
        s = np.array([float(p["score"]) for p in mine])
        c = {"fold": fold, "roc_auc": f.get("roc_auc"), "fpr": None, "tpr": None,
             "operating_point": None}
        if y.any() and not y.all():
            c["fpr"], c["tpr"], _ = roc_curve(y, s)
            flagged = s > float(f["file_threshold"])
            c["operating_point"] = (float(flagged[~y].mean()), float(flagged[y].mean()))
        out.append(c)
    return out


def _check_result(result):
    _check_fields(result, _REQUIRED, _OWNER, "novelty", _COMMAND)
    if result["task"] != "novelty":
        raise ParameterError(f"{_OWNER}: the result's task is {result['task']!r}, not "
                             "'novelty'; write it with write_evaluation_report.")
    for i, f in enumerate(result["folds"]):
        _require(f, _FOLD_REQUIRED, _OWNER, f"folds[{i}] (fold {f.get('fold', '?')!s})",
                 _COMMAND)
    folds = {str(f["fold"]) for f in result["folds"]}
    for i, p in enumerate(result["predictions"]):
        _require(p, _PREDICTION_REQUIRED, _OWNER, f"predictions[{i}] ({p.get('path', '?')!s})",
                 _COMMAND)
        if str(p["fold"]) not in folds:
            raise ParameterError(f"{_OWNER}: predictions[{i}] ({p['path']}) is of fold "
                                 f"{p['fold']!r}, which the result's folds do not list")


# ---------------------------------------------------------------------------------------------
# Cards and sections

def _summary_cards(result):
    budget = result.get("false_alarms")
    cards = []
    for key, name in _METRICS:
        note = _CARD_NOTES[key]
        if key in ("false_alarm_rate", "recall") and budget is not None:
            note += f", budget {esc(budget)}"
        cards.append(_metric_card(name, key, result[key], result.get(f"{key}_std"), note=note))
    preds = result["predictions"]
    n_anom = sum(1 for p in preds if p["anomalous"])
    wall = ""
    if result.get("wall_s") is not None:
        wall = (f' · <span{attrs(data_metric="wall_s", data_value=repr(float(result["wall_s"])))}>'
                f'{esc(fmt_duration_long(result["wall_s"]))}</span>')
    cards.append(card("clips scored", fmt_int(len(preds)),
                      sub=f"{fmt_int(n_anom)} anomalous · {len(result['folds'])} folds{wall}",
                      data_metric="n_predictions", data_value=len(preds)))
    return "".join(cards)


def _folds_view(result):
    # the shared folds table names the fitted clips 'n_train'
    return {**result, "folds": [{**f, "n_train": f["n_fit"]} for f in result["folds"]]}


def _histogram_section(result):
    panels = []
    for f in result["folds"]:
        fold = str(f["fold"])
        mine = [p for p in result["predictions"] if _fold_key(p) == fold]
        panels.append({"fold": fold, "threshold": f["file_threshold"],
                       "normal": [p["score"] for p in mine if not p["anomalous"]],
                       "anomalous": [p["score"] for p in mine if p["anomalous"]]})
    rows = []
    for p in panels:
        cell = attrs(data_fold=p["fold"], data_metric="file_threshold",
                     data_value=repr(float(p["threshold"])))
        rows.append([esc(p["fold"]), f'<td class="num"{cell}>{float(p["threshold"]):.4g}</td>',
                     fmt_int(len(p["normal"])), fmt_int(len(p["anomalous"]))])
    img = (f'<figure><img alt="score histograms" '
           f'src="{novelty_plots.score_histograms_png(panels)}">'
           "<figcaption>Blue: normal test clips; red: anomalous test clips; dashed: the fold's "
           "file threshold (a clip above it is flagged).</figcaption></figure>")
    lead = ("The anomaly scores of each fold's test clips. Each fold has its own detector, so "
            "its own scale and threshold. Normal clips to the right of the threshold are false "
            "alarms; anomalous clips to its left are missed.")
    tbl = table(["fold", "threshold", "normal clips", "anomalous clips"], rows)
    return ("histograms", "Scores and threshold", lead,
            f'<div class="figs"><div>{img}</div><div>{tbl}</div></div>')


def _roc_section(result):
    curves = roc_curves(result["predictions"], result["folds"])
    img = (f'<figure><img alt="ROC curves" src="{novelty_plots.roc_curves_png(curves)}">'
           "<figcaption>One curve per fold; the dot is the fold's threshold (its false-alarm "
           "rate and recall). Dotted: chance.</figcaption></figure>")
    lead = ("Moving the threshold down flags more anomalies (recall, up) and more normal clips "
            "(false alarms, right). The area under a curve is that fold's ROC-AUC.")
    return ("roc", "ROC curves", lead, img)


def _families_section(result):
    per = result["per_family"]
    rows = []
    for fam in sorted(per, key=lambda k: (per[k].get("roc_auc") is None,
                                          -(per[k].get("roc_auc") or 0.0), str(k))):
        m = per[fam]
        rows.append([f"<td><b>{esc(fam)}</b></td>"] +
                    [_bar_td(m.get(k), data_family=fam, data_metric=k)
                     for k in ("roc_auc", "pauc", "recall")] +
                    [f'<td class="num"{attrs(data_family=fam, data_metric="n")}>'
                     f'{fmt_int(m.get("n", 0))}</td>'])
    if not rows:
        body = '<p class="note">No anomaly family is named in the data.</p>'
    else:
        body = table(["family", "ROC-AUC", "pAUC", "recall", "clips"], rows)
    col = result.get("family_column") or "label"
    lead = (f"Each family of anomalies (column <code>{esc(col)}</code>) judged on its own clips "
            "against all normal clips, mean over the folds that hold it; recall at the "
            "threshold.")
    return ("families", "Anomaly families", lead, body)


def _clip_card(p, margin, audio_root, kind):
    full, path_html = _clip_path(p, audio_root)
    if p["anomalous"]:
        truth = (f'<span class="pill pill-bad">anomalous</span> '
                 f'{esc(p.get("family") or p["label"])}')
    else:
        truth = '<span class="pill pill-ok">normal</span>'
    verdict = ('<span class="pill pill-warn">flagged</span>' if p["flagged"]
               else '<span class="pill pill-info">not flagged</span>')
    tail = p.get("tail_probability")
    tail_html = "" if tail is None else \
        f' · tail probability <b>{float(tail):.3g}</b>'
    return (f'<div class="mistake"{attrs(data_clip=kind, data_path=p["path"])}>{path_html}'
            f'<div class="verdict">{truth} · {verdict} '
            f'<span class="muted">fold {esc(p["fold"])}</span></div>'
            f'<div style="font-size:13px;margin:2px 0 8px">score '
            f'<b{attrs(data_score=repr(float(p["score"])))}>{float(p["score"]):.4g}</b> · '
            f'{margin:+.2f} normal spreads from the threshold{tail_html}</div>'
            f"{_clip_media(full, p)}</div>")


def _clips_section(result, audio_root, max_clips, bar):
    preds, folds = result["predictions"], result["folds"]
    top = highest_scoring(preds, folds, n=max_clips)
    missed = missed_anomalies(preds, folds, n=max_clips)
    parts = []
    for kind, entries, title, empty in (
            ("top", top, "Highest-scoring clips", "No clips to show."),
            ("missed", missed, "Missed anomalies, lowest score first",
             "No missed anomalies: every anomalous clip was flagged.")):
        cards = []
        for p, margin in entries:
            cards.append(_clip_card(p, margin, audio_root, kind))
            bar.update(1)
        body = (f'<div class="mistakes">{"".join(cards)}</div>' if cards
                else f'<p class="note">{empty}</p>')
        parts.append(f"<h3>{esc(title)}</h3>{body}")
    n_false = sum(1 for p in preds if p["flagged"] and not p["anomalous"])
    lead = (f"The clips furthest above their fold's threshold ({len(top)} shown), and the "
            f"anomalous clips the detector missed ({len(missed)} shown). Scores are compared "
            "across folds in units of the spread of each fold's normal test scores. A normal "
            f"clip among the highest is a false alarm ({n_false} in all): listen for a sound "
            "that really is unusual, or a label error.")
    return ("clips", "Highest-scoring and missed clips", lead, "".join(parts))


def write_novelty_report(result, path, *, audio_root=None, max_clips=12, progress=True):
    """Write the cross-validation results of a novelty detector as one HTML page.

    The page holds the summary metrics (ROC-AUC, pAUC at a false-positive rate of 0.1, and the
    false-alarm rate and recall at the budget's threshold, each with its spread across folds),
    the metrics per fold, per fold a histogram of the normal and the anomalous clips' scores
    with the threshold, the ROC curve of each fold with its operating point, the scores per
    anomaly family, the highest-scoring clips and the missed anomalies (each with its log-mel
    spectrogram and an audio player), and the configuration and versions. Images are PNG and
    audio short OGG/Vorbis clips, embedded as ``data:`` URIs: the file opens offline.

    Parameters
    ----------
    result : dict
        The result of :func:`earmark.cross_validate` with a NoveltyDetector, as ``earmark
        evaluate --task novelty --json`` writes it.
    path : str or path-like
        The HTML file to write, replaced atomically.
    audio_root : str or path-like or None
        Folder that relative prediction paths are relative to; None: the current folder.
    max_clips : int
        How many clips to show with audio in each list; 0 for none. A clip that cannot be read
        is shown without audio, saying why.
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    ParameterError
        ``result`` is not a novelty result or lacks a field (the message names it), or
        ``path`` cannot be written.

    Examples
    --------
    >>> import json
    >>> from earmark.reports.novelty import write_novelty_report
    >>> result = json.load(open("cv.json"))  # doctest: +SKIP
    >>> write_novelty_report(result, "report.html")  # doctest: +SKIP
    'report.html'
    """
    _check_result(result)
    check_number(max_clips, "max_clips", _OWNER, low=0, closed="left", integer=True)
    path = check_output_path(path, _OWNER)
    preds, folds = result["predictions"], result["folds"]
    n_cards = len(highest_scoring(preds, folds, n=max_clips)) + \
        len(missed_anomalies(preds, folds, n=max_clips))
    with tqdm(total=4 + n_cards, desc="novelty report", unit="part", disable=not progress,
              leave=False) as bar:
        sections = _build_sections(
            (lambda: _folds_section(_folds_view(result), _METRICS, _FOLDS_LEAD,
                                    figure_beside=False),
             lambda: _histogram_section(result), lambda: _roc_section(result),
             lambda: _families_section(result)), bar)
        sections.append(_clips_section(result, audio_root, max_clips, bar))
        sections.append(_config_section(result))
        html_text = _report_page(result, sections, title="earmark evaluation (novelty)",
                                 kind="novelty detection · ", cards_html=_summary_cards(result),
                                 footer="Summary numbers are means over the test folds; "
                                        "histograms and ROC curves are per fold.")
        write_atomic(path, [html_text])
    return path
