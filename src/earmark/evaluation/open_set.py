"""Open-set evaluation: hold whole classes out as unknown, and judge how well a classifier's
rejection scores tell them from the classes it knows.

For each held-out set of classes (every class in turn, or the sets given) and each test fold:
a classifier (:class:`~earmark.SoundClassifier` with ``unknown=``) is trained on the *known*
classes of the other folds, exactly as ``fit`` does it (its threshold set on known-class clips
held out of training by group); then the test fold's known-class clips and held-out-class
clips are scored by every rejection score (:data:`~earmark.models.rejection.REJECTION_SCORES`)
of that one model. Per score:

- ``auroc``: ROC-AUC of unknown (positive) against known test clips, by
  :func:`sklearn.metrics.roc_auc_score`;
- ``known_accuracy``: the share of known test clips answered with their own class (neither
  rejected nor misclassified) at the threshold;
- ``known_rejected``, ``unknown_rejected``: the shares rejected at the threshold (the first
  should be near the ``unknown`` budget, the second as high as possible);
- ``threshold``: from the training folds' held-out known clips.

``closed_accuracy`` is the known test clips' accuracy without rejection.
"""

import time

import numpy as np

from ..bundle import library_versions
from ..data import cv_splits, load_clips, load_dataset, validate_dataset
from ..errors import DatasetError, ParameterError
from ..models.rejection import REJECTION_SCORES

__all__ = ["open_set_metrics", "evaluate_open_set", "OPEN_SET_METRICS"]

#: The per-score metrics of :func:`open_set_metrics`.
OPEN_SET_METRICS = ("auroc", "known_accuracy", "known_rejected", "unknown_rejected")


def open_set_metrics(known_scores, unknown_scores, *, threshold=None, known_correct=None):
    """AUROC of rejection scores (unknown against known clips), and the decisions at a
    threshold.

    Parameters
    ----------
    known_scores, unknown_scores : array-like of float
        Rejection scores (higher: less like a known class) of known- and unknown-class clips.
    threshold : float or None
        A clip is rejected when its score is above it; None: no decision metrics.
    known_correct : array-like of bool or None
        Whether each known clip's class prediction is right (for ``known_accuracy``).

    Returns
    -------
    dict
        ``auroc`` (None without clips of both kinds), ``known_rejected``,
        ``unknown_rejected``, ``known_accuracy`` (None where undefined), ``threshold``,
        ``n_known``, ``n_unknown``.

    Examples
    --------
    >>> m = open_set_metrics([0.1, 0.2, 0.6], [0.5, 0.9], threshold=0.55,
    ...                      known_correct=[True, False, True])
    >>> round(m["auroc"], 4), m["known_rejected"], m["unknown_rejected"], m["known_accuracy"]
    (0.8333, 0.3333333333333333, 0.5, 0.3333333333333333)
    """
    from sklearn.metrics import roc_auc_score  # slow import: lazy

    k = np.asarray(known_scores, np.float64).reshape(-1)
    u = np.asarray(unknown_scores, np.float64).reshape(-1)
    if not (np.all(np.isfinite(k)) and np.all(np.isfinite(u))):
        raise ParameterError("open_set_metrics: rejection scores must be finite")
    auroc = None
    if len(k) and len(u):
        auroc = float(roc_auc_score(np.r_[np.zeros(len(k)), np.ones(len(u))], np.r_[k, u]))
    out = {"auroc": auroc, "known_rejected": None, "unknown_rejected": None,
           "known_accuracy": None, "threshold": None if threshold is None else float(threshold),
           "n_known": int(len(k)), "n_unknown": int(len(u))}
    if threshold is not None:
        out["known_rejected"] = float(np.mean(k > threshold)) if len(k) else None
        out["unknown_rejected"] = float(np.mean(u > threshold)) if len(u) else None
        if known_correct is not None and len(k):
            ok = np.asarray(known_correct, bool).reshape(-1)
            if ok.shape != k.shape:
                raise ParameterError(f"open_set_metrics: {len(ok)} correctness flags for "
                                     f"{len(k)} known clips")
            out["known_accuracy"] = float(np.mean(ok & (k <= threshold)))
    return out


def _held_out_sets(labels, unknown_classes):
    if unknown_classes is None:
        return [[c] for c in labels]
    sets = [[c] if isinstance(c, str) else list(c) for c in unknown_classes]
    for s in sets:
        bad = sorted(set(s) - set(labels))
        if bad or not s:
            raise ParameterError(f"The 'unknown_classes' parameter of evaluate_open_set must "
                                 f"name classes of the dataset ({labels}). Got {bad or s!r} "
                                 "instead.")
        if len(set(labels) - set(s)) < 2:
            raise ParameterError(f"evaluate_open_set: holding out {s} leaves fewer than 2 "
                                 "known classes to train on")
    return sets


def evaluate_open_set(data, *, estimator, folds=None, groups=None, n_splits=5,
                      unknown_classes=None, test_folds=None, unknown_from="test_fold",
                      scores=REJECTION_SCORES, progress=True):
    """Leave classes out as unknown in turn and measure every rejection score.

    Parameters
    ----------
    data : str, path-like or Dataset
        A single-label classification dataset with at least 3 classes.
    estimator : SoundClassifier
        The recipe; its ``unknown`` (default '5%') and ``rejection`` are kept, and every score
        in ``scores`` is measured on the same trained model.
    folds, groups, n_splits
        As for :func:`earmark.cross_validate`: predefined folds or grouped k-fold.
    unknown_classes : list or None
        None: every class in turn. Else a list of classes, or of lists of classes, each held
        out together (a stated split).
    test_folds : list of str or None
        Only these test folds (None: all): fewer trainings.
    unknown_from : {'test_fold', 'all'}
        The unknown clips scored: the held-out classes' clips in the test fold, or all of
        them (none was trained on; more unknown clips when only a few test folds are run, but
        some come from recording groups whose other classes were trained on).
    scores : tuple of str
        The rejection scores measured.

    Returns
    -------
    dict
        ``default`` (the estimator's rejection score), ``scores``, ``summary`` (per score: the
        mean over runs of each of :data:`OPEN_SET_METRICS`), ``closed_accuracy`` (mean),
        ``per_class`` (held-out set -> score -> mean AUROC), ``runs`` (one per held-out set and
        test fold, with every metric), ``protocol``, ``config``, ``versions``, ``wall_s``.

    Examples
    --------
    >>> r = evaluate_open_set("drums/", folds="fold", test_folds=["1"],
    ...                       estimator=earmark.SoundClassifier(epochs=20))  # doctest: +SKIP
    >>> r["summary"]["energy"]["auroc"]                                      # doctest: +SKIP
    0.81
    """
    from ..models.rejection import Rejector
    from .cross_validation import clone

    from .._validation import check_choice

    t0 = time.perf_counter()
    check_choice(unknown_from, "unknown_from", "evaluate_open_set", ("test_fold", "all"))
    for s in scores:
        Rejector(score=s)                            # validates the name
    est0 = clone(estimator, unknown=estimator.unknown or "5%", progress=False)
    settings = est0.check_params()
    dataset = load_dataset(data)
    labels = dataset.labels
    if len(labels) < 3:
        raise DatasetError(f"{dataset.source}: open-set evaluation holds classes out as "
                           f"unknown and trains on at least 2 others; the dataset has "
                           f"{len(labels)} class(es)", [f"classes: {labels}"])
    sets = _held_out_sets(labels, unknown_classes)
    validate_dataset(dataset, progress=progress)
    splits = cv_splits(dataset, folds=folds, groups=groups, n_splits=n_splits,
                       seed=estimator.seed)
    if test_folds is not None:
        wanted = {str(f) for f in test_folds}
        splits = [sp for sp in splits if str(sp[0]) in wanted]
        if not splits:
            raise ParameterError(f"The 'test_folds' parameter of evaluate_open_set must name "
                                 f"folds of the split. Got {sorted(wanted)} instead.")
    clips = load_clips(dataset, sample_rate=settings.features.sample_rate, progress=progress)
    y = dataset.table["label"].to_numpy().astype(str)
    group_col = groups or ("group" if dataset.has_column("group") else None)
    runs = []
    for held in sets:
        unknown = np.isin(y, held)
        for fold, tr, te in splits:
            tf = time.perf_counter()
            fit_idx = tr[~unknown[tr]]
            known_te = te[~unknown[te]]
            unknown_te = te[unknown[te]] if unknown_from == "test_fold" else \
                np.flatnonzero(unknown)
            if progress:
                print(f"unknown {'+'.join(held)}, fold {fold}: training on {len(fit_idx)} "
                      f"known clips, testing {len(known_te)} known and {len(unknown_te)} "
                      "unknown", flush=True)
            est = clone(est0)
            est.fit(dataset.subset(fit_idx), group_column=group_col or "group",
                    clips=[clips[i] for i in fit_idx])
            train_part, held_part = est.rejection_split_
            train_clips = [clips[fit_idx[i]] for i in train_part]
            held_clips = [clips[fit_idx[i]] for i in held_part]
            classes = np.array(est.classes_, dtype=object)
            known_clips = [clips[i] for i in known_te]
            predicted = classes[est.predict_clips(known_clips).argmax(axis=1)] \
                if len(known_te) else np.array([], dtype=object)
            correct = predicted == y[known_te]
            run = {"unknown": list(held), "fold": str(fold), "n_train": int(len(train_part)),
                   "n_threshold": int(len(held_part)), "n_known": int(len(known_te)),
                   "n_unknown": int(len(unknown_te)),
                   "closed_accuracy": float(correct.mean()) if len(correct) else None}
            for s in scores:
                rej = est.rejector_ if s == est.rejector_.score else \
                    est.fit_rejector(s, train_clips, held_clips)
                ks = est.clip_rejection_scores(known_clips, rej)
                us = est.clip_rejection_scores([clips[i] for i in unknown_te], rej)
                run[s] = open_set_metrics(ks, us, threshold=rej.threshold_,
                                          known_correct=correct)
            run["wall_s"] = time.perf_counter() - tf
            runs.append(run)
            if progress:
                print("  " + ", ".join(f"{s} AUROC {_fmt(run[s]['auroc'])}" for s in scores)
                      + f" ({run['wall_s']:.0f} s)", flush=True)
    result = _summarise(runs, scores, est0, dataset, folds, groups, n_splits, t0)
    result["unknown_from"] = unknown_from
    return result


def _mean(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _fmt(v):
    return "-" if v is None else f"{v:.3f}"


def _summarise(runs, scores, est, dataset, folds, groups, n_splits, t0):
    summary = {s: {m: _mean([r[s][m] for r in runs]) for m in OPEN_SET_METRICS}
               for s in scores}
    per_class = {}
    for r in runs:
        name = "+".join(r["unknown"])
        per_class.setdefault(name, []).append(r)
    per_class = {name: {s: _mean([r[s]["auroc"] for r in rs]) for s in scores}
                 for name, rs in per_class.items()}
    params = {k: v for k, v in est.get_params().items() if k != "progress"}
    return {"task": "open_set", "default": est.rejection_, "scores": list(scores),
            "unknown": est.unknown, "summary": summary,
            "closed_accuracy": _mean([r["closed_accuracy"] for r in runs]),
            "per_class": per_class, "runs": runs,
            "protocol": f"folds={folds}" if folds else f"groups={groups}, k={n_splits}",
            "config": {"estimator": params}, "versions": library_versions(),
            "dataset": dataset.source, "wall_s": time.perf_counter() - t0}


def format_open_set(result):
    """The table ``earmark evaluate --open-set`` prints: AUROC per held-out class and score,
    then the means and the decisions at the threshold."""
    scores = result["scores"]
    lines = [f"{'unknown class':<20}" + "".join(f"{s + ' AUROC':>15}" for s in scores)]
    for name, m in result["per_class"].items():
        lines.append(f"{name:<20}" + "".join(f"{_fmt(m[s]):>15}" for s in scores))
    lines.append(f"{'mean':<20}" + "".join(f"{_fmt(result['summary'][s]['auroc']):>15}"
                                            for s in scores))
    lines.append("")
    lines.append(f"at the threshold ({result['unknown']} of held-out known clips rejected; "
                 f"closed-set accuracy {_fmt(result['closed_accuracy'])}):")
    lines.append(f"{'score':<12}{'known acc.':>12}{'known rej.':>12}{'unknown rej.':>14}")
    for s in scores:
        m = result["summary"][s]
        mark = " (default)" if s == result["default"] else ""
        lines.append(f"{s:<12}{_fmt(m['known_accuracy']):>12}{_fmt(m['known_rejected']):>12}"
                     f"{_fmt(m['unknown_rejected']):>14}{mark}")
    return "\n".join(lines)
