"""earmark.features and earmark.config: log-mel and MFCC equal librosa's; normalisation; config.

Invalid FeatureConfig values (and their message shape) are in test_failures.py.
"""

import librosa
import numpy as np
import pytest
import torch

from earmark.config import FeatureConfig
from earmark.errors import ParameterError
from earmark.features import FeatureExtractor, log_mel, mfcc, normalize_windows

# (sample_rate, n_fft, hop_length, n_mels, fmin, fmax)
CONFIGS = [
    (16000, 512, 160, 40, 50.0, 7000.0),
    (22050, 1024, 512, 64, 0.0, None),
    (22050, 2048, 256, 128, 20.0, 10000.0),
    (44100, 2048, 441, 128, 100.0, 16000.0),
    (44100, 1024, 512, 40, 0.0, None),
]


def _signal(kind, sr, signals, rng):
    if kind == "tone+noise":
        return signals.tone(1000, seconds=1.0, sample_rate=sr, amp=0.3) + (
            0.05 * rng.standard_normal(sr)).astype(np.float32)
    return signals.chirp(60, 0.45 * sr, seconds=0.8, sample_rate=sr, amp=0.5)


def _librosa_db(y, sr, n_fft, hop, n_mels, fmin, fmax, top_db=80.0):
    S = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels,
                                       fmin=fmin, fmax=fmax, center=True, pad_mode="constant")
    return librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=top_db)


@pytest.mark.parametrize("kind", ["tone+noise", "chirp"])
@pytest.mark.parametrize("sr, n_fft, hop, n_mels, fmin, fmax", CONFIGS)
def test_log_mel_equals_librosa(signals, rng, kind, sr, n_fft, hop, n_mels, fmin, fmax):
    y = _signal(kind, sr, signals, rng)
    expected = _librosa_db(y, sr, n_fft, hop, n_mels, fmin, fmax)
    got = log_mel(y, sample_rate=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels, fmin=fmin,
                  fmax=fmax, top_db=80.0)
    assert got.shape == expected.shape == (n_mels, 1 + len(y) // hop)
    # earmark's STFT runs in float32 (librosa's effectively in float64): float32 rounding is
    # ~1e-8 of the peak amplitude, which is 1e-3 dB only down to about 70 dB below the peak.
    near = expected >= expected.max() - 60.0
    np.testing.assert_allclose(got[near], expected[near], rtol=0, atol=1e-3)
    np.testing.assert_allclose(got, expected, rtol=0, atol=5e-3)


def test_log_mel_top_db_floor_and_none(signals):
    # A chirp plus silence: the silent frames sit exactly top_db below the peak
    y = np.concatenate([signals.chirp(100, 8000), np.zeros(22050, np.float32)])
    floored = log_mel(y, sample_rate=22050, top_db=60.0)
    assert floored.min() == pytest.approx(floored.max() - 60.0, abs=1e-3)
    raw = log_mel(y, sample_rate=22050, top_db=None)
    expected = _librosa_db(y, 22050, 1024, 512, 64, 0.0, None, top_db=None)
    near = expected >= expected.max() - 60.0
    np.testing.assert_allclose(raw[near], expected[near], atol=1e-3)
    assert raw.min() == pytest.approx(-100.0)      # 10 * log10(amin): nothing floors it
    assert raw.min() < raw.max() - 100


@pytest.mark.parametrize("sr, n_fft, hop, n_mels, fmin, fmax", CONFIGS[:3])
def test_mfcc_equals_librosa(signals, rng, sr, n_fft, hop, n_mels, fmin, fmax):
    y = _signal("tone+noise", sr, signals, rng)
    db = _librosa_db(y, sr, n_fft, hop, n_mels, fmin, fmax)
    # librosa.feature.mfcc: scipy DCT type 2, norm='ortho'
    expected = librosa.feature.mfcc(S=db, n_mfcc=20)
    got = mfcc(y, sample_rate=sr, n_mfcc=20, n_fft=n_fft, hop_length=hop, n_mels=n_mels,
               fmin=fmin, fmax=fmax)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-3)
    cfg = FeatureConfig(sample_rate=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels, fmin=fmin,
                        fmax=fmax, kind="mfcc", n_mfcc=20, window_s=len(y) / sr)
    with torch.no_grad():
        batch = FeatureExtractor(cfg)(torch.from_numpy(y)[None])
    assert batch.shape == (1, 1, 20, expected.shape[1])
    np.testing.assert_allclose(batch[0, 0].numpy(), expected, rtol=0, atol=1e-3)


@pytest.mark.parametrize("sr, n_fft, n_mels, fmin, fmax", [
    (16000, 512, 40, 50.0, 7000.0), (22050, 1024, 64, 0.0, None), (22050, 2048, 128, 0.0, None),
    (44100, 2048, 128, 100.0, 16000.0), (16000, 1024, 64, 0.0, 8000.0)])
def test_1khz_tone_peaks_in_the_band_centred_nearest_1khz(signals, sr, n_fft, n_mels, fmin,
                                                          fmax):
    S = log_mel(signals.tone(1000, sample_rate=sr), sample_rate=sr, n_fft=n_fft,
                hop_length=n_fft // 4, n_mels=n_mels, fmin=fmin, fmax=fmax)
    centres = librosa.mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax or sr / 2)[1:-1]
    assert int(np.argmax(S.mean(axis=1))) == int(np.argmin(np.abs(centres - 1000)))


def test_extractor_output_shape_matches_frames_per_window():
    cfg = FeatureConfig(sample_rate=16000, window_s=0.5, hop_length=256, n_mels=40)
    x = torch.zeros(3, cfg.window_samples)
    out = FeatureExtractor(cfg)(x)
    assert out.shape == (3, 1, 40, cfg.frames_per_window) == (3, 1, 40, 32)


def test_batch_equals_one_window_at_a_time(signals, rng):
    cfg = FeatureConfig(sample_rate=16000, n_fft=512, hop_length=128, n_mels=48, window_s=0.5,
                        top_db=50.0)
    n = cfg.window_samples
    # very different levels: each window's dB floor must follow its own peak, not the batch's
    batch = np.stack([signals.tone(700, seconds=0.5, sample_rate=16000, amp=0.9),
                      1e-4 * rng.standard_normal(n).astype(np.float32),
                      signals.chirp(100, 7000, seconds=0.5, sample_rate=16000, amp=0.01),
                      signals.clicks([0.1, 0.3], seconds=0.5, sample_rate=16000)])
    fx = FeatureExtractor(cfg)
    with torch.no_grad():
        together = fx(torch.from_numpy(batch))
        alone = torch.cat([fx(torch.from_numpy(row)[None]) for row in batch])
    torch.testing.assert_close(together, alone, rtol=0, atol=1e-3)
    for i, row in enumerate(batch):
        np.testing.assert_allclose(together[i, 0].numpy(),
                                   _librosa_db(row, 16000, 512, 128, 48, 0.0, None, top_db=50.0),
                                   atol=1e-3)


@pytest.mark.parametrize("sr, n_fft, hop, n_mels, fmin, fmax", CONFIGS)
def test_cpu_and_torch_paths_both_equal_librosa(signals, rng, sr, n_fft, hop, n_mels, fmin,
                                                fmax):
    # the CPU path (numpy pieces) serves prediction; torch.stft serves gradients and GPUs
    y = _signal("tone+noise", sr, signals, rng)
    expected = _librosa_db(y, sr, n_fft, hop, n_mels, fmin, fmax)
    cfg = FeatureConfig(sample_rate=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels, fmin=fmin,
                        fmax=fmax, window_s=len(y) / sr)
    fx = FeatureExtractor(cfg)
    with torch.no_grad():
        cpu_path = fx(torch.from_numpy(y)[None])[0, 0].numpy()
    torch_path = fx(torch.from_numpy(y)[None].requires_grad_(True))[0, 0].detach().numpy()
    near = expected >= expected.max() - 60.0
    for got in (cpu_path, torch_path):
        np.testing.assert_allclose(got[near], expected[near], rtol=0, atol=1e-3)
        np.testing.assert_allclose(got, expected, rtol=0, atol=5e-3)


def test_mel_bands_without_any_bin_equal_librosa(signals):
    # many bands at a small n_fft: librosa's filter bank has empty (all-zero) bands
    import warnings

    y = signals.chirp(50, 3000, seconds=0.5, sample_rate=8000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # librosa warns about the empty bands
        expected = _librosa_db(y, 8000, 128, 64, 128, 0.0, None)
        got = log_mel(y, sample_rate=8000, n_fft=128, hop_length=64, n_mels=128)
    assert (expected == expected.min()).all(axis=1).any()        # some band is empty
    near = expected >= expected.max() - 60.0
    np.testing.assert_allclose(got[near], expected[near], rtol=0, atol=1e-3)


def test_parallel_map_keeps_order_and_restores_torch_threads():
    from earmark.features import parallel_map, worker_threads

    before = torch.get_num_threads()
    inside = parallel_map(lambda i: (i, worker_threads(), torch.get_num_threads()),
                          range(6), workers=2)
    assert [i for i, _, _ in inside] == list(range(6))
    assert all(w == 1 and t == 1 for _, w, t in inside)    # one core each, never split again
    assert torch.get_num_threads() == before


# -- normalisation -------------------------------------------------------------------------------

def test_window_normalisation_gives_zero_mean_unit_std_per_window(rng):
    x = torch.from_numpy(rng.normal(size=(5, 1, 16, 30)).astype(np.float32))
    x = x * torch.arange(1, 6).view(5, 1, 1, 1) * 7 - torch.arange(5).view(5, 1, 1, 1) * 40
    out = normalize_windows(x, mode="window")
    assert out.shape == x.shape
    flat = out.reshape(5, -1).double().numpy()
    np.testing.assert_allclose(flat.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(flat.std(axis=1, ddof=1), 1, atol=1e-5)
    # each window is an affine map of itself: the pattern is kept
    assert np.corrcoef(flat[3], x[3].reshape(-1).numpy())[0, 1] == pytest.approx(1, abs=1e-6)


def test_window_normalisation_of_a_constant_window_is_finite():
    out = normalize_windows(torch.full((2, 1, 4, 5), -80.0), mode="window")
    assert torch.isfinite(out).all() and float(out.abs().max()) == 0.0


def test_dataset_normalisation_uses_the_given_per_band_mean_and_std():
    x = torch.arange(2 * 3 * 4, dtype=torch.float32).view(2, 1, 3, 4)
    mean, std = np.array([1.0, -2.0, 10.0]), np.array([2.0, 0.5, 4.0])
    out = normalize_windows(x, mode="dataset", mean=mean, std=std)
    expected = (x.numpy() - mean[None, None, :, None]) / std[None, None, :, None]
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    assert normalize_windows(x, mode="none", mean=mean, std=std) is x


# -- FeatureConfig -------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, frames", [
    ({}, 44),                                                    # 22050 // 512 = 43
    ({"window_s": 0.5}, 22),
    ({"sample_rate": 16000, "window_s": 1.0, "hop_length": 160}, 101),
    ({"sample_rate": 44100, "window_s": 0.25, "n_fft": 2048, "hop_length": 441}, 26),
])
def test_frames_per_window_counts_centred_frames(kwargs, frames):
    cfg = FeatureConfig(**kwargs)
    assert cfg.frames_per_window == frames
    with torch.no_grad():
        out = FeatureExtractor(cfg)(torch.zeros(1, cfg.window_samples))
    assert out.shape[-1] == frames


def test_config_dict_round_trip():
    cfg = FeatureConfig(sample_rate=16000, n_fft=512, hop_length=128, n_mels=40, fmin=30.0,
                        fmax=7000.0, kind="mfcc", n_mfcc=13, top_db=None, window_s=0.75,
                        hop_s=0.25, normalize="window")
    d = cfg.to_dict()
    assert d["n_mfcc"] == 13 and d["fmax"] == 7000.0 and d["top_db"] is None
    assert FeatureConfig.from_dict(d) == cfg
    assert FeatureConfig.from_dict(FeatureConfig().to_dict()) == FeatureConfig()
    assert cfg.replace(n_mels=64) == FeatureConfig.from_dict({**d, "n_mels": 64})
    assert cfg.n_features == 13 and cfg.replace(kind="logmel").n_features == 40


def test_config_from_dict_rejects_unknown_keys():
    with pytest.raises(ParameterError, match=r"unknown keys \['n_mel', 'zzz'\]") as e:
        FeatureConfig.from_dict({**FeatureConfig().to_dict(), "n_mel": 64, "zzz": 1})
    assert "n_mels" in str(e.value)          # the known keys are listed
