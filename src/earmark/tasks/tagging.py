"""Multi-label tagging: any number of classes per clip, each decided on its own."""

import numpy as np
import torch

from .base import Task

__all__ = ["TaggingTask"]

#: Largest positive-class weight under ``balance='loss'`` (a class on 1 % of the clips would
#: otherwise weigh 99 and make the network call it everywhere).
MAX_POS_WEIGHT = 10.0


class TaggingTask(Task):
    """Several labels per clip: sigmoid, binary cross-entropy, per-class thresholds; ranked by
    macro mAP.

    Window scores are aggregated without renormalising: ``'mean'``, ``'max'`` or ``'lse'``
    (log-sum-exp, a smooth maximum between the two, suited to weak clip labels whose sound is
    in only some of the windows; see :func:`earmark.windows.aggregate`). A class is predicted when its clip score reaches its
    threshold (``thresholds_`` of a tagger, tuned to maximise F1 on held-out predictions;
    0.5 when none is given).

    Examples
    --------
    >>> import numpy as np
    >>> task = TaggingTask()
    >>> task.decide(np.array([[0.7, 0.2], [0.1, 0.05]]), ["bird", "dog"],
    ...             thresholds=[0.5, 0.1])
    [('bird', 'dog'), ()]
    """

    name = "tagging"
    activation = "sigmoid"
    aggregations = ("mean", "max", "lse")
    default_aggregation = "lse"
    primary_metric = "map_macro"
    metric_keys = ("map_macro", "map_micro", "f1_micro", "f1_macro", "roc_auc_macro", "lrap")

    def loss_weights(self, targets):
        pos = targets.sum(axis=0).astype(np.float64)
        neg = len(targets) - pos
        w = np.where(pos > 0, np.clip(neg / np.maximum(pos, 1), 1.0, MAX_POS_WEIGHT), 1.0)
        return torch.tensor(w, dtype=torch.float32)

    def loss(self, logits, targets, weights=None):
        return torch.nn.functional.binary_cross_entropy_with_logits(
            logits, targets, pos_weight=weights)

    def batch_correct(self, logits, targets):
        # windows whose every class decision (at 0.5; of every frame, for frame targets) is right
        right = (logits > 0) == (targets > 0.5)
        return float(right.reshape(len(right), -1).all(dim=1).sum())

    def clip_loss(self, scores, targets):
        p = np.clip(scores, 1e-7, 1 - 1e-7)
        return float(-np.mean(targets * np.log(p) + (1 - targets) * np.log(1 - p)))

    def aggregate(self, scores, *, method=None):
        """One clip score vector from window scores (n_windows, n_classes), not renormalised
        (:func:`earmark.windows.aggregate`)."""
        from ..windows import aggregate
        return aggregate(scores, method=self.check_aggregation(method or
                                                               self.default_aggregation),
                         normalise=False)

    def decide(self, scores, classes, *, thresholds=None):
        scores = np.asarray(scores)
        t = np.full(len(classes), 0.5) if thresholds is None else np.asarray(thresholds, float)
        return [tuple(c for c, on in zip(classes, row) if on) for row in scores >= t]

    def metrics(self, targets, scores, classes, *, thresholds=None):
        from ..evaluation.tagging import tagging_metrics
        return tagging_metrics(targets, scores, classes, thresholds=thresholds)

    def tune_thresholds(self, targets, scores):
        from ..evaluation.tagging import tune_thresholds
        return tune_thresholds(targets, scores)
