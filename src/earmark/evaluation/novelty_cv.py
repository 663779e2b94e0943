"""Cross-validation of a novelty detector: fit on the normal clips of the other folds, score
every clip of the test fold.

The same honest protocol as every task (:func:`earmark.cross_validate`): predefined folds
(``folds='fold'``) or grouped k-fold (``groups='group'``), audio decoded and embedded once.
Only the training folds' *normal* clips (label ``normal_label``) are fitted on; the thresholds
come from normal clips held out inside them by group; the test fold's normal clips are never
seen. Each fold is judged by :func:`earmark.evaluation.novelty.novelty_metrics` (ROC-AUC,
pAUC at FPR 0.1, and false-alarm rate and recall at the fold's file threshold), per anomaly
family too.
"""

import time

import numpy as np

from ..bundle import library_versions
from ..data import cv_splits, load_clips, load_dataset
from ..errors import DatasetError
from ..tasks import get_task
from .novelty import NOVELTY_METRICS

__all__ = ["cross_validate_novelty", "FAMILY_COLUMNS"]

#: Columns that name an anomalous clip's family, looked for in this order (else its label).
FAMILY_COLUMNS = ("anomaly_family", "family")


def _families(dataset, family_column):
    table = dataset.table
    if family_column is not None:
        if family_column not in table.columns:
            raise DatasetError(f"{dataset.source}: no column {family_column!r} naming the "
                               "anomaly families", [f"columns: {list(table.columns)}"])
        col = family_column
    else:
        col = next((c for c in FAMILY_COLUMNS if c in table.columns), "label")
    values = table[col].astype(object).where(table[col].notna(), table["label"])
    return np.array([str(v) if str(v) else str(lab)
                     for v, lab in zip(values, table["label"])], dtype=object), col


def cross_validate_novelty(data, *, folds=None, groups=None, n_splits=5, estimator,
                           progress=True, family_column=None):
    """Cross-validate a :class:`~earmark.NoveltyDetector`; what :func:`earmark.cross_validate`
    returns for it.

    Parameters
    ----------
    data : str, path-like or Dataset
        Labelled clips: ``label`` is the detector's ``normal_label`` ('normal') for normal
        clips and anything else for anomalies.
    folds, groups, n_splits
        As for :func:`earmark.cross_validate`.
    estimator : NoveltyDetector
    family_column : str or None
        The column naming each anomaly's family (None: ``anomaly_family`` or ``family`` when
        present, else the label).

    Returns
    -------
    dict
        ``task`` ('novelty'), ``primary_metric`` ('roc_auc'), means over folds of
        ``roc_auc``, ``pauc``, ``false_alarm_rate`` and ``recall`` (each with ``_std``),
        ``window_false_alarm_rate`` (test normal windows above the window threshold, mean over
        folds), ``per_family`` (means over folds of each family's ``roc_auc``, ``pauc``,
        ``recall``), ``folds`` (per fold: the metrics, thresholds, counts), ``predictions``
        (per test clip: path, fold, label, family, anomalous, score, tail_probability,
        flagged), ``config``, ``versions``, ``dataset``, ``protocol``, ``wall_s``.

    Examples
    --------
    >>> cv = earmark.cross_validate("anomaly/", folds="fold",
    ...                             estimator=earmark.NoveltyDetector())   # doctest: +SKIP
    >>> cv["roc_auc"], cv["false_alarm_rate"]                              # doctest: +SKIP
    (0.87, 0.05)
    """
    from ..models.embedded import embedder_features
    from .cross_validation import clone

    t0 = time.perf_counter()
    task = get_task("novelty")
    embedder = estimator.check_params()
    dataset = load_dataset(data)
    estimator.validate_files(dataset, progress=progress)
    splits = cv_splits(dataset, folds=folds, groups=groups, n_splits=n_splits,
                       seed=estimator.seed)
    sr = embedder_features(embedder).sample_rate
    clips = load_clips(dataset, sample_rate=sr, progress=progress)
    embeddings = estimator.embed_clips(clips, embedder=embedder)
    labels = dataset.table["label"].to_numpy().astype(str)
    normal = labels == estimator.normal_label
    if not normal.any():
        raise DatasetError(f"{dataset.source}: no clip is labelled {estimator.normal_label!r}; "
                           "novelty cross-validation fits on normal clips",
                           [f"labels: {sorted(set(labels))[:20]}"])
    families, family_col = _families(dataset, family_column)
    group_col = groups or ("group" if dataset.has_column("group") or not folds else folds)
    group_values = dataset.column(group_col) if dataset.has_column(group_col) else None
    durations = np.array([len(c) / sr for c in clips])
    fold_results, predictions = [], []
    for name, tr, te in splits:
        tf = time.perf_counter()
        fit_idx = tr[normal[tr]]
        if progress:
            print(f"fold {name}: fitting on {len(fit_idx)} normal clips, testing {len(te)} "
                  f"clips", flush=True)
        est = clone(estimator, progress=False)
        est.fit_embeddings([embeddings[i] for i in fit_idx],
                           groups=None if group_values is None else group_values[fit_idx],
                           durations_s=durations[fit_idx], embedder=embedder)
        window_scores = est.score_embeddings([embeddings[i] for i in te])
        scores = np.array([est._aggregate(s) for s in window_scores])
        m = task.metrics((~normal[te]).astype(float), scores,
                         thresholds=est.file_threshold_, families=families[te])
        test_normal = [s for s, k in zip(window_scores, normal[te]) if k]
        window_far = float(np.mean(np.concatenate(test_normal) > est.threshold_)) \
            if test_normal else None
        entry = {"fold": str(name), "n_fit": int(len(fit_idx)), "n_test": int(len(te)),
                 **m, "window_false_alarm_rate": window_far,
                 "window_threshold": est.threshold_, "file_threshold": est.file_threshold_,
                 "false_alarm_fraction": list(est.false_alarm_fraction_),
                 "wall_s": time.perf_counter() - tf}
        fold_results.append(entry)
        p = est.tail_probability(scores, level="file")
        t = dataset.table.iloc[te]
        for k, (i, path) in enumerate(zip(te, t["path"])):
            predictions.append({"path": path, "fold": str(name), "label": labels[i],
                                "family": None if normal[i] else families[i],
                                "anomalous": bool(not normal[i]), "score": float(scores[k]),
                                "tail_probability": float(p[k]),
                                "flagged": bool(scores[k] > est.file_threshold_)})
        if progress:
            shown = ", ".join(f"{key} {m[key]:.3f}" for key in NOVELTY_METRICS
                              if m.get(key) is not None)
            print(f"fold {name}: {shown} ({entry['wall_s']:.1f} s)", flush=True)
    result = {"task": task.name, "primary_metric": task.primary_metric,
              **task.fold_means(fold_results)}
    far = [f["window_false_alarm_rate"] for f in fold_results
           if f["window_false_alarm_rate"] is not None]
    result["window_false_alarm_rate"] = float(np.mean(far)) if far else None
    per_family = {}
    for fam in sorted({f for fr in fold_results for f in fr.get("per_family", {})}):
        entry = {}
        for key in ("roc_auc", "pauc", "recall"):
            vals = [fr["per_family"][fam][key] for fr in fold_results
                    if fam in fr.get("per_family", {}) and
                    fr["per_family"][fam][key] is not None]
            entry[key] = float(np.mean(vals)) if vals else None
        entry["n"] = int(sum(fr["per_family"].get(fam, {}).get("n", 0) for fr in fold_results))
        per_family[fam] = entry
    params = estimator.get_params()
    result.update({
        "per_family": per_family, "family_column": family_col,
        "false_alarms": estimator.false_alarms,
        "folds": fold_results, "predictions": predictions,
        "config": {"estimator": {k: v for k, v in params.items() if k != "progress"},
                   "task": task.name, "features": embedder_features(embedder).to_dict()},
        "versions": library_versions(), "dataset": dataset.source,
        "protocol": f"folds={folds}" if folds else f"groups={groups}, k={n_splits}",
        "n_clips": len(dataset), "wall_s": time.perf_counter() - t0})
    return result
