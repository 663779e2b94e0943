"""What is in a dataset, and what is wrong with it: counts, durations, levels, duplicates, leaks.

Each file is read in blocks (:func:`earmark.audio.iter_blocks`, as prediction reads), so memory
stays bounded whatever its length; NaN, infinite or absurd samples (beyond
:data:`earmark.audio.MAX_ABS_SAMPLE`) are reported as problems of their file.
"""

from collections import Counter, defaultdict

import numpy as np
from tqdm.auto import tqdm

from ..audio import ContentHash, iter_blocks
from ..errors import AudioError
from .suggest import extra_suggestions
from .validate import describe_leaks, find_problems, fold_leaks, repeated_clips

__all__ = ["inspect_dataset", "SILENT_DBFS", "CLIPPED_FRACTION"]

#: A file whose peak is below this level (dBFS) is reported as silent.
SILENT_DBFS = -60.0
#: A file with more than this fraction of samples at full scale is reported as clipped.
CLIPPED_FRACTION = 0.001


def _text_or_none(v):
    # pandas reads an empty manifest cell as NaN, not None
    return None if v is None or v != v else str(v)


def _db(x):
    return float(20 * np.log10(max(float(x), 1e-10)))


#: Seconds of a file read at a time (a block of 44.1 kHz stereo is 3.5 MB).
_BLOCK_S = 10.0


def _file_stats(path, info):
    """Peak, RMS, clipped fraction and content hash (:func:`earmark.audio.content_hash`) of a
    file, read in blocks; raises AudioError for a file that does not decode or holds NaN,
    infinite or absurd samples."""
    h = ContentHash(info.sample_rate, info.channels)
    peak = square_sum = 0.0
    n = n_clipped = 0
    for y in iter_blocks(path, block_s=_BLOCK_S, mono=False):
        a = np.abs(y)
        peak = max(peak, float(a.max()))
        d = y.astype(np.float64).ravel()
        square_sum += float(d @ d)
        n_clipped += int(np.count_nonzero(a >= 0.999))
        n += a.size
        h.update(y)
    rms = float(np.sqrt(square_sum / n)) if n else 0.0
    return {"peak_dbfs": _db(peak), "rms_dbfs": _db(rms),
            "clipped_fraction": n_clipped / n if n else 0.0, "hash": h.hexdigest()}


def inspect_dataset(dataset, *, fold_column="fold", min_per_class=2, progress=True):
    """Describe ``dataset`` and list its problems (never raises for bad files: reports them).

    Returns a JSON-able dict: per-class counts and durations, folds, sample rates, channels, one
    entry per file (duration, rate, channels, peak/RMS level, clipped fraction, content hash,
    silent/clipped flags), exact duplicates by content hash (``leak`` when copies sit in different
    folds), ``repeated_clips`` (a file or region listed more than once, see
    :func:`~earmark.data.validate.repeated_clips`), ``path_leaks`` (one file listed in several
    folds, see :func:`~earmark.data.validate.fold_leaks`), problems and suggestions.

    ``multi_label`` says whether clips carry sets of labels. For a multi-label dataset a class's
    ``count`` (overall and per fold) is the number of clips tagged with it, ``tags_per_clip``
    maps a number of tags ("0", "1", ...) to the number of clips with that many, ``n_untagged``
    counts the clips with none, and with strong annotations ``n_events`` (overall and per class)
    counts the events. Each file entry has ``labels``, the list of its labels (``[label]`` for a
    single-label dataset, which also gets ``tags_per_clip`` and ``n_untagged``).

    Examples
    --------
    >>> report = inspect_dataset(load_dataset("drums/"))     # doctest: +SKIP
    >>> report["classes"]["kick"]["count"]                    # doctest: +SKIP
    120
    """
    problems, infos = find_problems(dataset, min_per_class=min_per_class, progress=progress)
    t = dataset.table
    multi = bool(getattr(dataset, "is_multi_label", False))
    label_sets = dataset.label_sets
    has_folds = fold_column in t.columns and t[fold_column].notna().any()
    stats = {}
    for path in tqdm(sorted(infos), desc="reading audio", disable=not progress, unit="file"):
        try:
            stats[path] = _file_stats(path, infos[path])
        except AudioError as exc:  # data that does not decode, or NaN / absurd samples
            problems.append(str(exc))
    files, durations = [], defaultdict(list)
    for row, labels in zip(t.itertuples(index=False), label_sets):
        i, s = infos.get(row.path), stats.get(row.path)
        if i is None or s is None:
            continue
        start = 0.0 if row.start_s != row.start_s else row.start_s
        end = i.duration_s if row.end_s != row.end_s else row.end_s
        fold = getattr(row, fold_column, None) if has_folds else None
        files.append({"path": row.path, "label": row.label, "labels": list(labels),
                      "fold": _text_or_none(fold), "group": _text_or_none(row.group),
                      "duration_s": float(end - start), "sample_rate": i.sample_rate,
                      "channels": i.channels, **s,
                      "silent": s["peak_dbfs"] < SILENT_DBFS,
                      "clipped": s["clipped_fraction"] > CLIPPED_FRACTION})
        for lab in labels:
            durations[lab].append(float(end - start))
    tag_counts = Counter(lab for labels in label_sets for lab in labels)
    classes = {lab: {"count": int(tag_counts[lab]),
                     "duration_s_total": float(np.sum(durations[lab])) if durations[lab] else 0.0,
                     "duration_s_mean": float(np.mean(durations[lab])) if durations[lab] else 0.0,
                     "duration_s_min": float(np.min(durations[lab])) if durations[lab] else 0.0,
                     "duration_s_max": float(np.max(durations[lab])) if durations[lab] else 0.0}
               for lab in dataset.labels}
    folds = None
    if has_folds:
        folds = {}
        for f, labels in zip(t[fold_column], label_sets):
            if _text_or_none(f) is not None:     # a clip without a fold is in no fold
                counter = folds.setdefault(str(f), Counter())
                for lab in labels:
                    counter[lab] += 1
        folds = {f: dict(sorted(c.items())) for f, c in sorted(folds.items())}
    by_hash = defaultdict(list)
    for f in files:
        by_hash[f["hash"]].append(f)
    duplicates = []
    for h, fs in sorted(by_hash.items()):
        paths = sorted({f["path"] for f in fs})
        if len(paths) < 2:
            continue
        fold_vals = [f["fold"] for f in fs]
        duplicates.append({"hash": h, "paths": paths, "folds": fold_vals,
                           "labels": sorted({f["label"] for f in fs}),
                           "leak": len({v for v in fold_vals if v is not None}) > 1})
    for d in duplicates:
        if d["leak"]:
            problems.append(f"leakage: identical audio in folds {sorted(set(d['folds']))}: "
                            + ", ".join(d["paths"]))
        if len(d["labels"]) > 1:
            problems.append(f"identical audio with different labels {d['labels']}: "
                            + ", ".join(d["paths"]))
    # the same file named twice, not only copied under another name
    repeats, repeat_problems = repeated_clips(dataset,
                                              fold_column=fold_column if has_folds else None)
    path_leaks = fold_leaks(dataset, column=fold_column) if has_folds else []
    problems += repeat_problems
    problems += ["leakage: " + p for p in describe_leaks(dataset, path_leaks,
                                                         column=fold_column)]
    result = {"root": dataset.source, "n_files": len(set(t["path"])), "n_clips": len(t),
            "total_duration_s": float(sum(f["duration_s"] for f in files)),
            "classes": classes, "folds": folds,
            "sample_rates": {str(k): v for k, v in sorted(Counter(
                f["sample_rate"] for f in files).items())},
            "channels": {str(k): v for k, v in sorted(Counter(
                f["channels"] for f in files).items())},
            "files": files, "duplicates": duplicates, "repeated_clips": repeats,
            "path_leaks": path_leaks, "problems": problems,
            "multi_label": multi,
            "tags_per_clip": {str(k): v for k, v in sorted(Counter(
                len(labels) for labels in label_sets).items())},
            "n_untagged": sum(1 for labels in label_sets if not labels)}
    annotations = getattr(dataset, "annotations", None)
    if annotations is not None:
        events = Counter(annotations["event_label"])
        result["n_events"] = len(annotations)
        for lab, c in classes.items():
            c["n_events"] = int(events.get(lab, 0))
    result["suggestions"] = _suggestions(result)
    return result


def _suggestions(inspection):
    out = extra_suggestions(inspection)
    files = inspection["files"]
    n_silent = sum(f["silent"] for f in files)
    if n_silent:
        out.append(f"{n_silent} silent file(s) (peak below {SILENT_DBFS:g} dBFS): check them or "
                   "remove them.")
    n_clip = sum(f["clipped"] for f in files)
    if n_clip:
        out.append(f"{n_clip} clipped file(s): distortion the model may learn as a cue.")
    return out
