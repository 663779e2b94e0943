"""Datasets: a folder of class sub-folders, or a CSV manifest, as a table of labelled clips.

A clip is a file, or a labelled region of a file (``start``/``end`` in seconds). Every clip has a
label, and optionally a ``fold`` (predefined cross-validation fold) and a ``group`` (recordings
that must stay together: same kit, session, site or speaker).
"""

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..audio import AUDIO_EXTENSIONS
from ..errors import DatasetError

__all__ = ["Dataset", "load_dataset", "MANIFEST_NAMES"]

#: Manifest files looked for inside a dataset folder, in this order.
MANIFEST_NAMES = ("metadata.csv", "manifest.csv")
_COLUMNS = ["path", "label", "fold", "group", "start_s", "end_s"]


class Dataset:
    """Labelled clips: a table with columns path, label, fold, group, start_s, end_s.

    ``path`` is absolute; ``fold``/``group`` are strings or None; ``start_s``/``end_s`` are floats
    or NaN (whole file). Build one with :func:`load_dataset`.

    Examples
    --------
    >>> ds = load_dataset("drums/")              # doctest: +SKIP
    >>> ds.labels, len(ds)                       # doctest: +SKIP
    (['clap', 'crash', ...], 790)
    """

    def __init__(self, table, *, root=None, source=None):
        missing = [c for c in _COLUMNS if c not in table.columns]
        if missing:
            raise DatasetError(f"Dataset table lacks columns {missing}")
        self.table = table.reset_index(drop=True)
        self.root = None if root is None else str(root)
        self.source = source or self.root

    def __len__(self):
        return len(self.table)

    def __repr__(self):
        return (f"Dataset({self.source!r}, clips={len(self)}, classes={len(self.labels)}, "
                f"folds={self.table['fold'].nunique() if self.has_column('fold') else 0})")

    @property
    def labels(self):
        """Sorted class names."""
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
        """A new Dataset with the clips at positions ``index``."""
        return Dataset(self.table.iloc[np.asarray(index)], root=self.root, source=self.source)


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


def _read_manifest(csv_path, *, label_column="label"):
    try:
        raw = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    except Exception as exc:
        raise DatasetError(f"{csv_path}: cannot read CSV manifest ({exc})") from None
    cols = {c.strip().lower(): c for c in raw.columns}
    path_col = cols.get("path") or cols.get("filename")
    lab_col = cols.get(label_column.lower())
    missing = [n for n, c in (("path (or filename)", path_col), (label_column, lab_col)) if not c]
    if missing:
        raise DatasetError(f"{csv_path}: manifest lacks column(s) {missing}; it has "
                           f"{list(raw.columns)}")
    base = Path(csv_path).resolve().parent
    table = pd.DataFrame({
        "path": [str((base / p).resolve()) if p else "" for p in raw[path_col]],
        "label": raw[lab_col].str.strip(),
    })
    problems = []
    for c in ("fold", "group"):
        table[c] = raw[cols[c]].replace("", None) if c in cols else None
    for c, out in (("start", "start_s"), ("end", "end_s")):
        if c in cols:
            vals = pd.to_numeric(raw[cols[c]].replace("", np.nan), errors="coerce")
            bad = raw[cols[c]].ne("") & vals.isna()
            for i in np.flatnonzero(bad.to_numpy())[:20]:
                problems.append(f"row {i + 2}: {c}={raw[cols[c]].iloc[i]!r} is not a number")
            table[out] = vals.astype(float)
        else:
            table[out] = np.nan
    # keep every other manifest column: users select folds/groups by name (--folds kit)
    for c in raw.columns:
        if c not in (path_col, lab_col) and c.strip().lower() not in ("fold", "group", "start",
                                                                        "end"):
            table[c] = raw[c].replace("", None)
    for i, (p, lab) in enumerate(zip(raw[path_col], table["label"])):
        if not p:
            problems.append(f"row {i + 2}: empty path")
        if not lab:
            problems.append(f"row {i + 2}: empty label ({p})")
    bad_region = table["start_s"].notna() & table["end_s"].notna() & (
        table["end_s"] <= table["start_s"])
    for i in np.flatnonzero(bad_region.to_numpy())[:20]:
        problems.append(f"row {i + 2}: end ({table['end_s'].iloc[i]}) is not after start "
                        f"({table['start_s'].iloc[i]})")
    if (table["start_s"] < 0).any():
        problems.append("negative start time(s) in the 'start' column")
    if problems:
        raise DatasetError(f"{csv_path}: {len(problems)} problem(s) in the manifest", problems)
    if table.empty:
        raise DatasetError(f"{csv_path}: manifest has no rows")
    return table


def load_dataset(source, *, label_column="label"):
    """Read a dataset from a folder or a CSV manifest.

    Parameters
    ----------
    source : str or path-like
        A CSV manifest (columns ``path`` or ``filename`` relative to the CSV's folder, ``label``,
        optional ``fold``, ``group``, ``start``, ``end`` in seconds, and any others); or a folder
        that holds ``metadata.csv``/``manifest.csv`` (read as a manifest); or a folder with one
        sub-folder per class.
    label_column : str
        Manifest column holding the class.

    Returns
    -------
    Dataset

    Raises
    ------
    DatasetError
        Unreadable manifest, missing columns, no audio found (every problem listed).

    Examples
    --------
    >>> ds = load_dataset("birds/metadata.csv")   # doctest: +SKIP
    """
    if isinstance(source, Dataset):
        return source
    p = Path(os.fspath(source)).expanduser()
    if not p.exists():
        raise DatasetError(f"{p}: no such file or folder")
    if p.is_file():
        if p.suffix.lower() != ".csv":
            raise DatasetError(f"{p}: a dataset is a folder or a .csv manifest, not a "
                               f"{p.suffix or 'plain'} file")
        return Dataset(_read_manifest(p, label_column=label_column), root=p.parent, source=str(p))
    for name in MANIFEST_NAMES:
        if (p / name).is_file():
            return Dataset(_read_manifest(p / name, label_column=label_column), root=p,
                           source=str(p / name))
    return Dataset(_read_folder(p), root=p, source=str(p))
