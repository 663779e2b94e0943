"""Features computed with torch: log-mel spectrogram (dB), MFCC, normalisation.

The mel filter bank is librosa's (Slaney scale and normalisation), the STFT is centred with zero
padding and a periodic Hann window, and the dB conversion is ``librosa.power_to_db`` with
``ref=1.0, amin=1e-10``: the tests check the result against ``librosa.feature.melspectrogram``.
"""

import functools

import numpy as np
import scipy.fft
import torch

from .config import FeatureConfig
from .errors import ParameterError

__all__ = ["FeatureExtractor", "log_mel", "mfcc", "normalize_windows"]

AMIN = 1e-10


@functools.lru_cache(maxsize=16)
def _mel_basis(sample_rate, n_fft, n_mels, fmin, fmax):
    import librosa  # slow import (numba): only when a filter bank must be computed

    return torch.from_numpy(librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels,
                                                fmin=fmin, fmax=fmax).astype(np.float32))


@functools.lru_cache(maxsize=16)
def _dct_matrix(n_mfcc, n_mels):
    # DCT-II, orthonormal, as librosa.feature.mfcc (scipy.fft.dct(..., norm='ortho'))
    return torch.from_numpy(scipy.fft.dct(np.eye(n_mels), type=2, norm="ortho",
                                          axis=0)[:n_mfcc].astype(np.float32))


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
