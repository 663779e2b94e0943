# Own code around librosa's phase vocoder + soxr resampling (both already earmark dependencies,
# ~5 ms per 1-s window): audiomentations 0.43 pins soxr<1.0 (downgrading earmark's soxr) and
# draws from Python's global `random`, which a per-window numpy Generator cannot make reproducible.
"""Pitch-shift: raise or lower the pitch by a random number of semitones, keeping the duration."""

import librosa

from .base import WaveformTransform, check_pair
from .time_stretch import _n_fft

__all__ = ["PitchShift"]


class PitchShift(WaveformTransform):
    """Shift the pitch by a random number of semitones without changing the duration.

    Time-stretch by ``2 ** (-semitones / 12)`` (phase vocoder), then resample back to the
    original length with soxr, as ``librosa.effects.pitch_shift``.

    Parameters
    ----------
    min_semitones, max_semitones : float
        Range of the shift in semitones (12 = one octave up); within [-24, 24].
    p : float
        Probability of shifting a window.

    Notes
    -----
    Costs a few ms per 1-s window (see ``benchmarks/augment_speed.py``), so it is marked
    ``precompute = True``: the trainer should draw it from
    :func:`earmark.augment.cache.precompute_variants` rather than per epoch.

    Examples
    --------
    >>> import numpy as np
    >>> sr = 22050
    >>> tone = np.sin(2 * np.pi * 440 * np.arange(sr) / sr).astype(np.float32)
    >>> up = PitchShift(min_semitones=12, max_semitones=12, p=1.0)(tone, sr, rng=0)
    >>> int(np.abs(np.fft.rfft(up)).argmax())  # 1-Hz bins: the tone is now at 880 Hz
    880
    """

    spec_name = "pitch"
    precompute = True

    def __init__(self, *, min_semitones=-4.0, max_semitones=4.0, p=0.5):
        super().__init__(p=p)
        self.min_semitones, self.max_semitones = check_pair(
            min_semitones, max_semitones, "min_semitones", "max_semitones", "PitchShift",
            low_bound=-24, high_bound=24)

    def randomize_parameters(self, samples, sample_rate, rng):
        super().randomize_parameters(samples, sample_rate, rng)
        if self.parameters["should_apply"]:
            self.parameters["semitones"] = rng.uniform(self.min_semitones, self.max_semitones)

    def apply(self, samples, sample_rate):
        n_fft = _n_fft(len(samples))
        return librosa.effects.pitch_shift(samples, sr=sample_rate,
                                           n_steps=self.parameters["semitones"],
                                           res_type="soxr_hq", n_fft=n_fft, hop_length=n_fft // 4)
