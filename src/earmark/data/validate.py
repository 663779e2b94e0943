"""Dataset validation: every problem found at once, each naming its file (or its row).

Besides the files themselves: the time columns of manifests and lists (:func:`check_times`),
options that name columns (:func:`check_columns`), clips listed more than once
(:func:`repeated_clips`) and files or copies that sit in more than one fold
(:func:`fold_leaks`, refused before a cross-validation by :func:`refuse_fold_leaks`).
"""

import math
from collections import Counter

import numpy as np
from tqdm.auto import tqdm

from ..audio import content_hash
from ..audio import info as audio_info
from ..errors import AudioError, DatasetError
from .dataset import LABEL_SEPARATOR

__all__ = ["find_problems", "validate_dataset", "check_times", "check_columns",
           "repeated_clips", "fold_leaks", "describe_leaks", "refuse_fold_leaks"]

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


# -- time columns --------------------------------------------------------------------------------

def _cell(value):
    """A cell as text, '' for an empty one (None, NaN or blank)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip()


def check_times(starts, ends, *, names=("start", "end"), first_row=2, n_rows=None):
    """Seconds from the cells of a start and an end column, with every bad row listed.

    Parameters
    ----------
    starts, ends : sequence of str, or None
        The cells as written in a manifest or list; an empty cell means "not given" (the start
        or the end of the file). None: the column is absent.
    names : (str, str)
        The two columns' names, for the messages.
    first_row : int
        The line number of the first cell (2: the line after a CSV header).
    n_rows : int or None
        The number of rows, needed only when both columns are absent.

    Returns
    -------
    start_s, end_s : np.ndarray of float
        NaN where a cell is empty or bad.
    problems : list of str
        One per bad row, in row order: a cell that is not a number (text, ``nan``), not finite
        (``inf``) or negative, and an end not after its start (or, without a start, not after
        the start of the file).

    Examples
    --------
    >>> s, e, problems = check_times(["0.5", "", "soon", "1"], ["1.5", "2", "", "inf"])
    >>> s.tolist(), e.tolist()
    ([0.5, nan, nan, 1.0], [1.5, 2.0, nan, nan])
    >>> problems
    ["row 4: start='soon' is not a number", "row 5: end='inf' is not finite"]
    """
    n = len(starts) if starts is not None else len(ends) if ends is not None else n_rows or 0
    columns = [[""] * n if col is None else [_cell(v) for v in col] for col in (starts, ends)]
    values = np.full((2, n), np.nan)
    problems = []
    for i in range(n):
        row = i + first_row
        for k in (0, 1):
            text = columns[k][i]
            if not text:
                continue
            try:
                v = float(text)
            except ValueError:
                v = math.nan
            if v != v:
                problems.append(f"row {row}: {names[k]}={text!r} is not a number")
            elif math.isinf(v):
                problems.append(f"row {row}: {names[k]}={text!r} is not finite")
            elif v < 0:
                problems.append(f"row {row}: {names[k]}={text!r} is negative")
            else:
                values[k, i] = v
        s, e = values[:, i]
        if e == e and columns[0][i] and s == s and e <= s:
            problems.append(f"row {row}: {names[1]} ({e:g}) is not after {names[0]} ({s:g})")
        elif e == e and not columns[0][i] and e <= 0:
            problems.append(f"row {row}: {names[1]} ({e:g}) is not after the start of the file")
    return values[0], values[1], problems


# -- options that name columns -------------------------------------------------------------------

_HIDDEN = ("path", "start_s", "end_s", "labels", "manifest_label")


def check_columns(dataset, columns):
    """Raise :class:`DatasetError` when an option names a column the dataset does not have.

    Parameters
    ----------
    dataset : Dataset
    columns : dict
        Option -> the column it names (None: not given), e.g. ``{"--groups": "site"}``.

    A column is there when at least one clip has a value in it (a folder of class folders has
    none: no fold, no group).

    Examples
    --------
    >>> check_columns(load_dataset("drums/metadata.csv"), {"--groups": "kit"})  # doctest: +SKIP
    Traceback (most recent call last):
    earmark.errors.DatasetError: drums/metadata.csv: --groups kit: there is no column 'kit'; the
    columns are ['label', 'fold', 'group']
    """
    t = dataset.table
    present = [c for c in t.columns if c not in _HIDDEN and t[c].notna().any()]
    for option, name in columns.items():
        if name is not None and name not in present:
            near = [c for c in present if c.strip().lower() == str(name).strip().lower()]
            hint = f" (did you mean {near[0]!r}? column names are case-sensitive)" if near else ""
            raise DatasetError(f"{dataset.source}: {option} {name}: there is no column "
                               f"{name!r}{hint}; the columns are {present}")


# -- files listed twice, and leaks between folds ---------------------------------------------------

def _rows(dataset, positions):
    """How to point at clips: manifest line numbers, or positions in a table built in Python."""
    if str(dataset.source or "").lower().endswith(".csv"):
        return "rows " + ", ".join(str(i + 2) for i in positions)
    return "clips " + ", ".join(str(i) for i in positions)


def _fold_values(dataset, column):
    t = dataset.table
    if column is None or column not in t.columns:
        return [None] * len(t)
    return [None if v is None or v != v else str(v) for v in t[column]]


def repeated_clips(dataset, *, fold_column=None):
    """Clips listed more than once: the same file (and region) in several rows.

    Returns
    -------
    repeats : list of dict
        One per repeated clip, sorted by path: ``path``, ``start_s``, ``end_s`` (None for the
        whole file), ``rows`` (table positions), ``labels`` (the distinct labels, sorted) and
        ``folds`` (the distinct values of ``fold_column``).
    problems : list of str
        One line per repeat, saying how many times and, where they differ, with which labels.
        (A multi-label clip listed with different label sets is reported by
        :func:`find_problems` already and is left out here; a file in several folds is
        :func:`fold_leaks`'s.)

    Examples
    --------
    >>> repeats, problems = repeated_clips(ds, fold_column="fold")    # doctest: +SKIP
    >>> problems                                                       # doctest: +SKIP
    ['/data/a.wav: listed 2 times (rows 2, 5), with different labels ['dog', 'cat']']
    """
    t = dataset.table
    folds = _fold_values(dataset, fold_column)
    label_sets = dataset.label_sets
    seen = {}
    for i, (path, start, end) in enumerate(zip(t["path"], t["start_s"], t["end_s"])):
        key = (path, None if start != start else float(start), None if end != end else float(end))
        seen.setdefault(key, []).append(i)
    repeats, problems = [], []
    multi = getattr(dataset, "is_multi_label", False)
    for (path, start, end), rows in sorted(seen.items(), key=lambda kv: kv[0][0]):
        if len(rows) < 2:
            continue
        labels = sorted({LABEL_SEPARATOR.join(label_sets[i]) for i in rows})
        fold_set = sorted({folds[i] for i in rows if folds[i] is not None})
        repeats.append({"path": path, "start_s": start, "end_s": end, "rows": rows,
                        "labels": labels, "folds": fold_set})
        if multi and len(labels) > 1:
            continue
        text = f"{path}{_region(start, end)}: listed {len(rows)} times ({_rows(dataset, rows)})"
        if len(labels) > 1:
            text += f", with different labels {labels}"
        problems.append(text)
    return repeats, problems


def fold_leaks(dataset, *, column, content=False, progress=False):
    """Audio that sits in more than one value of ``column`` (folds or groups): one file listed in
    several folds and, with ``content``, identical audio under several names in several folds.

    Parameters
    ----------
    dataset : Dataset
    column : str
        The fold (or group) column. Clips without a value are in no fold.
    content : bool
        Also compare the decoded audio (:func:`earmark.audio.content_hash`: every file is read
        once, in blocks). Files that cannot be read are left out (validation reports them).
    progress : bool

    Returns
    -------
    list of dict
        ``by`` ("path" or "content"), ``paths`` (sorted), ``folds`` (the distinct values,
        sorted) and ``rows`` (table positions).

    Examples
    --------
    >>> [leak["paths"] for leak in fold_leaks(ds, column="fold")]    # doctest: +SKIP
    [['/data/dog/a.wav']]
    """
    t = dataset.table
    folds = _fold_values(dataset, column)
    by_path = {}
    for i, path in enumerate(t["path"]):
        if folds[i] is not None:
            by_path.setdefault(path, []).append(i)
    leaks = []
    for path, rows in sorted(by_path.items()):
        fold_set = sorted({folds[i] for i in rows})
        if len(fold_set) > 1:
            leaks.append({"by": "path", "paths": [path], "folds": fold_set, "rows": rows})
    if not content:
        return leaks
    by_hash = {}
    for path in tqdm(sorted(by_path), desc="looking for copies across folds", unit="file",
                     disable=not progress):
        try:
            by_hash.setdefault(content_hash(path), []).append(path)
        except (AudioError, OSError):
            continue
    for paths in by_hash.values():
        if len(paths) < 2:
            continue
        rows = sorted(i for p in paths for i in by_path[p])
        fold_set = sorted({folds[i] for i in rows})
        if len(fold_set) > 1:
            leaks.append({"by": "content", "paths": paths, "folds": fold_set, "rows": rows})
    return leaks


def describe_leaks(dataset, leaks, *, column):
    """One line per leak of :func:`fold_leaks`: 'the same file in fold 1 and fold 2: PATH (rows
    3, 9)' or 'identical audio in ...: PATH, PATH (...)'."""
    return [f"{'the same file' if d['by'] == 'path' else 'identical audio'} in "
            f"{' and '.join(f'{column} {v}' for v in d['folds'])}: {', '.join(d['paths'])} "
            f"({_rows(dataset, d['rows'])})" for d in leaks]


def refuse_fold_leaks(data, *, column, content=True, option=None, progress=False):
    """Raise :class:`DatasetError` when any audio sits in more than one value of ``column``.

    What ``earmark evaluate`` runs before a cross-validation (unless ``--allow-duplicates``):
    a file in two folds, or copies of one recording in two folds, would be tested on audio the
    model was trained on, and the score would be too good.

    Parameters
    ----------
    data : Dataset, str or path-like
        A dataset, or its folder or manifest.
    column : str
        The column of folds (or of groups, for grouped k-fold).
    content : bool
        Also find copies under other names (reads every file once).
    option : str or None
        The option that named ``column`` (``"--folds"``), for the message when it is missing.

    Examples
    --------
    >>> refuse_fold_leaks("drums/", column="fold")      # doctest: +SKIP
    """
    from .dataset import load_dataset

    dataset = load_dataset(data)
    check_columns(dataset, {option or "column": column})
    leaks = fold_leaks(dataset, column=column, content=content, progress=progress)
    if leaks:
        problems = describe_leaks(dataset, leaks, column=column)
        raise DatasetError(f"{dataset.source}: {len(leaks)} recording(s) in more than one "
                           f"{column!r} value: cross-validation would test on audio it trained "
                           "on. Remove the copies or give them one fold (earmark evaluate "
                           "--allow-duplicates runs it anyway)", problems)
