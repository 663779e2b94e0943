"""Cutting events into WAV files: the samples of each segment are the source's region (with
padding clipped to the file), the manifest loads as a classification dataset, and a file that
cannot be read gives error rows while the rest goes on."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from earmark.data import load_dataset
from earmark.errors import ParameterError
from earmark.inference import events_table, segment_events

SR = 8000


@pytest.fixture
def sources(tmp_path, rng):
    """Two recordings with known samples: a 3 s mono file and a 2 s stereo file (same stem
    'take' in two folders)."""
    mono = tmp_path / "site1" / "take.wav"
    stereo = tmp_path / "site2" / "take.wav"
    for p in (mono, stereo):
        p.parent.mkdir()
    y_mono = (rng.random(3 * SR) - 0.5).astype(np.float32)
    y_stereo = (rng.random((2 * SR, 2)) - 0.5).astype(np.float32)
    sf.write(mono, y_mono, SR, subtype="FLOAT")
    sf.write(stereo, y_stereo, SR, subtype="FLOAT")
    return str(mono), y_mono, str(stereo), y_stereo


def read(path):
    y, sr = sf.read(path, dtype="float32")
    return y, sr


def test_segments_hold_the_event_regions_and_the_manifest_loads(tmp_path, sources):
    mono, y_mono, stereo, y_stereo = sources
    missing = str(tmp_path / "gone.wav")
    table = events_table({
        mono: [(0.1, 0.5, "owl", 0.9), (1.0, 1.25, "frog", 0.75), (2.75, 3.0, "owl", 0.5)],
        stereo: [(0.5, 1.0, "owl", 0.625)],
        missing: [(1.0, 2.0, "owl", 0.5)],
    })
    out = tmp_path / "clips"
    m = segment_events(table, out, padding_s=0.25)
    assert list(m.columns) == ["path", "label", "source", "onset", "offset", "score", "group",
                               "error"]
    # in table order: by recording ('gone.wav' sorts first), then onset
    assert m["path"].tolist() == ["owl/gone_1000-2000.wav", "owl/take_100-500.wav",
                                  "frog/take_1000-1250.wav", "owl/take_2750-3000.wav",
                                  "owl/take_500-1000.wav"]
    assert m["error"].tolist()[1:] == [""] * 4
    assert "gone.wav" in m["error"].iloc[0] and "not found" in m["error"].iloc[0]
    assert not (out / "owl" / "gone_1000-2000.wav").exists()
    assert m["source"].tolist() == [missing, mono, mono, mono, stereo]
    assert m["group"].tolist() == m["source"].tolist()
    assert m["score"].tolist() == [0.5, 0.9, 0.75, 0.5, 0.625]

    # samples: the padded region, clipped to the file (0.1 - 0.25 s starts at 0; 3.0 + 0.25 s
    # ends at the end); the stereo source mixed to mono
    def region(y, a, b):
        return y[int(round(a * SR)):int(round(b * SR))]
    expected = [region(y_mono, 0.0, 0.75), region(y_mono, 0.75, 1.5), region(y_mono, 2.5, 3.0),
                region(y_stereo.mean(axis=1, dtype=np.float32), 0.25, 1.25)]
    for rel, want in zip(m["path"][1:], expected):
        got, sr = read(out / rel)
        assert sr == SR and got.ndim == 1
        np.testing.assert_array_equal(got, want)

    written = pd.read_csv(out / "manifest.csv", keep_default_na=False)
    assert written["path"].tolist() == m["path"].tolist()
    ds = load_dataset(out / "manifest.csv")
    assert not ds.is_multi_label
    assert ds.labels == ["frog", "owl"]
    assert ds.paths[2] == str((out / "frog" / "take_1000-1250.wav").resolve())
    assert ds.table["error"].isna().tolist() == [False, True, True, True, True]  # empty: fine
    assert ds.column("group").tolist() == m["group"].tolist()
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]     # atomic writes


def test_same_stem_and_times_from_two_sources_get_distinct_files(tmp_path, sources):
    mono, y_mono, stereo, _ = sources
    table = events_table({mono: [(0.5, 1.0, "owl", 0.5)], stereo: [(0.5, 1.0, "owl", 0.5)]})
    m = segment_events(table, tmp_path / "clips")
    assert m["path"].tolist() == ["owl/take_500-1000.wav", "owl/take_500-1000-2.wav"]
    got, _ = read(tmp_path / "clips" / m["path"].iloc[0])
    np.testing.assert_array_equal(got, y_mono[4000:8000])


def test_resampled_segments_and_odd_labels(tmp_path, sources):
    mono, _, _, _ = sources
    table = events_table({mono: [(1.0, 1.5, "../up/and out", 0.5), (2.0, 2.5, ".hidden", 0.5)]})
    m = segment_events(table, tmp_path / "clips", sample_rate=16000)
    assert m["path"].tolist() == ["_.._up_and out/take_1000-1500.wav",
                                  "_.hidden/take_2000-2500.wav"]
    assert m["label"].tolist() == ["../up/and out", ".hidden"]
    y, sr = read(tmp_path / "clips" / m["path"].iloc[0])
    assert sr == 16000 and len(y) == 8000
    assert sorted(p.name for p in (tmp_path / "clips").iterdir()) == [
        "_.._up_and out", "_.hidden", "manifest.csv"]


def test_event_outside_the_file_is_an_error_row(tmp_path, sources):
    mono, _, _, _ = sources
    table = events_table({mono: [(5.0, 6.0, "owl", 0.5), (0.0, 0.5, "owl", 0.5)]})
    m = segment_events(table, tmp_path / "clips")
    assert "outside the file" in m["error"].iloc[1]
    assert m["error"].iloc[0] == "" and (tmp_path / "clips" / m["path"].iloc[0]).is_file()


def test_bad_arguments(tmp_path):
    t = events_table({"x.wav": [(0.0, 1.0, "a", 0.5)]})
    with pytest.raises(ParameterError, match="'padding_s' parameter of segment_events"):
        segment_events(t, tmp_path, padding_s=-1)
    with pytest.raises(ParameterError, match="'sample_rate' parameter of segment_events"):
        segment_events(t, tmp_path, sample_rate=0)
    with pytest.raises(ParameterError, match="lacks column"):
        segment_events(pd.DataFrame({"filename": ["x.wav"]}), tmp_path)
    assert not Path(tmp_path, "manifest.csv").exists()
