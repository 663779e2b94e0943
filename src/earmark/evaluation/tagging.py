"""Multi-label tagging metrics: each clip may carry any number of tags.

A tagging model gives every clip one score per class (independent sigmoids, so a clip's scores
need not sum to one). The ranking metrics (average precision, ROC-AUC, label ranking average
precision) judge those scores directly; the decision metrics (F1, precision, recall) judge
``scores >= thresholds``. Every number equals scikit-learn's, computed on the classes where it
is defined: a class with no positive clip has no average precision, a class with no negative
clip has no ROC-AUC, and both are left out of the macro means rather than counted as zero.
"""

import numbers

import numpy as np

from .._validation import check_number
from ..errors import ParameterError

__all__ = ["TAGGING_METRICS", "PRIMARY_METRIC", "tagging_metrics", "tune_thresholds",
           "tagging_fold_means"]

#: The summary metrics of :func:`tagging_metrics` that :func:`tagging_fold_means` averages.
TAGGING_METRICS = ("map_macro", "map_micro", "f1_micro", "f1_macro", "roc_auc_macro", "lrap")

#: The metric to rank tagging models by: it does not depend on a decision threshold, and rare
#: classes weigh as much as common ones.
PRIMARY_METRIC = "map_macro"


def _check_y_true(y_true, owner):
    arr = np.asarray(y_true)
    if arr.dtype.kind not in "biuf":
        raise ParameterError(
            f"The 'y_true' parameter of {owner} must be a multi-hot array of 0/1 values. "
            f"Got an array of dtype {arr.dtype} instead.")
    if arr.ndim != 2:
        hint = " (for a single class, pass y_true.reshape(-1, 1))" if arr.ndim == 1 else ""
        raise ParameterError(
            f"The 'y_true' parameter of {owner} must be a 2-D array (n_clips, n_classes){hint}. "
            f"Got an array of shape {arr.shape} instead.")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ParameterError(
            f"The 'y_true' parameter of {owner} must have at least one clip and one class. "
            f"Got an array of shape {arr.shape} instead.")
    bad = ~((arr == 0) | (arr == 1))
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ParameterError(
            f"The 'y_true' parameter of {owner} must hold only 0 and 1 (multi-hot). "
            f"Got {arr[i, j].item()!r} at clip {i}, class {j} ({int(bad.sum())} such values) "
            "instead.")
    return arr.astype(np.int64)


def _check_scores(scores, y_true, owner):
    try:
        arr = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(
            f"The 'scores' parameter of {owner} must be a float array (n_clips, n_classes). "
            f"Got {type(scores).__name__} that is not numeric instead.") from None
    if arr.shape != y_true.shape:
        raise ParameterError(
            f"{owner}: y_true and scores must have the same shape (n_clips, n_classes). "
            f"Got y_true of shape {y_true.shape} and scores of shape {arr.shape}.")
    finite = np.isfinite(arr)
    if not finite.all():
        i, j = np.argwhere(~finite)[0]
        raise ParameterError(
            f"The 'scores' parameter of {owner} must hold finite values. Got "
            f"{arr[i, j].item()!r} at clip {i}, class {j} ({int((~finite).sum())} non-finite "
            "values) instead.")
    return arr


def _check_labels(labels, n_classes, owner):
    if isinstance(labels, str) or not hasattr(labels, "__len__"):
        raise ParameterError(
            f"The 'labels' parameter of {owner} must be a list of {n_classes} class names. "
            f"Got {labels!r} instead.")
    labels = list(labels)
    if len(labels) != n_classes:
        raise ParameterError(
            f"The 'labels' parameter of {owner} must name each of the {n_classes} columns of "
            f"y_true and scores. Got {len(labels)} labels instead.")
    if len(set(labels)) != len(labels):
        seen, dup = set(), []
        for c in labels:
            if c in seen:
                dup.append(c)
            seen.add(c)
        raise ParameterError(
            f"The 'labels' parameter of {owner} must hold distinct class names. "
            f"Got {dup[0]!r} more than once instead.")
    return labels


def _check_thresholds(thresholds, n_classes, owner):
    expected = (f"None, a float in [0, 1], or one float in [0, 1] per class "
                f"({n_classes} classes)")
    if thresholds is None:
        return np.full(n_classes, 0.5)
    if isinstance(thresholds, numbers.Number):
        check_number(thresholds, "thresholds", owner, low=0, high=1, closed="both")
        return np.full(n_classes, float(thresholds))
    try:
        arr = np.asarray(thresholds)
        if arr.dtype.kind not in "iuf":
            raise TypeError
        arr = arr.astype(np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"The 'thresholds' parameter of {owner} must be {expected}. "
                             f"Got {thresholds!r} instead.") from None
    if arr.ndim == 0:
        return _check_thresholds(float(arr), n_classes, owner)
    if arr.shape != (n_classes,):
        raise ParameterError(f"The 'thresholds' parameter of {owner} must be {expected}. "
                             f"Got an array of shape {arr.shape} instead.")
    bad = ~(np.isfinite(arr) & (arr >= 0) & (arr <= 1))
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise ParameterError(f"The 'thresholds' parameter of {owner} must be {expected}. "
                             f"Got {arr[j].item()!r} for class {j} instead.")
    return arr


def _ratio(num, den, *, undefined=None):
    return float(num / den) if den else undefined


def tagging_metrics(y_true, scores, labels, *, thresholds=None):
    """Ranking and decision metrics of multi-label tagging scores, as scikit-learn defines them.

    Parameters
    ----------
    y_true : array-like of shape (n_clips, n_classes)
        Multi-hot truth: 1 where the clip carries the class's tag, else 0.
    scores : array-like of shape (n_clips, n_classes)
        One score per clip and class, higher meaning more likely (per-class probabilities from
        independent sigmoids, for example; they need not sum to one).
    labels : list of str
        The class names, in column order.
    thresholds : None, float or array-like of shape (n_classes,), default=None
        A clip is tagged with a class when its score is ``>=`` the class's threshold. None means
        0.5 for every class; a float is used for every class; an array gives one per class (see
        :func:`tune_thresholds`). Every value must lie in [0, 1].

    Returns
    -------
    dict
        ``map_macro``
            Mean average precision over the classes with at least one positive clip (None if
            there is none): ``average_precision_score(y_true[:, present], scores[:, present],
            average="macro")``.
        ``map_micro``
            Average precision of all (clip, class) pairs pooled
            (``average_precision_score(..., average="micro")``); None if ``y_true`` holds no 1.
        ``roc_auc_macro``
            Mean ROC-AUC over the classes with both positive and negative clips; None if no
            class has both.
        ``f1_micro``, ``precision_micro``, ``recall_micro``
            Of the decisions ``scores >= thresholds``, all pairs pooled (scikit-learn's, with
            ``zero_division=0``).
        ``f1_macro``
            Mean F1 over the classes present in ``y_true`` or in the decisions (scikit-learn's
            ``f1_score(average="macro", labels=those)``); None if no class is in either.
        ``lrap``
            ``label_ranking_average_precision_score``: for each clip, how well its true tags
            are ranked above the others. A clip with no tag, or with every tag, counts as 1
            (scikit-learn's convention).
        ``per_class``
            ``{label: {"ap", "roc_auc", "f1", "precision", "recall", "support", "threshold"}}``;
            ``support`` is the number of positive clips. A value is None where it is undefined:
            ``ap`` and ``recall`` without a positive clip, ``roc_auc`` without a positive and a
            negative clip, ``precision`` without a predicted positive, ``f1`` with neither a
            positive nor a predicted positive.
        ``n_clips``
            The number of clips.

    Raises
    ------
    earmark.errors.ParameterError
        If the arrays are not 2-D or differ in shape, ``y_true`` holds anything but 0 and 1,
        ``scores`` holds NaN or infinity, ``labels`` does not name each column once, or
        ``thresholds`` has the wrong shape or a value outside [0, 1].

    Examples
    --------
    >>> y_true = [[1, 0], [0, 1], [1, 1], [0, 0]]
    >>> scores = [[0.9, 0.2], [0.6, 0.7], [0.4, 0.8], [0.3, 0.1]]
    >>> m = tagging_metrics(y_true, scores, ["bird", "rain"])
    >>> round(m["per_class"]["bird"]["ap"], 4), m["per_class"]["rain"]["ap"]
    (0.8333, 1.0)
    >>> round(m["map_macro"], 4), round(m["f1_micro"], 4)
    (0.9167, 0.75)
    """
    # slow import: lazy
    from sklearn.metrics import (average_precision_score, label_ranking_average_precision_score,
                                 roc_auc_score)

    owner = "tagging_metrics"
    y_true = _check_y_true(y_true, owner)
    scores = _check_scores(scores, y_true, owner)
    n_clips, n_classes = y_true.shape
    labels = _check_labels(labels, n_classes, owner)
    thresholds = _check_thresholds(thresholds, n_classes, owner)

    support = y_true.sum(axis=0)
    has_pos = support > 0
    has_both = has_pos & (support < n_clips)
    ap = [float(average_precision_score(y_true[:, j], scores[:, j])) if has_pos[j] else None
          for j in range(n_classes)]
    auc = [float(roc_auc_score(y_true[:, j], scores[:, j])) if has_both[j] else None
           for j in range(n_classes)]

    pred = (scores >= thresholds).astype(np.int64)
    tp = (y_true & pred).sum(axis=0)
    n_pred = pred.sum(axis=0)
    precision = [_ratio(tp[j], n_pred[j]) for j in range(n_classes)]
    recall = [_ratio(tp[j], support[j]) for j in range(n_classes)]
    f1 = [_ratio(2 * tp[j], support[j] + n_pred[j]) for j in range(n_classes)]
    # F1 is defined for the classes in y_true or in the decisions: sklearn's macro over those
    defined_f1 = [f for f in f1 if f is not None]
    # the pooled and averaged decision metrics come from the counts: scikit-learn reads a
    # one-column y_true as binary (labels 0 and 1), not as one multi-label class
    all_tp, all_pred, all_pos = int(tp.sum()), int(n_pred.sum()), int(support.sum())

    return {
        "map_macro": float(np.mean([a for a in ap if a is not None])) if has_pos.any() else None,
        # sklearn's micro average ravels both arrays; ravelling here keeps one-column input
        # (which sklearn would read as binary, not multilabel) on the same path
        "map_micro": float(average_precision_score(y_true.ravel(), scores.ravel()))
        if has_pos.any() else None,
        "roc_auc_macro": float(np.mean([a for a in auc if a is not None]))
        if has_both.any() else None,
        "f1_micro": _ratio(2 * all_tp, all_pred + all_pos, undefined=0.0),
        "f1_macro": float(np.mean(defined_f1)) if defined_f1 else None,
        "precision_micro": _ratio(all_tp, all_pred, undefined=0.0),
        "recall_micro": _ratio(all_tp, all_pos, undefined=0.0),
        "lrap": float(label_ranking_average_precision_score(y_true, scores)),
        "per_class": {c: {"ap": ap[j], "roc_auc": auc[j], "f1": f1[j],
                          "precision": precision[j], "recall": recall[j],
                          "support": int(support[j]), "threshold": float(thresholds[j])}
                      for j, c in enumerate(labels)},
        "n_clips": int(n_clips),
    }


def tune_thresholds(y_true, scores, *, default=0.5):
    """For each class, the decision threshold that gives the best F1 on these predictions.

    Tune thresholds on held-out or out-of-fold predictions (e.g. the test-fold scores of a
    cross-validation, or a validation split) and then apply them to other clips. Never tune them
    on the clips they are judged on: F1 at a threshold chosen on the very same clips is
    optimistic, the more so the fewer positives a class has.

    Parameters
    ----------
    y_true : array-like of shape (n_clips, n_classes)
        Multi-hot truth (0/1).
    scores : array-like of shape (n_clips, n_classes)
        One score per clip and class.
    default : float, default=0.5
        Threshold for a class with no positive clip (its F1 cannot be tuned). Must lie in
        [0, 1].

    Returns
    -------
    numpy.ndarray of shape (n_classes,), dtype float64
        Each threshold is one of the class's scores (a candidate of
        ``sklearn.metrics.precision_recall_curve``), so ``scores >= thresholds`` reproduces the
        best F1 exactly. When several thresholds give the same best F1, the highest of them is
        returned: the one that tags the fewest clips.

    Raises
    ------
    earmark.errors.ParameterError
        If the arrays are not 2-D or differ in shape, ``y_true`` holds anything but 0 and 1,
        ``scores`` holds NaN or infinity, or ``default`` is not in [0, 1].

    Examples
    --------
    >>> y_true = [[1, 0], [1, 0], [0, 0], [0, 0]]
    >>> scores = [[0.9, 0.3], [0.7, 0.2], [0.4, 0.6], [0.1, 0.1]]
    >>> tune_thresholds(y_true, scores)      # class 1 has no positive clip: the default
    array([0.7, 0.5])
    """
    from sklearn.metrics import precision_recall_curve  # slow import: lazy

    owner = "tune_thresholds"
    y_true = _check_y_true(y_true, owner)
    scores = _check_scores(scores, y_true, owner)
    check_number(default, "default", owner, low=0, high=1, closed="both")

    out = np.full(y_true.shape[1], float(default))
    for j in range(y_true.shape[1]):
        truth, s = y_true[:, j].astype(bool), scores[:, j]
        if not truth.any():
            continue
        _, _, candidates = precision_recall_curve(truth, s)
        # F1 from integer counts rather than from the curve's float precision and recall, so
        # that equal F1 values compare equal and ties resolve as documented
        pos, neg = np.sort(s[truth]), np.sort(s[~truth])
        tp = len(pos) - np.searchsorted(pos, candidates, side="left")
        fp = len(neg) - np.searchsorted(neg, candidates, side="left")
        f1 = 2 * tp / (tp + fp + len(pos))
        best = np.flatnonzero(f1 == f1.max())[-1]  # ascending candidates: last is highest
        out[j] = candidates[best]
    return out


def tagging_fold_means(folds):
    """Mean and standard deviation over folds of each of :data:`TAGGING_METRICS`.

    Parameters
    ----------
    folds : sequence of dict
        Per-fold results of :func:`tagging_metrics`.

    Returns
    -------
    dict
        For each name in :data:`TAGGING_METRICS`, the mean over the folds where it is not None,
        and ``<name>_std`` (``numpy.std``, population standard deviation) over the same folds;
        both None when the metric is None in every fold (e.g. ``roc_auc_macro`` when no fold
        has a class with both positive and negative clips).

    Raises
    ------
    earmark.errors.ParameterError
        If ``folds`` is empty or a fold lacks one of the metrics.

    Examples
    --------
    >>> folds = [{"map_macro": 0.6, "map_micro": 0.7, "f1_micro": 0.5, "f1_macro": 0.4,
    ...           "roc_auc_macro": None, "lrap": 0.8},
    ...          {"map_macro": 0.8, "map_micro": 0.9, "f1_micro": 0.7, "f1_macro": 0.6,
    ...           "roc_auc_macro": 0.75, "lrap": 0.9}]
    >>> m = tagging_fold_means(folds)
    >>> round(m["map_macro"], 3), round(m["map_macro_std"], 3), m["roc_auc_macro"]
    (0.7, 0.1, 0.75)
    """
    folds = list(folds)
    if not folds:
        raise ParameterError("The 'folds' parameter of tagging_fold_means must hold at least "
                             "one fold's metrics. Got [] instead.")
    out = {}
    for key in TAGGING_METRICS:
        vals = []
        for i, fold in enumerate(folds):
            if key not in fold:
                raise ParameterError(
                    f"tagging_fold_means: fold {i} has no {key!r}; each fold must be a result "
                    f"of tagging_metrics (with {', '.join(TAGGING_METRICS)}).")
            if fold[key] is not None:
                vals.append(fold[key])
        out[key] = float(np.mean(vals)) if vals else None
        out[f"{key}_std"] = float(np.std(vals)) if vals else None
    return out
