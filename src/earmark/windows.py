"""Analysis windows: cutting audio into fixed windows, and aggregating window scores to clips.

Placement (documented in :class:`earmark.FeatureConfig`): windows start at 0, hop, 2*hop... while
they fit; if the end of the clip is not covered, one more window is placed flush with the end; a
clip shorter than one window becomes a single window, zero-padded after the audio.
"""

import numpy as np

from ._validation import check_choice
from .errors import ParameterError

__all__ = ["window_starts", "frame_windows", "iter_windows", "aggregate", "AGGREGATIONS",
           "LSE_SHARPNESS"]

AGGREGATIONS = ("mean", "max", "vote", "lse")
#: Sharpness ``r`` of the log-sum-exp aggregation.
LSE_SHARPNESS = 5.0


def window_starts(n_samples, window, hop):
    """Start sample of every analysis window of a clip of ``n_samples`` samples.

    Examples
    --------
    >>> window_starts(25, 10, 5).tolist()
    [0, 5, 10, 15]
    >>> window_starts(27, 10, 5).tolist()
    [0, 5, 10, 15, 17]
    >>> window_starts(4, 10, 5).tolist()
    [0]
    """
    if n_samples <= window:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, n_samples - window + 1, hop, dtype=np.int64)
    if starts[-1] + window < n_samples:
        starts = np.append(starts, n_samples - window)
    return starts


def frame_windows(y, window, hop):
    """Cut a 1-D signal into windows: returns (windows (n, window) float32, starts (n,) samples).

    Examples
    --------
    >>> w, s = frame_windows(np.arange(4, dtype=np.float32), 6, 3)
    >>> w.tolist(), s.tolist()
    ([[0.0, 1.0, 2.0, 3.0, 0.0, 0.0]], [0])
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ParameterError(f"frame_windows expects a 1-D signal; got shape {y.shape}.")
    starts = window_starts(len(y), window, hop)
    if len(y) < window:
        out = np.zeros((1, window), np.float32)
        out[0, :len(y)] = y
        return out, starts
    return np.lib.stride_tricks.sliding_window_view(y, window)[starts], starts


def iter_windows(blocks, window, hop, *, batch=256):
    """Windows of a long signal given as an iterator of 1-D blocks, in batches.

    Yields ``(windows (n <= batch, window), starts (n,))``: concatenated, exactly the windows
    :func:`frame_windows` would cut from the whole signal, while holding at most one block plus
    one batch in memory.
    """
    buf = np.zeros(0, np.float32)
    offset = 0          # index of buf[0] in the whole signal
    next_start = 0
    last_start = -1
    total = 0
    for block in blocks:
        buf = np.concatenate([buf, np.asarray(block, np.float32)])
        total += len(block)
        if next_start + window <= total:
            starts = np.arange(next_start, total - window + 1, hop, dtype=np.int64)
            view = np.lib.stride_tricks.sliding_window_view(buf, window)   # no copy
            for i in range(0, len(starts), batch):
                chunk = starts[i:i + batch]
                yield view[chunk - offset], chunk
            last_start = int(starts[-1])
            next_start = last_start + hop
        # keep what the next window, or a final flush-with-end window, may still need
        keep_from = max(offset, min(next_start, total - window))
        buf = buf[keep_from - offset:]
        offset = keep_from
    if total < window:
        if total:
            w = np.zeros((1, window), np.float32)
            w[0, :total] = buf[:total]
            yield w, np.zeros(1, np.int64)
    elif last_start + window < total:
        a = total - window - offset
        yield buf[None, a:a + window].copy(), np.array([total - window], np.int64)


def aggregate(scores, *, method="mean", normalise=True):
    """Aggregate window scores (n_windows, n_classes) into one clip score vector.

    Parameters
    ----------
    scores : array (n_windows, n_classes)
        Class probabilities per window.
    method : {'mean', 'max', 'vote', 'lse'}
        'mean' is probabilistic voting (average of the window probabilities); 'max' takes each
        class's largest window probability; 'vote' is the fraction of windows whose top class is
        each class (majority vote; ties go to the higher mean probability); 'lse' is
        log-sum-exp, ``max + log(mean(exp(r (s - max)))) / r`` per class with ``r`` =
        :data:`LSE_SHARPNESS`, a smooth maximum between the mean (r -> 0) and the max.
    normalise : bool
        Renormalise 'max' to sum to one (classification, whose classes compete); tagging's
        independent class scores are not renormalised.

    Examples
    --------
    >>> aggregate(np.array([[0.6, 0.4], [0.2, 0.8]]), method="mean").round(3).tolist()
    [0.4, 0.6]
    >>> s = np.array([[0.9, 0.1], [0.1, 0.1]])
    >>> aggregate(s, method="lse").round(3).tolist()
    [0.765, 0.1]
    """
    check_choice(method, "method", "aggregate", AGGREGATIONS)
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] == 0:
        raise ParameterError(f"aggregate expects scores of shape (n_windows>0, n_classes); got "
                             f"{s.shape}.")
    if method == "mean":
        return s.mean(axis=0)
    if method in ("max", "lse"):
        m = s.max(axis=0)
        if method == "lse":
            return m + np.log(np.mean(np.exp(LSE_SHARPNESS * (s - m)), axis=0)) / LSE_SHARPNESS
        return m / m.sum() if normalise and m.sum() > 0 else m
    votes = np.bincount(s.argmax(axis=1), minlength=s.shape[1]).astype(np.float64)
    # tie-break: a tiny share of the mean probability, so argmax picks the more probable class
    return votes / votes.sum() + 1e-9 * s.mean(axis=0)
