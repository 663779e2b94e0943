"""The cheap baseline: statistics of MFCCs and of the log-mel spectrogram over each window.

Per window: mean and standard deviation over frames of the MFCCs, of their deltas
(``librosa.feature.delta``, 9-frame Savitzky-Golay) and of the log-mel bands (dB). With the
defaults (20 MFCCs, 64 mel bands) that is 4 x 20 + 2 x 64 = 208 numbers. No model file, no
licence restriction, fast; the baseline every pretrained embedding has to beat.
"""

import librosa
import numpy as np
import scipy.fft
import torch

from ...config import FeatureConfig
from .base import Embedder, torch_threads

__all__ = ["ClassicEmbedder"]


class ClassicEmbedder(Embedder):
    """MFCC / log-mel statistics (mean, std, delta mean and std).

    Parameters
    ----------
    sample_rate : int
        Audio rate (Hz).
    n_mels, n_mfcc : int
        Mel bands and MFCCs (DCT-II, orthonormal, of the dB log-mel, as librosa).
    n_fft, hop_length : int
        STFT size and hop in samples.
    window_s, hop_s : float
        Natural analysis window and hop; any window of at least ``n_fft`` samples works.
    num_threads : int or None
        torch threads while embedding (None: torch's current setting).

    Examples
    --------
    >>> emb = ClassicEmbedder()
    >>> emb.embed(np.zeros((2, 22050), np.float32)).shape
    (2, 208)
    """

    name = "classic"
    licence = "MIT (computed by earmark; no pretrained weights)"
    default_batch_size = 256

    def __init__(self, *, sample_rate=22050, n_mels=64, n_mfcc=20, n_fft=1024, hop_length=512,
                 window_s=1.0, hop_s=0.5, num_threads=None):
        from ...features import FeatureExtractor

        self.features = FeatureConfig(sample_rate=sample_rate, n_fft=n_fft,
                                      hop_length=hop_length, n_mels=n_mels, n_mfcc=n_mfcc,
                                      top_db=80.0, window_s=window_s, hop_s=hop_s,
                                      normalize="none")
        self.num_threads = num_threads
        self.sample_rate = sample_rate
        self.window_s = window_s
        self.hop_s = hop_s
        self.n_mels, self.n_mfcc = n_mels, n_mfcc
        self.dim = 4 * n_mfcc + 2 * n_mels
        self._fx = FeatureExtractor(self.features).eval()
        self._dct = scipy.fft.dct(np.eye(n_mels), type=2, norm="ortho", axis=0)[:n_mfcc]

    def settings(self):
        s = super().settings()
        s.update(features=self.features.to_dict(),
                 layout="mfcc mean, mfcc std, delta mean, delta std, log-mel mean, log-mel std")
        return s

    def _embed_batch(self, x):
        if x.shape[1] < self.features.n_fft:
            x = np.pad(x, [(0, 0), (0, self.features.n_fft - x.shape[1])])
        with torch.inference_mode(), torch_threads(self.num_threads):
            db = self._fx(torch.from_numpy(x))[:, 0].numpy().astype(np.float64)  # (n, mels, T)
        mfcc = np.einsum("km,nmt->nkt", self._dct, db)
        frames = mfcc.shape[-1]
        if frames >= 3:
            width = min(9, frames if frames % 2 else frames - 1)
            delta = librosa.feature.delta(mfcc, width=width, axis=-1)
        else:
            delta = np.zeros_like(mfcc)
        parts = [mfcc.mean(-1), mfcc.std(-1), delta.mean(-1), delta.std(-1), db.mean(-1),
                 db.std(-1)]
        return np.concatenate(parts, axis=1).astype(np.float32)
