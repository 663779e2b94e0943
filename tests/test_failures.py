"""Bad input gives earmark's own error, naming the file or parameter and what would be accepted.

Model-file errors are in test_bundle.py.
"""

import re

import numpy as np
import pytest
import soundfile as sf

from earmark import audio
from earmark.config import FeatureConfig
from earmark.data import cv_splits, load_dataset
from earmark.errors import AudioError, DatasetError, EarmarkError, ParameterError
from earmark.windows import aggregate, frame_windows

AUDIO_READERS = {
    "load": lambda p: audio.load(p),
    "load_resampled": lambda p: audio.load(p, sample_rate=8000),
    "info": audio.info,
    "iter_blocks": lambda p: list(audio.iter_blocks(p, sample_rate=8000)),
    "content_hash": audio.content_hash,
}


def _bad_file(kind, tmp_path):
    path = tmp_path / f"{kind}.wav"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "garbage":
        path.write_bytes(bytes(range(256)) * 20)
    elif kind == "folder":
        path.mkdir()
    elif kind == "truncated_header":
        sf.write(path, np.zeros(1000, np.float32), 16000)
        path.write_bytes(path.read_bytes()[:20])
    return path


@pytest.mark.parametrize("reader", sorted(AUDIO_READERS))
@pytest.mark.parametrize("kind, says", [("missing", "file not found"),
                                        ("empty", "file is empty (0 bytes)"),
                                        ("garbage", "cannot decode audio"),
                                        ("truncated_header", "cannot decode audio"),
                                        ("folder", "is a folder")])
def test_unusable_audio_files_raise_audio_error_naming_the_path(tmp_path, reader, kind, says):
    path = _bad_file(kind, tmp_path)
    with pytest.raises(AudioError) as e:
        AUDIO_READERS[reader](path)
    assert e.value.path == str(path)
    assert str(e.value).startswith(f"{path}: ")
    assert says in str(e.value)
    if kind == "garbage":
        assert "WAV, FLAC, OGG, MP3" in str(e.value)       # what would be accepted


@pytest.mark.parametrize("reader", sorted(AUDIO_READERS))
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_samples_raise_audio_error(tmp_path, reader, bad):
    y = np.zeros(4000, np.float32)
    y[1234] = bad
    sf.write(tmp_path / "nan.wav", y, 16000, subtype="FLOAT")
    if reader == "info":
        assert audio.info(tmp_path / "nan.wav").frames == 4000      # the header is fine
        return
    with pytest.raises(AudioError, match="NaN or infinite") as e:
        AUDIO_READERS[reader](tmp_path / "nan.wav")
    assert e.value.path == str(tmp_path / "nan.wav")


def test_a_file_without_samples_raises_audio_error(tmp_path):
    sf.write(tmp_path / "zero.wav", np.zeros(0, np.float32), 16000)
    for reader in ("load", "iter_blocks"):
        with pytest.raises(AudioError, match="no audio samples"):
            AUDIO_READERS[reader](tmp_path / "zero.wav")


@pytest.mark.parametrize("start_s, end_s, says", [(2.0, None, "no audio samples in region"),
                                                  (0.5, 0.5, "invalid region"),
                                                  (0.6, 0.2, "invalid region"),
                                                  (-0.1, None, "invalid region")])
def test_bad_regions_raise_audio_error(tmp_path, start_s, end_s, says):
    sf.write(tmp_path / "a.wav", np.zeros(16000, np.float32), 16000)
    with pytest.raises(AudioError, match=says) as e:
        audio.load(tmp_path / "a.wav", start_s=start_s, end_s=end_s)
    assert str(tmp_path / "a.wav") in str(e.value)


# -- parameters ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, expected", [
    ({"sample_rate": 500}, "The 'sample_rate' parameter of FeatureConfig must be an int in "
                           "[1000, 384000]. Got 500 instead."),
    ({"sample_rate": 22050.0}, "The 'sample_rate' parameter of FeatureConfig must be an int in "
                               "[1000, 384000]. Got 22050.0 instead."),
    ({"n_fft": 8}, "The 'n_fft' parameter of FeatureConfig must be an int in [16, 65536]. "
                   "Got 8 instead."),
    ({"hop_length": 2048}, "The 'hop_length' parameter of FeatureConfig must be an int in "
                           "[1, 1024]. Got 2048 instead."),
    ({"n_mels": 0}, "The 'n_mels' parameter of FeatureConfig must be an int in [1, 512]. "
                    "Got 0 instead."),
    ({"fmin": -1.0}, "The 'fmin' parameter of FeatureConfig must be a float in [0, 11025.0). "
                     "Got -1.0 instead."),
    ({"fmin": 100.0, "fmax": 50.0}, "The 'fmax' parameter of FeatureConfig must be a float in "
                                    "(100.0, 11025.0] or None. Got 50.0 instead."),
    ({"fmax": 20000.0}, "The 'fmax' parameter of FeatureConfig must be a float in "
                        "(0.0, 11025.0] or None. Got 20000.0 instead."),
    ({"kind": "cqt"}, "The 'kind' parameter of FeatureConfig must be one of {'logmel', 'mfcc'}. "
                      "Got 'cqt' instead."),
    ({"n_mfcc": 65}, "The 'n_mfcc' parameter of FeatureConfig must be an int in [1, 64]. "
                     "Got 65 instead."),
    ({"top_db": -10.0}, "The 'top_db' parameter of FeatureConfig must be a float in (0, inf) or "
                        "None. Got -10.0 instead."),
    ({"window_s": 0}, "The 'window_s' parameter of FeatureConfig must be a float in (0, 600). "
                      "Got 0 instead."),
    ({"hop_s": float("nan")}, "The 'hop_s' parameter of FeatureConfig must be a float in "
                              "(0, 600). Got nan instead."),
    ({"hop_s": True}, "The 'hop_s' parameter of FeatureConfig must be a float in (0, 600). "
                      "Got True instead."),
    ({"normalize": "batch"}, "The 'normalize' parameter of FeatureConfig must be one of "
                             "{'dataset', 'window', 'none'}. Got 'batch' instead."),
])
def test_feature_config_rejects_bad_values_with_one_message_shape(kwargs, expected):
    with pytest.raises(ParameterError) as e:
        FeatureConfig(**kwargs)
    assert str(e.value) == expected


def test_window_shorter_than_n_fft_is_explained():
    with pytest.raises(ParameterError, match=re.escape(
            "window_s=0.01 s is 220 samples, shorter than n_fft=1024")):
        FeatureConfig(window_s=0.01)


def test_parameter_errors_are_value_errors_and_earmark_errors():
    with pytest.raises(ValueError):
        FeatureConfig(n_mels=-1)
    with pytest.raises(EarmarkError):
        FeatureConfig(n_mels=-1)


def test_frame_windows_needs_a_1d_signal():
    with pytest.raises(ParameterError, match=r"1-D signal; got shape \(2, 100\)"):
        frame_windows(np.zeros((2, 100)), 10, 5)


@pytest.mark.parametrize("scores, method, says", [
    ([[0.5, 0.5]], "median", "The 'method' parameter of aggregate must be one of "
                             "{'mean', 'max', 'vote', 'lse'}. Got 'median' instead."),
    (np.zeros((0, 3)), "mean", "got (0, 3)"),
    ([0.2, 0.8], "mean", "got (2,)"),
])
def test_aggregate_rejects_bad_input(scores, method, says):
    with pytest.raises(ParameterError) as e:
        aggregate(scores, method=method)
    assert says in str(e.value)


# -- datasets ------------------------------------------------------------------------------------

def _csv(path, text):
    path.write_text(text)
    return path


def test_missing_dataset_source(tmp_path):
    with pytest.raises(DatasetError, match="no such file or folder"):
        load_dataset(tmp_path / "nothing")


def test_dataset_source_that_is_neither_folder_nor_csv(tmp_path):
    (tmp_path / "x.wav").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"x\.wav: a dataset is a folder or a \.csv manifest"):
        load_dataset(tmp_path / "x.wav")


def test_folder_without_audio_says_what_is_expected(tmp_path):
    (tmp_path / "kick").mkdir()
    (tmp_path / "kick" / "readme.txt").write_text("hi")
    with pytest.raises(DatasetError, match="no audio files found. Expected one sub-folder per "
                                           "class"):
        load_dataset(tmp_path)


def test_manifest_without_path_or_label_column(tmp_path):
    with pytest.raises(DatasetError) as e:
        load_dataset(_csv(tmp_path / "m.csv", "file,class\na.wav,x\n"))
    msg = str(e.value)
    assert "m.csv" in msg and "path (or filename)" in msg and "'label'" in msg
    assert "['file', 'class']" in msg


def test_manifest_with_another_label_column(tmp_path):
    ds = load_dataset(_csv(tmp_path / "m.csv", "path,class\na.wav,x\nb.wav,y\n"),
                      label_column="class")
    assert ds.labels == ["x", "y"]


def test_manifest_problems_are_all_listed(tmp_path):
    text = ("path,label,start,end\n"
            "a.wav,x,0.5,0.2\n"         # row 2: end before start
            ",x,,\n"                    # row 3: empty path
            "c.wav,,,\n"                # row 4: empty label
            "d.wav,y,soon,\n")          # row 5: start not a number
    with pytest.raises(DatasetError) as e:
        load_dataset(_csv(tmp_path / "m.csv", text))
    problems = e.value.problems
    assert len(problems) == 4, problems
    assert any(p.startswith("row 2:") and "is not after start" in p for p in problems)
    assert "row 3: empty path" in problems
    assert any(p.startswith("row 4: empty label") and "c.wav" in p for p in problems)
    assert "row 5: start='soon' is not a number" in problems


def test_empty_manifest(tmp_path):
    with pytest.raises(DatasetError, match="no rows"):
        load_dataset(_csv(tmp_path / "m.csv", "path,label\n"))


def _ds(tmp_path, rows):
    return load_dataset(_csv(tmp_path / "m.csv", "path,label,fold,group\n" + "".join(
        f"{r}\n" for r in rows)))


def test_cv_splits_needs_exactly_one_of_folds_and_groups(tmp_path):
    ds = _ds(tmp_path, ["a.wav,x,1,g", "b.wav,y,2,h"])
    with pytest.raises(ParameterError, match="exactly one of folds=COLUMN"):
        cv_splits(ds)
    with pytest.raises(ParameterError, match="exactly one of folds=COLUMN"):
        cv_splits(ds, folds="fold", groups="group")


def test_cv_splits_with_a_single_fold_or_too_few_groups(tmp_path):
    ds = _ds(tmp_path, ["a.wav,x,1,g", "b.wav,y,1,h", "c.wav,y,1,h"])
    with pytest.raises(DatasetError, match="column 'fold' has a single value"):
        cv_splits(ds, folds="fold")
    with pytest.raises(DatasetError, match="2 distinct groups, fewer than n_splits=5"):
        cv_splits(ds, groups="group", n_splits=5)


def test_cv_splits_on_a_missing_or_incomplete_column(tmp_path):
    ds = _ds(tmp_path, ["a.wav,x,1,g", "b.wav,y,,h", "c.wav,y,2,h"])
    with pytest.raises(DatasetError, match=r"column 'fold' is empty for 1 clips.*b\.wav"):
        cv_splits(ds, folds="fold")
    with pytest.raises(DatasetError, match="no column 'kit'; available:"):
        cv_splits(ds, folds="kit")
