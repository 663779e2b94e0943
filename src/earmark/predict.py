"""Scoring files and long recordings, and writing prediction tables.

Every file is read in blocks (:func:`earmark.audio.iter_blocks`) and cut into windows as it
streams (:func:`earmark.windows.iter_windows`), so memory stays bounded whatever its length; a
labelled region is read on its own.
"""

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
        for w, s in iter_windows(blocks, fc.window_samples, fc.hop_samples, batch=batch):
            scores.append(model.score_windows(w))
            starts.append(s)
        return np.concatenate(starts) / fc.sample_rate, np.concatenate(scores)
    y, _ = load(path, sample_rate=fc.sample_rate, start_s=start_s, end_s=end_s)
    w, s = frame_windows(y, fc.window_samples, fc.hop_samples)
    return s / fc.sample_rate + (start_s or 0.0), model.score_windows(w)


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

    def decide(score):
        d = task.decide(np.asarray(score)[None, :], list(labels), thresholds=thresholds)[0]
        return d if answer == "label" else ";".join(d)

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
            for st, sc in zip(starts, scores):
                rows.append({**base, "start_s": round(float(st), 6),
                             "end_s": round(float(st) + window_s, 6),
                             answer: decide(sc),
                             **{c: float(v) for c, v in zip(labels, sc)}, "error": None})
        else:
            p = task.aggregate(scores, method=aggregation)
            rows.append({**base, answer: decide(p),
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
