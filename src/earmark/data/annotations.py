"""Strong annotations: a table of timed events (file, onset, offset, event label).

The table is ``filename,onset,offset,event_label`` (``path`` may stand for ``filename``; other
columns are kept), one row per sound event, ``filename`` relative to the table's folder and
onset/offset in seconds. A clip's tag set is the set of event labels of its file (of the events
overlapping its region, for a clip with ``start``/``end``); a clip without events has the empty
tag set: a background clip with none of the sounds.
"""

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DatasetError

__all__ = ["read_annotations", "label_sets_from_annotations", "clip_events",
           "ANNOTATION_NAMES", "ANNOTATION_COLUMNS"]

#: Annotation tables looked for beside a dataset folder's manifest.
ANNOTATION_NAMES = ("annotations.csv",)
#: Columns of the table :func:`read_annotations` returns, before any extra ones.
ANNOTATION_COLUMNS = ["path", "onset", "offset", "event_label"]


def read_annotations(path):
    """Read a strong-annotation table.

    Parameters
    ----------
    path : str or path-like
        A CSV with columns ``filename`` (or ``path``, relative to the CSV's folder), ``onset``,
        ``offset`` (seconds) and ``event_label``; any other columns are kept.

    Returns
    -------
    pandas.DataFrame
        Columns ``path`` (absolute), ``onset``, ``offset`` (floats), ``event_label`` and the
        extra columns (strings, None for an empty cell), indexed by the row's line number in the
        CSV (the header is line 1). ``attrs["source"]`` is the CSV's path.

    Raises
    ------
    DatasetError
        Unreadable CSV, missing columns, or rows with an empty filename or event label or a
        non-numeric onset/offset (every such row listed with its line number and file).

    Examples
    --------
    >>> events = read_annotations("scenes/annotations.csv")     # doctest: +SKIP
    >>> events.groupby("event_label").size()                    # doctest: +SKIP
    """
    csv_path = Path(os.fspath(path)).expanduser()
    if not csv_path.is_file():
        raise DatasetError(f"{csv_path}: no such annotation file")
    try:
        raw = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    except Exception as exc:
        raise DatasetError(f"{csv_path}: cannot read CSV annotations ({exc})") from None
    cols = {c.strip().lower(): c for c in raw.columns}
    path_col = cols.get("filename") or cols.get("path")
    needed = (("filename (or path)", path_col), ("onset", cols.get("onset")),
              ("offset", cols.get("offset")), ("event_label", cols.get("event_label")))
    missing = [name for name, c in needed if not c]
    if missing:
        raise DatasetError(f"{csv_path}: annotation table lacks column(s) {missing}; it has "
                           f"{list(raw.columns)} (expected filename,onset,offset,event_label)")
    on_col, off_col, lab_col = cols["onset"], cols["offset"], cols["event_label"]
    base = csv_path.resolve().parent
    problems = []
    out = pd.DataFrame({
        "path": [str((base / p.strip()).resolve()) if p.strip() else "" for p in raw[path_col]],
        # kept as written: 'dog ' next to 'dog' is a validation problem, not silently merged
        "event_label": raw[lab_col].astype(object),
    })
    for name, c in (("onset", on_col), ("offset", off_col)):
        vals = pd.to_numeric(raw[c].str.strip(), errors="coerce").astype(float)
        out[name] = vals
        for i in np.flatnonzero(vals.isna().to_numpy() | ~np.isfinite(vals.to_numpy())):
            problems.append((i, f"row {i + 2}: {name}={raw[c].iloc[i]!r} is not a number of "
                                f"seconds ({raw[path_col].iloc[i] or 'no filename'})"))
    for i, (p, lab) in enumerate(zip(raw[path_col], raw[lab_col])):
        if not p.strip():
            problems.append((i, f"row {i + 2}: empty filename"))
        if not lab.strip():
            problems.append((i, f"row {i + 2}: empty event_label ({p or 'no filename'})"))
    if problems:
        problems = [text for _, text in sorted(problems, key=lambda rt: rt[0])]
        raise DatasetError(f"{csv_path}: {len(problems)} problem(s) in the annotations",
                           problems)
    for c in raw.columns:
        if c not in (path_col, on_col, off_col, lab_col):
            out[c] = raw[c].replace("", None)
    out = out[ANNOTATION_COLUMNS + [c for c in out.columns if c not in ANNOTATION_COLUMNS]]
    out.index = pd.RangeIndex(2, len(out) + 2, name="row")
    out.attrs["source"] = str(csv_path)
    return out


def label_sets_from_annotations(annotations, table):
    """The tag set of each clip of ``table``, from strong annotations.

    Parameters
    ----------
    annotations : pandas.DataFrame
        Columns ``path``, ``onset``, ``offset``, ``event_label`` (what :func:`read_annotations`
        returns).
    table : pandas.DataFrame or Dataset
        Clips: column ``path`` (absolute, as in ``annotations``), optional ``start_s``/``end_s``
        (NaN: the whole file).

    Returns
    -------
    list of tuple of str
        One sorted tuple of unique labels per clip, in table order: the labels of the file's
        events, or of the events overlapping the clip's region; ``()`` for a clip without any.

    Examples
    --------
    >>> import pandas as pd
    >>> ann = pd.DataFrame({"path": ["/a.wav", "/a.wav"], "onset": [0.5, 4.0],
    ...                     "offset": [1.0, 4.5], "event_label": ["dog", "bell"]})
    >>> clips = pd.DataFrame({"path": ["/a.wav", "/a.wav", "/b.wav"],
    ...                       "start_s": [float("nan"), 0.0, float("nan")],
    ...                       "end_s": [float("nan"), 2.0, float("nan")]})
    >>> label_sets_from_annotations(ann, clips)
    [('bell', 'dog'), ('dog',), ()]
    """
    table = getattr(table, "table", table)
    events = {}
    for p, on, off, lab in zip(annotations["path"], annotations["onset"],
                               annotations["offset"], annotations["event_label"]):
        events.setdefault(p, []).append((float(on), float(off), lab))
    n = len(table)
    starts = table["start_s"] if "start_s" in table.columns else [math.nan] * n
    ends = table["end_s"] if "end_s" in table.columns else [math.nan] * n
    out = []
    for path, s, e in zip(table["path"], starts, ends):
        s = -math.inf if s is None or s != s else float(s)
        e = math.inf if e is None or e != e else float(e)
        # an event that only touches the region's edge is not in it
        out.append(tuple(sorted({lab for on, off, lab in events.get(path, ())
                                 if on < e and off > s})))
    return out


def clip_events(dataset, classes, *, sample_rate):
    """Each clip's annotated events in samples, for training on strong labels.

    Parameters
    ----------
    dataset : Dataset
        With ``annotations`` (strong labels).
    classes : list of str
        Class order: an event's class index; events of other classes are left out.
    sample_rate : int
        The rate the clips are decoded at.

    Returns
    -------
    list of int arrays (n_events, 3)
        Per clip, in table order: onset sample, offset sample (from the start of the clip, or of
        its region, clipped to it) and class index of every event that overlaps the clip.

    Raises
    ------
    ParameterError
        The dataset has no annotation table.

    Examples
    --------
    >>> import pandas as pd
    >>> from earmark.data import Dataset
    >>> table = pd.DataFrame({"path": ["/a.wav", "/a.wav"], "label": ["", ""],
    ...                       "labels": [("dog",), ("dog",)], "fold": None, "group": None,
    ...                       "start_s": [float("nan"), 2.0], "end_s": [float("nan"), 4.0]})
    >>> ann = pd.DataFrame({"path": ["/a.wav"], "onset": [1.5], "offset": [2.5],
    ...                     "event_label": ["dog"]})
    >>> ds = Dataset(table, annotations=ann, multi_label=True)
    >>> [e.tolist() for e in clip_events(ds, ["dog"], sample_rate=10)]
    [[[15, 25, 0]], [[0, 5, 0]]]
    """
    from ..errors import ParameterError

    ann = dataset.annotations
    if ann is None:
        raise ParameterError(f"{dataset.source}: training on strong labels needs an annotation "
                             "table (filename, onset, offset, event_label), and this dataset "
                             "has none")
    index = {c: i for i, c in enumerate(classes)}
    by_path = {p: g for p, g in ann.groupby("path")}
    out = []
    for path, start, end in zip(dataset.table["path"], dataset.table["start_s"],
                                dataset.table["end_s"]):
        start = 0.0 if start != start else float(start)
        rows = []
        g = by_path.get(path)
        if g is not None:
            for onset, offset, label in zip(g["onset"], g["offset"], g["event_label"]):
                if (end == end and onset >= end) or offset <= start or label not in index:
                    continue
                if end == end:
                    offset = min(offset, end)
                rows.append((int(round((max(onset, start) - start) * sample_rate)),
                             int(round((offset - start) * sample_rate)), index[label]))
        out.append(np.array(rows, np.int64).reshape(-1, 3))
    return out
