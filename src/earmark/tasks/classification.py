"""Single-label classification: one class per clip (or, with a rejection score, 'unknown')."""

import numpy as np
import torch

from ..errors import ParameterError
from .base import Task

__all__ = ["ClassificationTask", "OpenSetClassificationTask", "UNKNOWN_LABEL"]

#: The answer of an open-set classifier for a clip unlike every class it knows.
UNKNOWN_LABEL = "unknown"


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


class OpenSetClassificationTask(ClassificationTask):
    """Classification that may answer 'unknown': argmax, unless the clip's rejection score is
    above ``threshold``.

    Window scores carry one more column than there are classes: each window's rejection value
    (:meth:`earmark.models.rejection.Rejector.window_values`). A clip's class scores are
    aggregated as for classification; its rejection score is one minus its largest aggregated
    probability (``score='maxprob'``) or the mean of its windows' values ('energy', 'knn').
    The last column of what :meth:`aggregate` returns is that score, so the prediction table
    (:func:`earmark.predict.predict_table`) shows it beside the class probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> task = OpenSetClassificationTask(score="maxprob", threshold=0.5)
    >>> clip = task.aggregate(np.array([[0.9, 0.1, 0.1], [0.3, 0.7, 0.3]]))
    >>> clip.round(2).tolist()
    [0.6, 0.4, 0.4]
    >>> task.decide(np.array([[0.6, 0.4, 0.4], [0.3, 0.7, 0.6]]), ["a", "b", "score"]).tolist()
    ['a', 'unknown']
    """

    def __init__(self, *, score, threshold):
        self.score = score
        self.threshold = float(threshold)

    def __repr__(self):
        return f"OpenSetClassificationTask(score={self.score!r}, threshold={self.threshold!r})"

    def aggregate(self, scores, *, method=None):
        s = np.asarray(scores, np.float64)
        p = super().aggregate(s[:, :-1], method=method)
        reject = 1.0 - float(np.max(p)) if self.score == "maxprob" else float(np.mean(s[:, -1]))
        return np.append(p, reject)

    def decide(self, scores, classes, *, thresholds=None):
        """Class names, or :data:`UNKNOWN_LABEL` where the last column is above the threshold
        (``classes`` may name that column too)."""
        s = np.atleast_2d(np.asarray(scores, np.float64))
        n = s.shape[1] - 1
        answers = super().decide(s[:, :n], list(classes)[:n])
        answers[s[:, n] > self.threshold] = UNKNOWN_LABEL
        return answers
