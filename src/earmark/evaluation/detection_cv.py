"""Cross-validation of a sound event detector, judged with the DCASE metrics.

The same honest protocol as every task (:func:`earmark.cross_validate`: predefined or grouped
folds, the validation split by group inside each training fold, audio decoded once), but a
fold is judged as a whole: its test recordings' frame scores give PSDS1 and PSDS2, and their
events (after the fold's tuned post-processing) give collar-based event F1 and 1-s segment F1
and error rate (:mod:`earmark.evaluation.detection`).
"""

import time

import numpy as np

from ..bundle import library_versions
from ..data import cv_splits, load_clips, load_dataset, validate_dataset
from ..data.annotations import clip_events
from ..errors import BudgetExceededError, ParameterError
from ..tasks import get_task

__all__ = ["cross_validate_detection"]

#: The scalar metrics of a fold (means over folds in the result, with ``_std``).
SCALARS = ("psds1", "psds2", "collar_f1", "collar_f1_micro", "segment_f1", "segment_f1_macro",
           "segment_er", "collar_precision", "collar_recall", "segment_precision",
           "segment_recall")


def _ids(index):
    return [f"clip{i:05d}" for i in index]


def _fold_examples(fold, index, ids, dataset, frames, detected, truth, labels, n):
    """The ``n`` test recordings with the most reference events, for the report."""
    order = sorted(range(len(index)), key=lambda k: (-len(truth[ids[k]]), index[k]))[:n]
    out = []
    for k in order:
        fs = frames[k]
        active = [j for j, c in enumerate(labels)]
        out.append({
            "fold": str(fold), "path": dataset.table["path"].iloc[index[k]],
            "duration_s": fs.duration_s,
            "reference": [[round(a, 4), round(b, 4), c] for a, b, c in truth[ids[k]]],
            "detected": [[round(a, 4), round(b, 4), c, round(float(s), 4)]
                         for a, b, c, s in detected[ids[k]]],
            "frame_step_s": fs.frame_step_s,
            "scores": {labels[j]: [round(float(v), 4) for v in fs.scores[:, j]]
                       for j in active}})
    return out


def cross_validate_detection(data, *, folds=None, groups=None, n_splits=5, estimator,
                             progress=True, time_limit_s=None, n_examples=3):
    """Cross-validate a :class:`~earmark.SoundDetector`; what :func:`earmark.cross_validate`
    returns for it.

    Returns
    -------
    dict
        ``task`` ('detection'), ``primary_metric`` ('psds1'), the means over folds of
        ``psds1``, ``psds2``, ``collar_f1`` (macro over classes, 200-ms onset collar, offset
        collar max(200 ms, 20 %)), ``collar_f1_micro``, ``segment_f1`` (1-s segments, micro),
        ``segment_f1_macro``, ``segment_er``, precisions and recalls, each with ``_std``;
        ``per_class`` (events of all folds pooled; post-processing settings: means over folds),
        ``folds`` (per fold: the metrics, ``per_class``, ``psd_roc``, ``postprocessing``,
        training history), ``examples`` (a few test recordings per fold with reference and
        detected events and frame scores, for the report), ``predictions`` (per test recording:
        reference and detected events), ``config``, ``versions``, ``protocol``, ``wall_s``.
    """
    from .detection import collar_metrics, detection_metrics, segment_metrics
    from ..inference.outputs import score_dataframe
    from ..inference.postprocess import smooth_scores
    from .cross_validation import clone

    t0 = time.perf_counter()
    task = get_task("detection")
    features, train, augmentation, embedder = estimator.check_params()
    dataset = load_dataset(data)
    if dataset.annotations is None:
        raise ParameterError(f"{dataset.source}: evaluating a detector needs strong labels (an "
                             "annotation table with filename, onset, offset, event_label) to "
                             "judge its events against, even for a model trained with weak=True")
    validate_dataset(dataset, progress=progress)
    from ..data import check_dataset_events
    check_dataset_events(dataset)         # every event problem at once, with file and line
    splits = cv_splits(dataset, folds=folds, groups=groups, n_splits=n_splits,
                       seed=estimator.seed)
    sr = features.sample_rate
    clips = load_clips(dataset, sample_rate=sr, progress=progress)
    labels = dataset.labels
    events = clip_events(dataset, labels, sample_rate=sr)
    ids_all = _ids(range(len(dataset)))
    truth = {ids_all[i]: [(a / sr, b / sr, labels[c]) for a, b, c in ev]
             for i, ev in enumerate(events)}
    durations = {ids_all[i]: len(c) / sr for i, c in enumerate(clips)}
    group_col = groups or ("group" if dataset.has_column("group") or not folds else folds)
    fold_results, examples, predictions = [], [], []
    pooled_detected = {}
    for name, tr, te in splits:
        tf = time.perf_counter()
        if progress:
            print(f"fold {name}: {len(tr)} training recordings, {len(te)} test recordings",
                  flush=True)
        est = clone(estimator)
        est.fit(dataset.subset(tr), clips=[clips[i] for i in tr], group_column=group_col,
                deadline=None if time_limit_s is None else t0 + time_limit_s)
        frames = est.frame_scores_of_clips([clips[i] for i in te])
        ids = [ids_all[i] for i in te]
        scores, detected = {}, {}
        for k, fs in zip(ids, frames):
            # PSDS is computed on the median-filtered scores (each class's tuned filter), as
            # the DCASE baselines do: raw frame scores flicker, and every flicker above a
            # threshold would be a false detection of its own
            smooth = smooth_scores(fs.scores, frame_step_s=fs.frame_step_s,
                                   postprocessing=est.postprocessing_)
            full = np.zeros((len(fs.scores), len(labels)))
            for j, c in enumerate(est.classes_):   # a class absent from training scores 0
                full[:, labels.index(c)] = smooth[:, j]
            scores[k] = score_dataframe(full, frame_step_s=fs.frame_step_s, classes=labels)
            detected[k] = [tuple(e) for e in est.events(fs)]
        fold_truth = {k: truth[k] for k in ids}
        m = detection_metrics(scores, {k: [e[:3] for e in v] for k, v in detected.items()},
                              fold_truth, {k: durations[k] for k in ids}, labels)
        pooled_detected.update(detected)
        pp = est.postprocessing_.to_dict()
        entry = {"fold": str(name), "n_train": int(len(tr)), "n_test": int(len(te)),
                 **{k: m.get(k) for k in SCALARS}, "per_class": m["per_class"],
                 "psd_roc": m.get("psd_roc"), "postprocessing": pp,
                 "postprocessing_source": est.postprocessing_source_,
                 "history": est.history_, "best_epoch": est.train_info_.get("best_epoch"),
                 "train_info": {k: v for k, v in est.train_info_.items()
                                if k in ("best_epoch", "epochs_run", "stopped_early",
                                         "n_train_clips", "n_val_clips", "wall_s")},
                 "window_s": est.features_.window_s, "frame_step_s": est.frame_step_s_,
                 "wall_s": time.perf_counter() - tf}
        fold_results.append(entry)
        examples += _fold_examples(name, list(te), ids, dataset, frames, detected, truth,
                                   labels, n_examples)
        for i, k in zip(te, ids):
            predictions.append({"path": dataset.table["path"].iloc[i], "fold": str(name),
                                "reference": [list(e) for e in truth[k]],
                                "detected": [list(e) for e in detected[k]]})
        if progress:
            print(f"fold {name}: PSDS1 {_f(m.get('psds1'))}, PSDS2 {_f(m.get('psds2'))}, "
                  f"collar F1 {_f(m.get('collar_f1'))}, segment F1 {_f(m.get('segment_f1'))} "
                  f"({entry['wall_s']:.0f} s)", flush=True)
        elapsed = time.perf_counter() - t0
        left = len(splits) - len(fold_results)
        if time_limit_s is not None and left and \
                elapsed + left * elapsed / len(fold_results) > time_limit_s:
            raise BudgetExceededError(
                f"cross-validation stopped after {len(fold_results)} of {len(splits)} folds: "
                "over the time limit", completed=fold_results)
    result = {"task": task.name, "primary_metric": task.primary_metric,
              **task.fold_means(fold_results)}
    tested = list(pooled_detected)
    det_events = {k: [e[:3] for e in pooled_detected[k]] for k in tested}
    ref = {k: truth[k] for k in tested}
    collar = collar_metrics(det_events, ref, labels)
    segment = segment_metrics(det_events, ref, {k: durations[k] for k in tested}, labels)
    per_class = {}
    for c in labels:
        cm, sm = collar["per_class"].get(c, {}), segment["per_class"].get(c, {})
        row = {"collar_f1": cm.get("f1"), "collar_precision": cm.get("precision"),
               "collar_recall": cm.get("recall"), "segment_f1": sm.get("f1"),
               "segment_precision": sm.get("precision"), "segment_recall": sm.get("recall"),
               "n_ref": int(sum(e[2] == c for k in tested for e in ref[k])),
               "n_detected": int(sum(e[2] == c for k in tested for e in det_events[k]))}
        j = labels.index(c)
        for key in ("onset_threshold", "offset_threshold", "median_filter_s", "min_duration_s",
                    "min_gap_s"):
            vals = []
            for f in fold_results:
                v = f["postprocessing"].get(key)
                if isinstance(v, (list, tuple)) and len(v) == len(labels):
                    vals.append(float(v[j]))
            row[key] = float(np.mean(vals)) if vals else None
        per_class[c] = row
    params = estimator.get_params()
    result.update({
        "labels": labels, "per_class": per_class, "folds": fold_results, "examples": examples,
        "predictions": predictions,
        "config": {"features": features.to_dict(),
                   "estimator": {k: (v.to_dict() if hasattr(v, "to_dict") else v)
                                 for k, v in params.items() if k != "progress"},
                   "task": task.name,
                   "training": None if train is None else train.to_dict(),
                   "augmentation": None if augmentation is None else augmentation.to_config()},
        "recipe": estimator.recipe, "estimator": {k: v for k, v in params.items()
                                                  if k not in ("progress", "features")},
        "versions": library_versions(), "dataset": dataset.source,
        "protocol": f"folds={folds}" if folds else f"groups={groups}, k={n_splits}",
        "n_clips": len(dataset), "wall_s": time.perf_counter() - t0})
    return result


def _f(v):
    return "-" if v is None else f"{v:.3f}"
