"""Inputs to prediction: files, folders (searched recursively) and CSV lists, as one flat list."""

import os
from pathlib import Path

import pandas as pd

from ..audio import AUDIO_EXTENSIONS
from ..errors import DatasetError

__all__ = ["Source", "expand_sources"]


class Source(tuple):
    """(path, start_s, end_s): a file or a region of it to predict."""

    __slots__ = ()

    def __new__(cls, path, start_s=None, end_s=None):
        return super().__new__(cls, (str(path), start_s, end_s))

    path = property(lambda self: self[0])
    start_s = property(lambda self: self[1])
    end_s = property(lambda self: self[2])


def _from_csv(csv_path):
    try:
        t = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    except Exception as exc:
        raise DatasetError(f"{csv_path}: cannot read CSV list ({exc})") from None
    cols = {c.strip().lower(): c for c in t.columns}
    col = cols.get("path") or cols.get("filename")
    if not col:
        raise DatasetError(f"{csv_path}: a CSV list needs a 'path' (or 'filename') column; it has "
                           f"{list(t.columns)}")
    base = Path(csv_path).resolve().parent
    out = []
    for _, row in t.iterrows():
        start = row[cols["start"]] if "start" in cols and row[cols["start"]] != "" else None
        end = row[cols["end"]] if "end" in cols and row[cols["end"]] != "" else None
        out.append(Source(str((base / row[col]).resolve()),
                          None if start is None else float(start),
                          None if end is None else float(end)))
    return out


def expand_sources(items):
    """Expand files, folders and CSV lists into a list of :class:`Source`.

    A folder contributes every audio file below it (sorted); a ``.csv`` contributes its rows; any
    other path is taken as an audio file (a missing one is kept, so its error is reported in its
    own output row rather than stopping the run).

    Examples
    --------
    >>> expand_sources(["a.wav", "more/"])      # doctest: +SKIP
    [('a.wav', None, None), ('more/b.flac', None, None)]
    """
    if isinstance(items, (str, os.PathLike)):
        items = [items]
    out = []
    for item in items:
        if isinstance(item, Source):
            out.append(item)
            continue
        p = Path(os.fspath(item))
        if p.is_dir():
            files = sorted(f for f in p.rglob("*")
                           if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS)
            out.extend(Source(str(f)) for f in files)
        elif p.suffix.lower() == ".csv" and p.is_file():
            out.extend(_from_csv(p))
        else:
            out.append(Source(str(p)))
    return out
