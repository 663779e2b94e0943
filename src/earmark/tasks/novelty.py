"""Novelty (anomaly) detection: learn what normal sounds like from normal clips only, flag the
rest.

There is one "class", the anomaly: a clip's target is 1 when its label is anything but
:data:`NORMAL_LABEL` ('normal'), 0 otherwise. A scorer (:mod:`earmark.models.novelty`) gives
every analysis window an anomaly score (higher: less like the normal windows it was fitted
on); a file's score is the largest window score (``'max'``: a short fault in a long recording
still counts), the mean of its ``top_k`` highest, the mean, or the largest minus the median
(``'contrast'``). The decision is ``score >
threshold``, the threshold set from a false-alarm budget on held-out normal audio
(:class:`~earmark.NoveltyDetector`). Ranked by ROC-AUC; also the partial AUC at a
false-positive rate of 0.1 (DCASE Task 2), and the false-alarm rate and recall at the
threshold (:mod:`earmark.evaluation.novelty`).
"""

import numpy as np

from .._validation import check_number
from ..errors import ParameterError
from .base import Task

__all__ = ["NoveltyTask", "NORMAL_LABEL", "aggregate_scores"]

#: The label of normal clips; every other label is an anomaly (its family).
NORMAL_LABEL = "normal"


def aggregate_scores(scores, *, method="max", top_k=3):
    """One file score from window anomaly scores (n_windows,): ``'max'``, ``'top_k_mean'``
    (the mean of the ``top_k`` highest; all of them when there are fewer), ``'mean'``, or
    ``'contrast'`` (the largest minus the median: how far the worst window stands out from the
    file's own typical window; suits short events in files whose background may itself be
    new, but misses a fault that lasts the whole file).

    Examples
    --------
    >>> aggregate_scores([1.0, 5.0, 2.0, 4.0], method="top_k_mean", top_k=2)
    4.5
    """
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if not len(s):
        raise ParameterError("aggregate_scores: no window scores to aggregate")
    if method == "max":
        return float(s.max())
    if method == "mean":
        return float(s.mean())
    if method == "contrast":
        return float(s.max() - np.median(s))
    if method == "top_k_mean":
        check_number(top_k, "top_k", "aggregate_scores", low=1, closed="left", integer=True)
        return float(np.sort(s)[-int(top_k):].mean())
    raise ParameterError(f"The 'method' parameter of aggregate_scores must be one of 'max', "
                         f"'top_k_mean', 'mean', 'contrast'. Got {method!r} instead.")


class NoveltyTask(Task):
    """Anomalous or normal, from anomaly scores; ranked by ROC-AUC.

    Examples
    --------
    >>> import numpy as np
    >>> task = NoveltyTask()
    >>> task.encode([("normal",), ("drums",)]).ravel().tolist()
    [0.0, 1.0]
    >>> task.decide(np.array([0.2, 0.9]), None, thresholds=0.5).tolist()
    [False, True]
    """

    name = "novelty"
    activation = "none"
    aggregations = ("max", "top_k_mean", "mean", "contrast")
    default_aggregation = "max"
    primary_metric = "roc_auc"
    metric_keys = ("roc_auc", "pauc", "false_alarm_rate", "recall")

    def encode(self, label_sets, classes=None):
        """Targets (n_clips, 1) float32: 1 for a clip with any label but 'normal'."""
        return np.array([[0.0 if tuple(labels) == (NORMAL_LABEL,) else 1.0]
                         for labels in label_sets], np.float32).reshape(-1, 1)

    def aggregate(self, scores, *, method=None, top_k=3):
        return aggregate_scores(scores, method=self.check_aggregation(
            method or self.default_aggregation), top_k=top_k)

    def decide(self, scores, classes=None, *, thresholds=None):
        """Flags (bool array): ``score > threshold``."""
        if thresholds is None:
            raise ParameterError("novelty decisions need a threshold (from a false-alarm budget)")
        return np.asarray(scores, dtype=np.float64).reshape(-1) > float(np.ravel(thresholds)[0])

    def metrics(self, targets, scores, classes=None, *, thresholds=None, families=None):
        from ..evaluation.novelty import novelty_metrics
        t = None if thresholds is None else float(np.ravel(thresholds)[0])
        return novelty_metrics(np.asarray(targets).reshape(-1) > 0.5,
                               np.asarray(scores).reshape(-1), threshold=t, families=families)
