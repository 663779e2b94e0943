"""Datasets: a folder of class sub-folders, or a CSV manifest, as a table of labelled clips.

A clip is a file, or a labelled region of a file (``start``/``end`` in seconds). Every clip has a
label, and optionally a ``fold`` (predefined cross-validation fold) and a ``group`` (recordings
that must stay together: same kit, session, site or speaker).

A multi-label dataset (for tagging) gives each clip a set of labels, possibly empty: from a
manifest's ``labels`` column (``dog;bell``), or from strong annotations (timed events, see
:mod:`earmark.data.annotations` and :mod:`earmark.data.strong_labels`): a table, an Audacity or
Raven file, or a folder of recordings with their Audacity/Raven label files beside them.
"""

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..audio import AUDIO_EXTENSIONS
from ..errors import DatasetError, ParameterError
from .annotations import ANNOTATION_COLUMNS, ANNOTATION_NAMES, label_sets_from_annotations
from .strong_labels import read_strong_labels

__all__ = ["Dataset", "load_dataset", "MANIFEST_NAMES", "LABEL_SEPARATOR"]

#: Manifest files looked for inside a dataset folder, in this order.
MANIFEST_NAMES = ("metadata.csv", "manifest.csv")
#: Separator of the labels in a manifest's ``labels`` column.
LABEL_SEPARATOR = ";"
_COLUMNS = ["path", "label", "fold", "group", "start_s", "end_s"]


class Dataset:
    """Labelled clips: a table with columns path, label, fold, group, start_s, end_s.

    ``path`` is absolute; ``fold``/``group`` are strings or None; ``start_s``/``end_s`` are floats
    or NaN (whole file). Build one with :func:`load_dataset`.

    A multi-label dataset's table also has a ``labels`` column (one sorted tuple of labels per
    clip, possibly empty) and its ``label`` column holds the same set joined by ``;`` (``""`` for
    none). ``annotations`` holds the strong annotations the labels came from (columns ``path``,
    ``onset``, ``offset``, ``event_label`` and any others), or None.

    Parameters
    ----------
    table : pandas.DataFrame
        The clips. ``label`` may be left out when ``labels`` is given.
    root, source : str or None
        The dataset's folder and what it was read from.
    annotations : pandas.DataFrame or None
        Strong annotations of the clips' files.
    multi_label : bool or None
        None: multi-label exactly when ``table`` has a ``labels`` column.

    Examples
    --------
    >>> ds = load_dataset("drums/")              # doctest: +SKIP
    >>> ds.labels, len(ds)                       # doctest: +SKIP
    (['clap', 'crash', ...], 790)
    >>> tags = load_dataset("scenes/")           # metadata.csv + annotations.csv  # doctest: +SKIP
    >>> tags.is_multi_label, tags.label_sets[:2]                                  # doctest: +SKIP
    (True, [('arrow_impact', 'horse'), ()])
    """

    def __init__(self, table, *, root=None, source=None, annotations=None, multi_label=None):
        if multi_label is None:
            multi_label = "labels" in table.columns
        required = [c for c in _COLUMNS if not (multi_label and c == "label")]
        missing = [c for c in required if c not in table.columns]
        if multi_label and "labels" not in table.columns:
            missing.append("labels")
        if missing:
            raise DatasetError(f"Dataset table lacks columns {missing}")
        table = table.reset_index(drop=True)
        self._multi_label = bool(multi_label)
        if self._multi_label:
            sets = [_label_tuple(v) for v in table["labels"]]
            table["labels"] = _object_column(sets)
            table["label"] = [LABEL_SEPARATOR.join(t) for t in sets]
        self.table = table
        self.root = None if root is None else str(root)
        self.source = source or self.root
        self.annotations = annotations

    def __len__(self):
        return len(self.table)

    def __repr__(self):
        return (f"Dataset({self.source!r}, clips={len(self)}, classes={len(self.labels)}, "
                f"folds={self.table['fold'].nunique() if self.has_column('fold') else 0}"
                f"{', multi_label=True' if self.is_multi_label else ''})")

    @property
    def is_multi_label(self):
        """True when the labels came from a ``labels`` column or from annotations (even when
        every clip has exactly one)."""
        return self._multi_label

    @property
    def label_sets(self):
        """One sorted tuple of unique labels per clip, in table order (``(label,)`` for a
        single-label dataset; possibly ``()`` for a multi-label one)."""
        if self._multi_label:
            return [tuple(v) for v in self.table["labels"]]
        return [(lab,) for lab in self.table["label"]]

    @property
    def labels(self):
        """Sorted class names (for a multi-label dataset, every label of any clip)."""
        if self._multi_label:
            return sorted({lab for labels in self.table["labels"] for lab in labels})
        return sorted(self.table["label"].unique().tolist())

    @property
    def paths(self):
        return self.table["path"].tolist()

    def has_column(self, name):
        """True when column ``name`` is present and set for every clip."""
        return name in self.table.columns and self.table[name].notna().all()

    def column(self, name):
        """Values of a metadata column (fold, group or any manifest column), as strings."""
        if name not in self.table.columns:
            extra = [c for c in self.table.columns if c not in ("path", "start_s", "end_s")]
            raise DatasetError(f"{self.source}: no column {name!r}; available: {extra}")
        col = self.table[name]
        if col.isna().any():
            bad = self.table.loc[col.isna(), "path"].tolist()[:5]
            raise DatasetError(f"{self.source}: column {name!r} is empty for "
                               f"{int(col.isna().sum())} clips, e.g. {bad}")
        return col.astype(str).to_numpy()

    def subset(self, index):
        """A new Dataset with the clips at positions ``index`` (and the annotations of their
        files)."""
        table = self.table.iloc[np.asarray(index)]
        annotations = self.annotations
        if annotations is not None:
            annotations = annotations[annotations["path"].isin(set(table["path"]))]
        return Dataset(table, root=self.root, source=self.source, annotations=annotations,
                       multi_label=self._multi_label)


def _label_tuple(value):
    """A sorted tuple of unique labels from a tuple/list/set, a ';'-joined string or None."""
    if value is None or (isinstance(value, float) and value != value):
        return ()
    if isinstance(value, str):
        value = value.split(LABEL_SEPARATOR)
        return tuple(sorted({v.strip() for v in value} - {""}))
    return tuple(sorted({str(v) for v in value}))


def _object_column(values):
    # a list of equal-length tuples would otherwise become a 2-D block
    col = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        col[i] = v
    return col


def _read_folder(root):
    rows = []
    for label_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for f in sorted(label_dir.rglob("*")):
            if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS:
                rows.append({"path": str(f.resolve()), "label": label_dir.name})
    if not rows:
        raise DatasetError(
            f"{root}: no audio files found. Expected one sub-folder per class holding audio files "
            f"({', '.join(AUDIO_EXTENSIONS)}), or a CSV manifest with 'path' and 'label' columns.")
    table = pd.DataFrame(rows)
    for c in ("fold", "group"):
        table[c] = None
    table["start_s"] = np.nan
    table["end_s"] = np.nan
    return table


def _read_label_folder(root, *, label_column):
    """The clip table and events of a folder of recordings with Audacity/Raven label files
    beside them (each recording a clip; one without a label file has no events), or None when
    no recording has one."""
    # 'label' (the manifest default) is also one of the Raven columns looked for by default
    events = read_strong_labels(root, label_column=None if label_column == "label"
                                else label_column)
    label_files = events.attrs["label_files"]
    if not label_files:
        return None
    recordings = events.attrs["recordings"]
    table = pd.DataFrame({"path": recordings, "label": ""})
    table.insert(2, "labels", _object_column(label_sets_from_annotations(events, table)))
    for c in ("fold", "group"):
        table[c] = None
    table["start_s"] = np.nan
    table["end_s"] = np.nan
    table["label_file"] = [label_files.get(p) for p in recordings]
    return table, events


def _read_manifest(csv_path, *, label_column="label", annotations=None):
    """The clip table of a manifest; with ``annotations`` (a DataFrame), each clip's labels are
    its events' labels and the manifest's label column is ignored."""
    try:
        raw = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    except Exception as exc:
        raise DatasetError(f"{csv_path}: cannot read CSV manifest ({exc})") from None
    cols = {c.strip().lower(): c for c in raw.columns}
    path_col = cols.get("path") or cols.get("filename")
    lab_col = cols.get(label_column.lower())
    labels_col = cols.get("labels")
    single = annotations is None and labels_col is None
    missing = [n for n, c in (("path (or filename)", path_col),
                              (label_column, lab_col if single else True)) if not c]
    if missing:
        hint = ("; for several labels per clip, give a 'labels' column (separated by "
                f"{LABEL_SEPARATOR!r}) or strong annotations (annotations=...)"
                if lab_col is None and single else "")
        raise DatasetError(f"{csv_path}: manifest lacks column(s) {missing}; it has "
                           f"{list(raw.columns)}{hint}")
    base = Path(csv_path).resolve().parent
    table = pd.DataFrame({
        "path": [str((base / p).resolve()) if p else "" for p in raw[path_col]],
        "label": raw[lab_col].str.strip() if single else "",
    })
    if labels_col is not None and annotations is None:
        table["labels"] = _object_column([_label_tuple(v) for v in raw[labels_col]])
        if lab_col is not None and lab_col != labels_col:
            # kept to check it against the set; the table's 'label' becomes the joined set
            table["manifest_label"] = raw[lab_col].str.strip()
    for c in ("fold", "group"):
        table[c] = raw[cols[c]].replace("", None) if c in cols else None
    from .validate import check_times        # validate imports this module: not at the top

    start_col, end_col = cols.get("start"), cols.get("end")
    table["start_s"], table["end_s"], problems = check_times(
        None if start_col is None else raw[start_col], None if end_col is None else raw[end_col],
        names=(start_col or "start", end_col or "end"), n_rows=len(raw))
    # keep every other manifest column: users select folds/groups by name (--folds kit)
    for c in raw.columns:
        if c not in (path_col, lab_col, labels_col) and c.strip().lower() not in (
                "fold", "group", "start", "end"):
            table[c] = raw[c].replace("", None)
    for i, (p, lab) in enumerate(zip(raw[path_col], table["label"])):
        if not p:
            problems.append(f"row {i + 2}: empty path")
        if single and not lab:
            problems.append(f"row {i + 2}: empty label ({p})")
    if problems:
        raise DatasetError(f"{csv_path}: {len(problems)} problem(s) in the manifest", problems)
    if table.empty:
        raise DatasetError(f"{csv_path}: manifest has no rows")
    if annotations is not None:
        table.insert(2, "labels", _object_column(label_sets_from_annotations(annotations,
                                                                             table)))
    return table, not single


def load_dataset(source, *, label_column="label", annotations=None):
    """Read a dataset from a folder or a CSV manifest.

    Parameters
    ----------
    source : str or path-like
        A CSV manifest (columns ``path`` or ``filename`` relative to the CSV's folder, ``label``,
        optional ``fold``, ``group``, ``start``, ``end`` in seconds, and any others); or a folder
        that holds ``metadata.csv``/``manifest.csv`` (read as a manifest, with the
        ``annotations.csv`` beside it when there is one); or a folder of recordings with
        Audacity/Raven label files beside them (``rec.wav`` + ``rec.txt`` or
        ``rec.Table.1.selections.txt``; see :func:`~earmark.data.strong_labels.find_label_files`),
        read as a multi-label dataset whose clips are the recordings (one without a label file
        has no events: the empty label set) and whose annotations are the events; or a folder
        with one sub-folder per class.
    label_column : str
        Manifest column holding the class; for a folder of recordings with Raven tables, the
        Raven column holding the event labels (default: the first of ``Annotation``, ``Label``,
        ``Species``, ``Class``, ``label`` present).
    annotations : str, path-like, pandas.DataFrame or None
        Strong annotations: a table (``filename,onset,offset,event_label``, filenames relative
        to its folder; see :func:`~earmark.data.annotations.read_annotations`), an Audacity
        label file, a Raven selection table or a folder of label files (see
        :func:`~earmark.data.strong_labels.read_strong_labels`), or events already read (e.g.
        ``read_strong_labels(table, label_column="Call type")``). Each clip's labels
        are then the labels of its file's events (of the events overlapping its ``start``/``end``
        region), the empty set for a clip without events, and the manifest's label column is
        ignored.

    Returns
    -------
    Dataset
        Multi-label when the labels come from annotations or from a ``labels`` column (labels
        separated by ``;``; it takes precedence over the label column, which is then only
        checked against it by :func:`~earmark.data.validate.find_problems`).

    Raises
    ------
    DatasetError
        Unreadable manifest or annotations, missing columns, no audio found (every problem
        listed).

    Examples
    --------
    >>> ds = load_dataset("birds/metadata.csv")   # doctest: +SKIP
    >>> tags = load_dataset("scenes/metadata.csv",
    ...                     annotations="scenes/annotations.csv")   # doctest: +SKIP
    """
    if isinstance(source, Dataset):
        if annotations is not None:
            raise ParameterError("load_dataset: 'annotations' cannot be applied to a Dataset "
                                 "already loaded; give the dataset's folder or manifest.")
        return source
    p = Path(os.fspath(source)).expanduser()
    if not p.exists():
        raise DatasetError(f"{p}: no such file or folder")
    if p.is_file():
        if p.suffix.lower() != ".csv":
            raise DatasetError(f"{p}: a dataset is a folder or a .csv manifest, not a "
                               f"{p.suffix or 'plain'} file")
        manifest, root = p, p.parent
    else:
        manifest = next((p / n for n in MANIFEST_NAMES if (p / n).is_file()), None)
        root = p
        if manifest is None:
            if annotations is not None:
                raise DatasetError(f"{p}: annotations need a manifest listing the clips "
                                   f"({' or '.join(MANIFEST_NAMES)}); this folder has none")
            labelled = _read_label_folder(p, label_column=label_column)
            if labelled is not None:
                table, events = labelled
                return Dataset(table, root=p, source=str(p), annotations=events,
                               multi_label=True)
            return Dataset(_read_folder(p), root=p, source=str(p))
        if annotations is None:
            annotations = next((p / n for n in ANNOTATION_NAMES if (p / n).is_file()), None)
    if annotations is None:
        events = None
    elif isinstance(annotations, pd.DataFrame):
        missing = [c for c in ANNOTATION_COLUMNS if c not in annotations.columns]
        if missing:
            raise ParameterError(f"load_dataset: the annotations DataFrame lacks column(s) "
                                 f"{missing}; it needs {ANNOTATION_COLUMNS}")
        events = annotations
    else:
        events = read_strong_labels(annotations)
    table, multi = _read_manifest(manifest, label_column=label_column, annotations=events)
    return Dataset(table, root=root, source=str(manifest), annotations=events,
                   multi_label=multi)
