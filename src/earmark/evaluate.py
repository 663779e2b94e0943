"""Honest evaluation: metrics from predictions and truth, and cross-validation that never leaks.

Folds are predefined (``folds='fold'``: each distinct value is one test fold) or grouped k-fold
(``groups='group'``: a group is never in two folds). Within each training fold, the validation
split used for early stopping is carved out by group too. Audio is decoded once for all folds.
"""

import base64
import time
import warnings

import numpy as np

from ._io import write_bytes_atomic, write_json
from .bundle import library_versions
from .classifier import SoundClassifier
from .data import cv_splits, load_clips, load_dataset, validate_dataset
from .errors import BudgetExceededError, ParameterError

__all__ = ["classification_metrics", "cross_validate", "fold_means", "write_json",
           "write_confusion_png"]


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


def cross_validate(data, *, folds=None, groups=None, n_splits=5, estimator=None, progress=True,
                   time_limit_s=None, **params):
    """Cross-validate a :class:`SoundClassifier` on a dataset.

    Parameters
    ----------
    data : str, path-like or Dataset
    folds : str or None
        Column of predefined folds.
    groups : str or None
        Column of groups for grouped k-fold (``n_splits`` folds).
    estimator : SoundClassifier or None
        Settings to use (it is cloned per fold); else ``SoundClassifier(**params)``.
    time_limit_s : float or None
        Stop with :class:`~earmark.errors.BudgetExceededError` (its ``completed`` holds the
        finished folds) as soon as the folds done so far project a total beyond this many
        seconds, or a training epoch would end after it; ``earmark train --recipe auto`` uses it
        to keep within ``--budget-min``.

    Returns
    -------
    dict
        ``balanced_accuracy``, ``accuracy``, ``macro_f1`` (means over folds) and their ``_std``,
        ``labels``, pooled ``confusion_matrix`` and ``per_class``, ``folds`` (per-fold metrics,
        training history, analysis window, wall time), ``predictions`` (one row per test
        clip), ``config`` (the parameters given, and the training settings and augmentation
        they resolved to), ``versions``, ``dataset``, ``protocol``, ``wall_s``.

    Examples
    --------
    >>> cv = earmark.cross_validate("drums/", folds="fold")              # doctest: +SKIP
    >>> cv["balanced_accuracy"]                                        # doctest: +SKIP
    0.81
    """
    t0 = time.perf_counter()
    if estimator is None:
        estimator = SoundClassifier(progress=progress, **params)
    elif params:
        raise ParameterError("cross_validate: give an estimator or keyword parameters, not both")
    features, train, augmentation, embedder = estimator._validate()
    dataset = load_dataset(data)
    validate_dataset(dataset, progress=progress)
    splits = cv_splits(dataset, folds=folds, groups=groups, n_splits=n_splits,
                       seed=estimator.seed)
    clips = load_clips(dataset, sample_rate=features.sample_rate, progress=progress)
    labels = dataset.labels
    truth = dataset.table["label"].to_numpy()
    fold_results, predictions = [], []
    group_col = groups or "group"
    for name, tr, te in splits:
        tf = time.perf_counter()
        if progress:
            print(f"fold {name}: {len(tr)} training clips, {len(te)} test clips", flush=True)
        clf = SoundClassifier(**estimator.get_params())
        clf.fit(dataset.subset(tr), clips=[clips[i] for i in tr], group_column=group_col,
                deadline=None if time_limit_s is None else t0 + time_limit_s)
        proba_small = clf.predict_clips([clips[i] for i in te])
        # the fold's model may lack classes absent from its training data: map to all labels
        proba = np.zeros((len(te), len(labels)))
        for j, c in enumerate(clf.classes_):
            proba[:, labels.index(c)] = proba_small[:, j]
        pred = np.array(labels, dtype=object)[proba.argmax(1)]
        m = classification_metrics(truth[te], pred, labels)
        fold_results.append({"fold": str(name), "n_train": int(len(tr)), "n_test": int(len(te)),
                             **m, "history": clf.history_,
                             "best_epoch": clf.train_info_.get("best_epoch"),
                             # the analysis window this fold's model used (it may be chosen
                             # from the fold's training clips)
                             "window_s": clf.features_.window_s, "hop_s": clf.features_.hop_s,
                             "wall_s": time.perf_counter() - tf})
        t = dataset.table.iloc[te]
        for k, (i, row) in enumerate(zip(te, t.itertuples(index=False))):
            predictions.append({
                "path": row.path,
                "start_s": None if row.start_s != row.start_s else float(row.start_s),
                "end_s": None if row.end_s != row.end_s else float(row.end_s),
                "fold": str(name), "label": truth[i], "predicted": pred[k],
                "probabilities": {c: float(proba[k, j]) for j, c in enumerate(labels)}})
        if progress:
            print(f"fold {name}: balanced accuracy {m['balanced_accuracy']:.3f}, accuracy "
                  f"{m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f} "
                  f"({fold_results[-1]['wall_s']:.0f} s)", flush=True)
        elapsed = time.perf_counter() - t0
        left = len(splits) - len(fold_results)
        if time_limit_s is not None and left and \
                elapsed + left * elapsed / len(fold_results) > time_limit_s:
            projected = elapsed * len(splits) / len(fold_results)
            raise BudgetExceededError(
                f"cross-validation stopped after {len(fold_results)} of {len(splits)} folds: "
                f"projected {projected / 60:.1f} min, over the {time_limit_s / 60:.1f} min "
                "limit", completed=fold_results)
    pooled = classification_metrics([p["label"] for p in predictions],
                                     [p["predicted"] for p in predictions], labels)
    result = fold_means(fold_results)
    params = estimator.get_params()
    result.update({
        "labels": labels,
        "confusion_matrix": pooled["confusion_matrix"],
        "per_class": pooled["per_class"],
        "folds": fold_results,
        "predictions": predictions,
        "config": {"features": features.to_dict(),
                   # True: each fold's window was chosen from its training clips (see folds)
                   "window_chosen_from_clips": embedder is None and estimator._window_is_auto(),
                   "estimator": {k: (v.to_dict() if hasattr(v, "to_dict") else v)
                                 for k, v in params.items() if k != "progress"},
                   # what the recipe's defaults resolved to (torch recipes only)
                   "training": None if embedder is not None else train.to_dict(),
                   "augmentation": None if augmentation is None else augmentation.to_config()},
        "versions": library_versions(),
        "dataset": dataset.source,
        "protocol": f"folds={folds}" if folds else f"groups={groups}, k={n_splits}",
        "n_clips": len(dataset),
        "wall_s": time.perf_counter() - t0,
    })
    return result


def write_confusion_png(result, path):
    """Draw the pooled confusion matrix (counts) of a cross-validation result as a PNG file."""
    from .reports.plots import confusion_matrix_png

    uri = confusion_matrix_png(np.asarray(result["confusion_matrix"]), result["labels"])
    return write_bytes_atomic(path, base64.b64decode(uri.split(",", 1)[1]))
