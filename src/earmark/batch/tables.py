"""What one partition computes: the rows the single-process commands would give its inputs.

Each function calls exactly the Python API that ``earmark predict``, ``earmark detect`` and
``earmark embed`` call, on the partition's inputs, and adds an ``error`` column (a file that
cannot be read gets one row holding its error). :func:`to_arrow` then fixes the column types, so
that every part file of a job has the same schema whatever its rows (a partition of failed files
only would otherwise give null columns that no reader can concatenate).
"""

import json

import numpy as np
import pandas as pd

__all__ = ["predict_rows", "detect_rows", "embed_rows", "to_arrow", "COMMANDS"]

#: The batch commands.
COMMANDS = ("predict", "detect", "embed")

_TEXT = {"path", "filename", "label", "labels", "event_label", "error"}


def predict_rows(estimator, items, *, windows=False, regions=False):
    """``earmark predict``'s rows for ``items`` (its ``_predict``: ``predict_table`` per file,
    columns path[, start_s, end_s] first). ``regions``: the job holds regions or windows, so
    every partition has start_s and end_s (NaN for a whole file, as the one table has)."""
    table = estimator.predict_table(list(items), windows=windows, progress=False)
    if regions:
        for col in ("start_s", "end_s"):
            if col not in table.columns:
                table[col] = np.nan
    first = [c for c in ("path", "start_s", "end_s") if c in table.columns]
    return table[first + [c for c in table.columns if c not in first]]


def detect_rows(detector, items, *, block_s=60.0):
    """``earmark detect``'s events table for ``items`` (``iter_detect`` then
    :func:`~earmark.inference.outputs.events_table`), plus one row per file that could not be
    read: filename, NaN times, no label, and its error."""
    from ..inference.outputs import EVENT_COLUMNS, events_table

    events, errors = {}, []
    for path, _, found, error in detector.iter_detect(list(items), block_s=block_s):
        if error is not None:
            errors.append((path, error))
            continue
        events[path] = found
    table = events_table(events)[EVENT_COLUMNS].assign(error=None)
    if errors:
        bad = pd.DataFrame({"filename": [p for p, _ in errors], "onset": np.nan,
                            "offset": np.nan, "event_label": None, "score": np.nan,
                            "error": [m for _, m in errors]})
        table = pd.concat([table, bad], ignore_index=True) if len(table) else bad
    return table.astype({"onset": float, "offset": float, "score": float})


def embed_rows(embedder, items):
    """``earmark embed``'s table for ``items`` (:func:`earmark.embed.embed_sources`), plus one
    row per file that could not be read: path, NaN times, no embedding, and its error."""
    from ..embed import embed_sources

    table, errors = embed_sources(list(items), model=embedder, progress=False)
    settings = table.attrs.get("embedder", {})
    table = table.assign(error=None)
    if errors:
        bad = pd.DataFrame({"path": [p for p, _ in errors], "start_s": np.nan, "end_s": np.nan,
                            "embedding": None, "error": [m for _, m in errors]})
        table = pd.concat([table, bad], ignore_index=True) if len(table) else bad
    table.attrs["embedder"] = settings
    return table


def to_arrow(table, metadata):
    """A pyarrow Table of ``table`` with fixed types (text: string, ``anomalous``: bool,
    ``embedding``: list<float32>, the rest float64) and ``metadata`` (bytes -> bytes) in its
    schema."""
    import pyarrow as pa

    fields = []
    for col in table.columns:
        if col in _TEXT:
            t = pa.string()
        elif col == "anomalous":
            t = pa.bool_()
        elif col == "embedding":
            t = pa.list_(pa.float32())
        else:
            t = pa.float64()
        fields.append(pa.field(str(col), t))
    data = {}
    for f in fields:
        values = table[f.name]
        if f.name == "embedding":
            values = [None if v is None or (isinstance(v, float) and np.isnan(v))
                      else np.asarray(v, np.float32) for v in values]
        elif pa.types.is_string(f.type):
            values = [None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
                      for v in values]
        elif pa.types.is_boolean(f.type):
            values = [None if v is None or (isinstance(v, float) and np.isnan(v)) else bool(v)
                      for v in values]
        else:
            values = pd.to_numeric(values, errors="coerce").astype(float).to_numpy()
        data[f.name] = pa.array(values, type=f.type)
    meta = dict(metadata)
    if "embedder" in table.attrs:
        meta[b"earmark.embedder"] = json.dumps(table.attrs["embedder"], default=str).encode()
    return pa.table(data, schema=pa.schema(fields, metadata=meta))
