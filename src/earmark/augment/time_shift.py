# Own code: a roll or a crop+pad is one numpy call; audiomentations' Shift draws from Python's
# global `random`, which a per-window numpy Generator cannot make reproducible.
"""Time-shift: move the window's content earlier or later by a random number of samples."""

import numpy as np

from .base import WaveformTransform, check_pair

__all__ = ["TimeShift"]


class TimeShift(WaveformTransform):
    """Shift the window's content in time by a random amount (the talk's first augmentation).

    Parameters
    ----------
    min_shift_s, max_shift_s : float
        Range of the shift in seconds; positive moves the sound later, negative earlier. The
        drawn shift is rounded to whole samples.
    rollover : bool
        True (default): *roll* — what leaves one end of the window comes back in at the other.
        False: *crop + pad* — what leaves the window is dropped and the gap is filled with zeros.
    p : float
        Probability of shifting a window.

    Notes
    -----
    Shifting moves sound events (``moves_events = True``): with strongly labelled (onset/offset)
    data, :meth:`earmark.augment.Augmentation.check_strong_labels` refuses it.

    Examples
    --------
    >>> import numpy as np
    >>> t = TimeShift(min_shift_s=0.25, max_shift_s=0.25, p=1.0)
    >>> t(np.arange(8, dtype=np.float32), 8, rng=0)
    array([6., 7., 0., 1., 2., 3., 4., 5.], dtype=float32)
    """

    spec_name = "shift"
    moves_events = True

    def __init__(self, *, min_shift_s=-0.25, max_shift_s=0.25, rollover=True, p=0.5):
        super().__init__(p=p)
        self.min_shift_s, self.max_shift_s = check_pair(
            min_shift_s, max_shift_s, "min_shift_s", "max_shift_s", "TimeShift",
            low_bound=-3600, high_bound=3600)
        self.rollover = bool(rollover)

    def randomize_parameters(self, samples, sample_rate, rng):
        super().randomize_parameters(samples, sample_rate, rng)
        if self.parameters["should_apply"]:
            shift_s = rng.uniform(self.min_shift_s, self.max_shift_s)
            self.parameters["shift_samples"] = int(round(shift_s * sample_rate))

    def apply(self, samples, sample_rate):
        k = self.parameters["shift_samples"]
        if self.rollover:
            return np.roll(samples, k)
        out = np.zeros_like(samples)
        n = len(samples)
        if abs(k) >= n:
            return out
        if k >= 0:
            out[k:] = samples[:n - k]
        else:
            out[:n + k] = samples[-k:]
        return out
