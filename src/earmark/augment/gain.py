# Own code: a multiplication; audiomentations' Gain draws from Python's global `random`, which a
# per-window numpy Generator cannot make reproducible.
"""Gain: multiply the window by a random level change in dB."""

from .base import WaveformTransform, check_pair

__all__ = ["Gain"]


class Gain(WaveformTransform):
    """Change the level by a random gain in dB.

    Parameters
    ----------
    min_gain_db, max_gain_db : float
        Range of the gain in dB (negative makes the window quieter).
    p : float
        Probability of changing a window's level.

    Notes
    -----
    With ``FeatureConfig(normalize='window')`` a gain change is undone by the normalisation; it
    matters with ``'dataset'`` or ``'none'``. No clipping is applied: samples may leave [-1, 1].

    Examples
    --------
    >>> import numpy as np
    >>> Gain(min_gain_db=-6.0206, max_gain_db=-6.0206, p=1.0)(np.ones(2, np.float32), 8, rng=0)
    array([0.5, 0.5], dtype=float32)
    """

    spec_name = "gain"

    def __init__(self, *, min_gain_db=-12.0, max_gain_db=12.0, p=0.5):
        super().__init__(p=p)
        self.min_gain_db, self.max_gain_db = check_pair(
            min_gain_db, max_gain_db, "min_gain_db", "max_gain_db", "Gain",
            low_bound=-120, high_bound=60)

    def randomize_parameters(self, samples, sample_rate, rng):
        super().randomize_parameters(samples, sample_rate, rng)
        if self.parameters["should_apply"]:
            self.parameters["gain_db"] = rng.uniform(self.min_gain_db, self.max_gain_db)

    def apply(self, samples, sample_rate):
        return samples * samples.dtype.type(10.0 ** (self.parameters["gain_db"] / 20.0))
