"""The task interface: targets, activation, loss, aggregation, decision and metrics."""

import numpy as np
import torch

from .._validation import check_choice
from ..errors import ParameterError

__all__ = ["Task"]


class Task:
    """What a label means. Subclasses set the class attributes and implement the methods.

    Attributes
    ----------
    name : str
    activation : {'softmax', 'sigmoid'}
        Turns a network's logits into window scores (stored with every torch model).
    aggregations : tuple of str
        The window -> clip aggregations this task accepts; ``default_aggregation`` is one.
    primary_metric : str
        The metric ``auto``, ensembles and model selection rank by (higher is better).
    metric_keys : tuple of str
        The metrics averaged over folds by :meth:`fold_means`.
    """

    name = ""
    activation = "softmax"
    aggregations = ("mean",)
    default_aggregation = "mean"
    primary_metric = ""
    metric_keys = ()

    def __repr__(self):
        return f"{type(self).__name__}()"

    @property
    def validation_metric(self):
        """What the training loop ranks epochs by on the validation clips (a key of
        :meth:`metrics`); the primary metric unless a task says otherwise."""
        return self.primary_metric

    # -- targets ----------------------------------------------------------------------------
    def encode(self, label_sets, classes):
        """Targets (n_clips, n_classes) float32 from one tuple of labels per clip."""
        index = {c: i for i, c in enumerate(classes)}
        out = np.zeros((len(label_sets), len(classes)), np.float32)
        for row, labels in enumerate(label_sets):
            for label in labels:
                if label not in index:
                    raise ParameterError(f"label {label!r} is not one of the classes {classes}")
                out[row, index[label]] = 1.0
        self.check_targets(out)
        return out

    def check_targets(self, targets):
        """Raise ParameterError when ``targets`` do not fit the task."""

    # -- training -----------------------------------------------------------------------------
    def activate(self, logits):
        """Window scores from logits (torch)."""
        if self.activation == "softmax":
            return torch.softmax(logits, dim=1)
        return torch.sigmoid(logits)

    def loss_weights(self, targets):
        """Per-class weights for :meth:`loss` under ``balance='loss'`` (a float32 tensor)."""
        raise NotImplementedError

    def loss(self, logits, targets, weights=None):
        """The training loss of a batch (a scalar tensor)."""
        raise NotImplementedError

    def sample_weights(self, targets):
        """Per-clip sampling probabilities under ``balance='sampler'`` (sum to one)."""
        counts = targets.sum(axis=0)
        inv = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0)
        w = (targets * inv).sum(axis=1)
        empty = w == 0
        if empty.any():
            w[empty] = 1.0 / empty.sum()
        return w / w.sum()

    def batch_correct(self, logits, targets):
        """How many training windows the batch got right (for the progress bar)."""
        raise NotImplementedError

    def clip_loss(self, scores, targets):
        """Mean loss of clip scores against targets (validation loss), a float."""
        raise NotImplementedError

    # -- window -> clip -----------------------------------------------------------------------
    def check_aggregation(self, method, owner="aggregate"):
        return check_choice(method, "aggregation", owner, self.aggregations)

    def aggregate(self, scores, *, method=None):
        """One clip score vector from window scores (n_windows, n_classes)."""
        raise NotImplementedError

    # -- decisions and metrics ----------------------------------------------------------------
    def decide(self, scores, classes, *, thresholds=None):
        """Predictions from clip scores (n, n_classes): one answer per clip."""
        raise NotImplementedError

    def metrics(self, targets, scores, classes, *, thresholds=None):
        """Metrics of clip scores against targets (dict)."""
        raise NotImplementedError

    def fold_means(self, folds):
        """Means over folds of :attr:`metric_keys` and each one's std as ``<key>_std``."""
        out = {}
        for key in self.metric_keys:
            vals = [f[key] for f in folds if f.get(key) is not None]
            out[key] = float(np.mean(vals)) if vals else None
            out[f"{key}_std"] = float(np.std(vals)) if vals else None
        return out

    def tune_thresholds(self, targets, scores):
        """Per-class decision thresholds from held-out predictions (None: the task has none)."""
        return None
