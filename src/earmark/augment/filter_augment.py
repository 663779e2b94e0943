# Own code: audiomentations' SevenBandParametricEQ is close, but it pins soxr<1.0 and draws from
# Python's global `random`; one rFFT per window with a drawn gain curve is a few lines and is
# reproducible from the per-window numpy Generator.
"""FilterAugment: a random equaliser — smooth, random gains over frequency bands."""

import numpy as np

from .._validation import check_choice, check_number, check_range
from .base import WaveformTransform, check_pair

__all__ = ["FilterAugment"]


class FilterAugment(WaveformTransform):
    """Boost and cut random frequency bands, as a different microphone, room or instrument would.

    The spectrum is split at random boundaries (uniform on a log-frequency axis between
    ``min_frequency`` and the Nyquist frequency) into ``min_bands``..``max_bands`` bands, each
    band gets a random gain in ``[min_gain_db, max_gain_db]``, and the gain curve is either
    piecewise constant (``kind='step'``) or interpolated linearly in log-frequency between the
    band centres (``kind='linear'``, a smooth tilt). The window is filtered with one real FFT
    (zero phase), so its length and timing are kept. This is FilterAugment (Nam et al., ICASSP
    2022), applied to the waveform before the features.

    Parameters
    ----------
    min_bands, max_bands : int
        Number of bands drawn per window.
    min_gain_db, max_gain_db : float
        Range of each band's gain in dB.
    min_frequency : float
        Lowest band boundary in Hz; below it the first band's gain applies.
    kind : {'linear', 'step'}
        Gain curve between band centres: interpolated (smooth) or constant per band.
    p : float
        Probability of filtering a window.

    Notes
    -----
    Timbre differs between recordings of one class (another kit, another instrument of the same
    family, another microphone); a model that memorises one spectral shape per training group
    generalises badly to new groups. Random equalisation trains it not to rely on the exact
    shape. Events are not moved, so strong labels stay valid.

    Examples
    --------
    >>> import numpy as np
    >>> t = FilterAugment(min_bands=1, max_bands=1, min_gain_db=6.0206, max_gain_db=6.0206, p=1.0)
    >>> y = t(np.sin(np.arange(4000) * 0.3).astype(np.float32), 8000, rng=0)
    >>> round(float(np.abs(y).max()), 2)            # one band: a plain gain of 2
    2.0
    """

    spec_name = "filter"

    def __init__(self, *, min_bands=3, max_bands=6, min_gain_db=-6.0, max_gain_db=6.0,
                 min_frequency=50.0, kind="linear", p=0.5):
        super().__init__(p=p)
        o = "FilterAugment"
        self.min_bands = check_number(min_bands, "min_bands", o, low=1, high=64, closed="both",
                                      integer=True)
        self.max_bands = check_number(max_bands, "max_bands", o, low=1, high=64, closed="both",
                                      integer=True)
        check_range(self.min_bands, self.max_bands, "min_bands", "max_bands", o)
        self.min_gain_db, self.max_gain_db = check_pair(
            min_gain_db, max_gain_db, "min_gain_db", "max_gain_db", o, low_bound=-60,
            high_bound=60)
        self.min_frequency = check_number(min_frequency, "min_frequency", o, low=0,
                                          closed="neither")
        self.kind = check_choice(kind, "kind", o, ("linear", "step"))

    def randomize_parameters(self, samples, sample_rate, rng):
        super().randomize_parameters(samples, sample_rate, rng)
        if self.parameters["should_apply"]:
            n = int(rng.integers(self.min_bands, self.max_bands + 1))
            # boundaries as fractions of the log-frequency span; sorted, so bands are in order
            self.parameters["edges"] = np.sort(rng.uniform(0.0, 1.0, n - 1)).tolist()
            self.parameters["gains_db"] = rng.uniform(self.min_gain_db, self.max_gain_db,
                                                      n).tolist()

    def gain_curve(self, freqs, sample_rate):
        """The drawn gain in dB at ``freqs`` (Hz), for a window at ``sample_rate``."""
        lo = np.log(min(self.min_frequency, sample_rate / 4))
        hi = np.log(sample_rate / 2)
        pos = (np.log(np.maximum(freqs, 1e-3)) - lo) / (hi - lo)      # 0..1 on log frequency
        edges = np.asarray(self.parameters["edges"], dtype=np.float64)
        gains = np.asarray(self.parameters["gains_db"], dtype=np.float64)
        if self.kind == "step" or len(gains) == 1:
            return gains[np.searchsorted(edges, pos, side="right")]
        bounds = np.r_[0.0, edges, 1.0]
        centres = (bounds[:-1] + bounds[1:]) / 2
        return np.interp(pos, centres, gains)               # flat beyond the outer centres

    def apply(self, samples, sample_rate):
        spectrum = np.fft.rfft(samples.astype(np.float64))
        freqs = np.fft.rfftfreq(len(samples), d=1.0 / sample_rate)
        spectrum *= 10.0 ** (self.gain_curve(freqs, sample_rate) / 20.0)
        return np.fft.irfft(spectrum, n=len(samples)).astype(np.float32)
