"""Honest cross-validation that never leaks, for any earmark estimator.

Folds are predefined (``folds='fold'``: each distinct value is one test fold) or grouped k-fold
(``groups='group'``: a group is never in two folds). Within each training fold, the validation
split (early stopping; a tagger's thresholds) is carved out by group too. Audio is decoded once
for all folds. The estimator is used through its public methods only: cloned from
``get_params``, ``check_params`` (the sample rate to decode at), ``fit``, ``predict_clips``,
``decide``; the task (:mod:`earmark.tasks`) encodes the truth and computes the metrics.
"""

import base64
import time

import numpy as np

from .._io import write_bytes_atomic
from ..bundle import library_versions
from ..data import cv_splits, load_clips, load_dataset, validate_dataset
from ..errors import BudgetExceededError, ParameterError
from ..tasks import get_task

__all__ = ["cross_validate", "write_confusion_png", "clone"]


#: How the progress lines name the metrics.
METRIC_NAMES = {"balanced_accuracy": "balanced accuracy", "accuracy": "accuracy",
                "macro_f1": "macro-F1", "map_macro": "macro mAP", "map_micro": "micro mAP",
                "f1_micro": "micro-F1"}


def clone(estimator, **changes):
    """A new, unfitted estimator of the same class with the same parameters (and ``changes``).

    Examples
    --------
    >>> from earmark import SoundTagger
    >>> clone(SoundTagger(epochs=5), seed=1)
    SoundTagger(epochs=5, seed=1)
    """
    return type(estimator)(**{**estimator.get_params(), **changes})


def _jsonable_answer(a):
    return list(a) if isinstance(a, tuple) else a


def cross_validate(data, *, folds=None, groups=None, n_splits=5, estimator=None, progress=True,
                   time_limit_s=None, **params):
    """Cross-validate an estimator (a :class:`~earmark.SoundClassifier` by default, a
    :class:`~earmark.SoundTagger`, ...) on a dataset.

    Parameters
    ----------
    data : str, path-like or Dataset
    folds : str or None
        Column of predefined folds.
    groups : str or None
        Column of groups for grouped k-fold (``n_splits`` folds). Also the groups of each
        fold's validation split; with predefined folds and no ``group`` column, the fold column
        serves as the groups of the validation split.
    estimator : earmark estimator or None
        Settings to use (it is cloned per fold); else ``SoundClassifier(**params)``.
    time_limit_s : float or None
        Stop with :class:`~earmark.errors.BudgetExceededError` (its ``completed`` holds the
        finished folds) as soon as the folds done so far project a total beyond this many
        seconds, or a training epoch would end after it; ``earmark train --recipe auto`` uses it
        to keep within ``--budget-min``.

    Returns
    -------
    dict
        ``task``; the task's metrics as means over folds and their ``_std`` (classification:
        ``balanced_accuracy``, ``accuracy``, ``macro_f1``, pooled ``confusion_matrix``;
        tagging: ``map_macro``, ``map_micro``, ``f1_micro``, ``f1_macro``, ``roc_auc_macro``,
        ``lrap``), ``primary_metric``, ``labels``, pooled ``per_class``, ``folds`` (per-fold
        metrics, training history, analysis window, wall time; tagging: the fold's
        ``thresholds``), ``predictions`` (one row per test clip: ``label`` / ``predicted``
        for classification, ``labels`` / ``predicted`` lists for tagging, ``probabilities``),
        ``config`` (the parameters given, and the training settings and augmentation they
        resolved to), ``versions``, ``dataset``, ``protocol``, ``wall_s``.

    Examples
    --------
    >>> cv = earmark.cross_validate("drums/", folds="fold")              # doctest: +SKIP
    >>> cv["balanced_accuracy"]                                        # doctest: +SKIP
    0.81
    >>> cv = earmark.cross_validate("scenes/", folds="fold",
    ...                             estimator=earmark.SoundTagger())     # doctest: +SKIP
    >>> cv["map_macro"], len(cv["folds"])                              # doctest: +SKIP
    (0.62, 5)
    """
    t0 = time.perf_counter()
    if estimator is None:
        from ..estimators import SoundClassifier
        estimator = SoundClassifier(progress=progress, **params)
    elif params:
        raise ParameterError("cross_validate: give an estimator or keyword parameters, not both")
    if estimator.task == "detection":      # judged per fold as a whole, by the DCASE metrics
        from .detection_cv import cross_validate_detection
        return cross_validate_detection(data, folds=folds, groups=groups, n_splits=n_splits,
                                        estimator=estimator, progress=progress,
                                        time_limit_s=time_limit_s)
    if estimator.task == "novelty":        # fitted on normal clips only, judged by ROC-AUC
        from .novelty_cv import cross_validate_novelty
        return cross_validate_novelty(data, folds=folds, groups=groups, n_splits=n_splits,
                                      estimator=estimator, progress=progress)
    task = get_task(estimator.task)
    features, train, augmentation, embedder = estimator.check_params()
    dataset = load_dataset(data)
    validate_dataset(dataset, progress=progress)
    splits = cv_splits(dataset, folds=folds, groups=groups, n_splits=n_splits,
                       seed=estimator.seed)
    clips = load_clips(dataset, sample_rate=features.sample_rate, progress=progress)
    labels = dataset.labels
    truth = task.encode(dataset.label_sets, labels)
    group_col = groups or ("group" if dataset.has_column("group") or not folds else folds)
    fold_results, predictions = [], []
    all_scores = np.zeros((len(dataset), len(labels)))
    for name, tr, te in splits:
        tf = time.perf_counter()
        if progress:
            print(f"fold {name}: {len(tr)} training clips, {len(te)} test clips", flush=True)
        est = clone(estimator)
        est.fit(dataset.subset(tr), clips=[clips[i] for i in tr], group_column=group_col,
                deadline=None if time_limit_s is None else t0 + time_limit_s)
        small = est.predict_clips([clips[i] for i in te])
        # the fold's model may lack classes absent from its training data: map to all labels
        scores = np.zeros((len(te), len(labels)))
        for j, c in enumerate(est.classes_):
            scores[:, labels.index(c)] = small[:, j]
        all_scores[te] = scores
        thresholds = None
        if getattr(est, "thresholds_", None) is not None:
            thresholds = np.full(len(labels), 1.0)      # a class it never saw: never predicted
            for j, c in enumerate(est.classes_):
                thresholds[labels.index(c)] = est.thresholds_[j]
        pred = task.decide(scores, labels, thresholds=thresholds)
        m = task.metrics(truth[te], scores, labels, thresholds=thresholds)
        entry = {"fold": str(name), "n_train": int(len(tr)), "n_test": int(len(te)), **m,
                 "history": est.history_, "best_epoch": est.train_info_.get("best_epoch"),
                 # the analysis window this fold's model used (it may be chosen from the
                 # fold's training clips)
                 "window_s": est.features_.window_s, "hop_s": est.features_.hop_s,
                 "wall_s": time.perf_counter() - tf}
        if thresholds is not None:
            entry["thresholds"] = {c: float(t) for c, t in zip(labels, thresholds)}
        fold_results.append(entry)
        t = dataset.table.iloc[te]
        for k, (i, row) in enumerate(zip(te, t.itertuples(index=False))):
            true = dataset.label_sets[i]
            predictions.append({
                "path": row.path,
                "start_s": None if row.start_s != row.start_s else float(row.start_s),
                "end_s": None if row.end_s != row.end_s else float(row.end_s),
                "fold": str(name),
                **({"label": true[0]} if task.name == "classification"
                   else {"labels": list(true)}),
                "predicted": _jsonable_answer(pred[k]),
                "probabilities": {c: float(scores[k, j]) for j, c in enumerate(labels)}})
        if progress:
            shown = ", ".join(f"{METRIC_NAMES.get(key, key)} {m[key]:.3f}"
                              for key in task.metric_keys[:3] if m.get(key) is not None)
            print(f"fold {name}: {shown} ({entry['wall_s']:.0f} s)", flush=True)
        elapsed = time.perf_counter() - t0
        left = len(splits) - len(fold_results)
        if time_limit_s is not None and left and \
                elapsed + left * elapsed / len(fold_results) > time_limit_s:
            projected = elapsed * len(splits) / len(fold_results)
            raise BudgetExceededError(
                f"cross-validation stopped after {len(fold_results)} of {len(splits)} folds: "
                f"projected {projected / 60:.1f} min, over the {time_limit_s / 60:.1f} min "
                "limit", completed=fold_results)
    result = {"task": task.name, "primary_metric": task.primary_metric,
              **task.fold_means(fold_results)}
    result.update(_pooled(task, truth, all_scores, labels, fold_results, splits))
    params = estimator.get_params()
    result.update({
        "labels": labels,
        "folds": fold_results,
        "predictions": predictions,
        "config": {"features": features.to_dict(),
                   # True: each fold's window was chosen from its training clips (see folds)
                   "window_chosen_from_clips": embedder is None and estimator.chooses_window,
                   "estimator": {k: (v.to_dict() if hasattr(v, "to_dict") else v)
                                 for k, v in params.items() if k != "progress"},
                   "task": task.name,
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


def _pooled(task, truth, scores, labels, fold_results, splits):
    """Metrics of all out-of-fold predictions together: classification's pooled confusion
    matrix and per-class table; tagging's per-class table, each test clip judged at its own
    fold's thresholds (pooled average precision and ROC-AUC need no threshold)."""
    order = np.concatenate([te for _, _, te in splits])
    thresholds = None
    if fold_results and "thresholds" in fold_results[0]:
        thresholds = np.zeros_like(scores)
        for (_, _, te), f in zip(splits, fold_results):
            thresholds[te] = [f["thresholds"][c] for c in labels]
        # per-clip thresholds: decide as if each clip's threshold were 0.5 on shifted scores
        shifted = np.clip(0.5 + (scores - thresholds), 0, 1)
        pooled = task.metrics(truth[order], scores[order], labels, thresholds=None)
        at_threshold = task.metrics(truth[order], shifted[order], labels, thresholds=0.5)
        for c in labels:
            for key in ("f1", "precision", "recall"):
                pooled["per_class"][c][key] = at_threshold["per_class"][c][key]
            pooled["per_class"][c]["threshold"] = float(np.mean(
                [f["thresholds"][c] for f in fold_results]))
        return {"per_class": pooled["per_class"]}
    pooled = task.metrics(truth[order], scores[order], labels)
    return {k: pooled[k] for k in ("per_class", "confusion_matrix") if k in pooled}


def write_confusion_png(result, path):
    """Draw the pooled confusion matrix (counts) of a cross-validation result as a PNG file."""
    from ..reports.plots import confusion_matrix_png

    uri = confusion_matrix_png(np.asarray(result["confusion_matrix"]), result["labels"])
    return write_bytes_atomic(path, base64.b64decode(uri.split(",", 1)[1]))
