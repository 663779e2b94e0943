"""earmark.data with several labels per clip: a `labels` column, strong annotations, validation.

Every dataset is generated here: 0.5-s noise WAVs at 8 kHz and the CSVs that describe them.
"""

import os

import numpy as np
import pytest
import soundfile as sf

from conftest import DATASET_COUNTS
from earmark.data import (Dataset, find_problems, inspect_dataset, label_sets_from_annotations,
                          load_dataset, read_annotations, validate_dataset)
from _signals import write_csv
from earmark.errors import DatasetError, ParameterError

SR = 8000
CLIP_S = 0.5
META_HEADER = ["filename", "label", "source_package", "fold", "background", "bg_offset", "sr",
               "duration"]
ANN_HEADER = ["filename", "onset", "offset", "event_label", "source_file", "source_package",
              "ebr_db", "fold"]


def write_wavs(root, names, rng, seconds=CLIP_S):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, (0.1 * rng.standard_normal(int(seconds * SR))).astype(np.float32), SR,
                 subtype="PCM_16")


def only(problems, *needles):
    """The one problem that holds every needle (fails when none or several do)."""
    hits = [p for p in problems if all(n in p for n in needles)]
    assert len(hits) == 1, (needles, problems)
    return hits[0]


def scene_folder(root, rng):
    """The benchmark's scene layout: metadata.csv (placeholder label 'scene') + annotations.csv.

    scene_1_000: arrow_impact and horse; scene_1_001: horse; scene_2_000: arrow_impact twice;
    scene_2_001: no event (background only).
    """
    names = ["audio/fold1/scene_1_000.wav", "audio/fold1/scene_1_001.wav",
             "audio/fold2/scene_2_000.wav", "audio/fold2/scene_2_001.wav"]
    write_wavs(root, names, rng)
    write_csv(root / "metadata.csv", META_HEADER, [
        [n, "scene", "0ad-data+foley", n.split("/")[1][-1], "0ad:bg.ogg", "2.531", str(SR),
         str(CLIP_S)] for n in names])
    write_csv(root / "annotations.csv", ANN_HEADER, [
        [names[0], "0.100", "0.200", "arrow_impact", "arrow1.ogg", "0ad-data", "-3.0", "1"],
        [names[0], "0.150", "0.450", "horse", "horse2.ogg", "foley", "0.5", "1"],
        [names[1], "0.000", "0.300", "horse", "horse1.ogg", "foley", "", "1"],
        [names[2], "0.010", "0.050", "arrow_impact", "arrow2.ogg", "0ad-data", "-6", "2"],
        [names[2], "0.300", "0.350", "arrow_impact", "arrow1.ogg", "0ad-data", "-6", "2"]])
    return names


# -- a labels column -----------------------------------------------------------------------------

def test_labels_column_is_split_on_semicolons_stripped_and_deduplicated(tmp_path):
    ds = load_dataset(write_csv(tmp_path / "m.csv", ["path", "labels", "fold"], [
        ["a.wav", "dog; bell", "1"], ["b.wav", "bell;bell", "1"], ["c.wav", "  rain  ", "2"],
        ["d.wav", "dog;;bell;", "2"]]))
    assert ds.is_multi_label
    assert ds.label_sets == [("bell", "dog"), ("bell",), ("rain",), ("bell", "dog")]
    assert ds.labels == ["bell", "dog", "rain"]
    assert ds.table["label"].tolist() == ["bell;dog", "bell", "rain", "bell;dog"]
    assert ds.table["labels"].tolist() == ds.label_sets
    assert ds.column("fold").tolist() == ["1", "1", "2", "2"]
    assert ds.annotations is None
    assert "multi_label=True" in repr(ds)


def test_labels_column_wins_over_label_and_one_tag_is_still_multi_label(tmp_path):
    ds = load_dataset(write_csv(tmp_path / "m.csv", ["path", "label", "labels"], [
        ["a.wav", "dog", "dog"], ["b.wav", "cat", "cat"]]))
    assert ds.is_multi_label                         # from a labels column, even one tag each
    assert ds.label_sets == [("dog",), ("cat",)]
    assert ds.table["label"].tolist() == ["dog", "cat"]


def test_single_label_datasets_are_unchanged(tmp_path, labelled_folder):
    folder = load_dataset(labelled_folder)
    manifest = load_dataset(write_csv(tmp_path / "m.csv", ["path", "label", "fold"], [
        ["a.wav", "dog", "1"], ["b.wav", "cat", "2"], ["c.wav", "dog", "2"]]))
    for ds in (folder, manifest):
        assert not ds.is_multi_label
        assert ds.annotations is None
        assert "labels" not in ds.table.columns
        assert ds.label_sets == [(lab,) for lab in ds.table["label"]]
        assert ds.labels == sorted(set(ds.table["label"]))
        sub = ds.subset([0, 2])
        assert not sub.is_multi_label and sub.label_sets == [ds.label_sets[0], ds.label_sets[2]]
    assert manifest.labels == ["cat", "dog"]
    assert "multi_label" not in repr(manifest)


def test_a_manifest_without_any_label_column_says_how_to_give_several(tmp_path):
    with pytest.raises(DatasetError) as e:
        load_dataset(write_csv(tmp_path / "m.csv", ["path", "tag"], [["a.wav", "x"]]))
    msg = str(e.value)
    assert "'label'" in msg and "'labels' column" in msg and "annotations" in msg


# -- strong annotations --------------------------------------------------------------------------

def test_folder_with_metadata_and_annotations_uses_them(tmp_path, rng):
    root = tmp_path / "scenes"
    names = scene_folder(root, rng)
    ds = load_dataset(root)
    assert ds.source == str(root / "metadata.csv")
    assert ds.is_multi_label
    assert ds.label_sets == [("arrow_impact", "horse"), ("horse",), ("arrow_impact",), ()]
    assert ds.labels == ["arrow_impact", "horse"]                  # 'scene' is a placeholder
    assert ds.table["label"].tolist() == ["arrow_impact;horse", "horse", "arrow_impact", ""]
    assert ds.column("fold").tolist() == ["1", "1", "2", "2"]
    assert ds.column("background").tolist()[0] == "0ad:bg.ogg"
    ann = ds.annotations
    assert list(ann.columns[:4]) == ["path", "onset", "offset", "event_label"]
    assert {"source_file", "source_package", "ebr_db", "fold"} <= set(ann.columns)
    assert ann["path"].tolist()[0] == str((root / names[0]).resolve())
    assert all(os.path.isabs(p) for p in ann["path"])
    assert ann["onset"].dtype == float and ann["offset"].tolist()[:2] == [0.2, 0.45]
    assert ann["ebr_db"].isna().tolist() == [False, False, True, False, False]
    validate_dataset(ds, min_per_class=2)      # a clean dataset; the empty clip is legitimate


def test_annotations_tag_regions_by_overlap(tmp_path, rng):
    write_wavs(tmp_path, ["long.wav", "other.wav"], rng)
    write_csv(tmp_path / "events.csv", ["filename", "onset", "offset", "event_label"], [
        ["long.wav", "0.05", "0.10", "dog"], ["long.wav", "0.30", "0.40", "bell"],
        ["long.wav", "0.15", "0.35", "rain"], ["other.wav", "0.0", "0.5", "dog"]])
    manifest = write_csv(tmp_path / "regions.csv", ["path", "label", "start", "end"], [
        ["long.wav", "", "0.0", "0.12"],      # dog
        ["long.wav", "", "0.10", "0.15"],     # touches dog's end and rain's start: nothing
        ["long.wav", "", "0.2", ""],          # rain, bell (open end)
        ["long.wav", "", "", "0.3"],          # dog, rain (open start; bell starts at its end)
        ["long.wav", "", "", ""],             # whole file: all three
        ["other.wav", "", "0.1", "0.2"]])
    ds = load_dataset(manifest, annotations=tmp_path / "events.csv")
    assert ds.label_sets == [("dog",), (), ("bell", "rain"), ("dog", "rain"),
                             ("bell", "dog", "rain"), ("dog",)]
    # the function on its own gives the same
    assert label_sets_from_annotations(ds.annotations, ds.table) == ds.label_sets
    assert label_sets_from_annotations(ds.annotations, ds) == ds.label_sets


def test_annotations_argument_for_a_manifest_elsewhere_and_over_a_folder(tmp_path, rng):
    data = tmp_path / "data"
    write_wavs(data, ["a.wav", "b.wav"], rng)
    write_csv(data / "metadata.csv", ["filename", "label"], [["a.wav", "x"], ["b.wav", "x"]])
    # filenames are relative to the annotation table's own folder
    other = write_csv(tmp_path / "labels" / "strong.csv", ["filename", "onset", "offset",
                                                           "event_label"],
                      [["../data/a.wav", "0.1", "0.2", "owl"]])
    by_manifest = load_dataset(data / "metadata.csv", annotations=other)
    assert by_manifest.label_sets == [("owl",), ()]
    # without annotations= a manifest path is read as written: single-label
    plain = load_dataset(data / "metadata.csv")
    assert not plain.is_multi_label and plain.labels == ["x"]
    # a folder's own annotations.csv gives way to annotations=
    write_csv(data / "annotations.csv", ["filename", "onset", "offset", "event_label"],
              [["b.wav", "0.1", "0.2", "bat"]])
    assert load_dataset(data).label_sets == [(), ("bat",)]
    assert load_dataset(data, annotations=str(other)).label_sets == [("owl",), ()]


def test_annotations_need_a_manifest(tmp_path, labelled_folder):
    ann = write_csv(tmp_path / "a.csv", ["filename", "onset", "offset", "event_label"],
                    [["tone/tone_0.wav", "0", "0.1", "x"]])
    with pytest.raises(DatasetError, match="annotations need a manifest"):
        load_dataset(labelled_folder, annotations=ann)
    with pytest.raises(ParameterError, match="already loaded"):
        load_dataset(load_dataset(labelled_folder), annotations=ann)
    with pytest.raises(DatasetError, match="no such annotation file"):
        load_dataset(write_csv(tmp_path / "m.csv", ["path", "label"], [["a.wav", "x"]]),
                     annotations=tmp_path / "nope.csv")


def test_unreadable_annotation_tables_list_every_problem(tmp_path):
    with pytest.raises(DatasetError) as e:
        read_annotations(write_csv(tmp_path / "a.csv", ["filename", "start", "event_label"],
                                   [["a.wav", "0", "x"]]))
    msg = str(e.value)
    assert "a.csv" in msg and "'onset'" in msg and "'offset'" in msg
    assert "'filename (or path)'" not in msg
    bad = write_csv(tmp_path / "b.csv", ["filename", "onset", "offset", "event_label"], [
        ["ok.wav", "0.1", "0.2", "dog"],
        ["soon.wav", "soon", "0.2", "dog"],      # row 3
        ["blank.wav", "0.1", "", "dog"],         # row 4
        ["nolabel.wav", "0.1", "0.2", "  "],     # row 5
        ["", "0.1", "0.2", "dog"]])              # row 6
    with pytest.raises(DatasetError) as e:
        read_annotations(bad)
    problems = e.value.problems
    assert len(problems) == 4, problems
    assert problems[0].startswith("row 3:") and "onset='soon'" in problems[0]
    assert "soon.wav" in problems[0]
    assert problems[1].startswith("row 4:") and "offset=''" in problems[1]
    assert "blank.wav" in problems[1]
    assert problems[2] == "row 5: empty event_label (nolabel.wav)"
    assert problems[3] == "row 6: empty filename"
    # the same problems stop load_dataset
    write_csv(tmp_path / "metadata.csv", ["filename", "label"], [["ok.wav", "x"]])
    with pytest.raises(DatasetError, match="4 problem"):
        load_dataset(tmp_path / "metadata.csv", annotations=bad)


def test_read_annotations_numbers_rows_like_the_csv(tmp_path):
    ann = read_annotations(write_csv(tmp_path / "sub" / "a.csv",
                                     ["Filename", "onset", "offset", "event_label", "note"],
                                     [["x.wav", "1", "2", "a"], ["y/z.wav", "0.5", "0.75", "b"]]))
    assert ann.index.tolist() == [2, 3]
    assert ann["path"].tolist() == [str((tmp_path / "sub" / "x.wav").resolve()),
                                    str((tmp_path / "sub" / "y" / "z.wav").resolve())]
    assert ann["event_label"].tolist() == ["a", "b"] and ann["note"].isna().all()
    assert ann.attrs["source"] == str(tmp_path / "sub" / "a.csv")


def test_subset_keeps_the_annotations_of_the_kept_files(tmp_path, rng):
    root = tmp_path / "scenes"
    names = scene_folder(root, rng)
    ds = load_dataset(root)
    sub = ds.subset([2, 3])
    assert sub.is_multi_label and sub.label_sets == [("arrow_impact",), ()]
    assert len(sub) == 2
    kept = {str((root / n).resolve()) for n in names[2:]}
    assert set(sub.annotations["path"]) == {str((root / names[2]).resolve())} <= kept
    assert len(sub.annotations) == 2 and len(ds.annotations) == 5
    assert sub.subset([1]).annotations.empty and sub.subset([1]).label_sets == [()]
    # a Dataset built from a multi-label table (it has a 'labels' column) is multi-label
    assert Dataset(sub.table).is_multi_label


# -- validation ----------------------------------------------------------------------------------

def test_labels_column_problems_each_name_their_file(tmp_path, rng):
    names = ["ok1.wav", "ok2.wav", "ok3.wav", "empty_cell.wav", "twice.wav", "mismatch.wav",
             "Upper.wav", "comma.wav", "pipe.wav", "region.wav"]
    write_wavs(tmp_path, names, rng)
    rows = [["ok1.wav", "", "dog;bell", "", ""], ["ok2.wav", "dog", "dog;bell", "", ""],
            ["ok3.wav", "", "dog", "", ""],
            ["empty_cell.wav", "", "", "", ""],
            ["twice.wav", "", "dog", "", ""], ["twice.wav", "", "dog;bell", "", ""],
            ["mismatch.wav", "cat", "dog", "", ""],
            ["Upper.wav", "", "Dog;bell", "", ""],
            ["comma.wav", "", "dog,bell", "", ""], ["pipe.wav", "", "bell|dog", "", ""],
            # two regions of one file may differ: not the same clip
            ["region.wav", "", "dog", "0", "0.2"], ["region.wav", "", "bell", "0.2", "0.4"]]
    ds = load_dataset(write_csv(tmp_path / "m.csv", ["path", "label", "labels", "start", "end"],
                                rows))
    problems, infos = find_problems(ds, min_per_class=1)
    assert len(infos) == len(names)
    only(problems, "empty_cell.wav", "empty 'labels' cell", "must come from an annotation table")
    only(problems, "twice.wav", "listed 2 times with different labels")
    only(problems, "mismatch.wav", "label 'cat' is not in its labels")
    only(problems, "Upper.wav", "'Dog'", "'dog'", "differ only by case")
    only(problems, "comma.wav", "'dog,bell'", "separated by ';'")
    only(problems, "pipe.wav", "'bell|dog'", "separated by ';'")
    assert len(problems) == 6, problems
    # the good files appear only as bearers of the other spelling of 'Dog'
    assert not any(n in p for p in problems for n in ("ok1.wav", "ok2.wav", "ok3.wav",
                                                      "region.wav") if "differ only" not in p)
    with pytest.raises(DatasetError) as e:
        validate_dataset(ds, min_per_class=1)
    assert e.value.problems == problems and "empty_cell.wav" in str(e.value)


def test_classes_outside_the_known_ones_and_min_per_class_by_tag(tmp_path, rng):
    names = ["a.wav", "b.wav", "c.wav"]
    write_wavs(tmp_path, names, rng)
    ds = load_dataset(write_csv(tmp_path / "m.csv", ["path", "labels"], [
        ["a.wav", "dog;bell"], ["b.wav", "dog;owl"], ["c.wav", "dog"]]))
    problems, _ = find_problems(ds, classes=["dog", "bell", "rain"], min_per_class=1)
    assert problems == [only(problems, "b.wav", "unknown label(s) ['owl']")]
    problems, _ = find_problems(ds, min_per_class=2)
    assert len(problems) == 2
    only(problems, "class 'bell'", "only 1 clip(s) tagged")
    only(problems, "class 'owl'", "only 1 clip(s) tagged")
    assert find_problems(ds, min_per_class=3)[0] == [
        "class 'bell': only 1 clip(s) tagged; at least 3 needed",
        "class 'owl': only 1 clip(s) tagged; at least 3 needed"]
    # one class is enough for tagging; no class at all is not
    one = load_dataset(write_csv(tmp_path / "one.csv", ["path", "labels"],
                                 [["a.wav", "dog"], ["b.wav", "dog"]]))
    assert find_problems(one)[0] == []
    # single-label datasets still need two classes, and know the classes= check too
    single = load_dataset(write_csv(tmp_path / "s.csv", ["path", "label"],
                                    [["a.wav", "dog"], ["b.wav", "dog"]]))
    problems, _ = find_problems(single, classes=["cat"])
    assert len(problems) == 3
    only(problems, "a.wav", "unknown label(s) ['dog']")
    only(problems, "only 1 class", "at least 2")


def test_annotation_problems_each_name_their_file(tmp_path, rng):
    names = ["good.wav", "good2.wav", "backwards.wav", "negative.wav", "too_late.wav",
             "slack.wav", "spaced.wav", "semi.wav"]
    write_wavs(tmp_path, names, rng)
    write_csv(tmp_path / "metadata.csv", ["filename", "label"], [[n, "scene"] for n in names])
    write_csv(tmp_path / "annotations.csv", ["filename", "onset", "offset", "event_label"], [
        ["good.wav", "0.1", "0.2", "dog"], ["good2.wav", "0.0", "0.5", "dog"],
        ["backwards.wav", "0.3", "0.2", "dog"],
        ["negative.wav", "-0.1", "0.2", "dog"],
        ["too_late.wav", "0.3", "0.7", "dog"],
        ["slack.wav", "0.3", "0.5005", "dog"],          # within 1 ms of the end: fine
        ["spaced.wav", "0.1", "0.2", "dog "],
        ["semi.wav", "0.1", "0.2", "dog;cat"],
        ["not_listed.wav", "0.1", "0.2", "dog"]])
    ds = load_dataset(tmp_path)
    assert ds.label_sets[names.index("spaced.wav")] == ("dog ",)      # kept as written
    problems, _ = find_problems(ds, min_per_class=1)
    only(problems, "backwards.wav", "row 4", "onset 0.3 s is not before offset 0.2 s")
    only(problems, "negative.wav", "negative onset -0.1 s")
    only(problems, "too_late.wav", "offset 0.7 s is after the end of the file (0.500 s)")
    only(problems, "spaced.wav", "'dog '", "surrounding whitespace")
    only(problems, "semi.wav", "'dog;cat'", "one event label")
    only(problems, "not_listed.wav", "row(s) 10", "not in the metadata")
    assert len(problems) == 6, problems
    # the good files appear only as the other spelling of 'dog '
    assert not any(n in p for p in problems for n in ("good.wav", "good2.wav", "slack.wav")
                   if "surrounding whitespace" not in p)
    # 'scene', the metadata's placeholder label, is never checked against the tags
    assert not any("'scene'" in p for p in problems)
    assert find_problems(ds.subset([0, 1]))[0] == []                # unknown rows go too


def test_an_annotated_dataset_with_no_event_has_no_class(tmp_path, rng):
    write_wavs(tmp_path, ["a.wav"], rng)
    write_csv(tmp_path / "metadata.csv", ["filename", "label"], [["a.wav", "scene"]])
    write_csv(tmp_path / "annotations.csv", ["filename", "onset", "offset", "event_label"], [])
    ds = load_dataset(tmp_path)
    assert ds.is_multi_label and ds.label_sets == [()] and ds.labels == []
    assert find_problems(ds)[0] == ["no clip has any label; a tagger needs at least 1 class"]


# -- inspection ----------------------------------------------------------------------------------

def test_inspect_counts_tags_per_class_per_clip_and_per_fold(tmp_path, rng):
    root = tmp_path / "scenes"
    scene_folder(root, rng)
    r = inspect_dataset(load_dataset(root), progress=False, min_per_class=1)
    assert r["multi_label"] is True
    assert {k: v["count"] for k, v in r["classes"].items()} == {"arrow_impact": 2, "horse": 2}
    assert {k: v["n_events"] for k, v in r["classes"].items()} == {"arrow_impact": 3, "horse": 2}
    assert r["n_events"] == 5
    assert r["classes"]["horse"]["duration_s_total"] == pytest.approx(2 * CLIP_S)
    assert r["tags_per_clip"] == {"0": 1, "1": 2, "2": 1}
    assert r["n_untagged"] == 1
    assert r["folds"] == {"1": {"arrow_impact": 1, "horse": 2}, "2": {"arrow_impact": 1}}
    assert [f["labels"] for f in r["files"]] == [["arrow_impact", "horse"], ["horse"],
                                                 ["arrow_impact"], []]
    assert r["n_clips"] == 4 and r["problems"] == []


def test_inspect_single_label_keeps_its_counts(labelled_folder):
    r = inspect_dataset(load_dataset(labelled_folder), progress=False)
    assert r["multi_label"] is False
    assert {k: v["count"] for k, v in r["classes"].items()} == DATASET_COUNTS
    assert r["tags_per_clip"] == {"1": sum(DATASET_COUNTS.values())} and r["n_untagged"] == 0
    assert "n_events" not in r
    assert all(f["labels"] == [f["label"]] for f in r["files"])


def test_annotation_times_that_are_nan_or_infinite_are_named(tmp_path):
    from earmark.data import read_annotations

    path = tmp_path / "ann.csv"
    path.write_text("filename,onset,offset,event_label\na.wav,nan,1.0,dog\nb.wav,0.5,inf,dog\n")
    with pytest.raises(DatasetError) as e:
        read_annotations(path)
    assert e.value.problems == ["row 2: onset='nan' is not a number of seconds (a.wav)",
                                "row 3: offset='inf' is not a number of seconds (b.wav)"]
