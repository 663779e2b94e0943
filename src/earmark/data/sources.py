"""Inputs to prediction: files, folders (searched recursively) and CSV lists, as one flat list."""

import os
from pathlib import Path

import pandas as pd

from ..audio import AUDIO_EXTENSIONS
from ..errors import DatasetError
from .validate import check_times

__all__ = ["Source", "expand_sources", "dataset_inputs"]


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
    # start_s/end_s: what earmark itself writes (predict --windows), read back as a list
    start_col = cols.get("start") or cols.get("start_s")
    end_col = cols.get("end") or cols.get("end_s")
    # every bad row up front: one of them must not stop a run after the others were predicted
    starts, ends, problems = check_times(
        None if start_col is None else t[start_col], None if end_col is None else t[end_col],
        names=(start_col or "start", end_col or "end"), n_rows=len(t))
    problems += [f"row {i + 2}: empty path" for i, p in enumerate(t[col]) if not p.strip()]
    if problems:
        raise DatasetError(f"{csv_path}: {len(problems)} problem(s) in the list", problems)
    base = Path(csv_path).resolve().parent
    return [Source(str((base / p.strip()).resolve()), None if s != s else float(s),
                   None if e != e else float(e))
            for p, s, e in zip(t[col], starts, ends)]


def dataset_inputs(source, *, annotations=None):
    """The files a dataset is read from, as ``(path, what)`` pairs for
    :func:`earmark._io.check_output_path`: the folder or manifest, the manifest and the
    annotation table a folder holds, and ``annotations``. (Not the audio files.)

    Examples
    --------
    >>> dataset_inputs("drums/metadata.csv")
    [('drums/metadata.csv', 'the dataset')]
    """
    from .annotations import ANNOTATION_NAMES
    from .dataset import MANIFEST_NAMES

    out = [(os.fspath(source), "the dataset")]
    p = Path(os.fspath(source))
    if p.is_dir():
        out += [(str(p / n), "the dataset's manifest") for n in MANIFEST_NAMES]
        out += [(str(p / n), "the dataset's annotations") for n in ANNOTATION_NAMES]
    if annotations is not None and not hasattr(annotations, "columns"):
        out.append((os.fspath(annotations), "the annotations"))
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
