"""What every augmentation shares: probability ``p``, seeded parameter draws, config, ``repr``.

Three kinds of transform, told apart by what they are called on:

- :class:`WaveformTransform` — one 1-D float32 window, ``t(samples, sample_rate, rng=rng)``.
- :class:`SpectrogramTransform` — a torch feature batch ``(n, 1, bands, frames)``,
  ``t(x, generator=generator)``.
- :class:`BatchTransform` — features and targets together, ``t(x, y, generator=generator)``.

Parameter draws are kept apart from applying them (as in audiomentations): ``randomize_parameters``
draws from the numpy Generator it is given and stores the result in ``self.parameters``; ``apply``
only reads ``self.parameters``. The same Generator state therefore always gives the same output.
Because the draws live on the instance, one transform object must not be called from several
threads at once; DataLoader worker processes each get their own copy, which is fine.
"""

import inspect
import os

import numpy as np

from .._validation import check_number, check_range
from ..errors import ParameterError

__all__ = ["Transform", "WaveformTransform", "SpectrogramTransform", "BatchTransform",
           "TRANSFORMS", "transform_from_config", "as_rng", "as_window"]

#: Every transform class by its class name (filled by ``Transform.__init_subclass__``); used by
#: :func:`transform_from_config` to rebuild transforms stored in a model file.
TRANSFORMS = {}


def as_rng(rng, owner):
    """A numpy Generator from a Generator, an int seed or a SeedSequence."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer, np.random.SeedSequence)) and not isinstance(rng, bool):
        return np.random.default_rng(rng)
    raise ParameterError(
        f"{owner}: rng must be a numpy Generator or an int seed, e.g. "
        f"rng=np.random.default_rng(0). Got {rng!r} instead.")


def as_window(samples, owner):
    """Check that ``samples`` is a 1-D float array and return it as float32 (no copy if it is)."""
    arr = np.asarray(samples)
    if arr.ndim != 1:
        raise ParameterError(
            f"{owner} works on one mono window: a 1-D array of samples. Got an array of shape "
            f"{arr.shape} instead.")
    if arr.dtype.kind != "f":
        raise ParameterError(
            f"{owner} needs float samples in [-1, 1]; got dtype {arr.dtype}. Convert with "
            "samples.astype(np.float32) / 32768 for 16-bit PCM.")
    return arr if arr.dtype == np.float32 else arr.astype(np.float32)


def list_audio_files(folder, owner):
    """Sorted audio files under ``folder`` (recursive); AudioError naming the folder if none."""
    from ..audio import AUDIO_EXTENSIONS
    from ..errors import AudioError

    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        what = "is a file, not a folder" if os.path.exists(folder) else "folder not found"
        raise AudioError(folder, f"{what} ({owner} needs a folder of recordings)")
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        found.extend(os.path.join(root, f) for f in sorted(files)
                     if f.lower().endswith(AUDIO_EXTENSIONS) and not f.startswith("."))
    if not found:
        raise AudioError(folder, f"no audio files in this folder ({owner} looks for "
                                 f"{', '.join(AUDIO_EXTENSIONS)})")
    return found


def check_p(p, owner):
    return check_number(p, "p", owner, low=0, high=1, closed="both")


def check_pair(low, high, low_name, high_name, owner, *, low_bound=None, high_bound=None,
               closed="both"):
    """Check a paired, unit-suffixed range (``min_x <= max_x``, both inside the bounds)."""
    check_number(low, low_name, owner, low=low_bound, high=high_bound, closed=closed)
    check_number(high, high_name, owner, low=low_bound, high=high_bound, closed=closed)
    check_range(low, high, low_name, high_name, owner)
    return float(low), float(high)


def _jsonable(value):
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


class Transform:
    """Base of every augmentation: constructor arguments are its whole configuration.

    A subclass stores each keyword argument of ``__init__`` under the same attribute name, so
    ``get_params``, ``repr`` and ``to_config`` need no per-class code (as scikit-learn).
    """

    #: Name used in ``--augment`` specs ("shift", "pitch", ...); None if it has none.
    spec_name = None
    #: True if the transform moves sound events in time (onsets/offsets of strong labels).
    moves_events = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        TRANSFORMS[cls.__name__] = cls

    @classmethod
    def _param_names(cls):
        sig = inspect.signature(cls.__init__)
        return [name for name, prm in sig.parameters.items()
                if name != "self" and prm.kind not in (prm.VAR_POSITIONAL, prm.VAR_KEYWORD)]

    def get_params(self):
        """Constructor arguments as a dict (JSON-able values)."""
        return {name: _jsonable(getattr(self, name)) for name in self._param_names()}

    def to_config(self):
        """``{"name": class name, "params": {...}}``; :func:`transform_from_config` reverses it."""
        return {"name": type(self).__name__, "params": self.get_params()}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_params() == other.get_params()

    __hash__ = None


def transform_from_config(config):
    """Rebuild a transform from :meth:`Transform.to_config`'s dict."""
    if not isinstance(config, dict) or "name" not in config:
        raise ParameterError(f"An augmentation config must be a dict with a 'name' key and a "
                             f"'params' dict. Got {config!r} instead.")
    name = config["name"]
    cls = TRANSFORMS.get(name)
    if cls is None:
        raise ParameterError(f"Unknown augmentation {name!r}; known augmentations are "
                             f"{sorted(TRANSFORMS)}.")
    params = dict(config.get("params", {}))
    unknown = set(params) - set(cls._param_names())
    if unknown:
        raise ParameterError(f"{name}: unknown parameters {sorted(unknown)}; known parameters are "
                             f"{cls._param_names()}.")
    return cls(**params)


class WaveformTransform(Transform):
    """Base of transforms on one float32 window (audiomentations' interface, seeded).

    Subclasses extend :meth:`randomize_parameters` (call ``super()`` first, then draw their own
    values only if ``self.parameters["should_apply"]``) and implement :meth:`apply`.
    """

    #: True if the transform is slow enough that the trainer should precompute it per clip
    #: (see :mod:`earmark.augment.cache`) instead of running it on every window of every epoch.
    precompute = False

    def __init__(self, *, p=0.5):
        self.p = check_p(p, type(self).__name__)
        self.parameters = {"should_apply": None}

    def randomize_parameters(self, samples, sample_rate, rng):
        """Draw whether to apply (probability ``p``) and, in subclasses, the transform's values."""
        # The draw happens even when p is 0 or 1, so adding or removing a transform's p does not
        # change what the transforms after it draw.
        self.parameters = {"should_apply": bool(rng.random() < self.p)}

    def apply(self, samples, sample_rate):
        """Apply the drawn ``self.parameters`` to float32 ``samples``; same length unless said."""
        raise NotImplementedError

    def __call__(self, samples, sample_rate, *, rng):
        owner = type(self).__name__
        samples = as_window(samples, owner)
        check_number(sample_rate, "sample_rate", owner, low=0, integer=True)
        self.randomize_parameters(samples, sample_rate, as_rng(rng, owner))
        if not self.parameters["should_apply"] or samples.size == 0:
            return samples
        return np.ascontiguousarray(self.apply(samples, sample_rate), dtype=np.float32)


class SpectrogramTransform(Transform):
    """Base of transforms on a torch feature batch ``(n, 1, bands, frames)``.

    Called as ``t(x, generator=g)``.
    """

    def __init__(self, *, p=0.5):
        self.p = check_p(p, type(self).__name__)


class BatchTransform(Transform):
    """Base of transforms on features and targets together: ``t(x, y, generator=g) -> (x, y)``."""

    def __init__(self, *, p=0.5):
        self.p = check_p(p, type(self).__name__)
