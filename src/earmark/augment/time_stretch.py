# Own code around librosa's phase vocoder (already an earmark dependency, ~3 ms per 1-s window):
# audiomentations 0.43 would do the same but pins soxr<1.0 (downgrading earmark's soxr) and draws
# from Python's global `random`, which a per-window numpy Generator cannot make reproducible.
"""Time-stretch: play faster or slower without changing the pitch."""

import librosa
import numpy as np

from .base import WaveformTransform, check_pair

__all__ = ["TimeStretch"]


class TimeStretch(WaveformTransform):
    """Speed the sound up or slow it down by a random rate, keeping its pitch (phase vocoder).

    Parameters
    ----------
    min_rate, max_rate : float
        Range of the speed factor: 1.25 plays 25 % faster (the sound lasts 1/1.25 as long), 0.8
        plays slower. Must lie in [0.1, 10].
    leave_length_unchanged : bool
        True (default): crop or zero-pad the result back to the input length, so a window stays a
        window. False: return the stretched sound, ``round(len / rate)`` samples long.
    p : float
        Probability of stretching a window.

    Notes
    -----
    Stretching moves sound events (``moves_events = True``). It costs a few ms per 1-s window
    (see ``benchmarks/augment_speed.py``), so it is marked ``precompute = True``: the trainer
    should draw it from :func:`earmark.augment.cache.precompute_variants` rather than per epoch.

    Examples
    --------
    >>> import numpy as np
    >>> t = TimeStretch(min_rate=2.0, max_rate=2.0, leave_length_unchanged=False, p=1.0)
    >>> len(t(np.zeros(22050, np.float32), 22050, rng=0))
    11025
    """

    spec_name = "stretch"
    moves_events = True
    precompute = True

    def __init__(self, *, min_rate=0.8, max_rate=1.25, leave_length_unchanged=True, p=0.5):
        super().__init__(p=p)
        self.min_rate, self.max_rate = check_pair(
            min_rate, max_rate, "min_rate", "max_rate", "TimeStretch", low_bound=0.1,
            high_bound=10)
        self.leave_length_unchanged = bool(leave_length_unchanged)

    def randomize_parameters(self, samples, sample_rate, rng):
        super().randomize_parameters(samples, sample_rate, rng)
        if self.parameters["should_apply"]:
            self.parameters["rate"] = rng.uniform(self.min_rate, self.max_rate)

    def apply(self, samples, sample_rate):
        n = len(samples)
        n_fft = _n_fft(n)
        y = librosa.effects.time_stretch(samples, rate=self.parameters["rate"], n_fft=n_fft,
                                         hop_length=n_fft // 4)
        if self.leave_length_unchanged:
            y = librosa.util.fix_length(y, size=n)
        return y


def _n_fft(n):
    # librosa's 2048-point STFT suits windows of 0.1 s and more; shorter inputs need a shorter
    # frame, or the phase vocoder sees only padding.
    return int(min(2048, max(16, 2 ** int(np.floor(np.log2(max(n, 16)))))))
