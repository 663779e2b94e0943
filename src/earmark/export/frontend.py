"""An export-friendly log-mel front end: waveform windows in, normalised features out.

:class:`ExportFrontEnd` computes what :class:`earmark.features.FeatureExtractor` followed by the
model's normalisation (:func:`earmark.features.normalize_windows`) computes — centred frames
with zero padding, a periodic Hann window, the power spectrum, the stored mel filter bank, dB
(``10 log10(max(p, 1e-10))``), the ``top_db`` floor below each window's peak, the MFCC DCT and
the per-window or per-band (dataset) standardisation — from operators every ONNX runtime and
converter has: Gather, Mul, MatMul, Transpose, Reshape, Log, ReduceMax/ReduceMean. No STFT or
DFT operator is needed (``torch.stft`` exports to ONNX's DFT, on which onnxruntime spends about
twice the time of the SB-CNN it feeds, and which LiteRT converters do not take).

The spectrum is a Cooley-Tukey step written as two matrix products: with ``n_fft = N1 * N2``
(``N2`` also dividing the hop, so that frames can be gathered as rows of ``N2`` samples) and
``n = N2 n1 + n2``, ``k = k1 + N1 k2``,

    X[k] = sum_n2 W_N2^(n2 k2) * W_N^(n2 k1) * sum_n1 x[N2 n1 + n2] W_N1^(n1 k1)

The inner sums have real input, so only ``k1 <= N1 / 2`` is computed (the other bins are the
conjugates of computed ones, with the same power); the twiddle factors are folded into the
second product, and ``re^2 + im^2`` into the mel product. A frame costs about
``N (N1 + 2 N2)`` multiply-adds instead of the ``N^2`` of a plain DFT matrix (10x fewer at
``n_fft=1024``). Without a useful factor (a prime ``n_fft``) it is the plain real DFT matrix.
"""

import math

import numpy as np
import torch

from ..errors import ParameterError

__all__ = ["ExportFrontEnd", "dft_factors", "AMIN", "STD_FLOOR"]

#: The power floor before dB, as :mod:`earmark.features`.
AMIN = 1e-10
#: The smallest standard deviation normalisation divides by, as
#: :func:`earmark.features.normalize_windows`.
STD_FLOOR = 1e-5


def dft_factors(n_fft, *, divides=None):
    """``(N1, N2)`` with ``N1 * N2 == n_fft``, ``N2`` a divisor of ``divides`` (the hop) when
    given, and the two as close to ``sqrt(n_fft)`` as that allows.

    Examples
    --------
    >>> dft_factors(1024), dft_factors(400, divides=160), dft_factors(1024, divides=100)
    ((32, 32), (20, 20), (256, 4))
    >>> dft_factors(256, divides=128)
    (16, 16)
    >>> dft_factors(257)
    (257, 1)
    """
    g = n_fft if divides is None else math.gcd(n_fft, divides)
    n2 = 1
    for d in range(1, math.isqrt(n_fft) + 1):
        if n_fft % d == 0:
            for cand in (d, n_fft // d):
                # a frame costs about 2 n_fft (N1 + N2) multiply-adds
                if g % cand == 0 and cand + n_fft // cand < n2 + n_fft // n2:
                    n2 = cand
    return n_fft // n2, n2


def _f32(a):
    return torch.from_numpy(np.ascontiguousarray(a, np.float32))


class ExportFrontEnd(torch.nn.Module):
    """Waveform windows (n, window_samples) -> normalised features (n, 1, n_features, frames).

    Parameters
    ----------
    config : FeatureConfig
        The model's front end.
    mel_basis : array (n_mels, n_fft // 2 + 1)
        The model's mel filter bank (``FeatureExtractor.mel_basis``).
    norm_mean, norm_std : array (n_features,) or None
        The per-band statistics of ``normalize='dataset'``.
    normalize : bool
        Apply the config's normalisation (False: dB features, as the transfer recipes take).

    Raises
    ------
    ParameterError
        ``normalize='dataset'`` without statistics, or arrays of the wrong shape.

    Examples
    --------
    >>> import torch
    >>> from earmark import FeatureConfig
    >>> from earmark.features import FeatureExtractor
    >>> fc = FeatureConfig(normalize="window")
    >>> fe = ExportFrontEnd(fc, mel_basis=FeatureExtractor(fc).mel_basis)
    >>> fe(torch.zeros(2, fc.window_samples)).shape
    torch.Size([2, 1, 64, 44])
    """

    def __init__(self, config, *, mel_basis, norm_mean=None, norm_std=None, normalize=True):
        super().__init__()
        c = self.config = config
        n, hop = c.n_fft, c.hop_length
        n_bins = n // 2 + 1
        mel = np.asarray(mel_basis, np.float64)
        if mel.shape != (c.n_mels, n_bins):
            raise ParameterError(f"ExportFrontEnd: mel_basis has shape {mel.shape}; the config "
                                 f"needs {(c.n_mels, n_bins)}.")
        self.normalize = c.normalize if normalize else "none"
        if self.normalize == "dataset" and (norm_mean is None or norm_std is None):
            raise ParameterError("ExportFrontEnd: normalize='dataset' needs the model's "
                                 "per-band norm_mean and norm_std.")
        self.pad = n // 2                                   # torch.stft(center=True)
        f = self.n_frames = 1 + (c.window_samples + 2 * self.pad - n) // hop
        # n = N2 n1 + n2: frames are read as rows of N2 samples (N2 divides n_fft and the hop)
        self.n1, self.n2 = n1, n2 = dft_factors(n, divides=hop)
        padded = c.window_samples + 2 * self.pad
        self.pad_right = self.pad + (-padded) % n2
        rows = np.arange(f)[None] * (hop // n2) + np.arange(n1)[:, None]        # (n1, frames)
        self.register_buffer("rows", torch.from_numpy(rows.astype(np.int64)), persistent=False)
        hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)   # periodic, as torch's
        # the window in the gathered layout (n1, frames, n2), whole: broadcasting over a middle
        # axis is several times slower in onnxruntime
        self.register_buffer("window", _f32(np.broadcast_to(hann.reshape(n1, 1, n2),
                                                            (n1, f, n2))), persistent=False)
        # Stage 1, the DFT over n1 of each decimated sequence (real input): bins k1 <= N1 / 2
        # suffice, the others are their conjugates. Rows: [cos; -sin].
        self.k1 = n1 // 2 + 1
        a1 = 2 * np.pi * np.outer(np.arange(self.k1), np.arange(n1)) / n1
        self.register_buffer("dft1", _f32(np.vstack([np.cos(a1), -np.sin(a1)])),
                             persistent=False)
        if n2 > 1:
            # Stage 2, per k1: twiddle exp(-2 pi i n2 k1 / N) and DFT over n2, as one product
            # from (real, imaginary) parts over n2 to [real | imaginary] over k2
            tw = 2 * np.pi * np.outer(np.arange(self.k1), np.arange(n2)) / n    # (k1, n2)
            tc, ts = np.cos(tw)[:, :, None], np.sin(tw)[:, :, None]
            a2 = 2 * np.pi * np.outer(np.arange(n2), np.arange(n2)) / n2
            cs = np.hstack([np.cos(a2), -np.sin(a2)])[None]                  # [C | -S]
            sc = np.hstack([np.sin(a2), np.cos(a2)])[None]                   # [S | C]
            self.register_buffer("dft2", _f32(np.stack([tc * cs - ts * sc, ts * cs + tc * sc])),
                                 persistent=False)                # (2, k1, n2, 2 n2)
            k = (np.arange(self.k1)[:, None] + n1 * np.arange(n2)[None]).reshape(-1)
        else:
            k = np.arange(self.k1)
        # power = re^2 + im^2 is folded into the mel product (every bin's weight on both
        # parts; a sum over the parts axis costs onnxruntime more than the larger product).
        # A bin past n // 2 stands for its mirror image n - k (same power); each bin is counted
        # once, in the first place it comes out.
        bins = np.where(k <= n // 2, k, n - k)
        first = np.zeros(len(bins), bool)
        first[np.unique(bins, return_index=True)[1]] = True
        weights = np.where(first[None], mel[:, bins], 0.0)                  # (mels, slots)
        if n2 > 1:
            weights = weights.reshape(c.n_mels, self.k1, 1, n2)
            weights = np.broadcast_to(weights, (c.n_mels, self.k1, 2, n2))
        else:
            weights = np.broadcast_to(weights[:, None], (c.n_mels, 2, self.k1))
        self.register_buffer("mel", _f32(weights.reshape(c.n_mels, -1)), persistent=False)
        self.top_db = None if c.top_db is None else float(c.top_db)
        dct = None
        if c.kind == "mfcc":
            from ..features import _dct_matrix
            dct = _dct_matrix(c.n_mfcc, c.n_mels).clone()
        self.register_buffer("dct", dct, persistent=False)
        if self.normalize == "dataset":
            mean = np.asarray(norm_mean, np.float32).reshape(-1)
            std = np.asarray(norm_std, np.float32).reshape(-1)
            if mean.shape != (c.n_features,) or std.shape != (c.n_features,):
                raise ParameterError(f"ExportFrontEnd: norm_mean/norm_std have shapes "
                                     f"{mean.shape}/{std.shape}; the config has "
                                     f"{c.n_features} feature rows.")
            self.register_buffer("norm_mean", torch.from_numpy(mean).view(1, 1, -1, 1),
                                 persistent=False)
            self.register_buffer("norm_std", torch.from_numpy(np.maximum(std, STD_FLOOR))
                                 .view(1, 1, -1, 1), persistent=False)

    def mel_power(self, y):
        """Mel power spectrogram (n, mels, frames) of waveform windows (n, samples)."""
        b = y.shape[0]
        n1, n2, k1, f = self.n1, self.n2, self.k1, self.n_frames
        y = torch.nn.functional.pad(y, (self.pad, self.pad_right))
        # (n, n1, frames, n2): sample N2 n1 + n2 of every frame, gathered as rows of N2
        x = y.reshape(b, -1, n2)[:, self.rows] * self.window
        z = torch.matmul(self.dft1, x.reshape(b, n1, f * n2))    # (n, 2 k1, frames * n2)
        if n2 > 1:
            z = torch.matmul(z.reshape(b, 2, k1, f, n2), self.dft2).sum(dim=1)
            z = (z * z).transpose(-1, -2)                          # (n, k1, 2 n2, frames)
        else:
            z = z * z                                              # (n, 2 k1, frames)
        return torch.matmul(self.mel, z.reshape(b, -1, f))

    def forward(self, y):
        db = (10.0 / math.log(10.0)) * torch.log(torch.clamp(self.mel_power(y), min=AMIN))
        if self.top_db is not None:
            peak = db.amax(dim=(-2, -1), keepdim=True)
            db = torch.maximum(db, peak - self.top_db)
        if self.dct is not None:
            db = torch.matmul(self.dct, db)
        x = db.unsqueeze(1)
        if self.normalize == "window":
            d = x - x.mean(dim=(-2, -1), keepdim=True)
            count = x.shape[-1] * x.shape[-2]
            s = torch.sqrt((d * d).sum(dim=(-2, -1), keepdim=True) / (count - 1))
            return d / torch.clamp(s, min=STD_FLOOR)
        if self.normalize == "dataset":
            return (x - self.norm_mean) / self.norm_std
        return x
