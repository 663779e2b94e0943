"""Scoring files and long recordings, and writing prediction tables.

Every file is read in blocks (:func:`earmark.audio.iter_blocks`) and cut into windows as it
streams (:func:`earmark.windows.iter_windows`), so memory stays bounded whatever its length; a
labelled region is read on its own. Decoding runs in a thread of its own, a couple of batches
ahead of scoring, so the two overlap.
"""

import queue
import threading

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ._io import atomic_path
from .audio import iter_blocks, load
from .data.sources import expand_sources
from .errors import EarmarkError
from .tasks import get_task
from .windows import frame_windows, iter_windows

__all__ = ["score_source", "predict_table", "write_table"]


def score_source(model, source, *, batch=256, block_s=60.0):
    """Window scores of one file or region.

    Returns
    -------
    starts_s : np.ndarray (n_windows,)
        Window start times in seconds (from the start of the file).
    scores : np.ndarray (n_windows, n_classes)
    """
    fc = model.features
    path, start_s, end_s = source
    if start_s is None and end_s is None:
        starts, scores = [], []
        blocks = iter_blocks(path, sample_rate=fc.sample_rate, block_s=block_s)
        batches = iter_windows(blocks, fc.window_samples, fc.hop_samples, batch=batch)
        for w, s in _read_ahead(batches):
            scores.append(model.score_windows(w))
            starts.append(s)
        return np.concatenate(starts) / fc.sample_rate, np.concatenate(scores)
    y, _ = load(path, sample_rate=fc.sample_rate, start_s=start_s, end_s=end_s)
    w, s = frame_windows(y, fc.window_samples, fc.hop_samples)
    return s / fc.sample_rate + (start_s or 0.0), model.score_windows(w)


def _read_ahead(items, *, depth=2):
    """Iterate ``items`` in a thread of its own, at most ``depth`` items ahead of the caller.

    An error raised while reading reaches the caller at the item where it happened; a caller
    that stops early (an error in scoring, Ctrl-C) stops the thread and closes ``items``.

    Examples
    --------
    >>> list(_read_ahead(iter(range(5))))
    [0, 1, 2, 3, 4]
    """
    q = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def put(entry):
        while not stop.is_set():
            try:
                q.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((end, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, which raises it
            put((end, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="earmark-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = q.get()
            if exc is not None:
                raise exc
            if item is end:
                return
            yield item
    finally:
        stop.set()
        thread.join()


def predict_table(model, labels, sources, *, windows=False, aggregation=None, progress=True,
                  task="classification", thresholds=None):
    """Predict every source; a file that fails gets a row with its error, and the run goes on.

    Returns a DataFrame with columns path, [start_s, end_s,] the answer, one score column per
    class (named after the class), and error. The answer is the task's decision
    (:mod:`earmark.tasks`): ``label`` (classification: the most probable class) or ``labels``
    (tagging: the classes whose score reaches their threshold, joined with ';').
    """
    task = get_task(task)
    answer = "label" if task.name == "classification" else "labels"

    def decide(scores):
        """The answers of score rows (n, n_classes), as the table shows them: one call for
        all of a file's windows (the tasks' rules work on rows)."""
        d = task.decide(np.atleast_2d(scores), list(labels), thresholds=thresholds)
        return list(d) if answer == "label" else [";".join(a) for a in d]

    rows = []
    items = expand_sources(sources)
    window_s = model.features.window_s
    for src in tqdm(items, desc="predicting", unit="file", disable=not progress):
        base = {"path": src.path}
        if src.start_s is not None or src.end_s is not None or windows:
            base.update(start_s=src.start_s, end_s=src.end_s)
        try:
            starts, scores = score_source(model, src)
            if not np.all(np.isfinite(scores)):   # never NaN scores with an empty error
                raise EarmarkError(f"{src.path}: the model gave NaN or infinite scores for "
                                   "this audio")
        except (EarmarkError, OSError) as exc:
            rows.append({**base, answer: None, **{c: np.nan for c in labels},
                         "error": str(exc)})
            continue
        if windows:
            # whole-file arrays turned into Python values once (tolist), not per window
            rows.extend({**base, "start_s": round(st, 6), "end_s": round(st + window_s, 6),
                         answer: a, **dict(zip(labels, sc)), "error": None}
                        for st, a, sc in zip(np.asarray(starts, np.float64).tolist(),
                                             decide(scores), scores.tolist()))
        else:
            p = task.aggregate(scores, method=aggregation)
            rows.append({**base, answer: decide(p)[0],
                         **{c: float(v) for c, v in zip(labels, p)}, "error": None})
    cols = ["path"] + (["start_s", "end_s"] if any("start_s" in r for r in rows) else []) + \
        [answer] + list(labels) + ["error"]
    return pd.DataFrame(rows, columns=cols)


def write_table(table, path):
    """Write a DataFrame as CSV (or Parquet for ``.parquet``) atomically."""
    with atomic_path(path) as tmp:
        if str(path).lower().endswith(".parquet"):
            table.to_parquet(tmp, index=False)
        else:
            table.to_csv(tmp, index=False, float_format="%.6g")
    return path
