"""Precomputed variants of the slow transforms (pitch-shift, time-stretch)."""

import numpy as np
import pytest

import earmark.augment.cache as cache
from earmark.augment import Augmentation, Gain, PitchShift, TimeStretch, precompute_variants

SR = 22050


def tone(freq_hz):
    return (0.5 * np.sin(2 * np.pi * freq_hz * np.arange(SR) / SR)).astype(np.float32)


def peak_hz(y):
    return np.fft.rfftfreq(len(y), 1 / SR)[np.argmax(np.abs(np.fft.rfft(y * np.hanning(len(y)))))]


@pytest.fixture
def plan():
    return Augmentation([PitchShift(min_semitones=-12, max_semitones=12, p=1.0),
                         Gain(p=1.0)], seed=3)


def test_variants_apply_only_the_slow_transforms_with_their_own_draws(plan):
    v = precompute_variants(tone(440), SR, plan, n_variants=4)
    assert len(v) == 4 and v.paths is None
    peaks = [peak_hz(v[i]) for i in range(4)]
    assert len(set(np.round(peaks))) == 4  # four different pitch draws
    for y in v:
        assert y.dtype == np.float32 and y.shape == (SR,)
        # Gain is not precomputed: a pure pitch shift keeps the level of a tone.
        assert np.sqrt(np.mean(y ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.1)
    again = precompute_variants(tone(440), SR, plan, n_variants=4)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(v, again))
    other_clip = precompute_variants(tone(330), SR, plan, n_variants=4)
    assert [round(peak_hz(y) / 330, 2) for y in other_clip] != [round(p / 440, 2) for p in peaks]


def test_cache_dir_stores_variants_and_reads_them_back(plan, tmp_path, monkeypatch):
    v = precompute_variants(tone(440), SR, plan, n_variants=3, cache_dir=tmp_path)
    assert len(v.paths) == 3
    assert all(p.startswith(str(tmp_path)) and p.endswith(f"-{i}.npy")
               for i, p in enumerate(v.paths))
    first = [v[i].copy() for i in range(3)]
    np.testing.assert_array_equal(v.segment(1, 100, 200), first[1][100:200])

    def fail(*args):
        raise AssertionError("recomputed a cached variant")
    monkeypatch.setattr(cache, "_variant", fail)
    v2 = precompute_variants(tone(440), SR, plan, n_variants=3, cache_dir=tmp_path)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(first, v2))
    monkeypatch.undo()

    # A damaged file is recomputed, the same as before.
    with open(v.paths[2], "wb") as f:
        f.write(b"not a numpy file")
    v3 = precompute_variants(tone(440), SR, plan, n_variants=3, cache_dir=tmp_path)
    np.testing.assert_array_equal(v3[2], first[2])
    # Other parameters, other key: nothing is reused.
    other = Augmentation([PitchShift(min_semitones=-1, max_semitones=1, p=1.0)], seed=3)
    v4 = precompute_variants(tone(440), SR, other, n_variants=3, cache_dir=tmp_path)
    assert set(v4.paths).isdisjoint(v.paths)
    assert not any(p.name.startswith(".tmp-") for p in tmp_path.rglob("*"))


def test_no_slow_transform_gives_the_clip_itself():
    x = tone(440)
    v = precompute_variants(x, SR, Augmentation([Gain(p=1.0)]), n_variants=4)
    assert len(v) == 1 and v[0].tobytes() == x.tobytes()


def test_choose_is_seeded(plan):
    v = precompute_variants(tone(440), SR, plan, n_variants=4)
    picks = [peak_hz(v.choose(np.random.default_rng(s))) for s in range(40)]
    assert picks == [peak_hz(v.choose(np.random.default_rng(s))) for s in range(40)]
    assert len(set(picks)) == 4


def test_stretch_variants_can_change_length_when_asked():
    plan = Augmentation([TimeStretch(min_rate=2.0, max_rate=2.0, leave_length_unchanged=False,
                                     p=1.0)])
    assert precompute_variants(tone(440), SR, plan, n_variants=2)[0].shape == (SR // 2,)
