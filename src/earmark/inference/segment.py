"""Cutting detected events out of their recordings: one WAV file per event, and a manifest that
:func:`earmark.data.load_dataset` reads as a classification dataset (to listen to the
detections, to correct them, or to train a classifier on them).
"""

import math
import os
from pathlib import Path, PurePath

import pandas as pd
import soundfile as sf
from tqdm import tqdm

from .. import audio
from .._io import atomic_path
from .._validation import check_number
from ..errors import AudioError
from .outputs import _check_table

__all__ = ["segment_events", "MANIFEST_COLUMNS"]

#: Columns of the manifest :func:`segment_events` writes.
MANIFEST_COLUMNS = ["path", "label", "source", "onset", "offset", "score", "group", "error"]


def _folder_name(label):
    # a label becomes a folder: no separators, no hidden or parent folder
    name = str(label).replace("/", "_").replace("\\", "_").replace("\0", "_").strip()
    return "_" + name if not name or name.startswith(".") else name


def segment_events(table, out_dir, *, padding_s=0.0, sample_rate=None, progress=False):
    """Write each event of an events table to its own WAV file, with a manifest.

    Parameters
    ----------
    table : pandas.DataFrame
        Events: columns ``filename`` (readable audio files), ``onset``, ``offset``,
        ``event_label`` and optionally ``score`` (see :func:`~earmark.inference.events_table`).
    out_dir : str or path-like
        Segments go to ``out_dir/<event_label>/<stem>_<onset_ms>-<offset_ms>.wav`` (the
        event's onset and offset in whole milliseconds, before padding; a name already taken
        gets ``-2``, ``-3`` ... before ``.wav``), and the manifest to ``out_dir/manifest.csv``.
    padding_s : float
        Seconds of audio added before and after each event, clipped to the file.
    sample_rate : int or None
        Resample the segments to this rate; None keeps each file's rate.
    progress : bool
        Show a progress bar (tqdm, on stderr).

    Returns
    -------
    pandas.DataFrame
        The manifest, one row per event, columns ``path`` (relative to ``out_dir``), ``label``
        (the event label), ``source`` (the recording, as given), ``onset``, ``offset``,
        ``score`` (the event's), ``group`` (the source recording: segments of one recording
        belong together in cross-validation) and ``error`` (empty, or why the event could not be
        cut: then no file exists at ``path``, and the other events go on).

    Notes
    -----
    Segments are mono (channels averaged, as :func:`earmark.audio.load` does) and written as
    32-bit float WAV, the samples exactly as earmark decoded them. Only each event's region is
    decoded, never the whole recording.

    Examples
    --------
    >>> from earmark.inference import events_table
    >>> t = events_table({"field.wav": [(3.2, 4.0, "owl", 0.9)]})    # doctest: +SKIP
    >>> m = segment_events(t, "clips/", padding_s=0.25)               # doctest: +SKIP
    >>> m.loc[0, "path"]                                               # doctest: +SKIP
    'owl/field_3200-4000.wav'
    >>> earmark.data.load_dataset("clips/manifest.csv")                 # doctest: +SKIP
    """
    owner = "segment_events"
    check_number(padding_s, "padding_s", owner, low=0, closed="left")
    check_number(sample_rate, "sample_rate", owner, low=0, integer=True, allow_none=True)
    table = _check_table(table, owner)
    out_dir = Path(os.fspath(out_dir))
    out_dir.mkdir(parents=True, exist_ok=True)

    headers = {}       # one header read per recording; an unreadable file fails all its events
    used = set()
    rows = []
    events = table[["filename", "onset", "offset", "event_label", "score"]].itertuples(
        index=False, name=None)
    for source, onset, offset, label, score in tqdm(events, total=len(table), desc="segmenting",
                                                    unit="event", disable=not progress):
        onset, offset = float(onset), float(offset)
        stem = PurePath(source.replace("\\", "/")).stem or "recording"
        folder = _folder_name(label)
        base = f"{stem}_{int(round(onset * 1000))}-{int(round(offset * 1000))}"
        rel, k = f"{folder}/{base}.wav", 2
        while rel.lower() in used:
            rel, k = f"{folder}/{base}-{k}.wav", k + 1
        used.add(rel.lower())
        error = ""
        try:
            if not (math.isfinite(onset) and math.isfinite(offset) and 0 <= onset < offset):
                raise AudioError(source, f"invalid event times onset={onset}, offset={offset}")
            if source not in headers:
                try:
                    headers[source] = audio.info(source)
                except AudioError as exc:
                    headers[source] = exc
            meta = headers[source]
            if isinstance(meta, AudioError):
                raise meta
            start = max(0.0, onset - padding_s)
            end = min(meta.duration_s, offset + padding_s)
            if end <= start:
                raise AudioError(source, f"event {onset:g}-{offset:g} s lies outside the file "
                                         f"({meta.duration_s:.3f} s)")
            y, sr = audio.load(source, sample_rate=sample_rate, start_s=start, end_s=end)
            dest = out_dir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(dest) as tmp:
                sf.write(tmp, y, sr, format="WAV", subtype="FLOAT")
        except AudioError as exc:
            error = str(exc)
        rows.append((rel, str(label), source, onset, offset, float(score), source, error))

    manifest = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    manifest = manifest.astype({"onset": float, "offset": float, "score": float})
    with atomic_path(out_dir / "manifest.csv") as tmp:
        manifest.to_csv(tmp, index=False, lineterminator="\n")
    return manifest

