"""On-disk cache of embeddings, reused across runs and cross-validation folds.

A cache entry is one ``.npy`` file named by the SHA-256 of its key. The key is built from parts
the caller gives: typically the audio's content hash (or the windows themselves), the embedder's
:meth:`~earmark.models.embeddings.base.Embedder.settings` (which include the model file's
SHA-256 and the front end) and the windowing. Changing any of them changes the key, so a stale
entry is never returned; entries are written atomically, so a crash leaves no half file.
"""

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ..._io import atomic_path
from ...errors import ParameterError

__all__ = ["EmbeddingCache", "hash_array", "cache_key", "embed_cached"]


def hash_array(a):
    """SHA-1 of an array's dtype, shape and bytes (a cheap, exact content key)."""
    a = np.ascontiguousarray(a)
    h = hashlib.sha1(f"{a.dtype.str}{a.shape}".encode())
    h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def _canonical(part):
    if isinstance(part, np.ndarray):
        return {"__array_sha1__": hash_array(part)}
    if isinstance(part, bytes):
        return {"__bytes_sha1__": hashlib.sha1(part).hexdigest()}
    if isinstance(part, dict):
        return {str(k): _canonical(v) for k, v in part.items()}
    if isinstance(part, (list, tuple)):
        return [_canonical(v) for v in part]
    if isinstance(part, np.generic):
        return part.item()
    if isinstance(part, os.PathLike):
        return os.fspath(part)
    if part is None or isinstance(part, (str, int, float, bool)):
        return part
    raise ParameterError(f"cache key parts must be str, numbers, None, dicts, lists or arrays; "
                         f"got {type(part).__name__}")


def cache_key(*parts):
    """SHA-256 (hex) of the key parts (dict order does not matter)."""
    text = json.dumps([_canonical(p) for p in parts], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class EmbeddingCache:
    """Arrays on disk under ``root``, addressed by key parts.

    Parameters
    ----------
    root : path-like
        Cache folder (created on first write), e.g. ``earmark_home() / "embeddings"``.

    Attributes
    ----------
    hits, misses : int
        How many ``get_or_compute`` calls were answered from disk / computed.

    Examples
    --------
    >>> import tempfile
    >>> cache = EmbeddingCache(tempfile.mkdtemp())
    >>> a = cache.get_or_compute("file-hash", {"model": "classic"}, compute_fn=lambda: np.ones(3))
    >>> b = cache.get_or_compute("file-hash", {"model": "classic"}, compute_fn=lambda: None)
    >>> cache.hits, cache.misses, bool((a == b).all())
    (1, 1, True)
    """

    def __init__(self, root):
        self.root = Path(root).expanduser()
        self.hits = 0
        self.misses = 0

    def path(self, key):
        return self.root / key[:2] / f"{key}.npy"

    def get(self, *key_parts):
        """The cached array for these key parts, or None."""
        p = self.path(cache_key(*key_parts))
        if not p.is_file():
            return None
        try:
            return np.load(p, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None           # damaged entry: treated as missing and rewritten

    def put(self, *key_parts, value):
        value = np.asarray(value)
        if value.dtype == object:
            raise ParameterError("EmbeddingCache stores numeric arrays only (no object arrays)")
        p = self.path(cache_key(*key_parts))
        with atomic_path(p) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, value, allow_pickle=False)
        return p

    def get_or_compute(self, *key_parts, compute_fn):
        """The array cached under ``key_parts``; else ``compute_fn()``, stored and returned."""
        value = self.get(*key_parts)
        if value is not None:
            self.hits += 1
            return value
        self.misses += 1
        value = np.asarray(compute_fn())
        self.put(*key_parts, value=value)
        return value

    def clear(self):
        """Delete every cached entry."""
        if self.root.is_dir():
            for p in self.root.glob("*/*.npy"):
                p.unlink()


def embed_cached(embedder, windows, *, cache, audio_key=None, batch_size=None, progress=False):
    """``embedder.embed(windows)``, cached under (audio key, embedder settings).

    ``audio_key`` identifies the windows cheaply (for example a file's content hash plus the
    windowing); None hashes the window samples themselves.

    Examples
    --------
    >>> emb = embed_cached(get_embedder("classic"), windows, cache=cache)  # doctest: +SKIP
    """
    key = audio_key if audio_key is not None else hash_array(np.asarray(windows, np.float32))
    return cache.get_or_compute(
        "embedding", key, embedder.settings(),
        compute_fn=lambda: embedder.embed(windows, batch_size=batch_size, progress=progress))
