"""Frame scores of whole recordings: windows on the frame grid, scored, stitched.

A recording is cut into analysis windows that start on a grid of whole frames (``0, hop,
2*hop, ...``; the hop is a whole number of the model's frames, so every window's frames fall
on one grid), each window is scored frame by frame (:mod:`earmark.models.frames`), and each
frame's score is the weighted mean over the windows that cover it. A network's frames near a
window's edges see less context, so they weigh less (a sine taper); a window classifier's
frames all weigh the same (each frame: the mean of the windows over it). The last window may
reach past the end of the audio (mirrored there), so the end is scored like the rest.

Audio is read in blocks and windows are scored in batches of a fixed size in file order, so the
frame scores do not depend on the block size: reading a ten-hour file in one-minute blocks gives
exactly the scores of the whole file in memory, while holding one block and one batch.
"""

import math

import numpy as np

from ..audio import iter_blocks

__all__ = ["frame_window_starts", "grid_hop_samples", "score_frames", "score_file_frames",
           "FrameScores"]


def grid_hop_samples(model, hop_s):
    """The window hop in samples: ``hop_s`` rounded to whole frames, at least one frame and at
    most the frames of one window."""
    step = model.frame_step_samples
    frames = int(round(hop_s * model.features.sample_rate / step))
    return step * min(max(1, frames), model.out_frames)


def frame_window_starts(n_samples, window, hop):
    """Window starts on the grid: ``0, hop, 2*hop, ...`` until a window reaches the end.

    Examples
    --------
    >>> frame_window_starts(100, 40, 20).tolist()
    [0, 20, 40, 60]
    >>> frame_window_starts(101, 40, 20).tolist()
    [0, 20, 40, 60, 80]
    >>> frame_window_starts(10, 40, 20).tolist()
    [0]
    """
    if n_samples <= window:
        return np.zeros(1, np.int64)
    return np.arange(math.ceil((n_samples - window) / hop) + 1, dtype=np.int64) * hop


def _weights(model):
    n = model.out_frames
    if getattr(model, "uniform_frames", False):
        return np.ones(n, np.float64)
    return np.sin(np.pi * (np.arange(n) + 0.5) / n) + 1e-3


class FrameScores:
    """Frame scores of one recording.

    Attributes
    ----------
    scores : np.ndarray (n_frames, n_classes)
    frame_step_s : float
        Frame ``k`` covers ``[k * frame_step_s, (k + 1) * frame_step_s)`` seconds.
    duration_s : float
    """

    def __init__(self, scores, frame_step_s, duration_s):
        self.scores = scores
        self.frame_step_s = float(frame_step_s)
        self.duration_s = float(duration_s)

    def __repr__(self):
        return (f"FrameScores({self.scores.shape[0]} frames x {self.scores.shape[1]} classes, "
                f"step {self.frame_step_s:.4f} s, {self.duration_s:.2f} s)")


class _Stitcher:
    def __init__(self, model, hop):
        self.model = model
        self.step = model.frame_step_samples
        self.hop_frames = hop // self.step
        self.w = _weights(model)[:, None]
        self.n_out = model.out_frames
        self.sum = np.zeros((1024, model.n_classes))
        self.den = np.zeros((1024, 1))
        self.pending = []          # (window, start frame)
        self.next_window = 0       # index of the next window to place

    def add(self, window):
        self.pending.append((window, self.next_window * self.hop_frames))
        self.next_window += 1

    def flush(self, batch):
        while len(self.pending) >= batch:
            self._score(self.pending[:batch])
            self.pending = self.pending[batch:]

    def finish(self):
        if self.pending:
            self._score(self.pending)
            self.pending = []

    def _score(self, items):
        scores = self.model.score_frames(np.stack([w for w, _ in items]))
        end = items[-1][1] + self.n_out
        if end > len(self.sum):
            grow = max(end, 2 * len(self.sum))
            self.sum = np.concatenate([self.sum, np.zeros((grow - len(self.sum),
                                                           self.sum.shape[1]))])
            self.den = np.concatenate([self.den, np.zeros((grow - len(self.den), 1))])
        for s, (_, f0) in zip(scores, items):
            self.sum[f0:f0 + self.n_out] += self.w * s
            self.den[f0:f0 + self.n_out] += self.w

    def result(self, n_samples):
        n = max(1, math.ceil(n_samples / self.step))
        return (self.sum[:n] / np.maximum(self.den[:n], 1e-12)).astype(np.float32)


def _score_blocks(model, blocks, *, hop_s, batch):
    fc = model.features
    window = fc.window_samples
    hop = grid_hop_samples(model, hop_s)
    st = _Stitcher(model, hop)
    buf = np.zeros(0, np.float32)
    offset = 0              # sample index of buf[0]
    total = 0
    for block in blocks:
        block = np.asarray(block, np.float32)
        buf = np.concatenate([buf, block])
        total += len(block)
        while st.next_window * hop + window <= total:
            a = st.next_window * hop - offset
            st.add(buf[a:a + window].copy())
            st.flush(batch)
        keep = min(st.next_window * hop - offset, len(buf))
        buf = buf[keep:]
        offset += keep
    # the last windows reach past the end of the audio: the audio is mirrored there (zeros
    # would put an abrupt stop in the window, which networks hear as an onset)
    starts = frame_window_starts(total, window, hop)
    while st.next_window < len(starts):
        a = st.next_window * hop - offset
        piece = buf[max(a, 0):a + window]
        if len(piece) == 0:
            w = np.zeros(window, np.float32)
        else:
            w = np.pad(piece, (0, window - len(piece)), mode="symmetric").astype(np.float32)
        st.add(w)
    st.flush(batch)
    st.finish()
    return FrameScores(st.result(total), model.frame_step_samples / fc.sample_rate,
                       total / fc.sample_rate)


def score_frames(model, y, *, hop_s, batch=32):
    """Frame scores of a signal in memory (1-D, at the model's rate).

    Parameters
    ----------
    model : frame model
        :class:`~earmark.models.frames.NeuralFrameModel` or
        :class:`~earmark.models.frames.WindowFrames`.
    hop_s : float
        Hop between windows (rounded to whole frames).

    Returns
    -------
    FrameScores
    """
    return _score_blocks(model, [np.asarray(y, np.float32)], hop_s=hop_s, batch=batch)


def score_file_frames(model, path, *, hop_s, batch=32, block_s=60.0, start_s=None, end_s=None):
    """Frame scores of an audio file, read in blocks of ``block_s`` seconds (the same scores as
    :func:`score_frames` of the whole file); a region (``start_s``/``end_s``) is read on its
    own and its frames start at ``start_s``."""
    fc = model.features
    if start_s is not None or end_s is not None:
        from ..audio import load
        y, _ = load(path, sample_rate=fc.sample_rate, start_s=start_s, end_s=end_s)
        return score_frames(model, y, hop_s=hop_s, batch=batch)
    return _score_blocks(model, iter_blocks(path, sample_rate=fc.sample_rate, block_s=block_s),
                         hop_s=hop_s, batch=batch)
