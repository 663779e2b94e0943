"""Precomputed variants of each clip through the slow transforms (time-stretch, pitch-shift).

Pitch-shift and time-stretch cost a few ms per 1-s window — more than a small CNN's training step
on a laptop CPU — so running them on every window of every epoch would more than double an
epoch. Instead the trainer calls :func:`precompute_variants` once per clip: it draws ``K``
variants of the clip through the slow transforms (each with its own ``p``), stores them under
``cache_dir`` keyed by the clip's content hash and the transforms' parameters, and each epoch picks
one variant per window. Later runs with the same clips and parameters read the variants back.
"""

import hashlib
import json
import os
import tempfile

import numpy as np

from .._validation import check_number
from ..errors import ParameterError
from .base import as_rng, as_window

__all__ = ["ClipVariants", "precompute_variants", "CACHE_VERSION"]

#: Part of every key: bump it when a slow transform's output changes, so old variants are unused.
CACHE_VERSION = 1


class ClipVariants:
    """The ``K`` precomputed variants of one clip; a sequence of float32 arrays.

    Variants on disk are read when asked for (only their paths stay in memory), so a trainer can
    hold one ClipVariants per clip of a large dataset.

    Examples
    --------
    >>> v = plan.precompute(clip, 22050, n_variants=4, cache_dir="cache")  # doctest: +SKIP
    >>> window = v.choose(rng)[start:start + 22050]  # doctest: +SKIP
    """

    def __init__(self, arrays=None, paths=None):
        self._arrays = arrays
        self._paths = paths

    def __len__(self):
        return len(self._arrays if self._arrays is not None else self._paths)

    def __getitem__(self, i):
        if self._arrays is not None:
            return self._arrays[i]
        return np.load(self._paths[i])

    def segment(self, i, start, stop):
        """Samples ``start:stop`` of variant ``i``, reading only that region from disk."""
        if self._arrays is not None:
            return self._arrays[i][start:stop]
        return np.array(np.load(self._paths[i], mmap_mode="r")[start:stop])

    def choose(self, rng):
        """One variant drawn uniformly with the numpy Generator ``rng``."""
        return self[int(as_rng(rng, "ClipVariants.choose").integers(len(self)))]

    @property
    def paths(self):
        """Files holding the variants, or None when they are kept in memory."""
        return None if self._paths is None else list(self._paths)


def _key(samples, sample_rate, transforms, seed):
    h = hashlib.sha1()
    params = json.dumps([t.to_config() for t in transforms], sort_keys=True)
    h.update(f"earmark.augment.cache/{CACHE_VERSION}:{sample_rate}:{seed}:{params}:".encode())
    h.update(np.ascontiguousarray(samples, dtype=np.float32).tobytes())
    return h.hexdigest()


def _variant(samples, sample_rate, transforms, key, i):
    # Seeded by the clip's key, so two clips do not get the same sequence of semitones and rates.
    rng = np.random.default_rng([int(key[:15], 16), i])
    for t in transforms:
        samples = t(samples, sample_rate, rng=rng)
    return samples


def _save_atomic(path, array):
    folder = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".npy")
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, array)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _readable(path):
    try:
        np.load(path, mmap_mode="r")
        return True
    except (OSError, ValueError):
        return False


def precompute_variants(samples, sample_rate, augmentation, *, n_variants=4, cache_dir=None):
    """Run ``n_variants`` random draws of the plan's slow transforms on one clip, once.

    Parameters
    ----------
    samples : np.ndarray
        The clip (or window), 1-D float.
    sample_rate : int
    augmentation : Augmentation
        Its ``precomputed_transforms`` (those with ``precompute = True``) are applied, in order;
        its ``seed`` and the clip's content seed the draws.
    n_variants : int
        K, the number of variants. Raising K later keeps the variants already computed.
    cache_dir : str or path-like or None
        Folder for the variants (``<cache_dir>/<key[:2]>/<key>-<i>.npy``, the key being the
        SHA-1 of the samples, rate, seed and transform parameters); None keeps them in memory.

    Returns
    -------
    ClipVariants
        With a single variant, the clip itself, if the plan has no slow transform.

    Examples
    --------
    >>> import numpy as np
    >>> from earmark.augment import Augmentation
    >>> plan = Augmentation.from_spec("stretch,pitch", seed=0)
    >>> v = precompute_variants(np.zeros(22050, np.float32), 22050, plan, n_variants=3)
    >>> len(v), v[0].shape
    (3, (22050,))
    """
    samples = as_window(samples, "precompute_variants")
    check_number(n_variants, "n_variants", "precompute_variants", low=1, high=1000,
                 closed="both", integer=True)
    transforms = augmentation.precomputed_transforms
    if not transforms:
        return ClipVariants(arrays=[samples])
    key = _key(samples, sample_rate, transforms, augmentation.seed)
    if cache_dir is None:
        return ClipVariants(arrays=[_variant(samples, sample_rate, transforms, key, i)
                                    for i in range(n_variants)])
    folder = os.path.join(os.fspath(cache_dir), key[:2])
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise ParameterError(f"precompute_variants: cannot create the cache folder {folder!r} "
                             f"({exc.strerror}); pass a writable cache_dir.") from None
    paths = []
    for i in range(n_variants):
        path = os.path.join(folder, f"{key}-{i}.npy")
        if not _readable(path):  # missing, or cut short by a crash before os.replace existed
            _save_atomic(path, _variant(samples, sample_rate, transforms, key, i))
        paths.append(path)
    return ClipVariants(paths=paths)
