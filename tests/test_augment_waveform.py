"""Waveform augmentations: known answers at pinned parameters (min = max, p = 1)."""

import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from earmark.augment import (AddBackgroundNoise, AddColoredNoise, ApplyImpulseResponse,
                             FilterAugment, Gain, PitchShift, TimeShift, TimeStretch,
                             colored_noise)
from earmark.errors import AudioError, ParameterError

SR = 22050


def tone(freq_hz, seconds=1.0, sr=SR, amp=0.5):
    return (amp * np.sin(2 * np.pi * freq_hz * np.arange(int(seconds * sr)) / sr)).astype(
        np.float32)


def peak_hz(y, sr=SR):
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return np.fft.rfftfreq(len(y), 1 / sr)[np.argmax(spectrum)]


def snr_db(clean, noisy):
    clean = clean.astype(np.float64)
    return 10 * np.log10(np.mean(clean ** 2) / np.mean((noisy.astype(np.float64) - clean) ** 2))


@pytest.fixture
def noise_dir(tmp_path):
    folder = tmp_path / "background"
    folder.mkdir()
    t = np.arange(3 * 44100) / 44100
    # A 1 kHz hum at 44.1 kHz: after resampling to 22.05 kHz the added noise must peak at 1 kHz.
    sf.write(folder / "hum.wav", (0.2 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), 44100)
    return folder


# -- time-shift ---------------------------------------------------------------------------------

@pytest.mark.parametrize("k", [1, 37, 5000, -5000, -1])
def test_time_shift_rolls_by_k_samples(k):
    x = np.random.default_rng(0).standard_normal(SR).astype(np.float32)
    y = TimeShift(min_shift_s=k / SR, max_shift_s=k / SR, p=1.0)(x, SR, rng=0)
    np.testing.assert_array_equal(y, np.roll(x, k))


@pytest.mark.parametrize("k", [3, -3])
def test_time_shift_without_rollover_crops_and_pads_with_zeros(k):
    x = np.arange(1, 11, dtype=np.float32)
    y = TimeShift(min_shift_s=k / 10, max_shift_s=k / 10, rollover=False, p=1.0)(x, 10, rng=0)
    expected = np.r_[np.zeros(3), x[:7]] if k > 0 else np.r_[x[3:], np.zeros(3)]
    np.testing.assert_array_equal(y, expected.astype(np.float32))


def test_time_shift_larger_than_window_without_rollover_is_silence():
    y = TimeShift(min_shift_s=2.0, max_shift_s=2.0, rollover=False, p=1.0)(
        np.ones(10, np.float32), 10, rng=0)
    np.testing.assert_array_equal(y, np.zeros(10, np.float32))


# -- time-stretch -------------------------------------------------------------------------------

@pytest.mark.parametrize("rate", [0.8, 1.25, 2.0])
def test_time_stretch_changes_duration_by_rate(rate):
    x = tone(440)
    y = TimeStretch(min_rate=rate, max_rate=rate, leave_length_unchanged=False, p=1.0)(
        x, SR, rng=0)
    assert len(y) == pytest.approx(len(x) / rate, rel=0.01)
    assert peak_hz(y) == pytest.approx(440, rel=0.01)  # pitch kept


def test_time_stretch_audible_duration_follows_rate():
    # A 0.5 s tone burst in 2 s of silence lasts 0.4 s after a 1.25x stretch: measured on the
    # envelope, not only on the array length.
    x = np.zeros(2 * SR, np.float32)
    x[SR // 2:SR] = tone(440, 0.5)
    y = TimeStretch(min_rate=1.25, max_rate=1.25, leave_length_unchanged=False, p=1.0)(
        x, SR, rng=0)
    env = np.abs(scipy.signal.hilbert(y))
    loud = np.flatnonzero(env > 0.5 * env.max())
    assert (loud[-1] - loud[0]) / SR == pytest.approx(0.4, abs=0.02)


@pytest.mark.parametrize("rate", [0.8, 1.25])
def test_time_stretch_leaves_length_unchanged_by_default(rate):
    x = tone(440)
    y = TimeStretch(min_rate=rate, max_rate=rate, p=1.0)(x, SR, rng=0)
    assert y.shape == x.shape and y.dtype == np.float32
    assert peak_hz(y) == pytest.approx(440, rel=0.01)
    if rate > 1:  # sped up: the sound ends early and the rest is zero padding
        assert np.all(y[int(len(x) / rate) + 1:] == 0)


# -- pitch-shift --------------------------------------------------------------------------------

@pytest.mark.parametrize("semitones, expected_hz", [(12, 880.0), (-12, 220.0), (7, 659.26),
                                                    (-5, 329.63)])
def test_pitch_shift_moves_a_tone_to_the_expected_frequency(semitones, expected_hz):
    y = PitchShift(min_semitones=semitones, max_semitones=semitones, p=1.0)(tone(440), SR, rng=0)
    assert y.shape == (SR,) and y.dtype == np.float32
    assert peak_hz(y) == pytest.approx(expected_hz, rel=0.01)


# -- gain ---------------------------------------------------------------------------------------

def test_gain_scales_by_the_drawn_decibels():
    x = tone(440)
    y = Gain(min_gain_db=-20, max_gain_db=-20, p=1.0)(x, SR, rng=0)
    np.testing.assert_allclose(y, x * 0.1, rtol=1e-6)


# -- random equaliser (FilterAugment) ----------------------------------------------------------

def level_db(y, freq_hz, sr=SR):
    """Amplitude (dB) of the tone at ``freq_hz`` (1-s windows: bins fall on whole Hz)."""
    return 20 * np.log10(np.abs(np.fft.rfft(y.astype(np.float64)))[int(round(freq_hz))])


def test_filter_augment_with_one_band_is_a_plain_gain():
    x = tone(440) + tone(5000, amp=0.1)
    y = FilterAugment(min_bands=1, max_bands=1, min_gain_db=-20, max_gain_db=-20, p=1.0)(
        x, SR, rng=0)
    np.testing.assert_allclose(y, x * 0.1, atol=1e-6)


def test_filter_augment_step_gains_follow_the_drawn_bands():
    t = FilterAugment(min_bands=4, max_bands=4, min_gain_db=-9, max_gain_db=9, kind="step",
                      p=1.0)
    freqs = [100.0, 300.0, 1000.0, 3000.0, 9000.0]
    x = sum(tone(f, amp=0.1) for f in freqs)
    y = t(x, SR, rng=5)
    drawn = t.gain_curve(np.array(freqs), SR)
    assert len(set(np.round(t.gain_curve(np.linspace(20, SR / 2, 500), SR), 9))) == 4
    for f, g in zip(freqs, drawn):
        assert level_db(y, f) - level_db(x, f) == pytest.approx(g, abs=0.01)


def test_filter_augment_linear_curve_is_continuous_and_within_the_gain_range():
    t = FilterAugment(min_bands=6, max_bands=6, min_gain_db=-6, max_gain_db=6, p=1.0)
    t(tone(440), SR, rng=2)
    f = np.linspace(1, SR / 2, 20000)
    g = t.gain_curve(f, SR)
    assert g.min() >= -6 and g.max() <= 6
    assert np.abs(np.diff(g)).max() < 0.05          # no steps: a smooth equaliser
    x = tone(2000, amp=0.3)
    y = t(x, SR, rng=2)
    assert level_db(y, 2000) - level_db(x, 2000) == pytest.approx(
        float(t.gain_curve(np.array([2000.0]), SR)[0]), abs=0.01)


# -- additive coloured noise --------------------------------------------------------------------

@pytest.mark.parametrize("color", ["white", "pink", "brown"])
@pytest.mark.parametrize("snr", [0.0, 10.0, 30.0])
def test_colored_noise_hits_the_snr(color, snr):
    x = tone(440) + tone(3000, amp=0.1)
    y = AddColoredNoise(min_snr_db=snr, max_snr_db=snr, colors=[color], p=1.0)(x, SR, rng=3)
    assert snr_db(x, y) == pytest.approx(snr, abs=0.5)


@pytest.mark.parametrize("color, db_per_octave", [("white", 0.0), ("pink", -3.01),
                                                  ("brown", -6.02)])
def test_colored_noise_has_its_spectral_slope(color, db_per_octave):
    x = colored_noise(8 * SR, SR, color=color, rng=np.random.default_rng(1))
    f, psd = scipy.signal.welch(x, fs=SR, nperseg=4096)
    octaves = [125, 250, 500, 1000, 2000, 4000]
    level = [10 * np.log10(psd[(f >= lo) & (f < 2 * lo)].mean()) for lo in octaves]
    slope = np.polyfit(np.log2(octaves), level, 1)[0]
    assert slope == pytest.approx(db_per_octave, abs=0.5)
    assert np.sqrt(np.mean(x.astype(np.float64) ** 2)) == pytest.approx(1.0, rel=1e-4)


def test_colored_noise_leaves_a_silent_window_silent():
    x = np.zeros(SR, np.float32)
    np.testing.assert_array_equal(AddColoredNoise(p=1.0)(x, SR, rng=0), x)


# -- background noise from a folder -------------------------------------------------------------

@pytest.mark.parametrize("snr", [3.0, 20.0])
@pytest.mark.parametrize("from_disk", [False, True])
def test_background_noise_hits_the_snr_with_the_folders_sound(noise_dir, snr, from_disk):
    x = tone(440)
    t = AddBackgroundNoise(noise_dir, min_snr_db=snr, max_snr_db=snr, p=1.0)
    if from_disk:  # a folder too large to hold in memory: each call reads one region
        t.MEMORY_BUDGET_S = 0.0
    y = t(x, SR, rng=5)
    assert (len(t._decoded) == 0) == from_disk
    assert y.shape == x.shape and y.dtype == np.float32
    assert snr_db(x, y) == pytest.approx(snr, abs=0.5)
    assert peak_hz(y - x) == pytest.approx(1000, rel=0.01)


def test_background_noise_loops_a_recording_shorter_than_the_window(tmp_path):
    (tmp_path / "n").mkdir()
    sf.write(tmp_path / "n" / "click.flac", tone(2000, 0.1), SR)
    x = tone(440, 2.0)
    y = AddBackgroundNoise(tmp_path / "n", min_snr_db=10, max_snr_db=10, p=1.0)(x, SR, rng=0)
    assert len(y) == len(x)
    assert snr_db(x, y) == pytest.approx(10, abs=0.5)
    added = y - x
    assert np.sqrt(np.mean(added[-SR // 2:] ** 2)) > 0  # the loop reaches the end


def test_background_noise_folder_is_read_on_first_call_with_a_clear_error(tmp_path):
    t = AddBackgroundNoise(tmp_path / "missing", p=1.0)  # constructing touches no disk
    with pytest.raises(AudioError, match="missing: folder not found"):
        t(tone(440), SR, rng=0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(AudioError, match="no audio files"):
        AddBackgroundNoise(tmp_path / "empty", p=1.0)(tone(440), SR, rng=0)


# -- impulse responses --------------------------------------------------------------------------

def test_impulse_response_is_aligned_on_its_peak_and_normalised(tmp_path):
    (tmp_path / "irs").mkdir()
    ir = np.zeros(200, np.float32)
    ir[50] = 0.8      # pre-delay of 50 samples, then the direct sound
    ir[50 + 30] = 0.4  # one echo 30 samples later at half the level
    sf.write(tmp_path / "irs" / "room.wav", ir, SR, subtype="FLOAT")
    x = np.random.default_rng(0).standard_normal(SR).astype(np.float32)
    y = ApplyImpulseResponse(tmp_path / "irs", p=1.0)(x, SR, rng=0)
    echo = np.r_[np.zeros(30, np.float32), x[:-30]]
    expected = (x + 0.5 * echo) / np.sqrt(1.25)
    np.testing.assert_allclose(y, expected, atol=1e-5)


# -- the contract every waveform transform keeps ------------------------------------------------

def _all(noise_dir, ir_dir):
    return [TimeShift(p=1.0), TimeStretch(p=1.0), PitchShift(p=1.0), Gain(p=1.0),
            FilterAugment(p=1.0), AddColoredNoise(p=1.0), AddBackgroundNoise(noise_dir, p=1.0),
            ApplyImpulseResponse(ir_dir, p=1.0)]


@pytest.fixture
def ir_dir(tmp_path):
    folder = tmp_path / "irs"
    folder.mkdir()
    t = np.arange(2000) / SR
    for i in range(2):  # two rooms, so a different seed can pick a different one
        ir = np.random.default_rng(i).standard_normal(len(t)) * np.exp(-t / 0.01)
        sf.write(folder / f"room{i}.wav", ir.astype(np.float32), SR)
    return folder


def test_every_transform_keeps_dtype_and_length_and_is_seeded(noise_dir, ir_dir):
    x = tone(440) + tone(1234, amp=0.1)
    for t in _all(noise_dir, ir_dir):
        a = t(x, SR, rng=np.random.default_rng(7))
        b = t(x, SR, rng=np.random.default_rng(7))
        c = t(x, SR, rng=np.random.default_rng(8))
        assert a.dtype == np.float32 and a.shape == x.shape, t
        assert a.tobytes() == b.tobytes(), f"{t}: same seed, different output"
        assert a.tobytes() != c.tobytes(), f"{t}: different seeds, same output"
        assert a.tobytes() != x.tobytes(), f"{t}: p=1 left the input unchanged"
        assert t(x.astype(np.float64), SR, rng=7).dtype == np.float32


def test_p_zero_returns_the_input_unchanged(noise_dir, ir_dir):
    x = tone(440)
    for t in _all(noise_dir, ir_dir):
        t.p = 0.0
        assert t(x, SR, rng=1).tobytes() == x.tobytes(), t


def test_p_is_the_probability_of_applying():
    t = Gain(min_gain_db=6, max_gain_db=6, p=0.3)
    rng = np.random.default_rng(0)
    x = np.ones(4, np.float32)
    applied = sum(t(x, SR, rng=rng)[0] != 1.0 for _ in range(2000))
    assert applied / 2000 == pytest.approx(0.3, abs=0.04)


@pytest.mark.parametrize("make, message", [
    (lambda: PitchShift(min_semitones=3, max_semitones=-3),
     r"min_semitones \(3\) cannot be greater than max_semitones \(-3\)"),
    (lambda: PitchShift(min_semitones=-30), "'min_semitones' parameter of PitchShift"),
    (lambda: TimeStretch(min_rate=-1.0), "'min_rate' parameter of TimeStretch"),
    (lambda: TimeStretch(min_rate=1.5, max_rate=1.2), r"min_rate \(1.5\) cannot be greater"),
    (lambda: AddColoredNoise(min_snr_db=30, max_snr_db=10), r"min_snr_db \(30\) cannot be"),
    (lambda: AddColoredNoise(colors=["purple"]), "'colors' parameter of AddColoredNoise"),
    (lambda: AddBackgroundNoise("x", min_snr_db=9, max_snr_db=1), r"min_snr_db \(9\) cannot"),
    (lambda: Gain(min_gain_db=1, max_gain_db=0),
     r"Gain: min_gain_db \(1\) cannot be greater than max_gain_db \(0\)"),
    (lambda: TimeShift(min_shift_s=0.5, max_shift_s=-0.5), r"min_shift_s \(0.5\) cannot be"),
    (lambda: TimeShift(p=1.5), "'p' parameter of TimeShift must be a float in .0, 1."),
    (lambda: Gain(p=-0.1), "'p' parameter of Gain"),
    (lambda: FilterAugment(min_bands=5, max_bands=2),
     r"FilterAugment: min_bands \(5\) cannot be greater than max_bands \(2\)"),
    (lambda: FilterAugment(min_bands=0), "'min_bands' parameter of FilterAugment"),
    (lambda: FilterAugment(kind="smooth"), "'kind' parameter of FilterAugment"),
    (lambda: FilterAugment(min_frequency=0), "'min_frequency' parameter of FilterAugment"),
    (lambda: PitchShift(max_semitones=float("nan")), "'max_semitones' parameter"),
])
def test_nonsense_parameters_raise_a_plain_message(make, message):
    with pytest.raises(ParameterError, match=message):
        make()


def test_bad_input_is_refused_with_its_shape_or_dtype():
    with pytest.raises(ParameterError, match=r"1-D array .* shape \(2, 100\)"):
        Gain(p=1.0)(np.zeros((2, 100), np.float32), SR, rng=0)
    with pytest.raises(ParameterError, match="int16"):
        Gain(p=1.0)(np.zeros(100, np.int16), SR, rng=0)
    with pytest.raises(ParameterError, match="rng must be a numpy Generator"):
        Gain(p=1.0)(np.zeros(100, np.float32), SR, rng=None)


def test_repr_and_event_flags():
    assert repr(PitchShift(min_semitones=-2, max_semitones=3, p=0.25)) == \
        "PitchShift(min_semitones=-2.0, max_semitones=3.0, p=0.25)"
    assert repr(AddBackgroundNoise("rec/bg", p=0.5)) == \
        "AddBackgroundNoise(noise_dir='rec/bg', min_snr_db=3.0, max_snr_db=30.0, p=0.5)"
    assert TimeShift.moves_events and TimeStretch.moves_events
    assert not any(c.moves_events for c in (PitchShift, Gain, FilterAugment, AddColoredNoise,
                                           AddBackgroundNoise, ApplyImpulseResponse))
