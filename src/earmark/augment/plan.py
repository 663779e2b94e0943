"""The augmentation plan: which transforms, in which order, with which seed; saved in the model."""

import numpy as np
import torch

from .._validation import check_choice, check_number
from ..errors import ParameterError
from .background_noise import AddBackgroundNoise
from .base import (BatchTransform, SpectrogramTransform, Transform, WaveformTransform, as_rng,
                   transform_from_config)
from .colored_noise import AddColoredNoise
from .filter_augment import FilterAugment
from .gain import Gain
from .impulse_response import ApplyImpulseResponse
from .mixup import Mixup
from .pitch_shift import PitchShift
from .spec_augment import SpecAugment
from .time_shift import TimeShift
from .time_stretch import TimeStretch

__all__ = ["Augmentation", "SPEC_NAMES", "SPEC_HELP", "DEFAULT_SETS"]

CONFIG_FORMAT = "earmark.augment"
CONFIG_VERSION = 1

#: ``--augment`` names in the order they are applied (the talk's order: time-shift first; then
#: stretch, pitch and noise on the waveform; then SpecAugment and mixup on the features).
#: Names ending in ``:DIR`` take a folder.
SPEC_NAMES = {
    "shift": TimeShift,
    "stretch": TimeStretch,
    "pitch": PitchShift,
    "gain": Gain,
    "filter": FilterAugment,
    "ir:DIR": ApplyImpulseResponse,
    "noise:DIR": AddBackgroundNoise,
    "noise": AddColoredNoise,
    "specaugment": SpecAugment,
    "mixup": Mixup,
}
#: What ``--augment default`` means per recipe family. For the CNNs trained from scratch: gain,
#: the random equaliser, SpecAugment and mixup (60 epochs, see ``RECIPE_DEFAULTS``), which hide a
#: source's exact timbre and level. Measured against the former default (pitch-shift + gain, 30
#: epochs) on the bench folds, seeds 0/1/2 (README, "Choosing the defaults"): level on drums and
#: foley, +0.05 balanced accuracy on instruments, where pitch-shift blurs a cue (register) that
#: each family really has. Fine-tuning ImageNet CNNs keeps pitch-shift + gain, the set its
#: settings were measured with.
DEFAULT_SETS = {
    "cnn": ("gain", "filter", "specaugment", "mixup"),
    "transfer": ("pitch", "gain"),
}

SPEC_HELP = (
    "comma-separated augmentations, applied in this order whatever the order given: "
    "shift (time-shift, roll), stretch (time-stretch 0.8-1.25x), pitch (+/-4 semitones), "
    "gain (+/-12 dB), filter (random equaliser, 3-6 bands, +/-6 dB), ir:DIR (impulse "
    "responses from folder DIR), noise:DIR (background noise from your recordings in DIR, "
    "SNR 3-30 dB), noise (white/pink/brown noise, SNR 5-40 dB), "
    "specaugment (time and frequency masks), mixup (alpha 0.4); or 'none', or 'default' "
    f"(= {','.join(DEFAULT_SETS['cnn'])} for the CNNs, {','.join(DEFAULT_SETS['transfer'])} "
    "for transfer:...), which can be combined with others, e.g. 'default,noise:DIR'")


def _parse_token(token):
    name, sep, arg = token.partition(":")  # only the first ':' splits: C:\\noise stays whole
    name = name.strip().lower()
    key = f"{name}:DIR" if sep else name
    if key not in SPEC_NAMES:
        if f"{name}:DIR" in SPEC_NAMES and not sep:
            example = "recordings/background" if name == "noise" else "recordings/irs"
            raise ParameterError(f"--augment: {name!r} needs a folder: write {name}:DIR, e.g. "
                                 f"{name}:{example}.")
        if name in SPEC_NAMES and sep:
            raise ParameterError(f"--augment: {name!r} takes no ':' argument (got {token!r}).")
        known = ", ".join(SPEC_NAMES)
        raise ParameterError(f"--augment: unknown augmentation {token!r}; known: {known}, "
                             "none, default.")
    if sep and not arg.strip():
        raise ParameterError(f"--augment: {token!r} names no folder; write {name}:DIR.")
    return key, arg.strip() if sep else None


def _token(t):
    """The --augment name of a transform (its folder filled in), for messages."""
    if t.spec_name is None:
        return type(t).__name__
    if t.spec_name.endswith(":DIR"):
        return t.spec_name[:-len("DIR")] + str(next(iter(t.get_params().values())))
    return t.spec_name


class Augmentation:
    """An ordered set of augmentations plus the seed that makes every epoch reproducible.

    Parameters
    ----------
    transforms : sequence of Transform
        Waveform transforms run in the given order on each window; SpecAugment-like transforms
        run on each feature batch; mixup-like transforms on features and targets together.
    seed : int
        Base seed of :meth:`window_rng`, :meth:`batch_generator` and of precomputed variants.

    Examples
    --------
    >>> import numpy as np
    >>> from earmark.augment import Augmentation, TimeShift, AddColoredNoise
    >>> plan = Augmentation.from_spec("shift,noise,specaugment", seed=1)
    >>> plan.moves_events
    True
    >>> Augmentation.from_config(plan.to_config()) == plan
    True
    >>> plan = Augmentation([TimeShift(p=1.0), AddColoredNoise(min_snr_db=20, p=1.0)])
    >>> plan.waveform(np.zeros(22050, np.float32), 22050, rng=plan.window_rng(0, 0)).shape
    (22050,)
    """

    def __init__(self, transforms=(), *, seed=0):
        self.seed = check_number(seed, "seed", "Augmentation", low=0, closed="left", integer=True)
        transforms = list(transforms)
        for t in transforms:
            if not isinstance(t, Transform):
                raise ParameterError(
                    f"Augmentation takes transform objects (TimeShift(), PitchShift(), ...); "
                    f"got {t!r}. For a spec string use Augmentation.from_spec({t!r}).")
        self.transforms = transforms

    # -- building ----------------------------------------------------------------------------

    @classmethod
    def from_spec(cls, spec, *, seed=0, family="cnn"):
        """Build from a ``--augment`` string such as ``"shift,stretch,pitch,noise:DIR,mixup"``.

        Transforms get their default parameters and run in :data:`SPEC_NAMES` order whatever the
        order written; see :data:`SPEC_HELP`. ``"none"`` (or ``""``) gives no augmentation;
        ``"default"`` stands for ``DEFAULT_SETS[family]`` (family 'cnn' or 'transfer').
        """
        check_choice(family, "family", "Augmentation.from_spec", tuple(DEFAULT_SETS))
        if not isinstance(spec, str):
            raise ParameterError(f"--augment must be a string like 'shift,noise,mixup'; got "
                                 f"{spec!r}.")
        tokens = [t.strip() for t in spec.split(",") if t.strip()]
        if tokens in ([], ["none"]):
            return cls([], seed=seed)
        if "none" in (t.lower() for t in tokens):
            raise ParameterError(f"--augment: 'none' cannot be combined with other names "
                                 f"({spec!r}).")
        wanted = []
        for token in tokens:
            for tok in (DEFAULT_SETS[family] if token.lower() == "default" else (token,)):
                parsed = _parse_token(tok)
                if parsed not in wanted:
                    wanted.append(parsed)
        order = list(SPEC_NAMES)
        wanted.sort(key=lambda kv: order.index(kv[0]))  # stable: two noise:DIR keep their order
        return cls([SPEC_NAMES[key]() if arg is None else SPEC_NAMES[key](arg)
                    for key, arg in wanted], seed=seed)

    def to_config(self):
        """A JSON-able dict of every transform's parameters and the seed (stored in the model)."""
        return {"format": CONFIG_FORMAT, "version": CONFIG_VERSION, "seed": self.seed,
                "transforms": [t.to_config() for t in self.transforms]}

    @classmethod
    def from_config(cls, config):
        """Rebuild the plan stored by :meth:`to_config`."""
        if not isinstance(config, dict) or config.get("format") != CONFIG_FORMAT:
            raise ParameterError(f"Not an augmentation config (expected a dict with "
                                 f"format={CONFIG_FORMAT!r}); got {config!r}.")
        if config.get("version") != CONFIG_VERSION:
            raise ParameterError(f"Augmentation config version {config.get('version')!r} is not "
                                 f"supported; this earmark reads version {CONFIG_VERSION}.")
        return cls([transform_from_config(t) for t in config.get("transforms", [])],
                   seed=config.get("seed", 0))

    # -- what it contains --------------------------------------------------------------------

    @property
    def waveform_transforms(self):
        return [t for t in self.transforms if isinstance(t, WaveformTransform)]

    @property
    def spectrogram_transforms(self):
        return [t for t in self.transforms if isinstance(t, SpectrogramTransform)]

    @property
    def batch_transforms(self):
        return [t for t in self.transforms if isinstance(t, BatchTransform)]

    @property
    def precomputed_transforms(self):
        """The slow waveform transforms that :meth:`precompute` applies once per clip."""
        return [t for t in self.waveform_transforms if t.precompute]

    @property
    def moves_events(self):
        """True if any transform moves sound events in time (time-shift, time-stretch)."""
        return any(t.moves_events for t in self.transforms)

    def check_strong_labels(self):
        """Refuse transforms that move events, for data labelled with onsets and offsets.

        earmark does not move event labels with the audio: a window's target is computed from
        the events before augmentation, so a shifted or stretched window would be trained with
        the wrong target. Call this when the dataset has strong labels.

        Raises
        ------
        ParameterError
            If any transform has ``moves_events``; the message names them and what to use.
        """
        moving = [t for t in self.transforms if t.moves_events]
        if moving:
            names = ", ".join(type(t).__name__ for t in moving)
            keep = ",".join(_token(t) for t in self.transforms if not t.moves_events) or "none"
            raise ParameterError(
                f"The augmentation moves sound events in time ({names}), but the data has "
                f"strong labels (event onsets and offsets), whose window targets would no longer "
                f"match the audio. Leave those out (e.g. --augment {keep}), or train on weak "
                f"(clip) labels.")

    def __len__(self):
        return len(self.transforms)

    def __iter__(self):
        return iter(self.transforms)

    def __eq__(self, other):
        return isinstance(other, Augmentation) and self.to_config() == other.to_config()

    __hash__ = None

    def __repr__(self):
        inner = ", ".join(repr(t) for t in self.transforms)
        return f"Augmentation([{inner}], seed={self.seed})"

    # -- randomness --------------------------------------------------------------------------

    def window_rng(self, epoch, index):
        """The numpy Generator for window ``index`` of ``epoch``.

        Seeding per (seed, epoch, window) makes an epoch reproducible whatever the order in which
        DataLoader workers reach the windows.
        """
        return np.random.default_rng([self.seed, int(epoch), int(index)])

    def batch_generator(self, epoch, batch_index):
        """The torch Generator for feature batch ``batch_index`` of ``epoch``."""
        seed = np.random.SeedSequence([self.seed, int(epoch), int(batch_index), 1])
        return torch.Generator().manual_seed(int(seed.generate_state(1, np.uint64)[0] >> 1))

    # -- applying ----------------------------------------------------------------------------

    def waveform(self, samples, sample_rate, *, rng, precomputed=False):
        """Run the waveform transforms on one float32 window; same length and dtype.

        Parameters
        ----------
        samples : np.ndarray
            1-D float window.
        sample_rate : int
        rng : numpy Generator or int
            E.g. ``plan.window_rng(epoch, index)``.
        precomputed : bool
            True if ``samples`` comes from :meth:`precompute`'s variants: the slow transforms
            (``precompute = True``) were applied there and are skipped here.
        """
        rng = as_rng(rng, "Augmentation.waveform")
        for t in self.waveform_transforms:
            if precomputed and t.precompute:
                continue
            samples = t(samples, sample_rate, rng=rng)
        return samples

    def spectrogram(self, x, *, generator):
        """Run the feature-batch transforms (SpecAugment) on ``x`` (n, 1, bands, frames)."""
        for t in self.spectrogram_transforms:
            x = t(x, generator=generator)
        return x

    def batch(self, x, y, *, generator):
        """Run the transforms that need targets too (mixup); returns ``(x, y)``."""
        for t in self.batch_transforms:
            x, y = t(x, y, generator=generator)
        return x, y

    def precompute(self, samples, sample_rate, *, n_variants=4, cache_dir=None):
        """K variants of a clip through the slow transforms; see
        :func:`earmark.augment.cache.precompute_variants`."""
        from .cache import precompute_variants
        return precompute_variants(samples, sample_rate, self, n_variants=n_variants,
                                   cache_dir=cache_dir)
