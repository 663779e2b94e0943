"""earmark.audio: decoding to float32, mono mixing, resampling, regions, blocks, content hashes.

Bad files (missing, empty, garbage, folders, NaN samples) are in test_failures.py.
"""

import numpy as np
import pytest
import soundfile as sf

from earmark import audio

SR = 22050


def _write_or_skip(path, y, sr, **kwargs):
    try:
        sf.write(path, y, sr, **kwargs)
    except Exception as exc:  # libsndfile without that encoder (MP3 needs 1.1+ with LAME)
        pytest.skip(f"libsndfile cannot write {kwargs.get('format', path)}: {exc}")


# -- decoding ------------------------------------------------------------------------------------

def test_int16_wav_decodes_to_value_over_32768(tmp_path, rng):
    ints = rng.integers(-32768, 32768, size=1000, dtype=np.int16)
    ints[:3] = [-32768, 32767, 0]
    sf.write(tmp_path / "a.wav", ints, SR, subtype="PCM_16")
    y, sr = audio.load(tmp_path / "a.wav")
    assert sr == SR and y.dtype == np.float32 and y.shape == (1000,)
    np.testing.assert_array_equal(y, ints.astype(np.float32) / 32768)
    assert y[0] == -1.0 and y[1] == np.float32(32767 / 32768)


def test_int24_wav_decodes_to_value_over_2_pow_23(tmp_path, rng):
    ints24 = rng.integers(-(1 << 23), 1 << 23, size=1000).astype(np.int32)
    # soundfile writes int32 arrays scaled to the full 32-bit range; 24-bit keeps the top 24 bits
    sf.write(tmp_path / "a.wav", ints24 << 8, SR, subtype="PCM_24")
    assert sf.info(tmp_path / "a.wav").subtype == "PCM_24"
    y, _ = audio.load(tmp_path / "a.wav")
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, ints24 / float(1 << 23), rtol=0, atol=1e-7)


def test_float32_wav_decodes_exactly(tmp_path, rng):
    x = (0.9 * rng.uniform(-1, 1, 2000)).astype(np.float32)
    sf.write(tmp_path / "a.wav", x, SR, subtype="FLOAT")
    y, _ = audio.load(tmp_path / "a.wav")
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, x)


def test_flac_decodes_losslessly(tmp_path, rng):
    ints = rng.integers(-20000, 20000, size=5000, dtype=np.int16)
    sf.write(tmp_path / "a.flac", ints, SR, subtype="PCM_16")
    y, sr = audio.load(tmp_path / "a.flac")
    assert sr == SR and y.dtype == np.float32
    np.testing.assert_array_equal(y, ints.astype(np.float32) / 32768)


@pytest.mark.parametrize("fmt, subtype, ext", [("OGG", "VORBIS", "ogg"),
                                               ("MP3", "MPEG_LAYER_III", "mp3")])
def test_lossy_formats_decode_to_the_same_tone(tmp_path, signals, fmt, subtype, ext):
    sr = 44100
    x = signals.tone(1000, seconds=1.0, sample_rate=sr, amp=0.5)
    _write_or_skip(tmp_path / f"a.{ext}", x, sr, format=fmt, subtype=subtype)
    y, got_sr = audio.load(tmp_path / f"a.{ext}")
    assert got_sr == sr and y.dtype == np.float32 and y.ndim == 1
    # encoders may add or trim up to a frame of padding
    assert abs(len(y) - len(x)) <= 2304
    assert signals.peak_hz(y, sr) == pytest.approx(1000, abs=2)
    mid = slice(sr // 4, 3 * sr // 4)
    rms = np.sqrt(np.mean(y[mid].astype(np.float64) ** 2))
    assert 20 * np.log10(rms / (0.5 / np.sqrt(2))) == pytest.approx(0, abs=0.5)


def test_stereo_is_mixed_to_the_channel_mean(tmp_path, signals):
    left = signals.tone(440, seconds=0.2, amp=0.8)
    right = signals.tone(1000, seconds=0.2, amp=0.2)
    sf.write(tmp_path / "st.wav", np.stack([left, right], axis=1), SR, subtype="FLOAT")
    y, _ = audio.load(tmp_path / "st.wav")
    assert y.shape == left.shape and y.dtype == np.float32
    np.testing.assert_allclose(y, (left + right) / 2, rtol=0, atol=1e-7)
    both, _ = audio.load(tmp_path / "st.wav", mono=False)
    assert both.shape == (len(left), 2)
    np.testing.assert_array_equal(both[:, 0], left)
    np.testing.assert_array_equal(both[:, 1], right)


def test_resampling_44100_to_22050_keeps_frequency_duration_and_level(tmp_path, signals):
    x = signals.tone(1000, seconds=2.0, sample_rate=44100, amp=0.5)
    sf.write(tmp_path / "t.wav", x, 44100, subtype="FLOAT")
    y, sr = audio.load(tmp_path / "t.wav", sample_rate=22050)
    assert sr == 22050 and y.dtype == np.float32
    assert len(y) == 44100                      # 2 s at 22.05 kHz
    assert signals.peak_hz(y, sr) == pytest.approx(1000, abs=0.6)   # FFT bins are 0.5 Hz
    mid = y[2000:-2000].astype(np.float64)
    assert np.sqrt(np.mean(mid ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)
    # ...and it is the same sine, sample for sample, away from the edges
    np.testing.assert_allclose(y[2000:-2000], x[::2][2000:-2000], atol=2e-3)


def test_region_reads_exactly_the_requested_samples(tmp_path):
    x = (np.arange(SR, dtype=np.float32) / SR) - 0.5     # a ramp: every sample says where it is
    sf.write(tmp_path / "ramp.wav", x, SR, subtype="FLOAT")
    y, _ = audio.load(tmp_path / "ramp.wav", start_s=0.25, end_s=0.75)
    start, stop = round(0.25 * SR), round(0.75 * SR)
    np.testing.assert_array_equal(y, x[start:stop])
    tail, _ = audio.load(tmp_path / "ramp.wav", start_s=0.5)
    np.testing.assert_array_equal(tail, x[round(0.5 * SR):])
    head, _ = audio.load(tmp_path / "ramp.wav", end_s=0.1)
    np.testing.assert_array_equal(head, x[:round(0.1 * SR)])


def test_region_with_resampling_has_the_region_duration(tmp_path, signals):
    sf.write(tmp_path / "t.wav", signals.tone(500, seconds=2.0, sample_rate=44100), 44100)
    y, sr = audio.load(tmp_path / "t.wav", sample_rate=16000, start_s=0.5, end_s=1.5)
    assert sr == 16000 and len(y) == 16000


def test_info_reads_the_header(tmp_path):
    sf.write(tmp_path / "a.flac", np.zeros((8000, 2), np.float32), 16000, subtype="PCM_24")
    i = audio.info(tmp_path / "a.flac")
    assert (i.sample_rate, i.channels, i.frames) == (16000, 2, 8000)
    assert i.duration_s == pytest.approx(0.5)
    assert i.format == "FLAC" and i.subtype == "PCM_24"


# -- blocks --------------------------------------------------------------------------------------

@pytest.mark.parametrize("block_s", [0.01, 0.1, 0.37, 1.0, 10.0])
@pytest.mark.parametrize("channels", [1, 2])
def test_iter_blocks_concatenate_to_load_exactly_at_the_file_rate(tmp_path, rng, block_s,
                                                                   channels):
    x = (0.5 * rng.uniform(-1, 1, (int(1.3 * SR), channels))).astype(np.float32)
    sf.write(tmp_path / "a.wav", x, SR, subtype="FLOAT")
    blocks = list(audio.iter_blocks(tmp_path / "a.wav", block_s=block_s))
    assert all(b.ndim == 1 and b.dtype == np.float32 for b in blocks)
    assert len(blocks) == int(np.ceil(len(x) / max(1, int(block_s * SR))))
    np.testing.assert_array_equal(np.concatenate(blocks), audio.load(tmp_path / "a.wav")[0])


@pytest.mark.parametrize("block_s", [0.05, 0.3, 2.0])
@pytest.mark.parametrize("orig_sr, target_sr", [(44100, 22050), (48000, 16000), (16000, 22050)])
def test_iter_blocks_with_resampling_match_load(tmp_path, signals, rng, block_s, orig_sr,
                                                target_sr):
    x = signals.chirp(100, 0.4 * target_sr, seconds=1.1, sample_rate=orig_sr, amp=0.4)
    x = x + 0.05 * rng.standard_normal(len(x)).astype(np.float32)
    sf.write(tmp_path / "a.wav", x, orig_sr, subtype="FLOAT")
    whole, _ = audio.load(tmp_path / "a.wav", sample_rate=target_sr)
    streamed = np.concatenate(list(audio.iter_blocks(tmp_path / "a.wav", sample_rate=target_sr,
                                                     block_s=block_s)))
    assert abs(len(streamed) - len(whole)) <= 1
    n = min(len(streamed), len(whole))
    np.testing.assert_allclose(streamed[:n], whole[:n], rtol=0, atol=1e-3)


# -- content hashes ------------------------------------------------------------------------------

def test_content_hash_ignores_container_and_name(tmp_path, rng):
    ints = rng.integers(-30000, 30000, size=(4000, 2), dtype=np.int16)
    sf.write(tmp_path / "a.wav", ints, SR, subtype="PCM_16")
    sf.write(tmp_path / "copy of a.flac", ints, SR, subtype="PCM_16")
    sf.write(tmp_path / "float.wav", ints.astype(np.float32) / 32768, SR, subtype="FLOAT")
    h = audio.content_hash(tmp_path / "a.wav")
    assert len(h) == 40
    assert audio.content_hash(tmp_path / "copy of a.flac") == h
    assert audio.content_hash(tmp_path / "float.wav") == h
    assert audio.hash_samples(ints.astype(np.float32) / 32768, SR) == h


def test_content_hash_differs_for_different_audio(tmp_path, rng):
    ints = rng.integers(-30000, 30000, size=4000, dtype=np.int16)
    changed = ints.copy()
    changed[1234] += 1                          # one sample, one quantisation step
    sf.write(tmp_path / "a.wav", ints, SR, subtype="PCM_16")
    sf.write(tmp_path / "b.wav", changed, SR, subtype="PCM_16")
    sf.write(tmp_path / "c.wav", ints, 2 * SR, subtype="PCM_16")     # same samples, other rate
    sf.write(tmp_path / "d.wav", ints[:-1], SR, subtype="PCM_16")    # one sample shorter
    hashes = {audio.content_hash(tmp_path / f"{n}.wav") for n in "abcd"}
    assert len(hashes) == 4
