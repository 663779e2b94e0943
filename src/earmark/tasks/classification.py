"""Single-label classification: one class per clip."""

import numpy as np
import torch

from ..errors import ParameterError
from .base import Task

__all__ = ["ClassificationTask"]


class ClassificationTask(Task):
    """One class per clip: softmax, cross-entropy, argmax; ranked by balanced accuracy.

    Examples
    --------
    >>> import numpy as np
    >>> task = ClassificationTask()
    >>> task.decide(np.array([[0.2, 0.8], [0.9, 0.1]]), ["a", "b"]).tolist()
    ['b', 'a']
    """

    name = "classification"
    activation = "softmax"
    aggregations = ("mean", "max", "vote")
    default_aggregation = "mean"
    primary_metric = "balanced_accuracy"
    metric_keys = ("balanced_accuracy", "accuracy", "macro_f1")

    def check_targets(self, targets):
        bad = np.flatnonzero(targets.sum(axis=1) != 1)
        if len(bad):
            raise ParameterError(f"classification needs exactly one label per clip; clip "
                                 f"{int(bad[0])} has {int(targets[bad[0]].sum())} (use "
                                 "task='tagging' for several labels per clip)")

    def loss_weights(self, targets):
        counts = targets.sum(axis=0).astype(np.float64)
        present = max(1, int((counts > 0).sum()))
        w = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / present, 0.0)
        return torch.tensor(w, dtype=torch.float32)

    def loss(self, logits, targets, weights=None):
        # soft-target cross-entropy (mixup makes targets soft), class-weighted and normalised
        # by the weight of each target so the loss scale does not depend on the weights
        logp = torch.log_softmax(logits, dim=1)
        per = -(targets * logp * (weights if weights is not None else 1.0)).sum(dim=1)
        norm = (targets * weights).sum(dim=1).mean() if weights is not None else 1.0
        return per.mean() / norm

    def batch_correct(self, logits, targets):
        return float((logits.argmax(1) == targets.argmax(1)).sum())

    def clip_loss(self, scores, targets):
        p = np.clip((scores * targets).sum(axis=1), 1e-7, 1)
        return float(-np.mean(np.log(p)))

    def aggregate(self, scores, *, method=None):
        from ..windows import aggregate
        return aggregate(scores, method=self.check_aggregation(method or
                                                               self.default_aggregation))

    def decide(self, scores, classes, *, thresholds=None):
        return np.array(classes, dtype=object)[np.asarray(scores).argmax(axis=1)]

    def metrics(self, targets, scores, classes, *, thresholds=None):
        from ..evaluation.classification import classification_metrics
        truth = np.array(classes, dtype=object)[np.asarray(targets).argmax(axis=1)]
        return classification_metrics(truth, self.decide(scores, classes), classes)
