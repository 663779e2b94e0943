# Own code: audiomentations' AddColorNoise draws from the global `np.random` state (not
# reproducible from a per-window Generator) and shapes its noise with a 128-point filter, too
# short for the 1/f slope below ~350 Hz at 22.05 kHz; shaping the full FFT is exact and as fast.
"""Additive white, pink or brown noise at a random signal-to-noise ratio."""

import functools

import numpy as np
import scipy.fft

from .._validation import check_choice
from ..errors import ParameterError
from .base import WaveformTransform, check_pair

__all__ = ["AddColoredNoise", "NOISE_COLORS", "colored_noise"]

#: Power spectral density exponent of each colour: PSD ∝ 1 / f ** exponent
#: (white 0 dB/octave, pink -3 dB/octave, brown -6 dB/octave).
NOISE_COLORS = {"white": 0.0, "pink": 1.0, "brown": 2.0}

# Below this frequency pink and brown noise stay flat: a 1/f slope all the way down to the
# window's lowest FFT bin would put most of the noise power in inaudible rumble.
_FLOOR_HZ = 20.0


@functools.lru_cache(maxsize=32)
def _amplitude(n, sample_rate, exponent):
    # Amplitude of each rfft bin for a PSD of 1 / f ** exponent, 0 at DC (zero-mean noise).
    f = np.fft.rfftfreq(n, 1.0 / sample_rate)
    amp = np.maximum(f, _FLOOR_HZ) ** (-exponent / 2.0)
    amp[0] = 0.0
    return amp.astype(np.float32)


def colored_noise(n, sample_rate, *, color, rng):
    """``n`` samples of zero-mean noise of the given colour with unit RMS, float32.

    Examples
    --------
    >>> import numpy as np
    >>> x = colored_noise(22050, 22050, color="pink", rng=np.random.default_rng(0))
    >>> round(float(np.sqrt(np.mean(x ** 2))), 3)
    1.0
    """
    check_choice(color, "color", "colored_noise", tuple(NOISE_COLORS))
    exponent = NOISE_COLORS[color]
    if exponent == 0.0 or n < 2:
        noise = rng.standard_normal(n, dtype=np.float32)
        noise -= noise.mean()
    else:
        # The spectrum of Gaussian white noise is complex Gaussian: drawing it directly and
        # shaping it saves the forward FFT (half the cost of the pink and brown noise).
        k = n // 2 + 1
        spectrum = rng.standard_normal(2 * k, dtype=np.float32).view(np.complex64)
        spectrum *= _amplitude(n, sample_rate, exponent)
        noise = scipy.fft.irfft(spectrum, n)
    rms = np.sqrt(np.dot(noise, noise) / max(n, 1))
    return noise / rms if rms > 0 else noise


class AddColoredNoise(WaveformTransform):
    """Add white, pink or brown noise at a random SNR (the window's RMS over the noise's RMS).

    Parameters
    ----------
    min_snr_db, max_snr_db : float
        Range of the signal-to-noise ratio in dB; lower means more noise.
    colors : sequence of {'white', 'pink', 'brown'}
        Colours to draw from, each equally likely. Pink falls by 3 dB per octave, brown by 6 dB
        per octave (both flat below 20 Hz).
    p : float
        Probability of adding noise to a window.

    Notes
    -----
    The SNR is measured on the whole window, so a silent window stays silent.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.sin(np.arange(22050) / 10).astype(np.float32)
    >>> y = AddColoredNoise(min_snr_db=10, max_snr_db=10, p=1.0)(x, 22050, rng=0)
    >>> round(float(10 * np.log10(np.mean(x ** 2) / np.mean((y - x) ** 2))), 2)
    10.0
    """

    spec_name = "noise"

    def __init__(self, *, min_snr_db=5.0, max_snr_db=40.0, colors=("white", "pink", "brown"),
                 p=0.5):
        super().__init__(p=p)
        self.min_snr_db, self.max_snr_db = check_pair(
            min_snr_db, max_snr_db, "min_snr_db", "max_snr_db", "AddColoredNoise",
            low_bound=-40, high_bound=120)
        if isinstance(colors, str):
            colors = (colors,)
        colors = tuple(colors)
        if not colors:
            raise ParameterError("AddColoredNoise: colors is empty; give one or more of "
                                 f"{list(NOISE_COLORS)}.")
        for c in colors:
            check_choice(c, "colors", "AddColoredNoise", tuple(NOISE_COLORS))
        self.colors = colors

    def randomize_parameters(self, samples, sample_rate, rng):
        super().randomize_parameters(samples, sample_rate, rng)
        if self.parameters["should_apply"]:
            self.parameters["snr_db"] = rng.uniform(self.min_snr_db, self.max_snr_db)
            self.parameters["color"] = self.colors[int(rng.integers(len(self.colors)))]
            # The noise itself is drawn here so that apply() stays a pure function of parameters.
            self.parameters["noise_seed"] = int(rng.integers(2 ** 63))

    def apply(self, samples, sample_rate):
        signal_rms = np.sqrt(np.mean(samples.astype(np.float64) ** 2))
        if signal_rms == 0.0:
            return samples
        noise = colored_noise(len(samples), sample_rate, color=self.parameters["color"],
                              rng=np.random.default_rng(self.parameters["noise_seed"]))
        noise_rms = signal_rms / 10.0 ** (self.parameters["snr_db"] / 20.0)
        return samples + noise * np.float32(noise_rms)
