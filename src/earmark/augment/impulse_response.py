# Own code: audiomentations' ApplyImpulseResponse draws from Python's global `random` (not
# reproducible from a per-window Generator) and keeps the IR's pre-delay, which would move
# events; here each IR is aligned on its peak and normalised to unit energy once, when loaded.
"""Reverberation: convolve with a random impulse response from a folder of them."""

import os

import numpy as np
import scipy.fft

from ..audio import load
from ..errors import AudioError
from .base import WaveformTransform, list_audio_files

__all__ = ["ApplyImpulseResponse"]


class ApplyImpulseResponse(WaveformTransform):
    """Convolve the window with a random room/microphone impulse response from ``ir_dir``.

    Parameters
    ----------
    ir_dir : str or path-like
        Folder (searched recursively) of impulse responses, any format
        :func:`earmark.audio.load` reads. Read on first call, not at construction.
    p : float
        Probability of reverberating a window.

    Notes
    -----
    Each impulse response is cut to start at its peak (the direct sound), so events do not move,
    and scaled to unit energy, so the level stays about the same. The reverb tail past the end of
    the window is dropped: the output has the input's length.

    Examples
    --------
    >>> t = ApplyImpulseResponse("impulse_responses/", p=0.3)  # doctest: +SKIP
    >>> y = t(window, 22050, rng=0)  # doctest: +SKIP
    """

    spec_name = "ir:DIR"

    def __init__(self, ir_dir, *, p=0.5):
        super().__init__(p=p)
        self.ir_dir = os.fspath(ir_dir)
        self._paths = None
        self._irs = {}
        self._spectra = {}

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_irs"] = {}
        state["_spectra"] = {}
        return state

    def _ir(self, path, sample_rate):
        key = (path, sample_rate)
        if key not in self._irs:
            ir, _ = load(path, sample_rate=sample_rate)
            ir = ir[int(np.argmax(np.abs(ir))):].astype(np.float64)
            energy = np.sqrt(np.sum(ir ** 2))
            if energy == 0:
                raise AudioError(path, "impulse response is silent (all samples are 0)")
            self._irs[key] = (ir / energy).astype(np.float32)
        return self._irs[key]

    def randomize_parameters(self, samples, sample_rate, rng):
        super().randomize_parameters(samples, sample_rate, rng)
        if self.parameters["should_apply"]:
            if self._paths is None:
                self._paths = list_audio_files(self.ir_dir, "ApplyImpulseResponse")
            self.parameters["ir_path"] = self._paths[int(rng.integers(len(self._paths)))]

    def _ir_spectrum(self, path, sample_rate, n):
        # The IR's FFT is reused for every window of this length: one rfft + irfft per call.
        key = (path, sample_rate, n)
        if key not in self._spectra:
            ir = self._ir(path, sample_rate)[:n]  # later taps cannot reach the window's samples
            size = scipy.fft.next_fast_len(n + len(ir) - 1, real=True)
            if len(self._spectra) >= 64:
                self._spectra.clear()
            self._spectra[key] = (size, scipy.fft.rfft(ir, size))
        return self._spectra[key]

    def apply(self, samples, sample_rate):
        n = len(samples)
        size, spectrum = self._ir_spectrum(self.parameters["ir_path"], sample_rate, n)
        return scipy.fft.irfft(scipy.fft.rfft(samples, size) * spectrum, size)[:n]
