"""Sound event detection: frame targets, windows on the frame grid, stitching (block reading
equals the whole file), the CRNN, and SoundDetector end to end on generated scenes with known
onsets and offsets."""

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import earmark
from _detection_signals import FAST_DETECTOR, SR, burst, make_scene, write_detection_dataset
from earmark.config import FeatureConfig
from earmark.errors import ParameterError
from earmark.inference.frames import frame_window_starts, grid_hop_samples, score_file_frames, \
    score_frames
from earmark.models.frames import NeuralFrameModel, WindowFrames, frame_targets

FEATS = FeatureConfig(sample_rate=SR, n_fft=256, hop_length=128, n_mels=32, window_s=2.0,
                      hop_s=1.5)


def _frame_model(seed=0):
    import torch
    torch.manual_seed(seed)
    m = NeuralFrameModel(n_classes=2, features=FEATS)
    rng = np.random.default_rng(seed)
    m.fit_normalization(rng.standard_normal((4, FEATS.window_samples)).astype(np.float32) * 0.1)
    return m.prepare_inference()


class _ConstantWindows:
    """A window 'classifier' whose score is the window's mean sample (known answers)."""

    def __init__(self, features):
        self.features = features
        self.n_classes = 1

    def score_windows(self, windows):
        return np.asarray(windows).mean(axis=1, keepdims=True)


# -- targets and the grid ---------------------------------------------------------------------
def test_frame_targets_follow_the_crop():
    ev = np.array([[250, 450, 0], [0, 100, 1]])
    t = frame_targets(ev, [0, 200], 400, 2, step=100, n_frames=4)
    assert t[0, :, 0].tolist() == [0, 0, 1, 1]          # 250-450: frames 2 (half) and 3 (full)
    assert t[1, :, 0].tolist() == [1, 1, 1, 0]          # the same event, seen from a later crop
    assert t[0, :, 1].tolist() == [1, 0, 0, 0] and t[1, :, 1].sum() == 0


def test_window_starts_reach_the_end_on_the_grid():
    assert frame_window_starts(1000, 400, 300).tolist() == [0, 300, 600]
    assert frame_window_starts(1001, 400, 300).tolist() == [0, 300, 600, 900]
    m = _frame_model()
    hop = grid_hop_samples(m, 1.5)
    assert hop % m.frame_step_samples == 0 and hop <= m.out_frames * m.frame_step_samples


def test_window_classifier_frames_are_the_mean_of_the_windows_over_them():
    fc = FeatureConfig(sample_rate=1000, n_fft=64, hop_length=32, window_s=0.4, hop_s=0.1)
    wf = WindowFrames(_ConstantWindows(fc), frame_step_s=0.1)
    y = np.repeat(np.arange(10, dtype=np.float32), 1000)     # sample value = second index
    fs = score_frames(wf, y, hop_s=0.1)
    assert fs.scores.shape == (100, 1) and fs.frame_step_s == pytest.approx(0.1)
    starts = frame_window_starts(len(y), 400, 100)
    means = {s: np.concatenate([y, np.zeros(400)])[s:s + 400].mean() for s in starts}
    for k in (0, 3, 50, 99):
        covering = [means[s] for s in starts if s <= k * 100 < s + 400]
        assert fs.scores[k, 0] == pytest.approx(np.mean(covering), rel=1e-5)


def test_block_reading_gives_the_scores_of_the_whole_file(tmp_path):
    m = _frame_model()
    rng = np.random.default_rng(3)
    y, _ = make_scene(rng, seconds=23.3, n_events=6)
    path = tmp_path / "long.wav"
    sf.write(path, y, SR, subtype="FLOAT")
    whole = score_frames(m, sf.read(path, dtype="float32")[0], hop_s=1.5)
    for block_s in (0.37, 1.0, 60.0):
        part = score_file_frames(m, path, hop_s=1.5, block_s=block_s)
        assert part.scores.shape == whole.scores.shape
        np.testing.assert_allclose(part.scores, whole.scores, atol=1e-6)
    assert whole.scores.shape[0] == int(np.ceil(len(y) / m.frame_step_samples))
    assert np.isfinite(whole.scores).all()


def test_crnn_outputs_frames_and_a_pooled_clip_score():
    m = _frame_model()
    w = np.random.default_rng(0).standard_normal((3, FEATS.window_samples)).astype(np.float32)
    frames = m.score_frames(w)
    assert frames.shape == (3, m.out_frames, 2)
    np.testing.assert_allclose(m.score_windows(w), frames.max(axis=1), atol=1e-6)


# -- the estimator ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    return write_detection_dataset(tmp_path_factory.mktemp("scenes"), n_clips=32)


@pytest.fixture(scope="module")
def detector(scenes):
    return earmark.SoundDetector(**{**FAST_DETECTOR, "epochs": 10}).fit(scenes)


def test_detector_finds_a_tone_burst_at_its_time(detector, tmp_path):
    rng = np.random.default_rng(42)
    y = 0.01 * rng.standard_normal(int(6 * SR))
    a, b = int(2.3 * SR), int(3.0 * SR)
    y[a:b] += burst("high", b - a, rng)
    path = tmp_path / "one.wav"
    sf.write(path, y.astype(np.float32), SR, subtype="PCM_16")
    events = detector.detect([path])
    high = events[events["event_label"] == "high"]
    assert len(high) == 1, events
    assert abs(high["onset"].iloc[0] - 2.3) < 0.2 and abs(high["offset"].iloc[0] - 3.0) < 0.25
    assert list(events.columns) == ["filename", "onset", "offset", "event_label", "score",
                                    "error"]


def test_detector_round_trips_through_its_model_file(detector, scenes, tmp_path):
    path = detector.save(tmp_path / "d.earmark")
    back = earmark.load(path)
    assert type(back).__name__ == "SoundDetector" and back.classes_ == detector.classes_
    assert back.postprocessing_ == detector.postprocessing_
    files = sorted((scenes / "audio").glob("*.wav"))[:4]
    pd.testing.assert_frame_equal(back.detect(files), detector.detect(files))
    a = detector.frame_scores(files[0]).scores
    np.testing.assert_allclose(back.frame_scores(files[0]).scores, a, atol=1e-6)


def test_detector_tuned_its_postprocessing_on_validation_recordings(detector):
    assert detector.postprocessing_source_.startswith("tuned on")
    assert set(detector.tuning_) <= set(detector.classes_)
    assert detector.train_info_["n_val_clips"] > 0


def test_a_corrupt_file_gets_an_error_row_and_the_rest_go_on(detector, scenes, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF0000WAVEjunk")
    good = sorted((scenes / "audio").glob("*.wav"))[0]
    out = detector.detect([bad, good])
    assert out["error"].iloc[0] and out["filename"].iloc[0] == str(bad)
    assert out["error"].iloc[1:].isna().all()


def test_weak_labels_train_a_frame_model_from_clip_tags(scenes):
    det = earmark.SoundDetector(**{**FAST_DETECTOR, "epochs": 3}, weak=True).fit(scenes)
    assert det.model_.clip_pooling == "attention"
    fs = det.frame_scores(sorted((scenes / "audio").glob("*.wav"))[0])
    assert fs.scores.shape[1] == 2 and np.isfinite(fs.scores).all()


def test_moving_augmentations_are_refused_with_strong_labels(scenes):
    with pytest.raises(ParameterError, match="frame targets"):
        earmark.SoundDetector(augment="shift").fit(scenes)


def test_strong_labels_are_required_unless_weak(tmp_path):
    from _signals import write_tagging_dataset
    root = write_tagging_dataset(tmp_path / "tags", n_clips=8)
    with pytest.raises(ParameterError, match="weak=True"):
        earmark.SoundDetector(**FAST_DETECTOR).fit(root)
