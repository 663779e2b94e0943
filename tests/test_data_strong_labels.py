"""earmark.data.strong_labels: Audacity label files, Raven selection tables, folders of label
files, the checks of events against the recordings, and load_dataset on all of them.

Every label file is written by hand here, as Audacity and Raven write them (tabs, CRLF, a
selection once per view), beside generated noise WAVs of known length.
"""

import doctest
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from _signals import write_csv, write_tagging_dataset
from earmark.data import (check_dataset_events, check_events, find_label_files, load_dataset,
                          read_annotations, read_audacity_labels, read_raven_table,
                          read_strong_labels, validate_events)
from earmark.errors import DatasetError, ParameterError

SR = 8000
NAN = math.nan
RAVEN_HEADER = ["Selection", "View", "Channel", "Begin Time (s)", "End Time (s)",
                "Low Freq (Hz)", "High Freq (Hz)"]


def write_wav(path, seconds=2.0, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    y = 0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SR))
    sf.write(path, y.astype(np.float32), SR, subtype="PCM_16")
    return path


def write_lines(path, lines, end="\n"):
    """A text file of ``lines`` (each a list of tab-joined cells, or a string), ``end``-ended."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(("\t".join(line) if isinstance(line, list) else line) + end for line in lines)
    path.write_bytes(text.encode("utf-8"))
    return path


def events_frame(lines, rows, source, *, index_name="line"):
    """The expected reader output: rows of (path, onset, offset, label, low, high)."""
    paths, on, off, labels, low, high = zip(*rows)
    out = pd.DataFrame({"path": list(paths), "onset": np.array(on, float),
                        "offset": np.array(off, float),
                        "event_label": pd.Series(list(labels), dtype=object),
                        "low_freq": np.array(low, float), "high_freq": np.array(high, float)})
    out.index = pd.Index(np.array(lines, np.int64), name=index_name)
    out.attrs["source"] = str(source)
    return out


def assert_events(got, expected):
    pd.testing.assert_frame_equal(got, expected)
    assert got.attrs["source"] == expected.attrs["source"]


def only(problems, *needles):
    """The one problem that holds every needle (fails when none or several do)."""
    hits = [p for p in problems if all(n in p for n in needles)]
    assert len(hits) == 1, (needles, problems)
    return hits[0]


# -- Audacity ------------------------------------------------------------------------------------

def test_audacity_labels_with_spectral_lines_crlf_blank_lines_and_point_labels(tmp_path):
    wav = write_wav(tmp_path / "rec.wav")
    labels = write_lines(tmp_path / "rec.txt", [
        "0.500000\t1.250000\tdog bark",          # 1
        "\\\t300.000000\t3000.000000",           # 2: the band of line 1
        "",                                      # 3
        "2.000000\t2.000000\tclick",             # 4: a point label, kept
        "3.5\t4.75\tbird  song\ttwo",            # 5: spaces and a tab inside the label
        "\\\t-1.000000\t8000.5",                 # 6: -1 is Audacity's undefined edge
        "6 7 no tabs here",                      # 7: spaces instead of tabs
    ], end="\r\n")
    got = read_audacity_labels(labels, audio_path=wav)
    p = str(wav.resolve())
    assert_events(got, events_frame([1, 4, 5, 7], [
        (p, 0.5, 1.25, "dog bark", 300.0, 3000.0),
        (p, 2.0, 2.0, "click", NAN, NAN),
        (p, 3.5, 4.75, "bird  song\ttwo", NAN, 8000.5),
        (p, 6.0, 7.0, "no tabs here", NAN, NAN)], labels))
    # the recording need not exist to be read; the path is made absolute
    rel = read_audacity_labels(labels, audio_path="elsewhere/x.wav")
    assert rel["path"].tolist() == [str(Path("elsewhere/x.wav").resolve())] * 4
    # an empty file (Audacity's export of a track without labels) is no events
    empty = read_audacity_labels(write_lines(tmp_path / "empty.txt", []), audio_path=wav)
    assert empty.empty and list(empty.columns) == ["path", "onset", "offset", "event_label",
                                                   "low_freq", "high_freq"]


def test_audacity_problems_are_listed_at_once_with_their_lines(tmp_path):
    bad = write_lines(tmp_path / "bad.txt", [
        "0.5\t1.0\tok",                # 1
        "soon\t1.0\tdog",              # 2
        "1.0\t2.0\t",                  # 3: empty label
        "\\\t100\t200",                # 4: belongs to nothing (line 3 was not a label)
        "7.5",                         # 5
        "2.0\t3.0\tcat",               # 6
        "\\\t100\tlots",               # 7
        "\\\t100\t200",                # 8: a second band for line 6
    ])
    with pytest.raises(DatasetError) as e:
        read_audacity_labels(bad, audio_path=tmp_path / "bad.wav")
    assert str(e.value).startswith(f"{bad}: 6 problem(s) in the labels")
    problems = e.value.problems
    assert [p.split(":")[0] for p in problems] == [f"line {n}" for n in (2, 3, 4, 5, 7, 8)]
    assert "start='soon' is not a number" in problems[0]
    assert problems[1] == "line 3: empty label (1 s to 2 s)"
    assert "must follow a label line" in problems[2] and "must follow" in problems[5]
    assert "'7.5' is not 'start<TAB>end<TAB>label'" in problems[3]
    with pytest.raises(DatasetError, match="no such label file"):
        read_audacity_labels(tmp_path / "nope.txt", audio_path=tmp_path / "bad.wav")
    with pytest.raises(ParameterError, match="The 'audio_path' parameter of "
                                             "read_audacity_labels must be a str or path-like"):
        read_audacity_labels(bad, audio_path=None)


# -- Raven -------------------------------------------------------------------------------------

def test_raven_keeps_one_row_per_selection_and_resolves_begin_path(tmp_path):
    audio = tmp_path / "audio"
    a = write_wav(audio / "site1" / "a.wav")
    b = write_wav(audio / "site1" / "b.wav")
    c = write_wav(tmp_path / "elsewhere" / "c.wav")
    header = RAVEN_HEADER + ["Begin Path", "File Offset (s)", "Species", "Notes"]
    win_a = r"C:\Users\me\field\site1\a.wav"       # made on Windows, found by its tail here
    table = write_lines(audio / "all.selections.txt", [
        header,                                                                      # 1
        ["1", "Waveform 1", "1", "0.5", "1.25", "0", "4000", win_a, "0.5", "owl", ""],
        ["1", "Spectrogram 1", "1", "0.5", "1.25", "400", "900", win_a, "0.5", "owl", ""],
        # a file sequence: Begin Time counts from the sequence, File Offset from b.wav
        ["2", "Waveform 1", "1", "3.0", "3.5", "0", "4000", r"site1\b.wav", "1.0", "bat", ""],
        ["2", "Spectrogram 1", "1", "3.0", "3.5", "2000", "3000", r"site1\b.wav", "1.0", "",
         "label typed on the waveform row only"],
        ["3", "Waveform 1", "1", "0.25", "0.75", "0", "4000", str(c), "0.25", "wren owl", ""],
        "",
    ], end="\r\n")
    got = read_raven_table(table)
    assert_events(got, events_frame([3, 5, 6], [
        (str(a.resolve()), 0.5, 1.25, "owl", 400.0, 900.0),
        (str(b.resolve()), 1.0, 1.5, "bat", 2000.0, 3000.0),
        (str(c.resolve()), 0.25, 0.75, "wren owl", 0.0, 4000.0)], table))
    # the views listed one after the other (all waveform rows, then all spectrogram rows)
    rows = [line.split("\t") for line in table.read_text().splitlines()[1:6]]
    table2 = write_lines(audio / "views.txt", [header, rows[0], rows[2], rows[1], rows[3]])
    got2 = read_raven_table(table2)
    assert got2.index.tolist() == [4, 5] and got2["low_freq"].tolist() == [400.0, 2000.0]
    # audio_root moves the relative paths
    moved = write_wav(tmp_path / "copy" / "site1" / "b.wav")
    got3 = read_raven_table(table, audio_root=tmp_path / "copy")
    assert got3["path"].tolist()[1] == str(moved.resolve())


def test_raven_begin_file_audio_root_and_named_label_column(tmp_path):
    root = tmp_path / "recordings"
    x = write_wav(root / "x.wav")
    y = write_wav(root / "deep" / "down" / "y.wav")        # found by name under audio_root
    header = RAVEN_HEADER + ["Begin File", "Call type", "Annotation"]
    table = write_lines(tmp_path / "tables" / "t.txt", [
        header,
        ["1", "Spectrogram 1", "1", "1", "2", "100", "200", "x.wav", "song", "ignored"],
        ["2", "Spectrogram 1", "1", "0.125", "0.5", "", "", "y.wav", "call", "ignored"],
    ])
    got = read_raven_table(table, label_column="Call type", audio_root=root)
    assert_events(got, events_frame([2, 3], [
        (str(x.resolve()), 1.0, 2.0, "song", 100.0, 200.0),
        (str(y.resolve()), 0.125, 0.5, "call", NAN, NAN)], table))
    # by default the first of Annotation, Label, Species, Class, label
    assert read_raven_table(table, audio_root=root)["event_label"].tolist() == ["ignored"] * 2
    with pytest.raises(DatasetError) as e:
        read_raven_table(table, label_column="Species", audio_root=root)
    assert "no column 'Species'" in str(e.value) and "'Call type'" in str(e.value)
    no_default = write_lines(tmp_path / "nd.txt", [RAVEN_HEADER + ["Begin File", "Type"],
                                                   ["1", "Spectrogram 1", "1", "1", "2", "1",
                                                    "2", "x.wav", "song"]])
    with pytest.raises(DatasetError) as e:
        read_raven_table(no_default, audio_root=root)
    msg = str(e.value)
    assert "which column holds the event labels" in msg and "label_column=" in msg
    assert "'Type'" in msg and "'Begin File'" in msg
    with pytest.raises(ParameterError, match="The 'label_column' parameter of read_raven_table"):
        read_raven_table(table, label_column=3)


def test_raven_table_of_one_recording_and_its_problems(tmp_path):
    wav = write_wav(tmp_path / "rec.wav")
    table = write_lines(tmp_path / "rec.Table.1.selections.txt", [
        RAVEN_HEADER + ["Annotation"],
        ["1", "Waveform 1", "1", "0.1", "0.2", "0", "4000", "a"],
        ["1", "Spectrogram 1", "1", "0.1", "0.2", "50", "60", "a"],
    ])
    got = read_raven_table(table, audio_path=wav)
    assert_events(got, events_frame([3], [(str(wav.resolve()), 0.1, 0.2, "a", 50.0, 60.0)],
                                    table))
    with pytest.raises(DatasetError, match="names no recording .* give audio_path="):
        read_raven_table(table)
    bad = write_lines(tmp_path / "bad.txt", [
        RAVEN_HEADER + ["Annotation"],
        ["1", "Spectrogram 1", "1", "x", "0.2", "0", "10", "a"],     # 2
        ["2", "Spectrogram 1", "1", "0.1", "0.2", "0", "10", " "],   # 3
        ["3", "Spectrogram 1", "1", "0.1", "0.2", "low", "10", "a"],  # 4
        ["4", "Spectrogram 1", "1", "0.3", "0.4", "0", "10", "ok"],  # 5
    ])
    with pytest.raises(DatasetError) as e:
        read_raven_table(bad, audio_path=wav)
    problems = e.value.problems
    assert len(problems) == 3, problems
    assert problems[0] == "line 2: Begin Time (s)='x' is not a number"
    assert problems[1] == "line 3: empty 'Annotation' (selection at 0.1 s)"
    assert problems[2] == "line 4: Low Freq (Hz)='low' is not a number"
    not_raven = write_lines(tmp_path / "nr.txt", [["Selection", "Start", "End"]])
    with pytest.raises(DatasetError, match=r"not a Raven selection table: no column\(s\) "
                                           r"\['Begin Time \(s\)', 'End Time \(s\)'\]"):
        read_raven_table(not_raven, audio_path=wav)


# -- folders and the entry point ----------------------------------------------------------------

def label_folder(root):
    """a: Audacity; b: Raven Table.1; c: none; sub/d.flac: Raven selections; e: Raven as
    e.txt. Returns the recordings by name."""
    recs = {n: write_wav(root / f, seconds=2.0, seed=i) for i, (n, f) in enumerate(
        [("a", "a.wav"), ("b", "b.wav"), ("c", "c.wav"), ("e", "e.wav")])}
    recs["d"] = root / "sub" / "d.flac"
    recs["d"].parent.mkdir()
    sf.write(recs["d"], np.zeros(2 * SR, np.float32), SR)
    write_lines(root / "a.txt", ["0.5\t1.0\towl", "\\\t100\t200", "1.5\t1.75\tbat"])
    raven = RAVEN_HEADER + ["Begin Path", "Species"]
    for name, label, t0, t1 in (("b.Table.1.selections.txt", "owl", "0.25", "0.5"),
                                ("sub/d.selections.txt", "wren", "1", "1.5"),
                                ("e.txt", "bat", "0", "0.5")):
        # Begin Path from the machine the table was made on: the file beside it is meant
        write_lines(root / name, [raven,
                                  ["1", "Waveform 1", "1", t0, t1, "0", "4000",
                                   r"D:\old\place.wav", label],
                                  ["1", "Spectrogram 1", "1", t0, t1, "10", "20",
                                   r"D:\old\place.wav", label]])
    write_lines(root / "notes.txt", ["not a label file of any recording"])
    write_lines(root / ".hidden" / "h.txt", ["0\t1\tx"])
    write_wav(root / ".hidden" / "h.wav")
    return recs


def test_find_label_files_pairs_recordings_and_keeps_the_ones_without(tmp_path):
    recs = label_folder(tmp_path)
    got = find_label_files(tmp_path)
    r = {k: str(v.resolve()) for k, v in recs.items()}
    t = str(tmp_path.resolve())
    assert got == [(r["a"], f"{t}/a.txt", "audacity"),
                   (r["b"], f"{t}/b.Table.1.selections.txt", "raven"),
                   (r["c"], None, None),
                   (r["e"], f"{t}/e.txt", "raven"),
                   (r["d"], f"{t}/sub/d.selections.txt", "raven")]


def test_find_label_files_problems(tmp_path):
    write_wav(tmp_path / "two.wav")
    write_lines(tmp_path / "two.txt", ["0\t1\tx"])
    write_lines(tmp_path / "two.selections.txt", [RAVEN_HEADER])
    write_wav(tmp_path / "notes.wav")
    write_lines(tmp_path / "notes.txt", ["recorded on a windy day"])
    write_wav(tmp_path / "pair.wav")
    write_wav(tmp_path / "pair.flac")
    write_lines(tmp_path / "pair.txt", ["0\t1\tx"])
    with pytest.raises(DatasetError) as e:
        find_label_files(tmp_path)
    problems = e.value.problems
    assert len(problems) == 3, problems
    only(problems, "notes.txt", "neither Audacity labels")
    only(problems, "pair.txt", "belongs to several recordings", "pair.flac", "pair.wav")
    only(problems, "two.wav", "several label files", "two.selections.txt", "two.txt")
    with pytest.raises(DatasetError, match="no such folder"):
        find_label_files(tmp_path / "nope")


def test_read_strong_labels_dispatches_on_the_source(tmp_path):
    recs = label_folder(tmp_path / "f")
    r = {k: str(v.resolve()) for k, v in recs.items()}
    # one Audacity file: its recording is the one named like it
    a = read_strong_labels(tmp_path / "f" / "a.txt")
    assert_events(a, events_frame([1, 3], [(r["a"], 0.5, 1.0, "owl", 100.0, 200.0),
                                           (r["a"], 1.5, 1.75, "bat", NAN, NAN)],
                                  tmp_path / "f" / "a.txt"))
    # a Raven table with a Begin Path follows it (the file from elsewhere is matched by name)
    b = read_strong_labels(tmp_path / "f" / "b.Table.1.selections.txt", format="raven")
    assert b["path"].tolist() == [str((tmp_path / "f" / "place.wav").resolve())]
    # a folder: every label file, each event on its own recording, negatives listed
    folder = read_strong_labels(tmp_path / "f")
    assert list(zip(folder["path"], folder.index, folder["event_label"])) == [
        (r["a"], 1, "owl"), (r["a"], 3, "bat"), (r["b"], 3, "owl"), (r["e"], 3, "bat"),
        (r["d"], 3, "wren")]
    np.testing.assert_array_equal(folder["low_freq"], [100.0, NAN, 10.0, 10.0, 10.0])
    assert folder["onset"].tolist() == [0.5, 1.5, 0.25, 0.0, 1.0]
    assert folder.attrs["recordings"] == [r["a"], r["b"], r["c"], r["e"], r["d"]]
    assert folder.attrs["label_files"][r["d"]].endswith("sub/d.selections.txt")
    assert r["c"] not in folder.attrs["label_files"]
    with pytest.raises(DatasetError, match="a raven file, not audacity"):
        read_strong_labels(tmp_path / "f", format="audacity")
    # a CSV table is read_annotations' job
    csv = write_csv(tmp_path / "t.csv", ["filename", "onset", "offset", "event_label"],
                    [["f/a.wav", "0.1", "0.2", "dog"]])
    pd.testing.assert_frame_equal(read_strong_labels(csv), read_annotations(csv))
    # errors
    with pytest.raises(ParameterError, match=r"The 'format' parameter of read_strong_labels "
                                             r"must be one of \{'auto', 'table', 'audacity', "
                                             r"'raven'\}. Got 'csv' instead."):
        read_strong_labels(csv, format="csv")
    with pytest.raises(ParameterError, match="is a folder"):
        read_strong_labels(tmp_path / "f", format="table")
    orphan = write_lines(tmp_path / "orphan.txt", ["0\t1\tx"])
    with pytest.raises(DatasetError, match="Audacity labels name no recording"):
        read_strong_labels(orphan)
    # audio_root: where the recording of a label file is looked for
    write_wav(tmp_path / "f" / "orphan.wav")
    assert read_strong_labels(orphan, audio_root=tmp_path / "f")["path"].tolist() == [
        str((tmp_path / "f" / "orphan.wav").resolve())]
    with pytest.raises(DatasetError, match="neither a CSV table"):
        read_strong_labels(write_lines(tmp_path / "x.txt", ["hello"]))
    with pytest.raises(DatasetError, match="no such annotation file"):
        read_strong_labels(tmp_path / "nope.txt")


# -- checks of events ----------------------------------------------------------------------------

def test_check_events_reports_every_problem_with_file_and_line(tmp_path):
    wav = write_wav(tmp_path / "rec.wav", seconds=2.0)
    other = write_wav(tmp_path / "other.wav", seconds=2.0)
    labels = write_lines(tmp_path / "rec.txt", [
        "0.1\t0.3\tdog",        # 1 ok
        "0.3\t0.5\tdog",        # 2 touches line 1: fine
        "0.4\t0.6\tdog",        # 3 overlaps line 2: fine (two dogs at once)
        "0.45\t0.5\tbird",      # 4 overlaps line 3 but another label: fine
        "1.0\t1.0\tclick",      # 5 point label
        "1.2\t1.1\tdog",        # 6 offset before onset
        "-0.2\t0.1\tbird",      # 7 negative onset
        "1.5\t2.2\tbird",       # 8 past the end (2 s + 0.05 s)
        "1.9\t2.04\tcat",       # 9 within one frame of the end: fine
        "0.35\t0.45\tdog",      # 10 inside lines 2 and 3: fine
        "0.405\t0.595\tdog",    # 11 line 3 annotated twice (within 10 ms)
    ])
    events = read_audacity_labels(labels, audio_path=wav)
    durations = {str(wav.resolve()): 2.0}
    problems = check_events(events, durations=durations, known_files={str(wav.resolve())})
    at = f"{labels}, line"
    p = str(wav.resolve())
    assert problems == [
        f"{at} 5 ('click' in {p}): point label at 1 s (onset == offset): a point has no extent "
        "and cannot be trained as an event; give it an end time or remove it",
        f"{at} 6 ('dog' in {p}): offset 1.1 s is before onset 1.2 s",
        f"{at} 7 ('bird' in {p}): negative onset -0.2 s",
        f"{at} 8 ('bird' in {p}): offset 2.2 s is after the end of the file (2.000 s)",
        f"{at} 3 ('dog' in {p}) and line 11: the same 'dog' event twice (0.4 s to 0.6 s and "
        "0.405 s to 0.595 s); remove one",
    ]
    # a tighter tolerance catches line 9 too
    tight = check_events(events, durations=durations, tolerance_s=0.0)
    only(tight, "line 9 ", "offset 2.04 s is after the end")
    with pytest.raises(ParameterError, match="The 'tolerance_s' parameter of check_events"):
        check_events(events, durations=durations, tolerance_s=-1)
    # a DCASE table over several files: unknown and missing files, NaN times, by row
    table = pd.DataFrame({"path": [p, str(other.resolve()), "/no/such.wav", p],
                          "onset": [0.1, 0.2, 0.3, NAN], "offset": [0.2, 0.3, 0.4, 0.5],
                          "event_label": ["a", "b", "c", "d"]},
                         index=pd.Index([2, 3, 4, 5], name="row"))
    table.attrs["source"] = "/data/annotations.csv"
    problems = check_events(table, durations=durations, known_files=[p])
    assert problems == [
        f"/data/annotations.csv, row 5 ('d' in {p}): onset nan is not a number of seconds",
        f"{other.resolve()}: annotated on row(s) 3 of /data/annotations.csv but not one of the "
        "dataset's recordings",
        "/no/such.wav: annotated on row(s) 4 of /data/annotations.csv but no such file and not "
        "one of the dataset's recordings",
    ]
    with pytest.raises(DatasetError) as e:
        validate_events(table, durations=durations, known_files=[p])
    assert str(e.value).startswith("/data/annotations.csv: 3 problem(s) in the annotations")
    assert e.value.problems == problems
    # a clean table passes
    assert validate_events(table.iloc[:1], durations=durations) is None


def test_check_events_of_a_folder_name_each_recordings_label_file(tmp_path):
    recs = label_folder(tmp_path)
    write_lines(tmp_path / "c.txt", ["1.5\t2.5\tbat", "0.1\t0.1\tx"])    # c now has labels
    events = read_strong_labels(tmp_path)
    problems = check_events(events, durations={str(recs["c"].resolve()): 2.0})
    c = str(recs["c"].resolve())
    assert problems == [
        f"{tmp_path.resolve()}/c.txt, line 1 ('bat' in {c}): offset 2.5 s is after the end of "
        "the file (2.000 s)",
        f"{tmp_path.resolve()}/c.txt, line 2 ('x' in {c}): point label at 0.1 s (onset == "
        "offset): a point has no extent and cannot be trained as an event; give it an end time "
        "or remove it"]


# -- load_dataset ------------------------------------------------------------------------------

def test_a_folder_of_recordings_with_label_files_is_a_multi_label_dataset(tmp_path):
    recs = label_folder(tmp_path)
    ds = load_dataset(tmp_path)
    r = {k: str(v.resolve()) for k, v in recs.items()}
    assert ds.is_multi_label and ds.source == str(tmp_path)
    assert ds.paths == [r["a"], r["b"], r["c"], r["e"], r["d"]]
    assert ds.label_sets == [("bat", "owl"), ("owl",), (), ("bat",), ("wren",)]
    assert ds.labels == ["bat", "owl", "wren"]
    assert ds.table["label"].tolist() == ["bat;owl", "owl", "", "bat", "wren"]
    assert ds.table["label_file"].isna().tolist() == [False, False, True, False, False]
    assert ds.table["label_file"].iloc[4] == str((tmp_path / "sub" / "d.selections.txt")
                                                 .resolve())
    assert ds.table["start_s"].isna().all() and ds.table["fold"].isna().all()
    assert len(ds.annotations) == 5
    assert ds.annotations["onset"].tolist() == [0.5, 1.5, 0.25, 0.0, 1.0]
    assert check_dataset_events(ds) == {p: 2.0 for p in (r["a"], r["b"], r["e"], r["d"])}
    # an event past the end of its recording stops check_dataset_events
    write_lines(tmp_path / "a.txt", ["0.5\t1.0\towl", "1.9\t2.5\towl"])
    with pytest.raises(DatasetError) as e:
        check_dataset_events(load_dataset(tmp_path))
    assert str(e.value).startswith(f"{tmp_path}: 1 problem(s) in the annotations")
    only(e.value.problems, "a.txt, line 2", "offset 2.5 s is after the end of the file")
    # a Raven column named through label_column
    other = tmp_path / "other"
    write_wav(other / "x.wav")
    write_wav(other / "y.wav")
    write_lines(other / "x.Table.1.selections.txt", [
        RAVEN_HEADER + ["Call"], ["1", "Spectrogram 1", "1", "0", "1", "1", "2", "trill"]])
    with pytest.raises(DatasetError, match="which column holds the event labels"):
        load_dataset(other)
    assert load_dataset(other, label_column="Call").label_sets == [("trill",), ()]


def test_class_folders_and_the_sed_benchmark_layout_still_load(tmp_path, labelled_folder):
    ds = load_dataset(labelled_folder)
    assert not ds.is_multi_label and ds.annotations is None
    assert ds.labels == ["chirp", "click", "tone"]
    root = write_tagging_dataset(tmp_path / "sed", n_clips=8, annotations=True)
    tags = load_dataset(root)
    meta = pd.read_csv(root / "metadata.csv")
    assert tags.is_multi_label
    assert len(tags.annotations) == len(pd.read_csv(root / "annotations.csv")) > len(tags)
    assert tags.label_sets == [tuple(sorted(v.split(";"))) for v in meta["labels"]]
    assert tags.annotations.attrs["source"] == str(root / "annotations.csv")
    check_dataset_events(tags)


def test_load_dataset_takes_audacity_raven_and_read_events_as_annotations(tmp_path):
    a = write_wav(tmp_path / "a.wav")
    b = write_wav(tmp_path / "b.wav")
    manifest = write_csv(tmp_path / "m.csv", ["filename", "label"], [["a.wav", ""],
                                                                     ["b.wav", ""]])
    audacity = write_lines(tmp_path / "a.txt", ["0.1\t0.5\towl", "0.6\t0.7\tbat"])
    ds = load_dataset(manifest, annotations=audacity)
    assert ds.label_sets == [("bat", "owl"), ()]
    assert ds.annotations["low_freq"].isna().all()
    raven = write_lines(tmp_path / "labels" / "all.txt", [
        RAVEN_HEADER + ["Begin File", "Sound"],
        ["1", "Spectrogram 1", "1", "0.1", "0.5", "1", "2", "b.wav", "wren"]])
    with pytest.raises(DatasetError, match="which column holds the event labels"):
        load_dataset(manifest, annotations=raven)
    events = read_strong_labels(raven, label_column="Sound", audio_root=tmp_path)
    ds = load_dataset(manifest, annotations=events)
    assert ds.label_sets == [(), ("wren",)]
    assert ds.annotations["path"].tolist() == [str(b.resolve())]
    check_dataset_events(ds)
    with pytest.raises(ParameterError, match="lacks column"):
        load_dataset(manifest, annotations=events.drop(columns="onset"))
    assert a.exists()


def test_docstring_examples_run():
    import earmark.data.strong_labels as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
