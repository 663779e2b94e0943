"""Event outputs: CSV, Parquet, Audacity labels and Raven selection tables read back with other
readers, frame scores read back with sed_scores_eval's reader, atomic writes, shared stems."""

import doctest
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from earmark.errors import ParameterError
from earmark.inference import outputs
from earmark.inference.outputs import (EVENT_COLUMNS, RAVEN_COLUMNS, events_table,
                                       score_dataframe, write_events, write_frame_scores)


def leftovers(folder):
    """Temporary files an interrupted atomic write would leave."""
    return [p for p in Path(folder).rglob("*")
            if p.name.endswith(".tmp") or p.name.startswith(".earmark")]


@pytest.fixture
def events():
    return {
        "field/b.wav": [(2.5, 3.25, "owl", 0.8125), (0.1, 0.7, "frog", 0.5)],
        "field/a.wav": [(1.0, 2.0, "owl", 0.875), (1.0, 1.5, "frog", 0.25),
                        (0.123456789, 0.5, "frog", 0.75)],
        "field/quiet.wav": [],
    }


def test_events_table_sorts_and_lists_every_recording(events):
    t = events_table(events)
    assert list(t.columns) == EVENT_COLUMNS
    assert t[["filename", "onset", "event_label"]].values.tolist() == [
        ["field/a.wav", 0.123456789, "frog"], ["field/a.wav", 1.0, "frog"],
        ["field/a.wav", 1.0, "owl"], ["field/b.wav", 0.1, "frog"], ["field/b.wav", 2.5, "owl"]]
    assert t.attrs["recordings"] == ["field/a.wav", "field/b.wav", "field/quiet.wav"]
    t3 = events_table({"x.wav": [(0.0, 1.0, "dog")]})
    assert np.isnan(t3.loc[0, "score"])
    with pytest.raises(ParameterError, match="onset < offset"):
        events_table({"x.wav": [(2.0, 1.0, "dog")]})
    with pytest.raises(ParameterError, match="tuples"):
        events_table({"x.wav": [(2.0, "dog")]})


def test_csv_and_parquet_round_trip(tmp_path, events):
    t = events_table(events)
    assert write_events(t, tmp_path / "ev.csv") == [tmp_path / "ev.csv"]
    back = pd.read_csv(tmp_path / "ev.csv")
    pd.testing.assert_frame_equal(back, t, check_dtype=False)
    assert write_events(t, tmp_path / "ev.parquet", format="parquet") == [tmp_path / "ev.parquet"]
    back = pd.read_parquet(tmp_path / "ev.parquet")
    pd.testing.assert_frame_equal(back.astype({"filename": object, "event_label": object}), t,
                                  check_dtype=False)
    assert not leftovers(tmp_path)


def test_audacity_label_files_read_back_as_tab_separated(tmp_path, events):
    t = events_table(events)
    written = write_events(t, tmp_path / "labels", format="audacity")
    assert [p.name for p in written] == ["a.txt", "b.txt", "quiet.txt"]
    a = pd.read_csv(tmp_path / "labels" / "a.txt", sep="\t", header=None,
                    names=["start", "end", "label"])
    assert a.values.tolist() == [[0.123457, 0.5, "frog"], [1.0, 1.5, "frog"], [1.0, 2.0, "owl"]]
    assert (tmp_path / "labels" / "b.txt").read_text() == (
        "0.100000\t0.700000\tfrog\n2.500000\t3.250000\towl\n")
    assert (tmp_path / "labels" / "quiet.txt").read_text() == ""      # no events, still a file
    assert not leftovers(tmp_path)


def test_a_label_with_a_tab_or_newline_stays_on_its_line(tmp_path):
    t = events_table({"x.wav": [(0.0, 1.0, "big\tdog\n", 0.5)]})
    write_events(t, tmp_path, format="audacity")
    assert (tmp_path / "x.txt").read_text() == "0.000000\t1.000000\tbig dog\n"


def test_two_recordings_with_one_stem_get_distinct_files(tmp_path):
    t = events_table({"site2/x.wav": [(5.0, 6.0, "b", 0.5)], "site1/x.wav": [(1.0, 2.0, "a", 0.5)],
                      "site3/X.flac": [], "x-2.wav": [(3.0, 4.0, "c", 0.5)]})
    names = [p.name for p in write_events(t, tmp_path / "aud", format="audacity")]
    # distinct even on a file system that ignores case
    assert len({n.lower() for n in names}) == 4
    got = {p.name: p.read_text() for p in (tmp_path / "aud").iterdir()}
    assert len(got) == 4 and not leftovers(tmp_path)
    mapping = outputs._unique_names(["site1/x.wav", "site2/x.wav", "site3/X.flac", "x-2.wav"],
                                    ".txt")
    assert mapping == {"site1/x.wav": "x.txt", "site2/x.wav": "x-2.txt",
                       "site3/X.flac": "X-3.txt", "x-2.wav": "x-2-2.txt"}
    assert got["x.txt"].endswith("\ta\n") and got["x-2.txt"].endswith("\tb\n")
    assert got["x-2-2.txt"].endswith("\tc\n") and got["X-3.txt"] == ""
    raven = write_events(t, tmp_path / "rav", format="raven", per_recording=True)
    assert sorted(p.name for p in raven) == sorted(
        ["x.Table.1.selections.txt", "x-2.Table.1.selections.txt",
         "X-3.Table.1.selections.txt", "x-2-2.Table.1.selections.txt"])


@pytest.fixture
def recordings(tmp_path):
    """Two readable recordings (2 s at 8 kHz, 3 s at 16 kHz) and a path to nothing."""
    a, b = tmp_path / "rec" / "a.wav", tmp_path / "rec" / "b.wav"
    a.parent.mkdir()
    sf.write(a, np.zeros(16000, np.float32), 8000)
    sf.write(b, np.zeros(48000, np.float32), 16000)
    return str(a), str(b), str(tmp_path / "rec" / "missing.wav")


def test_raven_combined_table(tmp_path, recordings):
    a, b, missing = recordings
    t = events_table({a: [(0.5, 1.0, "owl", 0.9), (1.25, 1.75, "frog", 0.5)],
                      b: [(0.25, 2.0, "owl", 0.75)],
                      missing: [(4.0, 5.5, "bat", 0.125)],
                      str(Path(a).with_name("silent.wav")): []})
    out = tmp_path / "out" / "all.selections.txt"
    assert write_events(t, out, format="raven") == [out]
    r = pd.read_csv(out, sep="\t")
    assert list(r.columns) == RAVEN_COLUMNS
    assert r["Selection"].tolist() == [1, 2, 3, 4]
    assert (r["View"] == "Spectrogram 1").all() and (r["Channel"] == 1).all()
    # files in sorted order: a (2 s), b (3 s), missing (unreadable: counts as 5.5 s), silent
    assert r["Begin Path"].tolist() == [a, a, b, missing]
    assert r["Begin Time (s)"].tolist() == [0.5, 1.25, 2.25, 9.0]
    assert r["End Time (s)"].tolist() == [1.0, 1.75, 4.0, 10.5]
    assert r["File Offset (s)"].tolist() == [0.5, 1.25, 0.25, 4.0]
    assert r["Low Freq (Hz)"].tolist() == [0.0] * 4
    assert r["High Freq (Hz)"].tolist() == [4000.0, 4000.0, 8000.0, 0.0]
    assert r["Annotation"].tolist() == ["owl", "frog", "owl", "bat"]
    assert r["Score"].tolist() == [0.9, 0.5, 0.75, 0.125]
    assert not leftovers(tmp_path)


def test_raven_per_recording_tables(tmp_path, recordings):
    a, b, _ = recordings
    t = events_table({a: [(0.5, 1.0, "owl", 0.9), (1.25, 1.75, "frog", 0.5)], b: []})
    written = write_events(t, tmp_path / "sel", format="raven", per_recording=True)
    assert [p.name for p in written] == ["a.Table.1.selections.txt", "b.Table.1.selections.txt"]
    ra = pd.read_csv(written[0], sep="\t")
    assert ra["Selection"].tolist() == [1, 2]
    assert ra["Begin Time (s)"].tolist() == ra["File Offset (s)"].tolist() == [0.5, 1.25]
    assert ra["High Freq (Hz)"].tolist() == [4000.0, 4000.0]
    rb = pd.read_csv(written[1], sep="\t")
    assert list(rb.columns) == RAVEN_COLUMNS and len(rb) == 0         # header only


def test_relative_paths_become_absolute_in_raven(tmp_path, recordings, monkeypatch):
    a, _, _ = recordings
    monkeypatch.chdir(Path(a).parent)
    t = events_table({"a.wav": [(0.5, 1.0, "owl", 0.9)]})
    write_events(t, tmp_path / "r.txt", format="raven")
    r = pd.read_csv(tmp_path / "r.txt", sep="\t")
    assert r["Begin Path"].tolist() == [os.path.abspath("a.wav")]
    assert r["High Freq (Hz)"].tolist() == [4000.0]


def test_failed_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, events, monkeypatch):
    t = events_table(events)
    out = tmp_path / "ev.parquet"
    write_events(t, out, format="parquet")
    before = out.read_bytes()

    def broken(self, path, **kwargs):
        Path(path).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken)
    with pytest.raises(OSError, match="disk full"):
        write_events(t.iloc[:1], out, format="parquet")
    assert out.read_bytes() == before and not leftovers(tmp_path)


@pytest.mark.parametrize("kwargs, needle", [
    (dict(format="json"), "'format' parameter of write_events must be one of"),
    (dict(format="csv", per_recording=True), "per_recording=True"),
    (dict(format="audacity", per_recording=False), "Audacity label files hold one recording"),
])
def test_write_events_rejects_bad_arguments(tmp_path, events, kwargs, needle):
    with pytest.raises(ParameterError) as err:
        write_events(events_table(events), tmp_path / "x", **kwargs)
    assert needle in str(err.value)
    with pytest.raises(ParameterError, match="lacks column"):
        write_events(pd.DataFrame({"filename": ["a"]}), tmp_path / "x.csv")


def test_frame_scores_read_back_with_sed_scores_eval(tmp_path, rng):
    from sed_scores_eval.base_modules.io import read_sed_scores
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    classes = ["dog", "bird", "car"]
    scores = {"rec1": rng.random((173, 3)), "rec2": rng.random((5, 3)).astype(np.float32)}
    for audio_id, x in scores.items():
        path = write_frame_scores(x, tmp_path / "scores", audio_id, frame_step_s=0.02,
                                  classes=classes, start_s=1.5)
        assert path == tmp_path / "scores" / f"{audio_id}.tsv"
    assert not leftovers(tmp_path)
    back = read_sed_scores(tmp_path / "scores")          # the folder layout: one .tsv per id
    assert sorted(back) == ["rec1", "rec2"]
    for audio_id, x in scores.items():
        got = back[audio_id]
        assert list(got.columns) == ["onset", "offset"] + classes
        np.testing.assert_array_equal(got[classes].to_numpy(), x.astype(np.float64))
        t = 1.5 + 0.02 * np.arange(len(x) + 1)
        want = create_score_dataframe(x.astype(np.float64), t, classes)  # sed_scores_eval's own
        np.testing.assert_allclose(got[["onset", "offset"]].to_numpy(),
                                   want[["onset", "offset"]].to_numpy(), rtol=0, atol=1e-9)
        pd.testing.assert_frame_equal(got, score_dataframe(x, frame_step_s=0.02, classes=classes,
                                                           start_s=1.5))


def test_score_dataframe_and_write_frame_scores_validate(tmp_path):
    with pytest.raises(ParameterError, match="shape"):
        score_dataframe(np.zeros((4, 2)), frame_step_s=0.1, classes=["a"])
    with pytest.raises(ParameterError, match="class names"):
        score_dataframe(np.zeros((4, 1)), frame_step_s=0.1, classes=["onset"])
    with pytest.raises(ParameterError, match="NaN"):
        score_dataframe(np.full((4, 1), np.nan), frame_step_s=0.1, classes=["a"])
    with pytest.raises(ParameterError, match="'audio_id' parameter"):
        write_frame_scores(np.zeros((4, 1)), tmp_path, "../x", frame_step_s=0.1, classes=["a"])


def test_docstring_examples_run():
    result = doctest.testmod(outputs, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 5 and result.failed == 0
