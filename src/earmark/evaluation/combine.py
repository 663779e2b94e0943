"""Combining cross-validation results: the cross-validation of an ensemble, for free."""

import numpy as np

from ..errors import ParameterError
from ..tasks import get_task

__all__ = ["combine_cv_results"]


def combine_cv_results(results):
    """The cross-validation of the ensemble of several recipes, from their results.

    Averaging the out-of-fold scores of cross-validation results of the same folds is exactly
    the cross-validation of the ensemble of those recipes (each member is trained on the same
    training clips of each fold), at no extra training cost; ``--recipe auto`` uses it to score
    ensembles of its best candidates. Results of one task only; for tagging, each fold's
    thresholds are the mean of the members' thresholds for that fold.

    Parameters
    ----------
    results : sequence of dict
        :func:`earmark.cross_validate` results of the same dataset, folds and task (at least 2).

    Returns
    -------
    dict
        As :func:`earmark.cross_validate`'s: the task's metrics (means over folds) and their
        ``_std``, pooled ``per_class`` (and ``confusion_matrix`` for classification),
        ``folds`` (per-fold metrics), ``predictions`` (the averaged scores), ``labels``, plus
        ``members`` (each member's score, settings and wall time); ``wall_s`` is the sum of the
        members'.

    Examples
    --------
    >>> cnn = earmark.cross_validate("drums/", folds="fold")                      # doctest: +SKIP
    >>> bird = earmark.cross_validate("drums/", folds="fold",
    ...                               recipe="embed:birdnet+logreg")              # doctest: +SKIP
    >>> combine_cv_results([cnn, bird])["balanced_accuracy"]                      # doctest: +SKIP
    0.78
    """
    from .cross_validation import _jsonable_answer, _pooled

    if len(results) < 2:
        raise ParameterError(f"combine_cv_results needs at least 2 results; got {len(results)}")
    task = get_task(results[0].get("task", "classification"))
    labels = list(results[0]["labels"])

    def key(p):
        return (p["path"], p["start_s"], p["end_s"])

    first = results[0]["predictions"]
    keys = [key(p) for p in first]
    probs = np.zeros((len(first), len(labels)))
    for r in results:
        if r.get("task", "classification") != task.name:
            raise ParameterError(f"results to combine must be of one task: {task.name!r} vs "
                                 f"{r.get('task', 'classification')!r}")
        if list(r["labels"]) != labels:
            raise ParameterError(f"results to combine must have the same labels: {labels} vs "
                                 f"{r['labels']}")
        by_key = {key(p): p for p in r["predictions"]}
        if set(by_key) != set(keys):
            raise ParameterError("results to combine must cover the same clips (the same "
                                 "dataset and folds)")
        for i, k in enumerate(keys):
            probs[i] += [by_key[k]["probabilities"][c] for c in labels]
    probs /= len(results)
    true_sets = [(p["label"],) if task.name == "classification" else tuple(p["labels"])
                 for p in first]
    truth = task.encode(true_sets, labels)
    fold = np.array([p["fold"] for p in first], dtype=object)
    member_folds = [{str(f["fold"]): f for f in r.get("folds", [])} for r in results]
    folds, splits, pred = [], [], [None] * len(first)
    for f in dict.fromkeys(fold):
        sel = np.flatnonzero(fold == f)
        own = [m.get(str(f), {}) for m in member_folds]
        thresholds = None
        if all("thresholds" in o for o in own):
            thresholds = np.mean([[o["thresholds"][c] for c in labels] for o in own], axis=0)
        answers = task.decide(probs[sel], labels, thresholds=thresholds)
        for i, a in zip(sel, answers):
            pred[i] = _jsonable_answer(a)
        entry = {"fold": f, "n_train": own[0].get("n_train"), "n_test": int(len(sel)),
                 **task.metrics(truth[sel], probs[sel], labels, thresholds=thresholds),
                 "history": [], "best_epoch": None,
                 "wall_s": float(sum(m.get("wall_s") or 0.0 for m in own))}
        if thresholds is not None:
            entry["thresholds"] = {c: float(t) for c, t in zip(labels, thresholds)}
        folds.append(entry)
        splits.append((f, None, sel))
    out = {"task": task.name, "primary_metric": task.primary_metric, **task.fold_means(folds)}
    out.update(_pooled(task, truth, probs, labels, folds, splits))
    out.update({"labels": labels, "folds": folds,
                "members": [{k: r.get(k) for k in (task.primary_metric, "config", "wall_s")}
                            for r in results],
                "config": {"ensemble": [r.get("config") for r in results]},
                "dataset": results[0].get("dataset"), "protocol": results[0].get("protocol"),
                "n_clips": len(first),
                "wall_s": float(sum(r.get("wall_s") or 0.0 for r in results))})
    out["predictions"] = [{**p, "predicted": pred[i],
                           "probabilities": {c: float(probs[i, j]) for j, c in enumerate(labels)}}
                          for i, p in enumerate(first)]
    return out
