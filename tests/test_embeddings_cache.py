"""The on-disk embedding cache: keys, reuse across instances, damaged entries."""

import numpy as np
import pytest
import torch

from earmark.errors import ParameterError
from earmark.models.embeddings import EmbeddingCache, cache_key, embed_cached, get_embedder


def test_second_call_is_served_from_disk_by_a_new_instance(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return np.arange(6, dtype=np.float32).reshape(2, 3)

    a = EmbeddingCache(tmp_path).get_or_compute("sha1-of-file", {"model": "m"}, compute_fn=compute)
    cache = EmbeddingCache(tmp_path)                 # another run: a fresh object
    b = cache.get_or_compute("sha1-of-file", {"model": "m"}, compute_fn=compute)
    assert len(calls) == 1 and (cache.hits, cache.misses) == (1, 0)
    np.testing.assert_array_equal(a, b)
    assert b.dtype == np.float32
    assert not list(tmp_path.rglob("*.tmp"))


def test_every_key_part_matters_and_dict_order_does_not():
    base = cache_key("audio", {"name": "yamnet", "hop_s": 0.48}, np.zeros(3))
    assert base == cache_key("audio", {"hop_s": 0.48, "name": "yamnet"}, np.zeros(3))
    assert base != cache_key("audio", {"name": "yamnet", "hop_s": 0.5}, np.zeros(3))
    assert base != cache_key("audio2", {"name": "yamnet", "hop_s": 0.48}, np.zeros(3))
    assert base != cache_key("audio", {"name": "yamnet", "hop_s": 0.48}, np.ones(3))
    assert base != cache_key("audio", {"name": "yamnet", "hop_s": 0.48},
                             np.zeros(3, np.float32))
    with pytest.raises(ParameterError, match="object"):
        cache_key(object())


def test_damaged_entry_is_recomputed(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.get_or_compute("k", compute_fn=lambda: np.ones(4))
    (entry,) = tmp_path.rglob("*.npy")
    entry.write_bytes(b"not a numpy file")
    again = cache.get_or_compute("k", compute_fn=lambda: np.full(4, 2.0))
    assert again.tolist() == [2.0] * 4 and cache.misses == 2


def test_embed_cached_reuses_across_runs_and_separates_settings(tmp_path, signals):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        windows = np.stack([signals.tone(440), signals.tone(880)])
        first = embed_cached(get_embedder("classic"), windows, cache=EmbeddingCache(tmp_path))
        cache = EmbeddingCache(tmp_path)
        second = embed_cached(get_embedder("classic"), windows, cache=cache)
        assert cache.hits == 1
        np.testing.assert_array_equal(first, second)
        other = embed_cached(get_embedder("classic", n_mfcc=13), windows, cache=cache)
        assert cache.misses == 1 and other.shape == (2, 4 * 13 + 2 * 64)
    finally:
        torch.set_num_threads(before)
