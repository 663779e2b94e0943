"""Novelty (anomaly) detection metrics: how well scores rank anomalous clips above normal ones.

A novelty detector gives every clip one anomaly score (higher: less like the normal sound it
was fitted on). The ranking metrics judge the scores directly, as DCASE Task 2 reports them:

- ``roc_auc``: the area under the ROC curve of anomalous (positive) against normal clips;
- ``pauc``: the partial area up to a false-positive rate of ``max_fpr`` (0.1), McClish-
  standardised, exactly :func:`sklearn.metrics.roc_auc_score` with ``max_fpr=0.1`` (0.5 is
  chance, 1 perfect).

The decision metrics judge ``score > threshold``: ``false_alarm_rate`` (the fraction of normal
clips flagged) and ``recall`` (the fraction of anomalous clips flagged). When the data names an
anomaly family per clip (the label of an anomalous clip, e.g. ``drums`` or ``foley``), each
family is judged on its own clips against all normal clips (``per_family``).
"""

import numpy as np

from ..errors import ParameterError

__all__ = ["NOVELTY_METRICS", "novelty_metrics", "MAX_FPR"]

#: The summary metrics of :func:`novelty_metrics` that cross-validation averages over folds.
NOVELTY_METRICS = ("roc_auc", "pauc", "false_alarm_rate", "recall")

#: The false-positive rate the partial AUC stops at (DCASE Task 2's p = 0.1).
MAX_FPR = 0.1


def _ranking(is_anomaly, scores, max_fpr):
    from sklearn.metrics import roc_auc_score  # slow import: lazy

    if is_anomaly.all() or not is_anomaly.any():   # undefined without both kinds of clip
        return None, None
    return (float(roc_auc_score(is_anomaly, scores)),
            float(roc_auc_score(is_anomaly, scores, max_fpr=max_fpr)))


def novelty_metrics(is_anomaly, scores, *, threshold=None, families=None, max_fpr=MAX_FPR):
    """ROC-AUC, partial AUC, false-alarm rate and recall of anomaly scores, per family too.

    Parameters
    ----------
    is_anomaly : array-like of bool, (n_clips,)
        True for an anomalous clip, False for a normal one.
    scores : array-like of float, (n_clips,)
        Anomaly scores (higher: more anomalous).
    threshold : float or None
        A clip is flagged when its score is above this; None: no decision metrics.
    families : array-like of str or None
        The anomaly family of each clip (ignored for normal clips); None: no ``per_family``.
    max_fpr : float
        Where the partial AUC stops, in (0, 1].

    Returns
    -------
    dict
        ``roc_auc``, ``pauc`` (None without both normal and anomalous clips),
        ``false_alarm_rate`` and ``recall`` (None without a threshold, or without normal
        respectively anomalous clips), ``threshold``, ``n_normal``, ``n_anomalous``, and
        ``per_family`` (family -> ``roc_auc``, ``pauc``, ``recall``, ``n``).

    Raises
    ------
    ParameterError
        Lengths differ, or a score is NaN or infinite.

    Examples
    --------
    >>> m = novelty_metrics([False, False, True, True], [0.1, 0.4, 0.35, 0.8], threshold=0.5)
    >>> m["roc_auc"], m["false_alarm_rate"], m["recall"]
    (0.75, 0.0, 0.5)
    """
    from .._validation import check_number

    y = np.asarray(is_anomaly)
    if y.dtype.kind not in "biu" or (y.dtype.kind != "b" and not np.isin(y, (0, 1)).all()):
        raise ParameterError("The 'is_anomaly' parameter of novelty_metrics must be booleans "
                             f"(True: anomalous). Got an array of dtype {y.dtype} instead.")
    y = y.astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    if s.shape != y.shape or y.ndim != 1:
        raise ParameterError(f"The 'scores' parameter of novelty_metrics must be one score per "
                             f"clip ({y.shape}). Got shape {s.shape} instead.")
    if not np.all(np.isfinite(s)):
        raise ParameterError("The 'scores' parameter of novelty_metrics must be finite. Got "
                             f"{int((~np.isfinite(s)).sum())} NaN or infinite scores instead.")
    check_number(max_fpr, "max_fpr", "novelty_metrics", low=0, high=1, closed="right")
    if threshold is not None:
        check_number(threshold, "threshold", "novelty_metrics")
    roc, pauc = _ranking(y, s, max_fpr)
    flagged = s > threshold if threshold is not None else None
    out = {"roc_auc": roc, "pauc": pauc,
           "false_alarm_rate": None if flagged is None or y.all()
           else float(flagged[~y].mean()),
           "recall": None if flagged is None or not y.any() else float(flagged[y].mean()),
           "threshold": None if threshold is None else float(threshold),
           "n_normal": int((~y).sum()), "n_anomalous": int(y.sum())}
    if families is not None:
        fam = np.asarray(families, dtype=object)
        if fam.shape != y.shape:
            raise ParameterError(f"The 'families' parameter of novelty_metrics must be one "
                                 f"name per clip ({y.shape}). Got shape {fam.shape} instead.")
        per = {}
        for name in sorted({str(f) for f in fam[y]}):
            keep = ~y | ((fam == name) & y)
            f_roc, f_pauc = _ranking(y[keep], s[keep], max_fpr)
            mine = y & (fam == name)
            per[name] = {"roc_auc": f_roc, "pauc": f_pauc, "n": int(mine.sum()),
                         "recall": None if flagged is None else float(flagged[mine].mean())}
        out["per_family"] = per
    return out
