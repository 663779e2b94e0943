"""Writing detections out: event tables (CSV, Parquet, Audacity labels, Raven selection tables)
and frame scores in sed_scores_eval's layout.

Events travel as a table with columns ``filename, onset, offset, event_label, score`` (one row per
event; ``filename`` is the recording's path as the user gave it; times in seconds from the start
of the recording), built with :func:`events_table`. Every file is written atomically: a reader
never sees half a file, and a failed write leaves what was there.
"""

import math
import os
from pathlib import Path, PurePath

import numpy as np
import pandas as pd

from .._io import atomic_path
from .._validation import check_choice, check_number
from ..errors import AudioError, ParameterError

__all__ = ["EVENT_FORMATS", "EVENT_COLUMNS", "events_table", "write_events",
           "write_frame_scores", "score_dataframe", "RAVEN_COLUMNS"]

#: Formats :func:`write_events` writes.
EVENT_FORMATS = ("csv", "parquet", "audacity", "raven")
#: Columns of an events table.
EVENT_COLUMNS = ["filename", "onset", "offset", "event_label", "score"]
#: Columns of the Raven selection tables :func:`write_events` writes.
RAVEN_COLUMNS = ["Selection", "View", "Channel", "Begin Time (s)", "End Time (s)",
                 "Low Freq (Hz)", "High Freq (Hz)", "Begin Path", "File Offset (s)",
                 "Annotation", "Score"]


def events_table(events_by_file):
    """Events of several recordings as one table.

    Parameters
    ----------
    events_by_file : dict of str to list of tuple
        For each recording (its path as the user gave it), its events as ``(onset, offset,
        label, score)`` tuples (as :func:`~earmark.inference.decode_events` returns) or
        ``(onset, offset, label)`` (score NaN). A recording without events has an empty list.

    Returns
    -------
    pandas.DataFrame
        Columns ``filename, onset, offset, event_label, score``, sorted by filename, onset and
        label. ``attrs["recordings"]`` lists every recording, those without events included, so
        that :func:`write_events` gives them an (empty) label file too.

    Raises
    ------
    ParameterError
        An event that is not such a tuple, or whose times are not finite with onset < offset.

    Examples
    --------
    >>> t = events_table({"b.wav": [(1.0, 2.0, "dog", 0.9)], "a.wav": [],
    ...                   "c.wav": [(0.5, 0.75, "bird")]})
    >>> t[["filename", "onset", "event_label"]].values.tolist()
    [['b.wav', 1.0, 'dog'], ['c.wav', 0.5, 'bird']]
    >>> t.attrs["recordings"]
    ['a.wav', 'b.wav', 'c.wav']
    """
    if not isinstance(events_by_file, dict):
        raise ParameterError(f"The 'events_by_file' parameter of events_table must be a dict of "
                             f"recording path to a list of events. Got "
                             f"{type(events_by_file).__name__} instead.")
    rows = []
    for filename, events in events_by_file.items():
        filename = os.fspath(filename)
        for ev in events:
            if not isinstance(ev, (tuple, list)) or len(ev) not in (3, 4):
                raise ParameterError(f"events_table: events of {filename!r} must be (onset, "
                                     f"offset, label[, score]) tuples; got {ev!r}.")
            on, off = float(ev[0]), float(ev[1])
            if not (math.isfinite(on) and math.isfinite(off) and on < off):
                raise ParameterError(f"events_table: event {ev!r} of {filename!r} needs finite "
                                     f"times with onset < offset.")
            score = float(ev[3]) if len(ev) == 4 and ev[3] is not None else math.nan
            rows.append((filename, on, off, str(ev[2]), score))
    table = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    table = table.astype({"filename": object, "event_label": object, "onset": float,
                          "offset": float, "score": float})
    table = table.sort_values(["filename", "onset", "event_label"], kind="stable")
    table = table.reset_index(drop=True)
    table.attrs["recordings"] = sorted(os.fspath(f) for f in events_by_file)
    return table


def _check_table(table, owner):
    if not isinstance(table, pd.DataFrame):
        raise ParameterError(f"The 'table' parameter of {owner} must be a pandas DataFrame "
                             f"(see events_table). Got {type(table).__name__} instead.")
    missing = [c for c in EVENT_COLUMNS[:4] if c not in table.columns]
    if missing:
        raise ParameterError(f"{owner}: the events table lacks column(s) {missing}; it has "
                             f"{list(table.columns)}.")
    table = table.copy()
    if "score" not in table.columns:
        table["score"] = np.nan
    table["filename"] = table["filename"].map(os.fspath).astype(object)
    table["event_label"] = table["event_label"].astype(str).astype(object)
    return table.sort_values(["filename", "onset", "event_label"], kind="stable")


def _recording_list(table, recordings):
    if recordings is None:
        recordings = table.attrs.get("recordings")
    names = set(table["filename"])
    if recordings is not None:
        names |= {os.fspath(r) for r in recordings}
    return sorted(names)


def _unique_names(filenames, suffix):
    """One output name per recording: ``<stem><suffix>``; when stems collide, the recordings in
    sorted order get ``<stem>-2<suffix>``, ``<stem>-3<suffix>`` ... (compared without case, for
    case-insensitive file systems)."""
    used, names = set(), {}
    for f in sorted(filenames):
        stem = PurePath(f.replace("\\", "/")).stem or "recording"
        name, k = stem + suffix, 2
        while name.lower() in used:
            name, k = f"{stem}-{k}{suffix}", k + 1
        used.add(name.lower())
        names[f] = name
    return names


def _one_line(text):
    # a tab or a line break in a label would break the line-and-column formats
    return " ".join(str(text).split())


def _write_text(path, text):
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    return Path(path)


def _audio_header(filename):
    """(duration_s, sample_rate) from the file's header, or (None, None) when it cannot be
    read."""
    from .. import audio

    try:
        meta = audio.info(filename)
    except AudioError:
        return None, None
    return meta.duration_s, meta.sample_rate


def _raven_rows(events, *, begin_offset_s, sample_rate, first_selection):
    high = sample_rate / 2 if sample_rate else 0.0
    return pd.DataFrame({
        "Selection": np.arange(first_selection, first_selection + len(events)),
        "View": "Spectrogram 1",
        "Channel": 1,
        "Begin Time (s)": events["onset"].to_numpy() + begin_offset_s,
        "End Time (s)": events["offset"].to_numpy() + begin_offset_s,
        "Low Freq (Hz)": 0.0,
        "High Freq (Hz)": float(high),
        "Begin Path": [os.path.abspath(f) for f in events["filename"]],
        "File Offset (s)": events["onset"].to_numpy(),
        "Annotation": [_one_line(v) for v in events["event_label"]],
        "Score": events["score"].to_numpy(),
    }, columns=RAVEN_COLUMNS)


def _raven_text(rows):
    # Raven reads a tab-separated table with a header line; six decimals is a microsecond
    return rows.to_csv(sep="\t", index=False, float_format="%.6f", lineterminator="\n")


def write_events(table, out, *, format="csv", per_recording=None, recordings=None):
    """Write an events table as CSV, Parquet, Audacity label files or Raven selection tables.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``filename, onset, offset, event_label`` and optionally ``score`` (see
        :func:`events_table`).
    out : str or path-like
        The file to write (csv, parquet, raven) or the folder to write into (audacity, and raven
        with ``per_recording=True``).
    format : {'csv', 'parquet', 'audacity', 'raven'}
        - ``csv``, ``parquet``: the table, one file at ``out``.
        - ``audacity``: one label file ``<stem>.txt`` per recording in folder ``out``:
          ``start<TAB>end<TAB>label`` lines, six decimals (Audacity: File > Import > Labels).
        - ``raven``: a Raven selection table (columns :data:`RAVEN_COLUMNS`). ``Annotation`` is
          the label; ``Low Freq (Hz)`` is 0 and ``High Freq (Hz)`` half the sample rate read
          from the file's header (0 when the file cannot be read), so that each box spans the
          whole spectrogram; ``Begin Path`` is the absolute path and ``File Offset (s)`` the
          onset in that file. Combined (one table for all recordings), ``Begin Time (s)`` counts
          from the start of the recordings opened as one file sequence in Raven, in sorted order:
          the onset plus the durations (from the headers; a file that cannot be read counts as
          long as its last event) of the recordings before it. Per recording, ``Begin Time
          (s)`` is the onset.
    per_recording : bool or None
        Only for raven: True writes one ``<stem>.Table.1.selections.txt`` per recording in
        folder ``out``. None: False for raven, True for audacity (the only choice there).
    recordings : list of str or None
        Every recording to write a file for (audacity, raven per recording): those without
        events get an empty label file / a header-only table. None: ``table.attrs["recordings"]``
        (set by :func:`events_table`), else the recordings in the table.

    Returns
    -------
    list of pathlib.Path
        The files written. Per-recording files are named after the recording's stem; when two
        recordings share a stem, the first in sorted order gets ``<stem>.txt`` and the next
        ``<stem>-2.txt``, ``<stem>-3.txt`` and so on (the same for Raven's names).

    Raises
    ------
    ParameterError
        Unknown format, a table without the needed columns, or ``per_recording`` not possible
        for the format.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> t = events_table({"rec/a.wav": [(1.0, 2.5, "dog", 0.9)], "rec/b.wav": []})
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> [p.name for p in write_events(t, folder / "labels", format="audacity")]
    ['a.txt', 'b.txt']
    >>> (folder / "labels" / "a.txt").read_text()
    '1.000000\\t2.500000\\tdog\\n'
    >>> [p.name for p in write_events(t, folder / "events.csv")]
    ['events.csv']
    """
    owner = "write_events"
    check_choice(format, "format", owner, EVENT_FORMATS)
    if per_recording not in (None, True, False):
        raise ParameterError(f"The 'per_recording' parameter of {owner} must be True, False or "
                             f"None. Got {per_recording!r} instead.")
    if format in ("csv", "parquet") and per_recording:
        raise ParameterError(f"{owner}: format {format!r} writes one file for all recordings; "
                             f"per_recording=True is for 'raven' (and 'audacity').")
    if format == "audacity" and per_recording is False:
        raise ParameterError(f"{owner}: Audacity label files hold one recording each; "
                             f"per_recording=False is not possible with format 'audacity'.")
    attrs_recordings = table.attrs.get("recordings") if isinstance(table, pd.DataFrame) else None
    table = _check_table(table, owner)
    out = Path(os.fspath(out))

    if format == "csv":
        with atomic_path(out) as tmp:
            table[EVENT_COLUMNS].to_csv(tmp, index=False, lineterminator="\n")
        return [out]
    if format == "parquet":
        with atomic_path(out) as tmp:
            table[EVENT_COLUMNS].to_parquet(tmp, index=False, engine="pyarrow")
        return [out]

    if recordings is None:
        recordings = attrs_recordings
    files = _recording_list(table, recordings)
    by_file = dict(tuple(table.groupby("filename", sort=False)))
    empty = table.iloc[:0]
    if format == "audacity":
        out.mkdir(parents=True, exist_ok=True)
        names = _unique_names(files, ".txt")
        written = []
        for f in files:
            ev = by_file.get(f, empty)
            text = "".join(f"{on:.6f}\t{off:.6f}\t{_one_line(lab)}\n" for on, off, lab in
                           zip(ev["onset"], ev["offset"], ev["event_label"]))
            written.append(_write_text(out / names[f], text))
        return written

    headers = {f: _audio_header(f) for f in files}
    if per_recording:
        out.mkdir(parents=True, exist_ok=True)
        names = _unique_names(files, ".Table.1.selections.txt")
        written = []
        for f in files:
            rows = _raven_rows(by_file.get(f, empty), begin_offset_s=0.0,
                               sample_rate=headers[f][1], first_selection=1)
            written.append(_write_text(out / names[f], _raven_text(rows)))
        return written
    parts, begin, selection = [], 0.0, 1
    for f in files:
        ev = by_file.get(f, empty)
        duration, sr = headers[f]
        parts.append(_raven_rows(ev, begin_offset_s=begin, sample_rate=sr,
                                 first_selection=selection))
        selection += len(ev)
        if duration is None:
            duration = float(ev["offset"].max()) if len(ev) else 0.0
        begin += duration
    rows = pd.concat(parts, ignore_index=True) if parts else _raven_rows(
        empty, begin_offset_s=0.0, sample_rate=None, first_selection=1)
    return [_write_text(out, _raven_text(rows))]


def score_dataframe(scores, *, frame_step_s, classes, start_s=0.0):
    """Frame scores as sed_scores_eval's score table: columns ``onset, offset, <class>...``.

    Parameters
    ----------
    scores : array of shape (n_frames, n_classes)
        Finite scores; frame k covers ``[start_s + k * frame_step_s, start_s + (k + 1) *
        frame_step_s)``.
    frame_step_s : float
        Seconds from one frame to the next.
    classes : list of str
        The class of each column.
    start_s : float
        Time of the first frame's start.

    Returns
    -------
    pandas.DataFrame
        One row per frame. Frame times are rounded to microseconds; each frame's offset is the
        next frame's onset exactly (sed_scores_eval checks that).

    Examples
    --------
    >>> import numpy as np
    >>> score_dataframe(np.array([[0.1, 0.9], [0.2, 0.8]]), frame_step_s=0.5,
    ...                 classes=["bird", "dog"])
       onset  offset  bird  dog
    0    0.0     0.5   0.1  0.9
    1    0.5     1.0   0.2  0.8
    """
    owner = "score_dataframe"
    check_number(frame_step_s, "frame_step_s", owner, low=0)
    check_number(start_s, "start_s", owner)
    if isinstance(classes, str) or not hasattr(classes, "__len__"):
        raise ParameterError(f"The 'classes' parameter of {owner} must be a list of class names. "
                             f"Got {classes!r} instead.")
    classes = [str(c) for c in classes]
    bad = [c for c in classes if c in ("onset", "offset") or "\\" in c or "\t" in c or "\n" in c
           or not c]
    if bad or len(set(classes)) != len(classes):
        raise ParameterError(f"{owner}: class names must be unique, non-empty, not 'onset' or "
                             f"'offset', and without tabs, line breaks or backslashes; got "
                             f"{classes}.")
    scores = np.asarray(scores)
    if scores.ndim != 2 or scores.shape[1] != len(classes) or not np.issubdtype(
            scores.dtype, np.number):
        raise ParameterError(f"The 'scores' parameter of {owner} must be a numeric array of shape "
                             f"(n_frames, {len(classes)}). Got {scores.dtype} {scores.shape} "
                             f"instead.")
    scores = scores.astype(np.float64)
    if not np.all(np.isfinite(scores)):
        raise ParameterError(f"The 'scores' parameter of {owner} holds NaN or infinite values.")
    t = np.round(start_s + np.arange(len(scores) + 1) * frame_step_s, 6)
    if len(t) > 1 and np.any(np.diff(t) <= 0):
        raise ParameterError(f"{owner}: frame_step_s={frame_step_s} is too small for frame times "
                             f"in microseconds.")
    table = pd.DataFrame(scores, columns=classes)
    table.insert(0, "offset", t[1:])
    table.insert(0, "onset", t[:-1])
    return table


def write_frame_scores(scores, out_dir, audio_id, *, frame_step_s, classes, start_s=0.0):
    """Write one recording's frame scores as ``<out_dir>/<audio_id>.tsv`` in sed_scores_eval's
    layout (what ``sed_scores_eval.io.read_sed_scores`` reads, file by file or the folder).

    Parameters
    ----------
    scores : array of shape (n_frames, n_classes)
    out_dir : str or path-like
        Created when missing.
    audio_id : str
        The recording's id in the evaluation (the ground truth's key): a file name without
        folders.
    frame_step_s, classes, start_s
        As :func:`score_dataframe`.

    Returns
    -------
    pathlib.Path
        The file written (atomically): tab-separated, a header ``onset, offset, <class>...``,
        numbers written so that they read back exactly.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> path = write_frame_scores(np.array([[0.25], [0.75]]), tempfile.mkdtemp(), "rec1",
    ...                           frame_step_s=0.02, classes=["dog"])
    >>> path.read_text().splitlines()
    ['onset\\toffset\\tdog', '0.0\\t0.02\\t0.25', '0.02\\t0.04\\t0.75']
    """
    owner = "write_frame_scores"
    audio_id = str(audio_id)
    if (not audio_id or "/" in audio_id or "\\" in audio_id or os.sep in audio_id
            or "\0" in audio_id or audio_id in (".", "..")):
        raise ParameterError(f"The 'audio_id' parameter of {owner} must be a file name without "
                             f"folders. Got {audio_id!r} instead.")
    table = score_dataframe(scores, frame_step_s=frame_step_s, classes=classes, start_s=start_s)
    path = Path(os.fspath(out_dir)) / f"{audio_id}.tsv"
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False, lineterminator="\n")
    return path
