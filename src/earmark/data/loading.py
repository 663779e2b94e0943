"""Decode the clips of a dataset into memory (short clips for training and evaluation)."""

import numpy as np
from tqdm.auto import tqdm

from ..audio import load

__all__ = ["load_clips"]


def load_clips(dataset, *, sample_rate, progress=False):
    """Decode every clip of ``dataset`` (mono, resampled) into a list of float32 arrays.

    A labelled region (``start_s``/``end_s``) is read on its own, not the whole file.

    Raises
    ------
    AudioError
        The first clip that cannot be decoded (validate the dataset first to see all problems).
    """
    out = []
    t = dataset.table
    for path, start, end in tqdm(zip(t["path"], t["start_s"], t["end_s"]), total=len(t),
                                 desc="decoding", unit="clip", disable=not progress):
        y, _ = load(path, sample_rate=sample_rate,
                    start_s=None if start != start else float(start),
                    end_s=None if end != end else float(end))
        out.append(np.ascontiguousarray(y, dtype=np.float32))
    return out
