"""earmark.data: folders and manifests, validation, cross-validation folds, dataset inspection.

Manifest and dataset errors that stop reading altogether are in test_failures.py.
"""

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import DATASET_CLIP_S, DATASET_COUNTS, DATASET_SR, chirp, noise_burst, tone
from earmark.data import (cv_splits, find_problems, inspect_dataset, load_clips, load_dataset,
                          validate_dataset, validation_split)
from _signals import write_csv
from earmark.errors import DatasetError

BENCH_HEADER = ["filename", "label", "source_package", "fold", "group", "sr", "duration", "sha1",
                "kit", "original", "orig_name"]


def manifest_only(tmp_path, rows, header=("path", "label", "fold", "group")):
    """A manifest whose files need not exist (folds and splits never open them)."""
    return load_dataset(write_csv(tmp_path / "m.csv", header, rows))


# -- reading -------------------------------------------------------------------------------------

def test_folder_dataset_has_one_class_per_sub_folder(labelled_folder):
    (labelled_folder / "tone" / "notes.txt").write_text("not audio")
    (labelled_folder / ".trash").mkdir()
    sf.write(labelled_folder / ".trash" / "old.wav", np.zeros(100), DATASET_SR)
    ds = load_dataset(labelled_folder)
    assert ds.labels == sorted(DATASET_COUNTS)
    assert len(ds) == sum(DATASET_COUNTS.values())
    assert ds.table["label"].value_counts().to_dict() == DATASET_COUNTS
    assert all(os.path.isabs(p) and os.path.isfile(p) and p.endswith(".wav") for p in ds.paths)
    assert Path(ds.paths[0]).parent.name == ds.table["label"][0]
    assert not ds.has_column("fold") and not ds.has_column("group")
    assert ds.table["start_s"].isna().all() and ds.table["end_s"].isna().all()


def test_manifest_paths_are_relative_to_the_csv_folder(tmp_path, labelled_folder, monkeypatch):
    monkeypatch.chdir(tmp_path / "dataset" / "tone")       # anywhere but the CSV's folder
    csv_path = write_csv(tmp_path / "lists" / "train.csv", ["path", "label"], [
        ["../dataset/tone/tone_0.wav", "tone"], ["../dataset/click/click_1.wav", "click"]])
    ds = load_dataset(csv_path)
    assert ds.paths == [str((tmp_path / "dataset" / "tone" / "tone_0.wav").resolve()),
                        str((tmp_path / "dataset" / "click" / "click_1.wav").resolve())]
    assert ds.source == str(csv_path)
    assert ds.labels == ["click", "tone"]


def test_manifest_with_filename_folds_groups_regions_and_extra_columns(tmp_path, labelled_folder):
    csv_path = write_csv(labelled_folder / "clips.csv",
                         ["filename", "label", "fold", "group", "start", "end", "recorder"], [
                             ["tone/tone_0.wav", "tone", "1", "g1", "0.05", "0.15", "zoom"],
                             ["tone/tone_1.wav", "tone", "2", "g2", "", "", "zoom"],
                             ["click/click_0.wav", "click", "1", "g1", "0.1", "", ""],
                             ["click/click_1.wav", "click", "2", "g3", "", "0.2", "tascam"]])
    ds = load_dataset(csv_path)
    t = ds.table
    assert ds.paths[0] == str((labelled_folder / "tone" / "tone_0.wav").resolve())
    assert ds.column("fold").tolist() == ["1", "2", "1", "2"]
    assert ds.column("group").tolist() == ["g1", "g2", "g1", "g3"]
    np.testing.assert_array_equal(t["start_s"], [0.05, np.nan, 0.1, np.nan])
    np.testing.assert_array_equal(t["end_s"], [0.15, np.nan, np.nan, 0.2])
    assert t["recorder"].tolist()[:2] == ["zoom", "zoom"] and t["recorder"][3] == "tascam"
    assert t["recorder"].isna()[2]               # an empty cell is missing, not ""
    # regions are read on their own
    clips = load_clips(ds, sample_rate=DATASET_SR)
    assert [len(c) for c in clips] == [round(0.1 * DATASET_SR),
                                       round(DATASET_CLIP_S * DATASET_SR),
                                       round((DATASET_CLIP_S - 0.1) * DATASET_SR),
                                       round(0.2 * DATASET_SR)]
    whole, _ = sf.read(labelled_folder / "tone" / "tone_0.wav", dtype="float32")
    np.testing.assert_array_equal(clips[0], whole[round(0.05 * DATASET_SR):
                                                  round(0.15 * DATASET_SR)])


def _bench_folder(root, rng, *, n_folds=5, per_class=5):
    """A dataset folder in the benchmark layout: audio/ and a metadata.csv with BENCH_HEADER."""
    rows = []
    for label in ("kick", "snare", "hihat"):
        for i in range(per_class):
            name = f"audio/{label}_{i:03d}.wav"
            (root / "audio").mkdir(parents=True, exist_ok=True)
            y = noise_burst(rng, seconds=0.1, sample_rate=DATASET_SR)
            sf.write(root / name, y, DATASET_SR, subtype="PCM_16")
            kit = f"kit{i % 3}"
            rows.append([name, label, f"fluid-soundfont-{kit}", str(i % n_folds + 1), kit,
                         str(DATASET_SR), "0.1", f"{i:040x}", kit, f"/usr/share/{kit}/{i}.wav",
                         f"{label.upper()}{i}.wav"])
    write_csv(root / "metadata.csv", BENCH_HEADER, rows)
    return rows


def test_bench_metadata_csv_loads_as_is_with_folds(tmp_path, rng):
    rows = _bench_folder(tmp_path / "drums", rng)
    ds = load_dataset(tmp_path / "drums")
    assert ds.source == str(tmp_path / "drums" / "metadata.csv")
    assert len(ds) == 15 and ds.labels == ["hihat", "kick", "snare"]
    assert ds.paths[0] == str((tmp_path / "drums" / rows[0][0]).resolve())
    for col in ("source_package", "sr", "duration", "sha1", "kit", "original", "orig_name"):
        assert col in ds.table.columns, col
    assert ds.column("kit").tolist() == [r[8] for r in rows]
    assert ds.column("orig_name").tolist()[:2] == ["KICK0.wav", "KICK1.wav"]
    assert ds.has_column("fold") and ds.has_column("group")
    splits = cv_splits(ds, folds="fold")
    assert [name for name, _, _ in splits] == ["1", "2", "3", "4", "5"]
    validate_dataset(ds)                         # every file exists and is long enough


# -- validation ----------------------------------------------------------------------------------

def test_validation_reports_every_problem_at_once(tmp_path, rng):
    root = tmp_path / "bad"
    root.mkdir()
    sr = 16000
    for name in ("a1.wav", "a2.wav", "b1.wav", "b2.wav", "c1.wav"):
        sf.write(root / name, tone(440, seconds=0.3, sample_rate=sr), sr)
    sf.write(root / "short.wav", tone(440, seconds=0.005, sample_rate=sr), sr)
    sf.write(root / "late_start.wav", tone(440, seconds=0.5, sample_rate=sr), sr)
    sf.write(root / "late_end.wav", tone(440, seconds=0.5, sample_rate=sr), sr)
    (root / "garbage.wav").write_bytes(rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())
    (root / "empty.wav").write_bytes(b"")
    rows = [["a1.wav", "a", "", ""], ["a2.wav", "a", "", ""], ["b1.wav", "b", "", ""],
            ["b2.wav", "b", "", ""], ["c1.wav", "c", "", ""],
            ["missing.wav", "a", "", ""], ["garbage.wav", "a", "", ""], ["empty.wav", "b", "", ""],
            ["short.wav", "b", "", ""], ["late_start.wav", "a", "0.8", "0.9"],
            ["late_end.wav", "b", "0.2", "0.9"]]
    ds = load_dataset(write_csv(root / "manifest.csv", ["path", "label", "start", "end"], rows))
    with pytest.raises(DatasetError) as e:
        validate_dataset(ds)
    problems = e.value.problems
    expected = {"missing.wav": "not found", "garbage.wav": "cannot decode",
                "empty.wav": "empty", "short.wav": "too short",
                "late_start.wav": "after the end", "late_end.wav": "after the end",
                "'c'": "only 1 example"}
    assert len(problems) == len(expected), problems
    for name, what in expected.items():
        hits = [p for p in problems if name in p]
        assert len(hits) == 1 and what in hits[0], (name, problems)
        assert name in str(e.value)
    for ok in ("a1.wav", "a2.wav", "b1.wav", "b2.wav", "c1.wav"):
        assert not any(ok in p for p in problems)
    # the same list without raising, plus the header of every readable file
    listed, infos = find_problems(ds)
    assert listed == problems
    assert {Path(p).name for p in infos} == {"a1.wav", "a2.wav", "b1.wav", "b2.wav", "c1.wav",
                                             "short.wav", "late_start.wav", "late_end.wav"}


def test_a_clean_dataset_validates(labelled_folder):
    infos = validate_dataset(load_dataset(labelled_folder))
    assert len(infos) == sum(DATASET_COUNTS.values())
    assert {i.sample_rate for i in infos.values()} == {DATASET_SR}


# -- folds ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("n_folds", [2, 3, 7, 12])
def test_predefined_folds_make_one_test_fold_per_value(tmp_path, n_folds):
    folds = [str(i % n_folds + 1) for i in range(5 * n_folds + 2)]
    ds = manifest_only(tmp_path, [[f"x{i}.wav", "ab"[i % 2], f, ""] for i, f in
                                  enumerate(folds)])
    splits = cv_splits(ds, folds="fold")
    names = [str(k) for k in range(1, n_folds + 1)]          # '2' before '10'
    assert [s[0] for s in splits] == names
    folds = np.array(folds)
    tested = np.concatenate([te for _, _, te in splits])
    assert sorted(tested.tolist()) == list(range(len(folds)))       # every clip once
    for name, train, test in splits:
        np.testing.assert_array_equal(test, np.flatnonzero(folds == name))
        np.testing.assert_array_equal(train, np.flatnonzero(folds != name))


def _grouped(tmp_path, rng, n=60, n_groups=12):
    groups = rng.integers(0, n_groups, n)
    groups[:n_groups] = np.arange(n_groups)              # every group present
    labels = np.array(["bird", "frog", "rain"])[rng.integers(0, 3, n)]
    ds = manifest_only(tmp_path, [[f"x{i}.wav", lab, "", f"site{g}"] for i, (lab, g) in
                                  enumerate(zip(labels, groups))])
    return ds, np.array([f"site{g}" for g in groups])


@pytest.mark.parametrize("n_splits", [2, 4, 5])
def test_grouped_kfold_keeps_each_group_in_one_test_fold(tmp_path, rng, n_splits):
    ds, groups = _grouped(tmp_path, rng)
    splits = cv_splits(ds, groups="group", n_splits=n_splits, seed=3)
    assert len(splits) == n_splits
    tested = np.concatenate([te for _, _, te in splits])
    assert sorted(tested.tolist()) == list(range(len(ds)))          # every clip tested once
    seen = {}
    for name, train, test in splits:
        assert set(groups[train]).isdisjoint(groups[test])
        assert sorted(np.r_[train, test].tolist()) == list(range(len(ds)))
        for g in set(groups[test]):
            assert g not in seen, f"group {g} in test folds {seen.get(g)} and {name}"
            seen[g] = name
    again = cv_splits(ds, groups="group", n_splits=n_splits, seed=3)
    assert all(np.array_equal(a[2], b[2]) for a, b in zip(splits, again))


@pytest.mark.parametrize("seed", range(6))
def test_validation_split_never_splits_a_group(rng, seed):
    n = 80
    groups = rng.integers(0, 15, n).astype(str)
    labels = np.array(["a", "b", "c", "d"])[rng.integers(0, 4, n)]
    train, val = validation_split(labels, groups, fraction=0.2, seed=seed)
    assert len(val) > 0
    assert sorted(np.r_[train, val].tolist()) == list(range(n))
    assert set(groups[train]).isdisjoint(groups[val])
    assert set(labels[train]) == set(labels)             # every class still trained on
    assert len(val) <= 1.5 * 0.2 * n
    t2, v2 = validation_split(labels, groups, fraction=0.2, seed=seed)
    np.testing.assert_array_equal(v2, val)


def test_validation_split_without_groups_and_with_one_group(rng):
    labels = np.array(["a", "b"] * 20)
    train, val = validation_split(labels, None, fraction=0.25, seed=1)
    assert len(val) == 10 and sorted(np.r_[train, val].tolist()) == list(range(40))
    train, val = validation_split(labels, ["same"] * 40, fraction=0.25)
    assert len(val) == 0 and len(train) == 40


# -- inspection ----------------------------------------------------------------------------------

def test_inspect_dataset_counts_levels_duplicates_and_leaks(tmp_path, rng):
    root = tmp_path / "insp"
    root.mkdir()
    sr = 16000
    dup = rng.integers(-12000, 12000, 3200, dtype=np.int16)          # 0.2 s
    files = {
        "t1.wav": (tone(500, seconds=0.5, sample_rate=sr), sr),
        "t2.wav": (tone(700, seconds=0.25, sample_rate=sr), sr),
        "clipped.wav": (np.sign(tone(300, seconds=0.5, sample_rate=sr)), sr),
        "n1.wav": (np.stack([noise_burst(rng, seconds=0.4, sample_rate=44100)] * 2, axis=1),
                   44100),
        "silent.wav": (np.zeros(sr // 2, np.float32), sr),
        "dup_a.wav": (dup, sr),
        "copy of dup_a.flac": (dup, sr),
        "same1.wav": (chirp(200, 2000, seconds=0.3, sample_rate=sr), sr),
        "same2.wav": (chirp(200, 2000, seconds=0.3, sample_rate=sr), sr),
    }
    for name, (y, r) in files.items():
        sf.write(root / name, y, r, subtype="PCM_16")
    rows = [["t1.wav", "tone", "1", "", ""], ["t2.wav", "tone", "2", "", ""],
            ["clipped.wav", "tone", "1", "0.1", "0.4"],
            ["n1.wav", "noise", "1", "", ""], ["silent.wav", "noise", "2", "", ""],
            ["dup_a.wav", "noise", "1", "", ""], ["copy of dup_a.flac", "noise", "2", "", ""],
            ["same1.wav", "chirp", "1", "", ""], ["same2.wav", "chirp", "1", "", ""]]
    ds = load_dataset(write_csv(root / "metadata.csv", ["path", "label", "fold", "start", "end"],
                                rows))
    r = inspect_dataset(ds, progress=False)

    assert r["n_files"] == r["n_clips"] == 9
    assert r["classes"]["tone"]["count"] == 3 and r["classes"]["noise"]["count"] == 4
    assert r["classes"]["tone"]["duration_s_total"] == pytest.approx(0.5 + 0.25 + 0.3)
    assert r["classes"]["tone"]["duration_s_min"] == pytest.approx(0.25)
    assert r["classes"]["tone"]["duration_s_max"] == pytest.approx(0.5)
    assert r["classes"]["noise"]["duration_s_mean"] == pytest.approx((0.4 + 0.5 + 0.2 + 0.2) / 4)
    assert r["total_duration_s"] == pytest.approx(0.5 + 0.25 + 0.3 + 1.3 + 0.6)
    assert r["sample_rates"] == {"16000": 8, "44100": 1}
    assert r["channels"] == {"1": 8, "2": 1}
    assert r["folds"] == {"1": {"chirp": 2, "noise": 2, "tone": 2}, "2": {"noise": 2, "tone": 1}}

    by_name = {Path(f["path"]).name: f for f in r["files"]}
    assert [n for n, f in by_name.items() if f["silent"]] == ["silent.wav"]
    assert [n for n, f in by_name.items() if f["clipped"]] == ["clipped.wav"]
    assert by_name["t1.wav"]["peak_dbfs"] == pytest.approx(20 * np.log10(0.5), abs=0.01)
    assert by_name["t1.wav"]["rms_dbfs"] == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)),
                                                          abs=0.01)

    dups = {tuple(Path(p).name for p in d["paths"]): d for d in r["duplicates"]}
    assert set(dups) == {("copy of dup_a.flac", "dup_a.wav"), ("same1.wav", "same2.wav")}
    assert dups[("copy of dup_a.flac", "dup_a.wav")]["leak"] is True
    assert dups[("same1.wav", "same2.wav")]["leak"] is False
    leaks = [p for p in r["problems"] if "leakage" in p]
    assert len(leaks) == 1 and "dup_a.wav" in leaks[0] and "copy of dup_a.flac" in leaks[0]
    assert any("silent" in s for s in r["suggestions"])
    assert any("clipped" in s for s in r["suggestions"])
    assert any("sample rates (16000, 44100 Hz)" in s for s in r["suggestions"])


def test_inspect_folder_dataset_finds_duplicates_without_leak(labelled_folder):
    src = labelled_folder / "tone" / "tone_2.wav"
    y, sr = sf.read(src, dtype="int16")
    sf.write(labelled_folder / "click" / "renamed.flac", y, sr, subtype="PCM_16")
    r = inspect_dataset(load_dataset(labelled_folder), progress=False)
    assert r["folds"] is None
    assert len(r["duplicates"]) == 1
    d = r["duplicates"][0]
    assert [Path(p).name for p in d["paths"]] == ["renamed.flac", "tone_2.wav"]
    assert d["leak"] is False and d["labels"] == ["click", "tone"]
    assert not any("leakage" in p for p in r["problems"])
    assert any("different labels" in p and "renamed.flac" in p for p in r["problems"])
    assert r["classes"]["tone"]["duration_s_total"] == pytest.approx(5 * DATASET_CLIP_S)


def test_inspect_reports_bad_files_instead_of_raising(labelled_folder):
    (labelled_folder / "tone" / "broken.wav").write_bytes(b"RIFF....WAVEfmt nonsense")
    r = inspect_dataset(load_dataset(labelled_folder), progress=False)
    assert any("broken.wav" in p for p in r["problems"])
    assert len(r["files"]) == sum(DATASET_COUNTS.values())


def test_inspect_with_empty_fold_and_group_cells(tmp_path, rng):
    # pandas reads empty cells as NaN: they must come out as "no fold", not a fold called 'nan'
    ints = rng.integers(-9000, 9000, 1600, dtype=np.int16)
    for name in ("a.wav", "b.wav", "c.wav"):
        sf.write(tmp_path / name, rng.integers(-9000, 9000, 1600, dtype=np.int16), 16000)
    sf.write(tmp_path / "d.wav", ints, 16000)
    sf.write(tmp_path / "d_copy.wav", ints, 16000)
    ds = load_dataset(write_csv(tmp_path / "m.csv", ["path", "label", "fold", "group"], [
        ["a.wav", "x", "1", "g"], ["b.wav", "x", "", ""], ["c.wav", "y", "2", "h"],
        ["d.wav", "y", "1", "g"], ["d_copy.wav", "y", "", ""]]))
    r = inspect_dataset(ds, progress=False)
    assert r["folds"] == {"1": {"x": 1, "y": 1}, "2": {"y": 1}}
    by_name = {Path(f["path"]).name: f for f in r["files"]}
    assert by_name["b.wav"]["fold"] is None and by_name["b.wav"]["group"] is None
    assert by_name["a.wav"]["fold"] == "1" and by_name["a.wav"]["group"] == "g"
    assert r["duplicates"][0]["folds"] == ["1", None] and r["duplicates"][0]["leak"] is False


def test_inspect_reports_nan_audio_as_a_problem(labelled_folder):
    y = np.zeros(1600, np.float32)
    y[100] = np.nan
    sf.write(labelled_folder / "tone" / "nan.wav", y, DATASET_SR, subtype="FLOAT")
    r = inspect_dataset(load_dataset(labelled_folder), progress=False)
    assert any("nan.wav" in p and "NaN" in p for p in r["problems"])
    assert all(np.isfinite(f["peak_dbfs"]) for f in r["files"])
