"""Poisoned audio: NaN, infinite and absurd samples (beyond ``MAX_ABS_SAMPLE``) are reported by
``inspect``, refused per file by prediction and by training, with the file named; a training
loss that turns non-finite stops training."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import earmark
from earmark import audio
from earmark.data import inspect_dataset, load_clips, load_dataset
from earmark.errors import AudioError, EarmarkError

from _signals import FAST, SR, make_clip, write_dataset

LEGACY_MODEL = Path(__file__).parent / "fixtures" / "legacy" / "cnn_classifier_v0.earmark"


def poisoned(path, value, *, seconds=1.0, at_s=0.5, sr=SR, channels=1):
    """A float WAV of a quiet tone with one sample set to ``value`` at ``at_s``."""
    t = np.arange(int(seconds * sr)) / sr
    y = np.repeat((0.1 * np.sin(2 * np.pi * 440 * t))[:, None], channels, axis=1)
    y = y.astype(np.float32)
    y[int(at_s * sr), -1] = value
    sf.write(path, y, sr, subtype="FLOAT")
    return str(path)


READERS = {
    "load": lambda p: audio.load(p),
    "load_resampled": lambda p: audio.load(p, sample_rate=16000),
    "load_region": lambda p: audio.load(p, start_s=0.25, end_s=0.75),
    "iter_blocks": lambda p: list(audio.iter_blocks(p, sample_rate=16000, block_s=0.1)),
    "iter_blocks_stereo": lambda p: list(audio.iter_blocks(p, block_s=0.1, mono=False)),
    "content_hash": audio.content_hash,
}


def test_the_bound_is_a_documented_constant():
    assert audio.MAX_ABS_SAMPLE == 1e3
    assert "MAX_ABS_SAMPLE" in audio.__doc__


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("value", [1e30, -3e38, 1000.5, -2e3])
def test_absurd_samples_are_refused_by_every_reader(tmp_path, reader, value):
    path = poisoned(tmp_path / "loud.wav", value, channels=2)
    with pytest.raises(AudioError) as e:
        READERS[reader](path)
    assert e.value.path == path
    assert f"sample values reach {abs(np.float32(value)):.3g}, beyond the +-1000" in str(e.value)


@pytest.mark.parametrize("reader", sorted(READERS))
def test_loud_but_plausible_float_audio_passes(tmp_path, reader):
    path = poisoned(tmp_path / "hot.wav", -999.0)          # +60 dBFS: odd, but not absurd
    READERS[reader](path)
    y, _ = audio.load(path)
    assert y.min() == -999.0


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_are_refused_by_every_reader(tmp_path, reader, value):
    path = poisoned(tmp_path / "nan.wav", value, channels=2)
    with pytest.raises(AudioError, match="NaN or infinite") as e:
        READERS[reader](path)
    assert e.value.path == path


def test_blocks_are_checked_as_they_are_read(tmp_path):
    # the bad sample sits in the third 1-s block: two clean blocks come out first
    path = poisoned(tmp_path / "late.wav", 1e9, seconds=4.0, at_s=2.5)
    got = []
    with pytest.raises(AudioError, match="beyond"):
        for block in audio.iter_blocks(path, block_s=1.0):
            got.append(len(block))
    assert got == [SR, SR]


def test_stereo_blocks_are_the_file_s_channels(tmp_path):
    t = np.arange(3 * SR) / SR
    y = 0.5 * np.stack([np.sin(2 * np.pi * 300 * t), np.sin(2 * np.pi * 700 * t)], axis=1)
    path = str(tmp_path / "stereo.wav")
    sf.write(path, y.astype(np.float32), SR, subtype="FLOAT")
    native = np.concatenate(list(audio.iter_blocks(path, block_s=0.7, mono=False)))
    np.testing.assert_array_equal(native, y.astype(np.float32))
    streamed = np.concatenate(list(audio.iter_blocks(path, sample_rate=16000, block_s=0.7,
                                                     mono=False)))
    whole, _ = audio.load(path, sample_rate=16000, mono=False)
    assert streamed.shape == whole.shape == (6 * SR, 2)
    np.testing.assert_allclose(streamed, whole, atol=1e-5)


# -- inspect -----------------------------------------------------------------------------------

@pytest.fixture
def poisoned_dataset(tmp_path):
    root = write_dataset(tmp_path / "data", per_class=3, groups=3)
    bad = {"nan": poisoned(root / "low" / "low_00.wav", np.nan),
           "loud": poisoned(root / "high" / "high_01.wav", 1e30)}
    return root, bad


def test_inspect_reports_poisoned_files_as_problems(poisoned_dataset):
    root, bad = poisoned_dataset
    report = inspect_dataset(load_dataset(root), progress=False)
    problems = "\n".join(report["problems"])
    assert f"{bad['nan']}: audio contains NaN or infinite samples" in problems
    assert f"{bad['loud']}: sample values reach 1e+30, beyond the +-1000" in problems
    assert len(report["problems"]) == 2
    listed = {f["path"] for f in report["files"]}
    assert len(listed) == 7 and not listed & set(bad.values())


def test_inspect_reads_files_in_blocks_and_gets_the_whole_file_numbers(tmp_path, monkeypatch):
    # 25 s of stereo at 8 kHz: three blocks; a few samples at full scale in the last one
    rng = np.random.default_rng(3)
    root = tmp_path / "data"
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(2):
            y = (0.3 * rng.standard_normal((25 * SR, 2))).clip(-0.99, 0.99).astype(np.float32)
            y[-10:, 0] = 1.0
            sf.write(root / label / f"{label}{i}.wav", y, SR, subtype="FLOAT")

    def whole_file_read(*args, **kwargs):
        raise AssertionError("inspect read a whole file at once")

    monkeypatch.setattr(sf, "read", whole_file_read)
    report = inspect_dataset(load_dataset(root), progress=False)
    monkeypatch.undo()
    assert report["problems"] == []
    for f in report["files"]:
        y, sr = sf.read(f["path"], dtype="float32", always_2d=True)
        assert f["peak_dbfs"] == pytest.approx(20 * np.log10(np.abs(y).max()), abs=1e-9)
        rms = np.sqrt(np.mean(np.square(y, dtype=np.float64)))
        assert f["rms_dbfs"] == pytest.approx(20 * np.log10(rms), abs=1e-9)
        assert f["clipped_fraction"] == 10 / y.size
        assert f["hash"] == audio.hash_samples(y, sr) == audio.content_hash(f["path"])


# -- training ----------------------------------------------------------------------------------

def test_training_data_loading_names_the_poisoned_file(poisoned_dataset):
    root, bad = poisoned_dataset
    with pytest.raises(AudioError) as e:
        load_clips(load_dataset(root), sample_rate=SR)
    assert e.value.path in bad.values()


def test_fit_refuses_poisoned_audio_and_saves_nothing(poisoned_dataset):
    root, bad = poisoned_dataset
    sf.write(bad["nan"], make_clip("low", np.random.default_rng(1)), SR)  # only the loud one left
    clf = earmark.SoundClassifier(**FAST)
    with pytest.raises(AudioError) as e:
        clf.fit(root)
    assert e.value.path == bad["loud"]
    assert "beyond the +-1000" in str(e.value)
    assert not hasattr(clf, "model_")


def test_training_stops_the_moment_the_loss_is_not_finite(tmp_path, monkeypatch,
                                                          one_torch_thread):
    from earmark.tasks import get_task

    root = write_dataset(tmp_path / "data", per_class=4, groups=2)
    task = get_task("classification")
    real_loss, calls = task.loss, []

    def loss(*args, **kwargs):
        calls.append(1)
        value = real_loss(*args, **kwargs)
        return value * float("inf") if len(calls) == 3 else value

    monkeypatch.setattr(task, "loss", loss)
    clf = earmark.SoundClassifier(**dict(FAST, epochs=3, batch_size=4, val_fraction=0.0))
    with pytest.raises(EarmarkError) as e:
        clf.fit(root)
    assert len(calls) == 3                              # no step after the bad batch
    assert str(e.value).startswith("training stopped at epoch 1, batch 3: the loss is inf")
    assert "earmark inspect" in str(e.value)
    assert not hasattr(clf, "model_")


# -- prediction ----------------------------------------------------------------------------------

def test_prediction_gives_a_poisoned_file_its_error_row_and_goes_on(tmp_path):
    rng = np.random.default_rng(0)
    good = [str(tmp_path / f"good_{k}.wav") for k in ("low", "high")]
    for path, kind in zip(good, ("low", "high")):
        sf.write(path, make_clip(kind, rng), SR)
    nan = poisoned(tmp_path / "nan.wav", np.nan)
    loud = poisoned(tmp_path / "loud.wav", 1e30)
    clf = earmark.load(LEGACY_MODEL)
    table = clf.predict_table([good[0], nan, loud, good[1]], progress=False)
    assert list(table["path"]) == [good[0], nan, loud, good[1]]
    errors = dict(zip(table["path"], table["error"]))
    assert pd.isna(errors[good[0]]) and pd.isna(errors[good[1]])
    assert errors[nan] == f"{nan}: audio contains NaN or infinite samples"
    assert errors[loud].startswith(f"{loud}: sample values reach 1e+30, beyond the +-1000")
    scores = table[clf.classes_].to_numpy(float)
    assert np.isnan(scores[1:3]).all() and table["label"][1:3].isna().all()
    assert np.isfinite(scores[[0, 3]]).all()
    np.testing.assert_allclose(scores[[0, 3]].sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(scores[[0, 3]], clf.predict_proba([good[0], good[1]]), atol=1e-6)


def test_prediction_never_outputs_nan_scores_without_an_error(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    path = str(tmp_path / "clip.wav")
    sf.write(path, make_clip("low", rng), SR)
    clf = earmark.load(LEGACY_MODEL)
    monkeypatch.setattr(clf.model_, "score_windows",
                        lambda w: np.full((len(w), 3), np.nan, np.float32))
    row = clf.predict_table([path], progress=False).iloc[0]
    assert row["error"] == f"{path}: the model gave NaN or infinite scores for this audio"
    assert pd.isna(row["label"])
