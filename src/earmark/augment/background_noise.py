# Own code: audiomentations' AddBackgroundNoise draws from Python's global `random` (not
# reproducible from a per-window Generator) and decodes whole files; this reads only the region
# it needs through earmark.audio, so a folder of hour-long recordings costs no memory.
"""Background noise from a folder of the user's own recordings, at a random SNR."""

import os

import numpy as np

from ..audio import info, load
from .base import WaveformTransform, check_pair, list_audio_files

__all__ = ["AddBackgroundNoise"]


class AddBackgroundNoise(WaveformTransform):
    """Mix in a random stretch of a random recording from ``noise_dir`` at a random SNR.

    Parameters
    ----------
    noise_dir : str or path-like
        Folder (searched recursively) of recordings of the background: the room, the street, the
        machine hum your detector must ignore. Any format :func:`earmark.audio.load` reads; files
        are resampled to the window's rate. The folder is first read when the transform is
        first called, so a model file that names a folder missing on this machine still loads.
    min_snr_db, max_snr_db : float
        Range of the signal-to-noise ratio in dB (window RMS over noise RMS); lower means louder
        background.
    p : float
        Probability of adding background noise to a window.

    Notes
    -----
    A folder of up to ``MEMORY_BUDGET_S`` seconds of audio in all is decoded once (per sample
    rate) and kept in memory; from a larger folder each call reads only the region it needs
    from disk. Recordings shorter than a window are looped. A silent window, or a silent
    stretch of noise, leaves the window unchanged, since no gain gives the asked-for SNR.

    Examples
    --------
    >>> t = AddBackgroundNoise("recordings/kitchen", min_snr_db=3, max_snr_db=30)  # doctest: +SKIP
    >>> y = t(window, 22050, rng=0)  # doctest: +SKIP
    """

    spec_name = "noise:DIR"
    #: Folders with at most this much audio (seconds, all files together) are held in memory.
    MEMORY_BUDGET_S = 600.0

    def __init__(self, noise_dir, *, min_snr_db=3.0, max_snr_db=30.0, p=0.5):
        super().__init__(p=p)
        self.noise_dir = os.fspath(noise_dir)
        self.min_snr_db, self.max_snr_db = check_pair(
            min_snr_db, max_snr_db, "min_snr_db", "max_snr_db", "AddBackgroundNoise",
            low_bound=-40, high_bound=120)
        self._index = None  # {path: AudioInfo}, filled on first call
        self._total_s = 0.0
        self._decoded = {}

    def _files(self):
        if self._index is None:
            paths = list_audio_files(self.noise_dir, "AddBackgroundNoise")
            self._index = {p: info(p) for p in paths}
            self._total_s = sum(m.duration_s for m in self._index.values())
        return self._index

    def __getstate__(self):
        # DataLoader workers get a copy without the decoded audio; they decode it again lazily.
        state = dict(self.__dict__)
        state["_decoded"] = {}
        return state

    def randomize_parameters(self, samples, sample_rate, rng):
        super().randomize_parameters(samples, sample_rate, rng)
        if self.parameters["should_apply"]:
            files = self._files()
            self.parameters["snr_db"] = rng.uniform(self.min_snr_db, self.max_snr_db)
            self.parameters["noise_path"] = list(files)[int(rng.integers(len(files)))]
            self.parameters["start_frac"] = rng.random()

    def _segment(self, path, n, sample_rate):
        meta = self._files()[path]
        native = meta.sample_rate
        # A few extra input frames so the resampled region is never a sample short.
        need = int(np.ceil(n * native / sample_rate)) + 32
        start_frac = self.parameters["start_frac"]
        in_memory = self._total_s <= self.MEMORY_BUDGET_S
        if in_memory or meta.frames <= need:
            key = (path, sample_rate)
            if key not in self._decoded:
                self._decoded[key] = load(path, sample_rate=sample_rate)[0]
            y = self._decoded[key]
            if len(y) >= n:
                start = int(start_frac * (len(y) - n + 1))
                return y[start:start + n]
            return np.resize(np.roll(y, -int(start_frac * len(y))), n)  # loops a short one
        start = int(start_frac * (meta.frames - need + 1))
        y, _ = load(path, sample_rate=sample_rate, start_s=start / native,
                    end_s=(start + need) / native)
        return np.resize(y, n) if len(y) < n else y[:n]

    def apply(self, samples, sample_rate):
        signal_rms = np.sqrt(np.mean(samples.astype(np.float64) ** 2))
        noise = self._segment(self.parameters["noise_path"], len(samples), sample_rate)
        noise_rms = np.sqrt(np.mean(noise.astype(np.float64) ** 2))
        if signal_rms == 0.0 or noise_rms == 0.0:
            return samples
        gain = signal_rms / noise_rms / 10.0 ** (self.parameters["snr_db"] / 20.0)
        return samples + noise * np.float32(gain)
