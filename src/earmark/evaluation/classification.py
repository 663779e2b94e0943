"""Classification metrics: balanced accuracy, accuracy, macro-F1, per class, confusion matrix
(scikit-learn's definitions)."""

import warnings

import numpy as np

__all__ = ["classification_metrics", "fold_means"]


def classification_metrics(y_true, y_pred, labels):
    """Accuracy, balanced accuracy, macro-F1, per-class precision/recall/F1, confusion matrix.

    Balanced accuracy is the mean recall over the classes present in ``y_true``; macro-F1 is
    averaged over the classes present in ``y_true`` or ``y_pred`` (scikit-learn's definitions).

    Examples
    --------
    >>> m = classification_metrics(["a", "b", "b"], ["a", "b", "a"], ["a", "b"])
    >>> round(m["balanced_accuracy"], 3), m["confusion_matrix"]
    (0.75, [[1, 0], [1, 1]])
    """
    from sklearn.metrics import (accuracy_score, balanced_accuracy_score,  # slow import: lazy
                                 confusion_matrix, f1_score, precision_recall_fscore_support)

    y_true = np.asarray(y_true, dtype=object)
    y_pred = np.asarray(y_pred, dtype=object)
    present = [c for c in labels if c in set(y_true) | set(y_pred)]
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    with warnings.catch_warnings():
        # a test fold may lack a class the model predicts: expected with grouped folds
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        balanced = float(balanced_accuracy_score(y_true, y_pred))
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": balanced,
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro",
                                   zero_division=0)),
        "per_class": {c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                          "support": int(s[i])} for i, c in enumerate(labels)},
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def fold_means(folds):
    """``balanced_accuracy``, ``accuracy``, ``macro_f1``: the mean over per-fold results, and
    each one's standard deviation as ``<name>_std``."""
    out = {}
    for key in ("balanced_accuracy", "accuracy", "macro_f1"):
        vals = [f[key] for f in folds]
        out[key] = float(np.mean(vals))
        out[f"{key}_std"] = float(np.std(vals))
    return out
