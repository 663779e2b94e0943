"""Strong labels from Audacity label files and Raven selection tables, and checks of events.

Sound event detection trains on recordings plus timed events. Users bring them in three forms:

- a DCASE table (``filename,onset,offset,event_label``, see
  :func:`~earmark.data.annotations.read_annotations`);
- an Audacity label file per recording (``start<TAB>end<TAB>label`` lines, each optionally
  followed by a ``\\<TAB>low_hz<TAB>high_hz`` spectral-selection line);
- a Raven selection table (tab-separated, one row per selection *and view*), per recording or
  naming its files in ``Begin Path`` / ``Begin File``.

Every reader returns the same table as :func:`~earmark.data.annotations.read_annotations`
(``path``, ``onset``, ``offset``, ``event_label``) plus ``low_freq`` and ``high_freq`` (NaN when
the label has no frequency band), indexed by the line of the label file the event came from, so
that every problem found later names a line a user can open. :func:`check_events` then checks the
events against the recordings themselves (times inside the file, files that exist, no duplicated
events) and lists every problem at once.
"""

import math
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .._validation import check_choice, check_number
from ..audio import AUDIO_EXTENSIONS
from ..audio import info as audio_info
from ..errors import AudioError, DatasetError, ParameterError
from .annotations import ANNOTATION_COLUMNS, read_annotations

__all__ = ["read_audacity_labels", "read_raven_table", "find_label_files", "read_strong_labels",
           "check_events", "validate_events", "check_dataset_events", "STRONG_LABEL_COLUMNS",
           "RAVEN_LABEL_COLUMNS", "LABEL_FORMATS"]

#: Two events of one label whose onsets and offsets both differ by at most this (s) are the same
#: event annotated twice (an error); other overlapping events of one label are legitimate.
DUPLICATE_TOLERANCE_S = 0.01

#: Columns of the tables the Audacity and Raven readers return.
STRONG_LABEL_COLUMNS = ANNOTATION_COLUMNS + ["low_freq", "high_freq"]
#: Raven columns taken as the event label when ``label_column`` is not given, in this order.
RAVEN_LABEL_COLUMNS = ("Annotation", "Label", "Species", "Class", "label")
#: Values of ``format`` in :func:`read_strong_labels`.
LABEL_FORMATS = ("auto", "table", "audacity", "raven")
#: How far an event may end after its file: about one analysis frame of rounding.
FRAME_TOLERANCE_S = 0.05

# rec.Table.1.selections.txt, rec.selections.txt (Raven), rec.txt (Audacity or Raven)
_RAVEN_NAME = re.compile(r"^(.*?)(?:\.Table\.\d+)?\.selections\.txt$", re.IGNORECASE)
# C:\..., C:/..., \\server\share\... : a path written on Windows
_WINDOWS_ABSOLUTE = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\)")


# -- small helpers -------------------------------------------------------------------------------

def _existing_file(path, what="label file"):
    p = Path(os.fspath(path)).expanduser()
    if not p.is_file():
        raise DatasetError(f"{p}: no such {what}")
    return p


def _lines(path):
    """The file's lines without their line ends (LF, CRLF), line ``i`` at position ``i - 1``."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Raven and older Audacity on Windows write the ANSI code page
        text = data.decode("cp1252", errors="replace")
    # not str.splitlines(): it also splits on form feeds and other separators a label may hold
    lines = [line.rstrip("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _seconds(text):
    """A finite float from a time or frequency cell, or None. A decimal comma (written by some
    localised Audacity versions) is accepted when there is no point."""
    text = text.strip()
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _check_path_like(value, name, owner, *, allow_none=True):
    if (value is None and allow_none) or isinstance(value, (str, os.PathLike)):
        return value
    expected = "a str or path-like" + (" or None" if allow_none else "")
    raise ParameterError(f"The {name!r} parameter of {owner} must be {expected}. "
                         f"Got {value!r} instead.")


def _frame(rows, source):
    """The reader's output from ``rows`` of (line, path, onset, offset, label, low, high)."""
    columns = [list(c) for c in zip(*rows)] if rows else [[] for _ in range(7)]
    lines, paths, onsets, offsets, labels, lows, highs = columns
    out = pd.DataFrame({"path": paths,
                        "onset": np.asarray(onsets, dtype=float),
                        "offset": np.asarray(offsets, dtype=float),
                        # as read_annotations: labels as written, in an object column
                        "event_label": pd.Series(labels, dtype=object),
                        "low_freq": np.asarray(lows, dtype=float),
                        "high_freq": np.asarray(highs, dtype=float)})
    out.index = pd.Index(np.asarray(lines, dtype=np.int64), name="line")
    out.attrs["source"] = str(source)
    return out


def _raise_problems(source, problems, what="labels"):
    if problems:
        raise DatasetError(f"{source}: {len(problems)} problem(s) in the {what}", problems)


def _label_stem(name):
    """The recording stem a label file's name belongs to (``rec`` for ``rec.txt``,
    ``rec.Table.1.selections.txt`` and ``rec.selections.txt``), or None for a non-.txt file."""
    m = _RAVEN_NAME.match(name)
    if m:
        return m.group(1)
    return name[:-4] if name.lower().endswith(".txt") else None


def _sniff(path):
    """'raven', 'audacity' or None, from the first non-blank line. An empty file is an Audacity
    export of a recording without labels."""
    for line in _lines(path):
        if not line.strip():
            continue
        if "begin time (s)" in (h.strip().lower() for h in line.split("\t")):
            return "raven"
        fields = line.split("\t") if "\t" in line else line.split(None, 2)
        if len(fields) >= 2 and _seconds(fields[0]) is not None and \
                _seconds(fields[1]) is not None:
            return "audacity"
        return None
    return "audacity"


# -- Audacity --------------------------------------------------------------------------------------

def read_audacity_labels(path, *, audio_path):
    """Read an Audacity label file (File > Export > Export Labels).

    Parameters
    ----------
    path : str or path-like
        The label file: one ``start<TAB>end<TAB>label`` line per label (seconds; a point label
        has ``start == end``; the label may hold spaces), each optionally followed by a
        spectral-selection line ``\\<TAB>low_hz<TAB>high_hz``. Blank lines and CRLF line ends
        are accepted; so are spaces instead of tabs on a line without any tab.
    audio_path : str or path-like
        The recording the labels belong to (Audacity does not write it in the file).

    Returns
    -------
    pandas.DataFrame
        Columns ``path`` (absolute ``audio_path``), ``onset``, ``offset``, ``event_label``,
        ``low_freq``, ``high_freq`` (Hz; NaN without a spectral line, or where Audacity wrote -1
        for an undefined edge), indexed by the label's line number in the file (the first line
        is 1). ``attrs["source"]`` is the label file's path. Point labels are kept:
        :func:`check_events` reports them.

    Raises
    ------
    DatasetError
        Missing file, or lines that are not labels: a time that is not a number, an empty label,
        a spectral line without a label line before it (every such line listed).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "rec.txt").write_text("1.5\\t2.25\\tdog bark\\n\\\\\\t300\\t3000\\n"
    ...                                     "4\\t4\\tclick\\n")
    >>> events = read_audacity_labels(folder / "rec.txt", audio_path=folder / "rec.wav")
    >>> events[["onset", "offset", "event_label", "low_freq", "high_freq"]]
          onset  offset event_label  low_freq  high_freq
    line
    1       1.5    2.25    dog bark     300.0     3000.0
    3       4.0    4.00       click       NaN        NaN
    """
    _check_path_like(audio_path, "audio_path", "read_audacity_labels", allow_none=False)
    label_path = _existing_file(path)
    audio = str(Path(os.fspath(audio_path)).expanduser().resolve())
    rows, problems = [], []
    last = None        # the label a spectral line may still belong to
    for n, line in enumerate(_lines(label_path), start=1):
        if not line.strip():
            continue
        if line.startswith("\\"):
            fields = line[1:].split()
            values = [_seconds(f) for f in fields]
            if last is None:
                problems.append(f"line {n}: a frequency line ('\\') must follow a label line")
            elif len(values) != 2 or None in values:
                problems.append(f"line {n}: frequency line {line!r} is not "
                                "'\\<TAB>low_hz<TAB>high_hz'")
            else:
                # Audacity writes -1 for an edge of the band that was never set
                low, high = (v if v >= 0 else math.nan for v in values)
                rows[last] = rows[last][:5] + (low, high)
            last = None
            continue
        last = None
        fields = line.split("\t", 2) if "\t" in line else line.split(None, 2)
        if len(fields) < 2:
            problems.append(f"line {n}: {line!r} is not 'start<TAB>end<TAB>label'")
            continue
        start, end = _seconds(fields[0]), _seconds(fields[1])
        label = fields[2] if len(fields) > 2 else ""
        bad = [f"{name}={text.strip()!r}" for name, text, v in
               (("start", fields[0], start), ("end", fields[1], end)) if v is None]
        if bad:
            problems.append(f"line {n}: {' and '.join(bad)} is not a number of seconds")
            continue
        if not label.strip():
            problems.append(f"line {n}: empty label ({start:g} s to {end:g} s)")
            continue
        rows.append((n, audio, start, end, label, math.nan, math.nan))
        last = len(rows) - 1
    _raise_problems(label_path, problems)
    return _frame(rows, label_path)


# -- Raven -----------------------------------------------------------------------------------------

class _RecordingFinder:
    """Turns what a Raven table says about a selection's file into an absolute path."""

    def __init__(self, root):
        self.root = root
        self._by_name = None

    def by_name(self, name):
        """``root/name``, else the one file of that name anywhere under root."""
        direct = self.root / name
        if direct.is_file():
            return str(direct.resolve())
        if self._by_name is None:
            self._by_name = {}
            for f in self.root.rglob("*"):
                if f.is_file():
                    self._by_name.setdefault(f.name, []).append(f)
        found = self._by_name.get(Path(name).name, [])
        return str(found[0].resolve()) if len(found) == 1 else str(direct.resolve())

    def by_path(self, written):
        text = written.strip()
        parts = [p for p in re.split(r"[\\/]+", text) if p]
        windows = bool(_WINDOWS_ABSOLUTE.match(text))
        if not windows and not text.startswith("/"):
            return str(self.root.joinpath(*parts).resolve())
        if not windows and Path(text).is_file():
            return str(Path(text).resolve())
        # written on another machine (or the data moved): the longest tail of the path that
        # exists under root
        tail = parts[1:] if windows and re.match(r"^[A-Za-z]:$", parts[0]) else parts
        for k in range(len(tail)):
            candidate = self.root.joinpath(*tail[k:])
            if candidate.is_file():
                return str(candidate.resolve())
        return text if not windows else str((self.root / tail[-1]).resolve())


def read_raven_table(path, *, label_column=None, audio_root=None, audio_path=None):
    """Read a Raven selection table (File > Save Selection Table).

    Parameters
    ----------
    path : str or path-like
        The table: tab-separated, a header line with ``Begin Time (s)``, ``End Time (s)`` and
        usually ``Selection``, ``View``, ``Low Freq (Hz)``, ``High Freq (Hz)``, ``Begin Path`` or
        ``Begin File``, and a column holding the event label.
    label_column : str or None
        The column holding the event label. None: the first of ``Annotation``, ``Label``,
        ``Species``, ``Class``, ``label`` that the table has.
    audio_root : str, path-like or None
        Where relative ``Begin Path`` values and ``Begin File`` names are looked for (a file
        not directly there is looked for by name anywhere under it); None: the table's folder.
        An absolute ``Begin Path`` that does not exist here (a table made on another machine,
        Windows back-slashes included) is matched by its longest tail that exists under it.
    audio_path : str, path-like or None
        The recording, for a table of one recording that names no file.

    Returns
    -------
    pandas.DataFrame
        As :func:`read_audacity_labels`: one row per selection (Raven lists a selection once per
        view, e.g. ``Waveform 1`` and ``Spectrogram 1``; the spectrogram row is kept, whose
        frequency band is the one drawn), indexed by its line in the table (the header is line
        1). The file of a row is its ``Begin Path``, else its ``Begin File``, else
        ``audio_path``. With a ``File Offset (s)`` column, onsets are taken from it: Raven's
        ``Begin Time (s)`` counts from the start of a file *sequence*, ``File Offset (s)`` from
        the start of the selection's own file.

    Raises
    ------
    DatasetError
        Missing file, no time columns, no label column (the table's columns are listed), no
        way to tell the recording, or rows with a non-numeric time or an empty label (every
        such row listed with its line).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "rec.Table.1.selections.txt").write_text(
    ...     "Selection\\tView\\tChannel\\tBegin Time (s)\\tEnd Time (s)\\tLow Freq (Hz)\\t"
    ...     "High Freq (Hz)\\tSpecies\\n"
    ...     "1\\tWaveform 1\\t1\\t0.5\\t1.25\\t0\\t11025\\towl\\n"
    ...     "1\\tSpectrogram 1\\t1\\t0.5\\t1.25\\t400\\t900\\towl\\n")
    >>> events = read_raven_table(folder / "rec.Table.1.selections.txt",
    ...                           audio_path=folder / "rec.wav")
    >>> events[["onset", "offset", "event_label", "low_freq", "high_freq"]]
          onset  offset event_label  low_freq  high_freq
    line
    3       0.5    1.25         owl     400.0      900.0
    """
    owner = "read_raven_table"
    if label_column is not None and not isinstance(label_column, str):
        raise ParameterError(f"The 'label_column' parameter of {owner} must be a str or None. "
                             f"Got {label_column!r} instead.")
    _check_path_like(audio_root, "audio_root", owner)
    _check_path_like(audio_path, "audio_path", owner)
    return _read_raven(_existing_file(path, "selection table"), label_column=label_column,
                       audio_root=audio_root, audio_path=audio_path)


def _read_raven(table_path, *, label_column, audio_root, audio_path, own_recording=False,
                no_recording_hint="give audio_path= for a table of one recording"):
    """:func:`read_raven_table`; ``own_recording``: every selection is in ``audio_path`` (a
    table named after the recording beside it, whatever its Begin Path says)."""
    lines = _lines(table_path)
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    header = [] if first is None else [h.strip() for h in lines[first].split("\t")]
    lower = {}
    for i, h in enumerate(header):
        lower.setdefault(h.lower(), i)
    missing = [c for c in ("Begin Time (s)", "End Time (s)") if c.lower() not in lower]
    if missing:
        raise DatasetError(f"{table_path}: not a Raven selection table: no column(s) {missing}; "
                           f"it has {header}")
    if label_column is not None:
        lab_i = header.index(label_column) if label_column in header else \
            lower.get(label_column.strip().lower())
        if lab_i is None:
            raise DatasetError(f"{table_path}: no column {label_column!r} (label_column); the "
                               f"table has {header}")
    else:
        lab_i = next((header.index(c) for c in RAVEN_LABEL_COLUMNS if c in header), None)
        if lab_i is None:
            raise DatasetError(f"{table_path}: which column holds the event labels? None of "
                               f"{list(RAVEN_LABEL_COLUMNS)} is there; name it with "
                               f"label_column=. The table has {header}")
    col = {name: lower.get(name.lower()) for name in (
        "Selection", "View", "Begin Time (s)", "End Time (s)", "Low Freq (Hz)",
        "High Freq (Hz)", "Begin Path", "Begin File", "File Offset (s)")}
    if own_recording:
        col["Begin Path"] = col["Begin File"] = None
    if col["Begin Path"] is None and col["Begin File"] is None and audio_path is None:
        raise DatasetError(f"{table_path}: the table names no recording (no 'Begin Path' or "
                           f"'Begin File' column): {no_recording_hint}")
    finder = _RecordingFinder(Path(os.fspath(audio_root)).expanduser() if audio_root is not None
                              else table_path.resolve().parent)
    audio = None if audio_path is None else str(Path(os.fspath(audio_path)).expanduser()
                                                .resolve())

    # one selection, several views: group its rows, in the order of first appearance
    groups = {}
    for n in range(first + 2, len(lines) + 1):
        line = lines[n - 1]
        if not line.strip():
            continue
        cells = line.split("\t")
        cells += [""] * (len(header) - len(cells))
        sel = cells[col["Selection"]].strip() if col["Selection"] is not None else ""
        groups.setdefault(sel or ("line", n), []).append((n, cells))

    def cell(cells, name):
        i = col[name]
        return "" if i is None else cells[i]

    rows, problems = [], []
    for members in groups.values():
        n, cells = next(((n, c) for n, c in members
                         if cell(c, "View").strip().lower().startswith("spectrogram")),
                        members[0])
        label = cells[lab_i]
        if not label.strip():
            # a label typed into one view's row only
            label = next((c[lab_i] for _, c in members if c[lab_i].strip()), label)
        begin, end = _seconds(cell(cells, "Begin Time (s)")), _seconds(cell(cells,
                                                                             "End Time (s)"))
        bad = [f"{name}={cell(cells, name).strip()!r}" for name, v in
               (("Begin Time (s)", begin), ("End Time (s)", end)) if v is None]
        band = []
        for name in ("Low Freq (Hz)", "High Freq (Hz)"):
            text = cell(cells, name)
            v = _seconds(text) if text.strip() else math.nan
            if v is None:
                bad.append(f"{name}={text.strip()!r}")
            band.append(v)
        offset_text = cell(cells, "File Offset (s)")
        file_offset = _seconds(offset_text) if offset_text.strip() else begin
        if file_offset is None and offset_text.strip():
            bad.append(f"File Offset (s)={offset_text.strip()!r}")
        if bad:
            problems.append(f"line {n}: {' and '.join(bad)} is not a number")
            continue
        if not label.strip():
            problems.append(f"line {n}: empty {header[lab_i]!r} (selection at {begin:g} s)")
            continue
        written_path, written_file = cell(cells, "Begin Path"), cell(cells, "Begin File")
        if written_path.strip():
            recording = finder.by_path(written_path)
        elif written_file.strip():
            recording = finder.by_name(written_file.strip())
        elif audio is not None:
            recording = audio
        else:
            problems.append(f"line {n}: empty 'Begin Path'/'Begin File' and no audio_path")
            continue
        onset = file_offset
        offset = end if file_offset == begin else file_offset + (end - begin)
        rows.append((n, recording, onset, offset, label, band[0], band[1]))
    _raise_problems(table_path, problems)
    rows.sort(key=lambda r: r[0])
    return _frame(rows, table_path)


# -- folders and the one entry point ---------------------------------------------------------------

def _visible_files(root):
    return sorted(f for f in root.rglob("*") if f.is_file() and not any(
        part.startswith(".") for part in f.relative_to(root).parts))


def find_label_files(folder):
    """Pair each recording of a folder with the label file beside it, if any.

    Parameters
    ----------
    folder : str or path-like
        A folder of recordings (sub-folders included; hidden ones skipped) where ``rec.wav``
        may have ``rec.txt`` (Audacity labels or a Raven table) or
        ``rec.Table.1.selections.txt`` / ``rec.selections.txt`` (Raven) beside it.

    Returns
    -------
    list of (str, str or None, str or None)
        ``(audio_path, label_path, format)`` per recording, sorted by path; ``format`` is
        ``'audacity'`` or ``'raven'`` (told by the file's first line), and ``label_path`` and
        ``format`` are None for a recording without a label file: a recording with no events,
        to be kept as a negative.

    Raises
    ------
    DatasetError
        Missing folder; a recording with several label files, a label file that belongs to
        several recordings (``rec.wav`` and ``rec.flac``), or one that is neither format
        (every such problem listed).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("a.wav", "b.wav"):
    ...     _ = (folder / name).write_bytes(b"")
    >>> _ = (folder / "a.txt").write_text("0.5\\t1.0\\towl\\n")
    >>> [(pathlib.Path(a).name, l and pathlib.Path(l).name, f)
    ...  for a, l, f in find_label_files(folder)]
    [('a.wav', 'a.txt', 'audacity'), ('b.wav', None, None)]
    """
    _check_path_like(folder, "folder", "find_label_files", allow_none=False)
    root = Path(os.fspath(folder)).expanduser()
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder")
    files = _visible_files(root)
    recordings = [f for f in files if f.suffix.lower() in AUDIO_EXTENSIONS]
    by_stem, labels_of = {}, {}
    for f in recordings:
        by_stem.setdefault((f.parent, f.stem), []).append(f)
    for f in files:
        stem = _label_stem(f.name)
        if stem is not None and (f.parent, stem) in by_stem:
            labels_of.setdefault((f.parent, stem), []).append(f)
    out, problems = [], []
    for f in recordings:
        key = (f.parent, f.stem)
        candidates = labels_of.get(key, [])
        label, fmt = None, None
        if len(candidates) > 1:
            problems.append(f"{f}: several label files beside it "
                            f"({', '.join(c.name for c in candidates)}); keep one")
        elif candidates:
            label = candidates[0]
            if len(by_stem[key]) > 1:
                if f == by_stem[key][0]:
                    problems.append(f"{label}: belongs to several recordings "
                                    f"({', '.join(r.name for r in by_stem[key])}); rename them")
                continue
            fmt = _sniff(label)
            if fmt is None:
                problems.append(f"{label}: beside {f.name} but neither Audacity labels "
                                "(start<TAB>end<TAB>label) nor a Raven selection table "
                                "(a header with 'Begin Time (s)')")
                continue
        out.append((str(f.resolve()), None if label is None else str(label.resolve()), fmt))
    _raise_problems(root, problems, "label files")
    return out


def _recording_beside(label_path, folder):
    """The one recording named like ``label_path`` in ``folder``, or None."""
    stem = _label_stem(label_path.name)
    found = sorted(f for f in folder.iterdir() if f.is_file() and f.stem == stem
                   and f.suffix.lower() in AUDIO_EXTENSIONS) if folder.is_dir() else []
    if len(found) > 1:
        raise DatasetError(f"{label_path}: several recordings could be its own "
                           f"({', '.join(f.name for f in found)})")
    return found[0] if found else None


def read_strong_labels(source, *, format="auto", label_column=None, audio_root=None):
    """Read strong labels (timed events) from a table, an Audacity or Raven file, or a folder.

    Parameters
    ----------
    source : str or path-like
        A DCASE CSV table (``filename,onset,offset,event_label``; read by
        :func:`~earmark.data.annotations.read_annotations`), an Audacity label file or a Raven
        selection table (a file of one recording belongs to the recording named like it beside
        it: ``rec.txt`` and ``rec.Table.1.selections.txt`` to ``rec.wav``), or a folder of
        recordings with their label files beside them (see :func:`find_label_files`).
    format : {'auto', 'table', 'audacity', 'raven'}
        'auto': a ``.csv`` is a table, a text file is told by its first line, a folder's files
        each by their own. Otherwise every file must be of that format.
    label_column : str or None
        The column of a Raven table holding the event label (see :func:`read_raven_table`).
    audio_root : str, path-like or None
        Where a Raven table's files, or the recording of an Audacity file, are looked for;
        None: the label file's folder.

    Returns
    -------
    pandas.DataFrame
        Columns ``path``, ``onset``, ``offset``, ``event_label`` (plus ``low_freq``,
        ``high_freq`` from Audacity/Raven, and a table's extra columns), indexed by line.
        ``attrs["source"]`` is ``source``; for a folder also ``attrs["label_files"]`` (recording
        -> its label file) and ``attrs["recordings"]`` (every recording, those without events
        included).

    Raises
    ------
    DatasetError
        Anything the readers raise; a file of unknown format; a label file whose recording
        cannot be found.
    ParameterError
        ``format`` not one of the above, or 'table' for a folder.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("a.wav", "b.wav"):
    ...     _ = (folder / name).write_bytes(b"")
    >>> _ = (folder / "a.txt").write_text("0.5\\t1.0\\towl\\n2.0\\t2.5\\tbat\\n")
    >>> events = read_strong_labels(folder)
    >>> events["event_label"].tolist(), len(events.attrs["recordings"])
    (['owl', 'bat'], 2)
    """
    owner = "read_strong_labels"
    check_choice(format, "format", owner, LABEL_FORMATS)
    _check_path_like(source, "source", owner, allow_none=False)
    _check_path_like(audio_root, "audio_root", owner)
    if label_column is not None and not isinstance(label_column, str):
        raise ParameterError(f"The 'label_column' parameter of {owner} must be a str or None. "
                             f"Got {label_column!r} instead.")
    p = Path(os.fspath(source)).expanduser()
    if p.is_dir():
        if format == "table":
            raise ParameterError(f"{owner}: format='table' reads a CSV table, and {p} is a "
                                 "folder; use 'auto', 'audacity' or 'raven'")
        return _read_label_folder(p, format=format, label_column=label_column)
    p = _existing_file(p, "annotation file")
    fmt = format
    if fmt == "auto":
        fmt = "table" if p.suffix.lower() == ".csv" else _sniff(p)
        if fmt is None:
            raise DatasetError(f"{p}: neither a CSV table (.csv), Audacity labels "
                               "(start<TAB>end<TAB>label) nor a Raven selection table (a header "
                               "with 'Begin Time (s)')")
    if fmt == "table":
        return read_annotations(p)
    folder = p.parent if audio_root is None else Path(os.fspath(audio_root)).expanduser()
    recording = _recording_beside(p, folder)
    if fmt == "audacity":
        if recording is None:
            raise DatasetError(f"{p}: Audacity labels name no recording, and there is no "
                               f"{_label_stem(p.name)}.wav (or other audio file) in {folder}; "
                               "use read_audacity_labels(path, audio_path=...)")
        return read_audacity_labels(p, audio_path=recording)
    return _read_raven(p, label_column=label_column, audio_root=audio_root,
                       audio_path=recording, no_recording_hint=(
                           f"and there is no {_label_stem(p.name)}.wav (or other audio file) in "
                           f"{folder}; use read_raven_table(path, audio_path=...)"))


def _read_label_folder(root, *, format, label_column):
    pairs = find_label_files(root)
    frames, problems = [], []
    for audio, label, fmt in pairs:
        if label is None:
            continue
        if format != "auto" and fmt != format:
            problems.append(f"{label}: a {fmt} file, not {format}")
            continue
        if fmt == "audacity":
            frames.append(read_audacity_labels(label, audio_path=audio))
        else:
            frames.append(_read_raven(Path(label), label_column=label_column, audio_root=None,
                                      audio_path=audio, own_recording=True))
    _raise_problems(root, problems, "label files")
    frames = [f for f in frames if len(f)]
    events = pd.concat(frames) if frames else _frame([], root)
    events.attrs = {"source": str(root),
                    "label_files": {a: lab for a, lab, _ in pairs if lab is not None},
                    "recordings": [a for a, _, _ in pairs]}
    return events


# -- checks of events against the recordings -------------------------------------------------------

def check_events(events, *, durations, known_files=None, tolerance_s=FRAME_TOLERANCE_S):
    """List every problem of strong labels, each naming its label file, line and recording.

    Parameters
    ----------
    events : pandas.DataFrame
        Columns ``path``, ``onset``, ``offset``, ``event_label`` (what the readers return).
    durations : dict
        Absolute path -> duration in seconds; an event of a file not in it is not checked
        against the file's end.
    known_files : collection of str or None
        The recordings of the dataset; an event of any other file is reported. Events of files
        that do not exist are reported in any case.
    tolerance_s : float
        How far an event may end after its file (about one analysis frame of rounding).

    Returns
    -------
    list of str
        Onset or offset not a number; point labels (onset == offset: no extent, they cannot be
        trained as events); offset before onset; negative onset; offset after the end of the
        file; the same event annotated twice (one label, onset and offset within
        :data:`DUPLICATE_TOLERANCE_S`; both lines named; other overlapping events of one label
        are fine: they are one region of that class); files that do not exist or are not in
        ``known_files``.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"path": ["/a.wav"] * 3, "onset": [0.5, 0.505, 3.0],
    ...                        "offset": [1.5, 1.5, 3.0], "event_label": ["dog"] * 3},
    ...                       index=pd.Index([1, 2, 3], name="line"))
    >>> for p in check_events(events, durations={"/a.wav": 10.0}, known_files={"/a.wav"}):
    ...     print(p)
    line 3 ('dog' in /a.wav): point label at 3 s (onset == offset): a point has no extent and
    cannot be trained as an event; give it an end time or remove it
    line 1 ('dog' in /a.wav) and line 2: the same 'dog' event twice (0.5 s to 1.5 s and
    0.505 s to 1.5 s); remove one
    /a.wav: annotated on line(s) 1, 2, 3 but no such file
    """
    owner = "check_events"
    check_number(tolerance_s, "tolerance_s", owner, low=0, closed="left")
    missing = [c for c in ANNOTATION_COLUMNS if c not in getattr(events, "columns", ())]
    if missing:
        raise ParameterError(f"{owner}: events need columns {ANNOTATION_COLUMNS}; missing "
                             f"{missing}")
    if not isinstance(durations, dict):
        raise ParameterError(f"The 'durations' parameter of {owner} must be a dict (path -> "
                             f"seconds). Got {type(durations).__name__} instead.")
    durations = {str(k): float(v) for k, v in durations.items()}
    known = None if known_files is None else {str(f) for f in known_files}
    source = events.attrs.get("source")
    label_files = events.attrs.get("label_files") or {}
    kind = events.index.name or "row"

    def where(line, path, label):
        file = label_files.get(path, source)
        return f"{file + ', ' if file else ''}{kind} {line} ({label!r} in {path})"

    problems, valid, unknown = [], {}, {}
    exists = {}
    for line, path, onset, offset, label in zip(events.index, events["path"], events["onset"],
                                                events["offset"], events["event_label"]):
        path = "" if path is None or path != path else str(path)
        at = where(line, path, label)
        if path not in exists:
            exists[path] = bool(path) and os.path.isfile(path)
        if not exists[path] or (known is not None and path not in known):
            unknown.setdefault(path, []).append(line)
        times = []
        for name, value in (("onset", onset), ("offset", offset)):
            try:
                value = float(value)
            except (TypeError, ValueError):
                value = math.nan
            if not math.isfinite(value):
                problems.append(f"{at}: {name} {value!r} is not a number of seconds")
            times.append(value)
        onset, offset = times
        if not all(math.isfinite(t) for t in times):
            continue
        if offset == onset:
            problems.append(f"{at}: point label at {onset:g} s (onset == offset): a point has "
                            "no extent and cannot be trained as an event; give it an end time "
                            "or remove it")
        elif offset < onset:
            problems.append(f"{at}: offset {offset:g} s is before onset {onset:g} s")
        if onset < 0:
            problems.append(f"{at}: negative onset {onset:g} s")
        end = durations.get(path)
        if end is not None and offset > end + tolerance_s:
            problems.append(f"{at}: offset {offset:g} s is after the end of the file "
                            f"({end:.3f} s)")
        if offset > onset:
            valid.setdefault((path, label), []).append((onset, offset, line))
    for (path, label), spans in valid.items():
        spans.sort(key=lambda s: (s[0], s[1]))
        active = []
        for onset, offset, line in spans:
            active = [a for a in active if a[1] > onset]     # touching is not overlapping
            for a_on, a_off, a_line in active:
                # overlapping events of one class are legitimate (two footsteps at once; they
                # are one region of the class for training and the metrics); the same event
                # annotated twice is not
                if abs(a_on - onset) <= DUPLICATE_TOLERANCE_S and \
                        abs(a_off - offset) <= DUPLICATE_TOLERANCE_S:
                    problems.append(f"{where(a_line, path, label)} and {kind} {line}: the same "
                                    f"{label!r} event twice ({a_on:g} s to {a_off:g} s and "
                                    f"{onset:g} s to {offset:g} s); remove one")
            active.append((onset, offset, line))
    for path, lines in unknown.items():
        why = []
        if not exists[path]:
            why.append("no such file")
        if known is not None and path not in known:
            why.append("not one of the dataset's recordings")
        file = label_files.get(path, source)
        shown = ", ".join(map(str, lines[:10])) + (f" and {len(lines) - 10} more"
                                                   if len(lines) > 10 else "")
        problems.append(f"{path or '(empty path)'}: annotated on {kind}(s) {shown}"
                        f"{' of ' + file if file else ''} but {' and '.join(why)}")
    return problems


def validate_events(events, *, durations, known_files=None, tolerance_s=FRAME_TOLERANCE_S):
    """Raise :class:`~earmark.errors.DatasetError` listing every problem of :func:`check_events`.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({"path": ["/a.wav"], "onset": [2.0], "offset": [1.0],
    ...                        "event_label": ["dog"]})
    >>> validate_events(events, durations={})
    Traceback (most recent call last):
    ...
    earmark.errors.DatasetError: annotations: 2 problem(s) in the annotations
      - row 0 ('dog' in /a.wav): offset 1 s is before onset 2 s
      - /a.wav: annotated on row(s) 0 but no such file
    """
    problems = check_events(events, durations=durations, known_files=known_files,
                            tolerance_s=tolerance_s)
    source = events.attrs.get("source") or "annotations"
    _raise_problems(source, problems, "annotations")


def check_dataset_events(dataset, *, tolerance_s=FRAME_TOLERANCE_S):
    """Check a dataset's strong labels against its recordings; raise listing every problem.

    Each annotated file's duration is read from its header (no decoding); the events are then
    checked by :func:`check_events` with the dataset's clips as the known files.

    Parameters
    ----------
    dataset : Dataset
        With ``annotations`` (e.g. from :func:`~earmark.data.load_dataset`).
    tolerance_s : float
        How far an event may end after its file.

    Returns
    -------
    dict
        Path -> duration in seconds of every annotated file that could be read.

    Raises
    ------
    DatasetError
        Every problem of :func:`check_events`, and files whose header cannot be read.
    ParameterError
        The dataset has no annotations.

    Examples
    --------
    >>> ds = load_dataset("recordings/")              # doctest: +SKIP
    >>> durations = check_dataset_events(ds)          # doctest: +SKIP
    """
    events = getattr(dataset, "annotations", None)
    if events is None:
        raise ParameterError(f"{getattr(dataset, 'source', 'dataset')}: check_dataset_events "
                             "checks strong labels, and this dataset has no annotations")
    check_number(tolerance_s, "tolerance_s", "check_dataset_events", low=0, closed="left")
    durations, unreadable = {}, []
    for path in dict.fromkeys(str(p) for p in events["path"]):
        if not os.path.isfile(path):
            continue      # check_events names it
        try:
            i = audio_info(path)
        except AudioError as exc:
            unreadable.append(f"{exc}: its duration cannot be read")
            continue
        durations[path] = i.duration_s
    problems = check_events(events, durations=durations, known_files=set(dataset.table["path"]),
                            tolerance_s=tolerance_s) + unreadable
    _raise_problems(events.attrs.get("source") or dataset.source, problems, "annotations")
    return durations
