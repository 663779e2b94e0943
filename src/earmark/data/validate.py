"""Dataset validation: every problem found at once, each naming its file."""

from collections import Counter

from tqdm.auto import tqdm

from ..audio import info as audio_info
from ..errors import AudioError, DatasetError
from .dataset import LABEL_SEPARATOR

__all__ = ["find_problems", "validate_dataset"]

# a region or an event may end up to 1 ms after the file: rounding of the durations written
_SLACK_S = 1e-3


def find_problems(dataset, *, min_duration_s=0.02, min_per_class=2, classes=None,
                  progress=False):
    """List every problem of ``dataset`` without raising.

    Parameters
    ----------
    classes : list of str or None
        The labels a model knows: any other label is reported. None: any label is accepted.

    Returns
    -------
    problems : list of str
        Missing, unreadable or empty files, clips shorter than ``min_duration_s``, regions beyond
        the end of their file, classes with fewer than ``min_per_class`` clips and labels
        outside ``classes``. For a multi-label dataset also: empty ``labels`` cells, annotations
        of files not in the metadata, a clip listed twice with different labels, a ``label``
        outside its row's ``labels``, labels that differ only by case or surrounding whitespace,
        labels holding ',' or '|' (the separator is ';'), and annotated events with onset not
        before offset, a negative onset or an offset after the end of the file.
    infos : dict
        path -> :class:`earmark.audio.AudioInfo` for every readable file.

    Examples
    --------
    >>> ds = load_dataset("scenes/")                                 # doctest: +SKIP
    >>> problems, infos = find_problems(ds, classes=["dog", "bell"])   # doctest: +SKIP
    """
    problems, infos = [], {}
    t = dataset.table
    for path in tqdm(sorted(set(t["path"])), desc="checking files", disable=not progress,
                     unit="file"):
        try:
            i = audio_info(path)
        except AudioError as exc:
            problems.append(str(exc))
            continue
        if i.frames == 0:
            problems.append(f"{path}: no audio samples (empty file)")
            continue
        infos[path] = i
    for path, start, end in zip(t["path"], t["start_s"], t["end_s"]):
        i = infos.get(path)
        if i is None:
            continue
        s = 0.0 if start != start else float(start)      # NaN -> whole file
        e = i.duration_s if end != end else float(end)
        if s >= i.duration_s:
            problems.append(f"{path}: region starts at {s:.3f} s, after the end of the file "
                            f"({i.duration_s:.3f} s)")
        elif e - s < min_duration_s:
            problems.append(f"{path}: too short ({(e - s) * 1000:.1f} ms; at least "
                            f"{min_duration_s * 1000:.0f} ms needed)")
        elif e > i.duration_s + _SLACK_S:
            problems.append(f"{path}: region ends at {e:.3f} s, after the end of the file "
                            f"({i.duration_s:.3f} s)")
    if getattr(dataset, "is_multi_label", False):
        problems += _multi_label_problems(dataset, infos)
    if classes is not None:
        known = set(classes)
        for path, labels in zip(t["path"], dataset.label_sets):
            unknown = [lab for lab in labels if lab not in known]
            if unknown:
                problems.append(f"{path}: unknown label(s) {unknown}; the classes are "
                                f"{sorted(known)}")
    if getattr(dataset, "is_multi_label", False):
        counts = Counter(lab for labels in dataset.label_sets for lab in labels)
        for label, n in sorted(counts.items()):
            if n < min_per_class:
                problems.append(f"class {label!r}: only {n} clip(s) tagged; at least "
                                f"{min_per_class} needed")
        if not counts:
            problems.append("no clip has any label; a tagger needs at least 1 class")
        return problems, infos
    counts = Counter(t["label"])
    for label, n in sorted(counts.items()):
        if n < min_per_class:
            problems.append(f"class {label!r}: only {n} example(s); at least {min_per_class} "
                            "needed")
    if len(counts) < 2:
        problems.append(f"only {len(counts)} class ({', '.join(map(repr, counts))}); a "
                        "classifier needs at least 2")
    return problems, infos


def _files(paths, limit=5):
    paths = list(dict.fromkeys(paths))
    more = f" and {len(paths) - limit} more" if len(paths) > limit else ""
    return ", ".join(paths[:limit]) + more


def _region(start, end):
    """' [0.5 s to 2 s]' for a region (None: open end), '' for a whole file."""
    if start is None and end is None:
        return ""
    s = "start" if start is None else f"{start:g} s"
    e = "end" if end is None else f"{end:g} s"
    return f" [{s} to {e}]"


def _multi_label_problems(dataset, infos):
    problems = []
    t = dataset.table
    sets = dataset.label_sets
    annotations = dataset.annotations
    if annotations is None:
        for path, labels in zip(t["path"], sets):
            if not labels:
                problems.append(f"{path}: empty 'labels' cell; a clip with none of the sounds "
                                "must come from an annotation table (annotations=...), where a "
                                "file without events has no labels")
        if "manifest_label" in t.columns:
            for path, lab, labels in zip(t["path"], t["manifest_label"], sets):
                if isinstance(lab, str) and lab and lab not in labels:
                    problems.append(f"{path}: label {lab!r} is not in its labels "
                                    f"{list(labels)}")
    # the same clip twice with different labels
    seen = {}
    for path, start, end, labels in zip(t["path"], t["start_s"], t["end_s"], sets):
        key = (path, None if start != start else float(start), None if end != end else float(end))
        seen.setdefault(key, []).append(labels)
    for (path, start, end), variants in seen.items():
        if len(set(variants)) > 1:
            shown = "; ".join(str(list(v)) for v in dict.fromkeys(variants))
            problems.append(f"{path}{_region(start, end)}: listed {len(variants)} times with "
                            f"different labels: {shown}")
    # spellings of one label, and labels that look like several
    files_of = {}
    for path, labels in zip(t["path"], sets):
        for lab in labels:
            files_of.setdefault(lab, []).append(path)
    if annotations is not None:
        for path, lab in zip(annotations["path"], annotations["event_label"]):
            files_of.setdefault(lab, []).append(path)
    spellings = {}
    for lab in files_of:
        spellings.setdefault(lab.strip().casefold(), []).append(lab)
    for variants in spellings.values():
        if len(variants) > 1 or variants[0] != variants[0].strip():
            where = "; ".join(f"{v!r} on {_files(files_of[v])}" for v in sorted(variants))
            problems.append(f"labels {sorted(variants)} differ only by case or surrounding "
                            f"whitespace: {where}")
    for lab in sorted(files_of):
        bad = [c for c in (",", "|") if c in lab]
        if bad:
            how = (f"labels are separated by {LABEL_SEPARATOR!r} in a 'labels' column, and an "
                   "annotation table has one row per event" if annotations is not None else
                   f"labels are separated by {LABEL_SEPARATOR!r}")
            problems.append(f"label {lab!r} contains {bad[0]!r}, probably the wrong separator: "
                            f"{how}; on {_files(files_of[lab])}")
        elif LABEL_SEPARATOR in lab:     # only an annotation's event_label can hold one
            problems.append(f"label {lab!r} contains {LABEL_SEPARATOR!r}, the separator of "
                            "labels: an annotation row holds one event label; on "
                            f"{_files(files_of[lab])}")
    if annotations is not None:
        problems += _annotation_problems(annotations, set(t["path"]), infos)
    return problems


def _annotation_problems(annotations, known_paths, infos):
    problems = []
    source = annotations.attrs.get("source", "annotations")
    unknown = {}
    for row, path, onset, offset, lab in zip(annotations.index, annotations["path"],
                                             annotations["onset"], annotations["offset"],
                                             annotations["event_label"]):
        where = f"{path}: annotation row {row} ({lab!r})"
        if path not in known_paths:
            unknown.setdefault(path, []).append(row)
        if onset >= offset:
            problems.append(f"{where}: onset {onset:g} s is not before offset {offset:g} s")
        if onset < 0:
            problems.append(f"{where}: negative onset {onset:g} s")
        i = infos.get(path)
        if i is not None and offset > i.duration_s + _SLACK_S:
            problems.append(f"{where}: offset {offset:g} s is after the end of the file "
                            f"({i.duration_s:.3f} s)")
    for path, rows in unknown.items():
        problems.append(f"{path}: annotated in {source} (row(s) {_files(map(str, rows))}) but "
                        "not in the metadata")
    return problems


def validate_dataset(dataset, *, min_duration_s=0.02, min_per_class=2, classes=None,
                     progress=False):
    """Raise :class:`DatasetError` listing every problem of ``dataset``; return file infos.

    Examples
    --------
    >>> infos = validate_dataset(load_dataset("drums/"))   # doctest: +SKIP
    """
    problems, infos = find_problems(dataset, min_duration_s=min_duration_s,
                                    min_per_class=min_per_class, classes=classes,
                                    progress=progress)
    if problems:
        raise DatasetError(f"{dataset.source}: {len(problems)} problem(s) found", problems)
    return infos
