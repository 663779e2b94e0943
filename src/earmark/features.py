"""Features: log-mel spectrogram (dB), MFCC, normalisation.

The mel filter bank is librosa's (Slaney scale and normalisation), the STFT is centred with zero
padding and a periodic Hann window, and the dB conversion is ``librosa.power_to_db`` with
``ref=1.0, amin=1e-10``: the tests check the result against ``librosa.feature.melspectrogram``.

On the CPU (no gradient needed) the front end runs in small cache-sized pieces: a real FFT
(``torch.fft.rfft``, MKL's) over strided frames, the mel filter bank applied in blocks of bands
that skip its zeros (each band covers a few dozen of the 513 bins), then dB, all on a few
windows at a time so the intermediate arrays stay in a core's cache; the pieces run one after
the other (callers that score many windows spread them over threads with :func:`parallel_map`).
That takes a third to a half of librosa's CPU time on
one thread (benchmarks/frontend_speed.py). A fixed DFT basis (a matmul, as ONNX export needs)
costs ~40x the FFT's arithmetic at n_fft=1024 and measured ~8x slower than the FFT. Tensors
that need gradients, or live on a GPU, take the torch path (``torch.stft`` and a dense
matmul); both give the same numbers to float rounding.
"""

import contextlib
import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from .config import FeatureConfig
from .errors import ParameterError

__all__ = ["FeatureExtractor", "log_mel", "mfcc", "normalize_windows", "parallel_map",
           "worker_threads"]

AMIN = 1e-10
#: Frames computed at a time by the CPU front end (six one-second windows at the defaults): the
#: framed audio (4 KB a frame at n_fft=1024), its spectra and mel bands stay in cache; fewer
#: frames a piece measured slower (more calls), more hardly faster on one thread, slower on two.
CHUNK_FRAMES = 264
#: Most bands in one block of the mel filter bank: fewer blocks cost more multiplications by
#: zeros, more blocks more calls; 8 measured best at 64 bands and 513 bins.
BANDS_PER_BLOCK = 8
#: Most multiply-adds of one block's matmul (frames x bands x columns): OpenBLAS, behind numpy,
#: starts its own threads above 262,144 (and then serialises two workers on its one pool).
_MAX_BLAS_WORK = 200_000


@functools.lru_cache(maxsize=16)
def _mel_basis(sample_rate, n_fft, n_mels, fmin, fmax):
    import librosa  # slow import (numba): only when a filter bank must be computed

    return torch.from_numpy(librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels,
                                                fmin=fmin, fmax=fmax).astype(np.float32))


@functools.lru_cache(maxsize=16)
def _dct_matrix(n_mfcc, n_mels):
    # DCT-II, orthonormal, as librosa.feature.mfcc (scipy.fft.dct(..., norm='ortho'));
    # imported here: scipy.fft costs ~0.1 s of every command's start-up, and only MFCCs need it
    import scipy.fft

    return torch.from_numpy(scipy.fft.dct(np.eye(n_mels), type=2, norm="ortho",
                                          axis=0)[:n_mfcc].astype(np.float32))


# -- threads ----------------------------------------------------------------------------------
# Work is shared between threads as independent pieces (a few windows each), every piece on one
# core with torch single-threaded: no barrier between cores, so a busy neighbour on the machine
# slows one piece down instead of stalling all of them (torch's own intra-op threads measured
# 2.6x the CPU time per window of the SB-CNN than this when the machine was shared).
_local = threading.local()
_lock = threading.Lock()
_single = {"depth": 0, "before": 1}
_pools = {}


def worker_threads():
    """Threads :func:`parallel_map` would use now: torch's thread count (as the user set it with
    ``torch.set_num_threads``), and 1 inside a worker (pieces never split again)."""
    if getattr(_local, "worker", False):
        return 1
    with _lock:
        return _single["before"] if _single["depth"] else torch.get_num_threads()


@contextlib.contextmanager
def _torch_single_threaded():
    # torch's thread count is global: set to 1 while any parallel_map runs, restored by the last
    # one to finish (several callers may overlap: the HTTP service scores from many threads)
    with _lock:
        if _single["depth"] == 0:
            _single["before"] = torch.get_num_threads()
            torch.set_num_threads(1)
        _single["depth"] += 1
    try:
        yield
    finally:
        with _lock:
            _single["depth"] -= 1
            if _single["depth"] == 0:
                torch.set_num_threads(_single["before"])


def _pool(workers):
    key = (os.getpid(), workers)     # a forked child cannot use its parent's threads
    with _lock:
        if key not in _pools:
            _pools[key] = ThreadPoolExecutor(workers, thread_name_prefix="earmark")
        return _pools[key]


def _as_worker(fn):
    def run(item):
        _local.worker = True
        try:
            return fn(item)
        finally:
            _local.worker = False
    return run


def parallel_map(fn, items, *, workers=None):
    """``[fn(item) for item in items]``, computed by ``workers`` threads (default
    :func:`worker_threads`) with torch single-threaded inside each.

    ``fn`` must release the GIL for its heavy work (numpy's and torch's operators do).

    Examples
    --------
    >>> parallel_map(lambda x: x * x, [1, 2, 3], workers=2)
    [1, 4, 9]
    """
    items = list(items)
    workers = worker_threads() if workers is None else int(workers)
    workers = min(workers, len(items))
    if workers <= 1:
        return [fn(item) for item in items]
    # one task per worker, a contiguous share of the items each: a task per item cost more
    # in hand-overs between threads than the small pieces take to compute
    bounds = np.linspace(0, len(items), workers + 1).round().astype(int)
    shares = [items[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    with _torch_single_threaded():
        done = _pool(workers).map(_as_worker(lambda share: [fn(item) for item in share]),
                                  shares)
        return [result for share in done for result in share]


# -- the CPU front end ----------------------------------------------------------------------------
def _scratch(name, shape):
    """A float32 work array of this thread, reused from piece to piece (fresh arrays of this
    size come from mmap and cost page faults every time)."""
    size = int(np.prod(shape))
    buffers = _local.__dict__.setdefault("scratch", {})
    buf = buffers.get(name)
    if buf is None or buf.size < size:
        buf = buffers[name] = np.empty(size, np.float32)
    return buf[:size].reshape(shape)


class _CpuLogMel:
    """Log-mel (dB) or MFCC of a float32 batch (n, samples) with numpy and torch, in pieces of
    :data:`CHUNK_FRAMES` frames; equal to :meth:`FeatureExtractor.forward`'s torch path to
    float rounding."""

    def __init__(self, config, mel_basis, window, dct):
        self.config = config
        self.window = np.asarray(window, np.float32)
        mel = np.asarray(mel_basis, np.float32)
        self.n_mels = mel.shape[0]
        # blocks of bands with the bins they cover: (first band, end band, first column, end
        # column, weights); the bins outside a block's range are zero for all its bands. The
        # weights are repeated for the real and imaginary parts of each bin: squared in place,
        # the FFT's interleaved output times them is the mel power, with no separate pass
        # adding re^2 + im^2 (numpy's matmul, not torch's: 5x faster on these column slices)
        self.blocks = []
        # (a band without any weight, possible at small n_fft, covers nothing and stays 0)
        nonzero = [np.flatnonzero(row) for row in mel]
        spans = [(int(c[0]), int(c[-1]) + 1) if len(c) else None for c in nonzero]
        most = max(1, _MAX_BLAS_WORK // CHUNK_FRAMES)
        b0 = 0
        while b0 < self.n_mels:
            lo, hi = spans[b0] or (mel.shape[1], 0)
            b1 = b0 + 1
            while b1 < self.n_mels and b1 - b0 < BANDS_PER_BLOCK:
                wider = (lo, hi) if spans[b1] is None else (min(lo, spans[b1][0]),
                                                            max(hi, spans[b1][1]))
                if (b1 + 1 - b0) * 2 * (wider[1] - wider[0]) > most:
                    break
                (lo, hi), b1 = wider, b1 + 1
            if hi > lo:
                weights = np.repeat(mel[b0:b1, lo:hi].T, 2, axis=0)
                self.blocks.append((b0, b1, 2 * lo, 2 * hi, np.ascontiguousarray(weights)))
            b0 = b1
        self.dct = None if dct is None else dct.cpu().numpy()
        self.n_out = self.n_mels if dct is None else dct.shape[0]

    def n_frames(self, n_samples):
        c = self.config
        return 1 + (n_samples + 2 * (c.n_fft // 2) - c.n_fft) // c.hop_length

    def __call__(self, y):
        n, length = y.shape
        n_frames = self.n_frames(length)
        whole = n_frames <= CHUNK_FRAMES       # pieces of whole windows, or of one window
        if whole:
            per = max(1, CHUNK_FRAMES // n_frames)
            pieces = [(i, min(i + per, n), 0, n_frames) for i in range(0, n, per)]
            out = np.empty((n, self.n_out, n_frames), np.float32)
        else:
            pieces = [(i, i + 1, f, min(f + CHUNK_FRAMES, n_frames))
                      for i in range(n) for f in range(0, n_frames, CHUNK_FRAMES)]
            out = np.empty((n, self.n_mels, n_frames), np.float32)
        # numpy, not torch, holds the result: pieces written by worker threads (outside the
        # caller's inference mode) must not be inference tensors. The pieces run one after the
        # other: callers that score many windows spread them over threads themselves
        # (NeuralWindowModel.score_windows), and splitting here would switch torch's global
        # thread count on every training batch, which cost more than the front end itself
        # (training 1.83 s per epoch against 1.51 s with torch.stft; sequential pieces: faster)
        for piece in pieces:
            self._piece(y, out, *piece, finish=whole)
        return torch.from_numpy(out if whole else self._finish(out))

    def _piece(self, y, out, i0, i1, f0, f1, *, finish):
        c = self.config
        n_fft, hop, pad = c.n_fft, c.hop_length, c.n_fft // 2
        k, nf = i1 - i0, f1 - f0
        # the samples these frames read, zero outside the signal (the centred STFT's padding)
        a, b = f0 * hop - pad, (f1 - 1) * hop - pad + n_fft
        length = y.shape[1]
        seg = _scratch("segment", (k, b - a))
        lo, hi = max(a, 0), min(b, length)
        seg[:, :max(0, lo - a)] = 0.0
        seg[:, max(0, hi - a):] = 0.0
        if hi > lo:
            seg[:, lo - a:hi - a] = y[i0:i1, lo:hi]
        frames = np.lib.stride_tricks.sliding_window_view(seg, n_fft, axis=-1)[:, ::hop]
        windowed = np.multiply(frames, self.window, out=_scratch("frames", (k, nf, n_fft)))
        # the matmuls always get CHUNK_FRAMES rows (zeros after this piece's): BLAS rounds a
        # row alike wherever it sits, but not alike for every row count, and a window's
        # features must not depend on the batch it came in
        rows = k * nf
        parts = _scratch("spectra", (CHUNK_FRAMES, 2 * (n_fft // 2 + 1)))  # re, im, re, im...
        spectra = torch.from_numpy(parts[:rows]).view(k, nf, -1, 2)
        # torch's real FFT (MKL's) measured 1.7x scipy's pocketfft on these pieces
        torch.fft.rfft(torch.from_numpy(windowed), dim=-1, out=torch.view_as_complex(spectra))
        np.square(parts[:rows], out=parts[:rows])
        parts[rows:] = 0.0
        mel = np.zeros((CHUNK_FRAMES, self.n_mels), np.float32)
        for b0, b1, lo, hi, weights in self.blocks:
            np.matmul(parts[:, lo:hi], weights, out=mel[:, b0:b1])
        mel = mel[:rows]
        np.maximum(mel, AMIN, out=mel)         # numpy's log10: 2x torch's on these sizes
        np.log10(mel, out=mel)
        mel *= 10.0
        db = mel.reshape(k, nf, self.n_mels).transpose(0, 2, 1)
        if finish:
            db = self._finish(db)
        out[i0:i1, :, f0:f1] = db

    def _finish(self, db):
        """top_db floor (per window) and DCT of whole windows (k, n_mels, frames)."""
        c = self.config
        if c.top_db is not None:
            peak = db.max(axis=(-2, -1), keepdims=True)
            db = np.maximum(db, peak - np.float32(c.top_db))
        if self.dct is not None:
            db = np.matmul(self.dct, db)
        return db


class FeatureExtractor(torch.nn.Module):
    """Waveform batch (n, samples) → features (n, 1, n_features, frames), torch, no grad needed.

    Parameters
    ----------
    config : FeatureConfig

    Examples
    --------
    >>> import torch
    >>> from earmark import FeatureConfig
    >>> fx = FeatureExtractor(FeatureConfig())
    >>> fx(torch.zeros(2, 22050)).shape
    torch.Size([2, 1, 64, 44])
    """

    def __init__(self, config, *, mel_basis=None):
        super().__init__()
        self.config = config
        c = config
        fmax = c.fmax if c.fmax is not None else c.sample_rate / 2
        # a model file stores its filter bank, so prediction need not import librosa (~1 s)
        if mel_basis is None:
            mel_basis = _mel_basis(c.sample_rate, c.n_fft, c.n_mels, float(c.fmin), float(fmax))
        else:
            mel_basis = torch.as_tensor(np.asarray(mel_basis, np.float32))
            expected = (c.n_mels, c.n_fft // 2 + 1)
            if tuple(mel_basis.shape) != expected:
                raise ParameterError(f"FeatureExtractor: mel_basis has shape "
                                     f"{tuple(mel_basis.shape)}; the config needs {expected}.")
        self.register_buffer("mel_basis", mel_basis, persistent=False)
        self.register_buffer("window", torch.hann_window(c.n_fft, periodic=True),
                             persistent=False)
        if c.kind == "mfcc":
            self.register_buffer("dct", _dct_matrix(c.n_mfcc, c.n_mels), persistent=False)

    def _cpu_front_end(self):
        # built on first use from the buffers as they are then (a caller may replace them)
        key = (self.mel_basis.data_ptr(), self.window.data_ptr())
        if getattr(self, "_cpu", None) is None or self._cpu[0] != key:
            dct = self.dct if self.config.kind == "mfcc" else None
            self._cpu = (key, _CpuLogMel(self.config, self.mel_basis.numpy(),
                                         self.window.numpy(), dct))
        return self._cpu[1]

    def power_mel(self, y):
        c = self.config
        spec = torch.stft(y, n_fft=c.n_fft, hop_length=c.hop_length, window=self.window,
                          center=True, pad_mode="constant", return_complex=True)
        power = spec.real.square() + spec.imag.square()
        return torch.matmul(self.mel_basis, power)

    def forward(self, y):
        c = self.config
        if y.ndim == 1:
            y = y[None]
        if (y.ndim == 2 and y.device.type == "cpu" and y.dtype == torch.float32
                and not (y.requires_grad and torch.is_grad_enabled())
                and self.mel_basis.device.type == "cpu"):
            cpu = self._cpu_front_end()
            if cpu.n_frames(y.shape[1]) > 0:
                return cpu(y.detach().numpy()).unsqueeze(1)
        db = 10.0 * torch.log10(torch.clamp(self.power_mel(y), min=AMIN))
        if c.top_db is not None:
            peak = db.amax(dim=(-2, -1), keepdim=True)
            db = torch.maximum(db, peak - c.top_db)
        if c.kind == "mfcc":
            db = torch.matmul(self.dct, db)
        return db.unsqueeze(1)


def normalize_windows(x, *, mode, mean=None, std=None):
    """Normalise a feature batch (n, 1, bands, frames) in place of a copy.

    ``mode='window'`` standardises each window on its own; ``'dataset'`` uses the per-band
    ``mean``/``std`` (arrays of length ``bands``) learnt from training data; ``'none'`` returns x.
    """
    if mode == "none":
        return x
    if mode == "window":
        m = x.mean(dim=(-2, -1), keepdim=True)
        s = x.std(dim=(-2, -1), keepdim=True).clamp_min(1e-5)
        return (x - m) / s
    mean_t = torch.as_tensor(np.asarray(mean, np.float32), device=x.device).view(1, 1, -1, 1)
    std_t = torch.as_tensor(np.asarray(std, np.float32), device=x.device).view(1, 1, -1, 1)
    std_t = std_t.clamp_min(1e-5)
    return (x - mean_t) / std_t


def log_mel(y, *, sample_rate, n_fft=1024, hop_length=512, n_mels=64, fmin=0.0, fmax=None,
            top_db=80.0):
    """Log-mel spectrogram in dB of a 1-D float signal, as a (n_mels, frames) numpy array.

    Examples
    --------
    >>> import numpy as np
    >>> S = log_mel(np.zeros(22050, np.float32), sample_rate=22050)
    >>> S.shape
    (64, 44)
    """
    cfg = FeatureConfig(sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length,
                        n_mels=n_mels, fmin=fmin, fmax=fmax, top_db=top_db,
                        window_s=max(len(y), n_fft) / sample_rate)
    with torch.no_grad():
        out = FeatureExtractor(cfg)(torch.as_tensor(np.asarray(y, np.float32)))
    return out[0, 0].numpy()


def mfcc(y, *, sample_rate, n_mfcc=20, **kwargs):
    """MFCCs (DCT-II of the log-mel dB, orthonormal) as a (n_mfcc, frames) numpy array."""
    S = torch.from_numpy(log_mel(y, sample_rate=sample_rate, **kwargs))
    return torch.matmul(_dct_matrix(n_mfcc, S.shape[0]), S).numpy()
