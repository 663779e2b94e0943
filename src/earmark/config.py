"""The preprocessing configuration saved inside every model file.

Training and prediction read the same :class:`FeatureConfig`, so they can never disagree about how
audio becomes model input.
"""

from dataclasses import asdict, dataclass, fields

from ._validation import check_choice, check_number
from .errors import ParameterError

__all__ = ["FeatureConfig"]


@dataclass(frozen=True)
class FeatureConfig:
    """How audio becomes analysis windows and features.

    Parameters
    ----------
    sample_rate : int
        Audio is resampled to this rate (Hz) before anything else.
    n_fft : int
        STFT size in samples (Hann window of the same length).
    hop_length : int
        STFT hop in samples.
    n_mels : int
        Number of mel bands (Slaney-normalised filters, as librosa's default).
    fmin, fmax : float
        Lowest and highest mel frequency in Hz; ``fmax=None`` means ``sample_rate / 2``.
    kind : {'logmel', 'mfcc'}
        Model input: log-mel spectrogram in dB, or its MFCCs.
    n_mfcc : int
        Number of coefficients when ``kind='mfcc'``.
    top_db : float or None
        Floor of the dB scale below each window's peak (as ``librosa.power_to_db``).
    window_s, hop_s : float
        Analysis window length and hop in seconds. A hop longer than the window skips audio
        between windows (a fast scan of a long recording); training warns about it.
    normalize : {'dataset', 'window', 'none'}
        'dataset': subtract the per-band mean and divide by the per-band std of the training data
        (stored in the model); 'window': standardise each window on its own (removes level);
        'none': raw dB.

    Notes
    -----
    Windows start at 0, ``hop_s``, ``2 * hop_s``... while they fit in the clip. If the clip's end
    is not covered, one more window is placed flush with the end. A clip shorter than one window
    becomes one window: its audio at the start, zeros after (one-shots begin at their onset, so
    the onset stays where the model saw it in training).

    Examples
    --------
    >>> from earmark import FeatureConfig
    >>> FeatureConfig(window_s=0.5).frames_per_window
    22
    """

    sample_rate: int = 22050
    n_fft: int = 1024
    hop_length: int = 512
    n_mels: int = 64
    fmin: float = 0.0
    fmax: float | None = None
    kind: str = "logmel"
    n_mfcc: int = 20
    top_db: float | None = 80.0
    window_s: float = 1.0
    hop_s: float = 0.5
    normalize: str = "dataset"

    def __post_init__(self):
        o = "FeatureConfig"
        check_number(self.sample_rate, "sample_rate", o, low=1000, high=384000, closed="both",
                     integer=True)
        check_number(self.n_fft, "n_fft", o, low=16, high=65536, closed="both", integer=True)
        check_number(self.hop_length, "hop_length", o, low=1, high=self.n_fft, closed="both",
                     integer=True)
        check_number(self.n_mels, "n_mels", o, low=1, high=512, closed="both", integer=True)
        check_number(self.fmin, "fmin", o, low=0, high=self.sample_rate / 2, closed="left")
        check_number(self.fmax, "fmax", o, low=self.fmin, high=self.sample_rate / 2,
                     closed="right", allow_none=True)
        check_choice(self.kind, "kind", o, ("logmel", "mfcc"))
        check_number(self.n_mfcc, "n_mfcc", o, low=1, high=self.n_mels, closed="both",
                     integer=True)
        check_number(self.top_db, "top_db", o, low=0, allow_none=True)
        check_number(self.window_s, "window_s", o, low=0, high=600)
        check_number(self.hop_s, "hop_s", o, low=0, high=600)
        check_choice(self.normalize, "normalize", o, ("dataset", "window", "none"))
        if self.window_samples < self.n_fft:
            raise ParameterError(
                f"FeatureConfig: window_s={self.window_s} s is {self.window_samples} samples, "
                f"shorter than n_fft={self.n_fft}; use a longer window or a smaller n_fft.")

    @property
    def window_samples(self):
        """Analysis window length in samples."""
        return int(round(self.window_s * self.sample_rate))

    @property
    def hop_samples(self):
        """Analysis window hop in samples."""
        return max(1, int(round(self.hop_s * self.sample_rate)))

    @property
    def frames_per_window(self):
        """STFT frames in one analysis window (centred frames, as librosa)."""
        return 1 + self.window_samples // self.hop_length

    @property
    def n_features(self):
        """Feature rows per frame (mel bands or MFCCs)."""
        return self.n_mfcc if self.kind == "mfcc" else self.n_mels

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ParameterError(f"FeatureConfig: unknown keys {sorted(unknown)}; known keys are "
                                 f"{sorted(known)}.")
        return cls(**d)

    def replace(self, **changes):
        d = self.to_dict()
        d.update(changes)
        return FeatureConfig.from_dict(d)
