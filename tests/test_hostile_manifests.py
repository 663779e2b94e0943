"""Manifests and lists: bad times listed row by row up front, files listed twice or in two folds
reported by inspect and refused by evaluate, and options naming columns that are not there."""

import math
import shutil

import numpy as np
import pytest

from _signals import write_csv, write_dataset
from earmark.cli import main
from earmark.data import expand_sources, inspect_dataset, load_dataset
from earmark.data.validate import (check_columns, check_times, fold_leaks, refuse_fold_leaks,
                                   repeated_clips)
from earmark.errors import DatasetError

NAN = math.nan


# -- check_times ---------------------------------------------------------------------------------

@pytest.mark.parametrize("start, end, expected, problem", [
    ("0.5", "1.5", (0.5, 1.5), None),
    ("", "", (NAN, NAN), None),                       # the whole file
    ("2", "", (2.0, NAN), None),                      # to the end
    (" 0.25 ", "1e0", (0.25, 1.0), None),
    ("soon", "", (NAN, NAN), "row 2: start='soon' is not a number"),
    ("nan", "1", (NAN, 1.0), "row 2: start='nan' is not a number"),
    ("NaN", "1", (NAN, 1.0), "row 2: start='NaN' is not a number"),
    ("0", "inf", (0.0, NAN), "row 2: end='inf' is not finite"),
    ("-inf", "1", (NAN, 1.0), "row 2: start='-inf' is not finite"),
    ("1e999", "", (NAN, NAN), "row 2: start='1e999' is not finite"),
    ("-0.5", "1", (NAN, 1.0), "row 2: start='-0.5' is negative"),
    ("1.5", "0.5", (1.5, 0.5), "row 2: end (0.5) is not after start (1.5)"),
    ("1", "1", (1.0, 1.0), "row 2: end (1) is not after start (1)"),
    ("", "0", (NAN, 0.0), "row 2: end (0) is not after the start of the file"),
    ("", "-1", (NAN, NAN), "row 2: end='-1' is negative"),
])
def test_check_times_one_row(start, end, expected, problem):
    s, e, problems = check_times([start], [end])
    np.testing.assert_array_equal([s[0], e[0]], expected)
    assert problems == ([] if problem is None else [problem])


def test_check_times_lists_every_bad_row_with_its_number_and_the_names_as_written():
    starts = ["0", "x", "", "3", "nan"] + ["1"] * 95 + ["oops"]
    ends = ["1", "", "inf", "2", ""] + ["2"] * 95 + [""]
    _, _, problems = check_times(starts, ends, names=("Start", "End"))
    assert problems == ["row 3: Start='x' is not a number", "row 4: End='inf' is not finite",
                        "row 5: End (2) is not after Start (3)",
                        "row 6: Start='nan' is not a number",
                        "row 102: Start='oops' is not a number"]
    s, e, _ = check_times(None, None, n_rows=3)
    assert np.isnan(s).all() and np.isnan(e).all() and len(s) == 3


# -- prediction lists ----------------------------------------------------------------------------

def test_a_prediction_list_with_bad_times_lists_every_bad_row(tmp_path):
    rows = [["a.wav", "0", "1"], ["b.wav", "nan", "2"], ["c.wav", "1", "inf"],
            ["d.wav", "later", ""], ["", "0", "1"], ["e.wav", "2", "1"]]
    rows += [["f.wav", "x", "y"]] * 60                 # more than a message shows: all kept
    lst = write_csv(tmp_path / "list.csv", ["path", "start", "end"], rows)
    with pytest.raises(DatasetError) as e:
        expand_sources([lst])
    problems = e.value.problems
    assert str(e.value).startswith(f"{lst}: 125 problem(s) in the list")
    assert problems[:5] == ["row 3: start='nan' is not a number",
                            "row 4: end='inf' is not finite",
                            "row 5: start='later' is not a number",
                            "row 7: end (1) is not after start (2)",
                            "row 8: start='x' is not a number"]
    assert "row 6: empty path" in problems
    assert problems.count("row 67: end='y' is not a number") == 1 and len(problems) == 125


def test_a_prediction_list_takes_start_s_and_end_s_as_predict_writes_them(tmp_path):
    lst = write_csv(tmp_path / "windows.csv", ["path", "start_s", "end_s", "label"],
                    [["a.wav", "0.5", "1.0", "x"], ["sub/b.wav", "", "", "y"]])
    a, b = expand_sources([lst])
    assert (a.path, a.start_s, a.end_s) == (str(tmp_path / "a.wav"), 0.5, 1.0)
    assert (b.path, b.start_s, b.end_s) == (str(tmp_path / "sub" / "b.wav"), None, None)


def test_predict_refuses_a_bad_list_before_loading_the_model(tmp_path, capsys):
    lst = write_csv(tmp_path / "list.csv", ["path", "start", "end"], [["a.wav", "inf", "nan"]])
    assert main(["predict", str(tmp_path / "no-model.earmark"), str(lst),
                 "--out", str(tmp_path / "p.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"earmark: error: {lst}: 2 problem(s) in the list")
    assert "row 2: start='inf' is not finite" in err and "row 2: end='nan' is not a number" in err
    assert "Traceback" not in err and "model" not in err


# -- manifests -----------------------------------------------------------------------------------

def test_a_manifest_with_non_finite_or_negative_times_names_every_row(tmp_path):
    rows = [["a.wav", "x", "0", "1"], ["b.wav", "x", "inf", ""], ["c.wav", "y", "-1", "2"],
            ["d.wav", "y", "", "nan"], ["e.wav", "y", "3", "-inf"]]
    with pytest.raises(DatasetError) as e:
        load_dataset(write_csv(tmp_path / "m.csv", ["path", "label", "start", "end"], rows))
    assert e.value.problems == ["row 3: start='inf' is not finite",
                                "row 4: start='-1' is negative",
                                "row 5: end='nan' is not a number",
                                "row 6: end='-inf' is not finite"]


# -- files listed twice, in two folds ------------------------------------------------------------

@pytest.fixture
def data(tmp_path):
    return write_dataset(tmp_path / "d", per_class=4, seed=2, groups=2)


def _append(data, *rows):
    m = data / "metadata.csv"
    m.write_text(m.read_text() + "".join(r + "\n" for r in rows))


def test_repeated_clips_and_path_leaks_by_hand(data):
    # low_00 is in fold 1 (row 2); high_01 in fold 2 (row 7)
    _append(data, "low/low_00.wav,low,1,g0",           # row 14: the same row again
            "high/high_01.wav,noise,2,g1",             # row 15: another label
            "noise/noise_02.wav,noise,2,g1")           # row 16: noise_02 (row 12) is in fold 1
    ds = load_dataset(data)
    low00, high01, noise02 = (str((data / p).resolve()) for p in (
        "low/low_00.wav", "high/high_01.wav", "noise/noise_02.wav"))
    repeats, problems = repeated_clips(ds, fold_column="fold")
    assert [(r["path"], r["rows"], r["labels"], r["folds"]) for r in repeats] == [
        (high01, [5, 13], ["high", "noise"], ["2"]), (low00, [0, 12], ["low"], ["1"]),
        (noise02, [10, 14], ["noise"], ["1", "2"])]
    assert problems == [f"{high01}: listed 2 times (rows 7, 15), with different labels "
                        "['high', 'noise']", f"{low00}: listed 2 times (rows 2, 14)",
                        f"{noise02}: listed 2 times (rows 12, 16)"]
    leaks = fold_leaks(ds, column="fold")
    assert leaks == [{"by": "path", "paths": [noise02], "folds": ["1", "2"], "rows": [10, 14]}]


def test_a_region_of_a_file_is_not_a_repeat_but_its_fold_still_counts(tmp_path):
    rows = [["a.wav", "x", "1", "0", "1"], ["a.wav", "x", "1", "1", "2"],
            ["a.wav", "y", "2", "2", "3"], ["b.wav", "y", "2", "", ""]]
    ds = load_dataset(write_csv(tmp_path / "m.csv", ["path", "label", "fold", "start", "end"],
                                rows))
    assert repeated_clips(ds, fold_column="fold") == ([], [])
    (leak,) = fold_leaks(ds, column="fold")
    assert leak["paths"] == [str(tmp_path / "a.wav")] and leak["rows"] == [0, 1, 2]


def test_inspect_reports_repeats_labels_and_leaks_by_path(data, tmp_path, capsys):
    _append(data, "low/low_00.wav,low,1,g0", "high/high_01.wav,noise,2,g1",
            "noise/noise_02.wav,noise,2,g1")
    r = inspect_dataset(load_dataset(data), progress=False)
    low00 = str((data / "low/low_00.wav").resolve())
    noise02 = str((data / "noise/noise_02.wav").resolve())
    assert len(r["repeated_clips"]) == 3 and [d["paths"] for d in r["path_leaks"]] == [[noise02]]
    assert f"{low00}: listed 2 times (rows 2, 14)" in r["problems"]
    assert any("with different labels ['high', 'noise']" in p for p in r["problems"])
    assert (f"leakage: the same file in fold 1 and fold 2: {noise02} (rows 12, 16)"
            in r["problems"])
    assert r["duplicates"] == []          # one file twice is not a copy under another name
    assert main(["inspect", str(data), "-q", "--strict", "--json", str(tmp_path / "i.json")]) == 1
    out = capsys.readouterr().out
    assert "listed more than once: 3 clips; in more than one fold: 1 files (leakage)" in out
    assert f"LEAK {noise02} in folds 1, 2" in out


def test_inspect_does_not_report_a_multi_label_clip_twice(tmp_path):
    rows = [["a.wav", "dog", "1"], ["a.wav", "dog;bell", "1"], ["b.wav", "bell", "1"],
            ["b.wav", "bell", "1"]]
    ds = load_dataset(write_csv(tmp_path / "m.csv", ["path", "labels", "fold"], rows))
    _, problems = repeated_clips(ds, fold_column="fold")
    # a.wav's different label sets are find_problems' report; b.wav is only listed twice
    assert problems == [f"{tmp_path / 'b.wav'}: listed 2 times (rows 4, 5)"]


def test_evaluate_refuses_a_file_or_a_copy_in_two_folds(data, monkeypatch, capsys):
    import earmark.evaluation

    def reached(*args, **kwargs):
        raise DatasetError("cross-validation reached")

    monkeypatch.setattr(earmark.evaluation, "cross_validate", reached)
    shutil.copy(data / "low/low_01.wav", data / "low/copy.wav")
    _append(data, "low/low_00.wav,low,2,g1",        # low_00 is in fold 1, group g0
            "low/copy.wav,low,1,g0")                # low_01 is in fold 2, group g1
    assert main(["evaluate", str(data), "--folds", "fold", "-q"]) == 2
    err = capsys.readouterr().err
    low00, low01, copy = (str((data / "low" / n).resolve()) for n in (
        "low_00.wav", "low_01.wav", "copy.wav"))
    assert "2 recording(s) in more than one 'fold' value" in err
    assert f"the same file in fold 1 and fold 2: {low00} (rows 2, 14)" in err
    assert f"identical audio in fold 1 and fold 2: {copy}, {low01} (rows 3, 15)" in err
    assert "--allow-duplicates" in err and "cross-validation reached" not in err
    # grouped k-fold: the same file in two groups may land in two folds
    assert main(["evaluate", str(data), "--groups", "group", "--k", "2", "-q"]) == 2
    assert "in more than one 'group' value" in capsys.readouterr().err
    assert main(["evaluate", str(data), "--folds", "fold", "-q", "--allow-duplicates"]) == 2
    assert "cross-validation reached" in capsys.readouterr().err


def test_refuse_fold_leaks_passes_a_clean_dataset(data):
    refuse_fold_leaks(data, column="fold")
    refuse_fold_leaks(data, column="group")


# -- options that name columns -------------------------------------------------------------------

def test_check_columns_names_the_columns_there_are(data):
    ds = load_dataset(data)
    check_columns(ds, {"--folds": "fold", "--groups": None})
    with pytest.raises(DatasetError) as e:
        check_columns(ds, {"--groups": "site"})
    assert str(e.value) == (f"{data / 'metadata.csv'}: --groups site: there is no column "
                            "'site'; the columns are ['label', 'fold', 'group']")
    with pytest.raises(DatasetError, match="did you mean 'fold'"):
        check_columns(ds, {"--folds": "Fold"})
    # a folder of class folders has no fold and no group column at all
    folder = data.parent / "classes"
    shutil.copytree(data / "low", folder / "low")
    with pytest.raises(DatasetError, match=r"no column 'group'; the columns are \['label'\]"):
        check_columns(load_dataset(folder), {"--groups": "group"})


@pytest.mark.parametrize("argv, says", [
    (["train", "{data}", "--out", "{tmp}/m.earmark", "--groups", "site"], "--groups site"),
    (["train", "{data}", "--out", "{tmp}/m.earmark", "--recipe", "auto", "--folds", "kit"],
     "--folds kit"),
    (["inspect", "{data}", "--folds", "kit"], "--folds kit"),
    (["evaluate", "{data}", "--folds", "kit"], "--folds kit"),
    (["evaluate", "{data}", "--groups", "site"], "--groups site"),
])
def test_options_naming_a_missing_column_are_errors_before_the_work(data, tmp_path, monkeypatch,
                                                                    capsys, argv, says):
    import earmark.data
    import earmark.evaluation
    from earmark.estimators.base import WindowEstimator

    def reached(*args, **kwargs):
        raise AssertionError("the work started")

    for owner, name in ((earmark.evaluation, "cross_validate"), (earmark.data, "inspect_dataset"),
                        (WindowEstimator, "fit")):
        monkeypatch.setattr(owner, name, reached)
    code = main([a.format(data=data, tmp=tmp_path) for a in argv] + ["-q"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"earmark: error: {data / 'metadata.csv'}: {says}: ")
    assert "the columns are ['label', 'fold', 'group']" in err


def test_train_without_groups_still_uses_the_group_column_when_there_is_one(data, tmp_path,
                                                                         monkeypatch):
    from earmark.estimators.base import WindowEstimator

    seen = []

    def fit(self, data, *, group_column="group", **kw):
        seen.append(group_column)
        raise DatasetError("stop here")

    monkeypatch.setattr(WindowEstimator, "fit", fit)
    assert main(["train", str(data), "--out", str(tmp_path / "m.earmark"), "-q"]) == 2
    shutil.copytree(data / "low", tmp_path / "classes" / "low")
    shutil.copytree(data / "high", tmp_path / "classes" / "high")
    assert main(["train", str(tmp_path / "classes"), "--out", str(tmp_path / "m.earmark"),
                 "-q"]) == 2
    assert seen == ["group", "group"]
