"""Output paths are checked before any work, replaced atomically with their permissions kept, and
the temporary files of killed runs are cleaned up; predict keeps what it finished when stopped.

Every command runs in-process (``earmark.cli.main``); the work a bad output would waste is
replaced by a stub that fails the test if it is ever reached.
"""

import os
import signal
import stat
import sys

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from _signals import SR, make_clip, write_dataset
from earmark import _io
from earmark._io import (TEMP_SUFFIX, atomic_path, check_output_path, check_outputs,
                         remove_stale_temporaries, write_bytes_atomic)
from earmark.cli import main
from earmark.errors import ParameterError

ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False


def _temps(folder):
    return sorted(n for n in os.listdir(folder) if n.endswith(TEMP_SUFFIX))


# -- check_output_path ---------------------------------------------------------------------------

@pytest.fixture
def place(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "a_file.txt").write_text("x")
    (tmp_path / "model.earmark").write_bytes(b"model")
    return tmp_path


@pytest.mark.parametrize("name, kind, says", [
    ("folder", "file", "it is a folder; give a file name inside it"),
    ("a_file.txt/out.csv", "file", "a_file.txt is a file, not a folder"),
    ("a_file.txt/deeper/out.csv", "file", "a_file.txt is a file, not a folder"),
    ("missing/out.csv", "file", "the folder {tmp}/missing does not exist"),
    ("a_file.txt", "folder", "it is a file, not a folder"),
    ("missing/deeper/clips", "folder", "the folder {tmp}/missing/deeper does not exist"),
    ("a_file.txt/clips", "folder", "a_file.txt is a file, not a folder"),
])
def test_bad_output_paths_are_refused_naming_the_path_and_the_problem(place, name, kind, says):
    path = str(place / name)
    with pytest.raises(ParameterError) as e:
        check_output_path(path, kind=kind, owner="--out")
    assert str(e.value).startswith(f"{path}: cannot write --out: ")
    assert says.format(tmp=place) in str(e.value)


def test_good_output_paths_pass_and_leave_nothing_behind(place):
    before = sorted(os.listdir(place))
    assert check_output_path(str(place / "new.csv"), owner="--out") == str(place / "new.csv")
    assert check_output_path(place / "a_file.txt", owner="--out") == str(place / "a_file.txt")
    assert check_output_path(place / "folder", kind="folder", owner="--out-dir")
    assert check_output_path(place / "folder" / "new", kind="folder", owner="--out-dir")
    assert sorted(os.listdir(place)) == before and not os.listdir(place / "folder")


def test_an_output_may_not_be_the_model_or_an_input(place):
    model = place / "model.earmark"
    with pytest.raises(ParameterError, match="it is the model file"):
        check_output_path(model, inputs=[(model, "the model file")], owner="--out")
    # the same file under another name: a relative path, a symbolic link, a hard link
    os.symlink(model, place / "link.earmark")
    os.link(model, place / "hard.earmark")
    for other in (os.path.relpath(model), place / "link.earmark", place / "hard.earmark"):
        with pytest.raises(ParameterError, match=r"it is an input of this command \("):
            check_output_path(other, inputs=[str(model)], owner="--out")
    # a missing input named as the output (it would be created, then read back as audio)
    with pytest.raises(ParameterError, match="it is an input"):
        check_output_path(place / "gone.wav", inputs=[place / "gone.wav"], owner="--out")
    assert model.read_bytes() == b"model"
    assert check_output_path(place / "p.csv", inputs=[model, place / "folder"], owner="--out")


def test_two_outputs_of_one_command_may_not_be_the_same_file(place):
    with pytest.raises(ParameterError, match=r"cannot write --report: it is also --json"):
        check_outputs({"--json": place / "x", "--report": place / "x", "--other": None})
    check_outputs({"--json": place / "x.json", "--report": place / "x.html", "--other": None})


def test_suffixes_and_special_files(place):
    with pytest.raises(ParameterError, match=r"must end with \.parquet or \.csv or \.npz"):
        check_output_path(place / "e.txt", owner="--out", suffixes=(".parquet", ".csv", ".npz"))
    assert check_output_path(place / "E.NPZ", owner="--out", suffixes=(".npz",))
    with pytest.raises(ParameterError, match="not a regular file"):
        check_output_path("/dev/null", owner="--out")
    with pytest.raises(ParameterError, match="the path is empty"):
        check_output_path("", owner="--out")
    with pytest.raises(ParameterError, match="The 'kind' parameter of check_output_path must be "
                                             "one of {'file', 'folder'}. Got 'dir' instead."):
        check_output_path(place / "x", kind="dir", owner="--out")


def test_folders_that_cannot_be_written_say_permission_denied(place, monkeypatch):
    # os.access first (what a user without rights sees) ...
    real_access = os.access
    monkeypatch.setattr(_io.os, "access", lambda p, mode: False if str(p).endswith("folder")
                        else real_access(p, mode))
    with pytest.raises(ParameterError, match="permission denied: cannot create files in the "
                                             "folder .*folder$"):
        check_output_path(place / "folder" / "p.csv", owner="--out")
    monkeypatch.undo()
    # ... then a real file created and removed, which os.access cannot replace (root, /proc,
    # read-only mounts)
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(_io.tempfile, "mkstemp", refuse)
    with pytest.raises(ParameterError, match=r"cannot create files in the folder .*folder "
                                             r"\(permission denied\)"):
        check_output_path(place / "folder" / "p.csv", owner="--out")


def test_a_folder_in_proc_is_refused_before_the_work():
    with pytest.raises(ParameterError, match="cannot create files in the folder /proc"):
        check_output_path("/proc/x.json", owner="--json")


@pytest.mark.skipif(ROOT, reason="root may write anywhere")
def test_a_read_only_folder_and_file_are_refused(place):
    ro = place / "folder"
    (ro / "old.csv").write_text("old")
    os.chmod(ro / "old.csv", 0o444)
    os.chmod(ro, 0o555)
    try:
        with pytest.raises(ParameterError, match="permission denied"):
            check_output_path(ro / "p.csv", owner="--out")
        with pytest.raises(ParameterError, match="permission denied"):
            check_output_path(ro / "old.csv", owner="--out")
    finally:
        os.chmod(ro, 0o755)


# -- atomic_path: permissions, symbolic links, temporary files of killed runs ---------------------

def test_a_replaced_output_keeps_its_permissions(tmp_path):
    out = tmp_path / "p.csv"
    write_bytes_atomic(out, b"one")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask        # a new file: the usual
    for mode in (0o640, 0o604, 0o600):
        os.chmod(out, mode)
        write_bytes_atomic(out, b"two")
        assert stat.S_IMODE(out.stat().st_mode) == mode and out.read_bytes() == b"two"
    assert _temps(tmp_path) == []


def test_writing_through_a_symbolic_link_keeps_the_link(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "p.csv"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    os.symlink(target, tmp_path / "p.csv")
    write_bytes_atomic(tmp_path / "p.csv", b"new")
    assert os.path.islink(tmp_path / "p.csv") and target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_an_error_while_writing_names_the_output_not_the_temporary_file(tmp_path):
    out = tmp_path / "p.csv"
    with pytest.raises(OSError) as e:
        with atomic_path(out) as tmp:
            raise OSError(28, "No space left on device", tmp)
    assert e.value.filename == str(out) and _temps(tmp_path) == []


def _killed_while_writing(out):
    """Fork a child that dies by SIGKILL inside atomic_path(out); returns its temporary file."""
    pid = os.fork()
    if pid == 0:                                          # the child
        try:
            with atomic_path(out) as tmp:
                with open(tmp, "w") as f:
                    f.write("half")
                os.kill(os.getpid(), signal.SIGKILL)
        finally:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    (left,) = _temps(os.path.dirname(out))
    return os.path.join(os.path.dirname(out), left)


@pytest.mark.skipif(not hasattr(os, "fork") or _io.fcntl is None, reason="POSIX only")
def test_the_temporary_file_of_a_killed_run_is_removed_by_the_next_write(tmp_path):
    out = tmp_path / "p.csv"
    out.write_text("old")
    left = _killed_while_writing(out)
    assert os.path.basename(left).startswith(".p.csv.") and out.read_text() == "old"
    # just written: it could be a live run's between creating and locking its file
    assert remove_stale_temporaries(out) == [] and os.path.exists(left)
    os.utime(left, (1e9, 1e9))
    # other outputs' temporary files are not this output's to remove
    other = tmp_path / f".p.csv.bak.abcdefgh{TEMP_SUFFIX}"
    other.write_text("x")
    os.utime(other, (1e9, 1e9))
    write_bytes_atomic(out, b"new")
    assert out.read_bytes() == b"new" and not os.path.exists(left)
    assert _temps(tmp_path) == [other.name]


@pytest.mark.skipif(_io.fcntl is None, reason="POSIX only")
def test_a_live_runs_temporary_file_is_left_alone(tmp_path):
    out = tmp_path / "p.csv"
    with atomic_path(out) as tmp:                 # a run writing the same output right now
        os.utime(tmp, (1e9, 1e9))
        assert remove_stale_temporaries(out) == []
        write_bytes_atomic(out, b"other run")     # a second writer of the same output
        assert os.path.exists(tmp)
        with open(tmp, "w") as f:
            f.write("this run")
    assert out.read_text() == "this run" and _temps(tmp_path) == []


# -- the commands: every output checked before the work ----------------------------------------

@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("outputs"), per_class=3, seed=3, groups=2)


def _no_work(monkeypatch):
    """Make every long step of every command fail the test if it is reached."""
    import earmark.data
    import earmark.embed
    import earmark.estimators
    import earmark.evaluation
    from earmark.estimators.base import WindowEstimator

    def reached(*args, **kwargs):
        raise AssertionError("the work started before the output was checked")

    monkeypatch.setattr(earmark.estimators, "load", reached)
    monkeypatch.setattr(earmark.evaluation, "cross_validate", reached)
    monkeypatch.setattr(earmark.data, "inspect_dataset", reached)
    monkeypatch.setattr(earmark.embed, "embed_sources", reached)
    monkeypatch.setattr(WindowEstimator, "fit", reached)


def _commands(data, tmp_path, out, option="--out"):
    model = tmp_path / "m.earmark"
    model.write_bytes(b"not read before the check")
    return {
        "train": ["train", data, "--out", out, "-q"],
        "predict": ["predict", model, data / "low", "--out", out, "-q"],
        "evaluate --json": ["evaluate", data, "--folds", "fold", "--json", out, "-q"],
        "evaluate --report": ["evaluate", data, "--folds", "fold", "--report", out, "-q"],
        "inspect --json": ["inspect", data, "--json", out, "-q"],
        "inspect --report": ["inspect", data, "--report", out, "-q"],
        "embed": ["embed", data / "low", "--model", "classic", "--out", out, "-q"],
    }


@pytest.mark.parametrize("command", ["train", "predict", "evaluate --json", "evaluate --report",
                                     "inspect --json", "inspect --report", "embed"])
@pytest.mark.parametrize("where", ["folder", "under_a_file", "missing_folder"])
def test_every_command_refuses_a_bad_output_before_the_work(data, tmp_path, monkeypatch, capsys,
                                                            command, where):
    _no_work(monkeypatch)
    (tmp_path / "f.txt").write_text("x")
    out = {"folder": tmp_path, "under_a_file": tmp_path / "f.txt" / "o.csv",
           "missing_folder": tmp_path / "no" / "o.csv"}[where]
    code = main([str(a) for a in _commands(data, tmp_path, out)[command]])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith(f"earmark: error: {out}: cannot write --") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_outputs_may_not_overwrite_the_model_or_the_dataset(data, tmp_path, monkeypatch, capsys):
    _no_work(monkeypatch)
    model = tmp_path / "m.earmark"
    cases = [(["predict", model, data / "low", "--out", model], "it is the model file"),
             (["predict", model, data / "low", "--out", data / "low" / "low_00.wav"],
              "it is an input"),
             (["inspect", data, "--json", data / "metadata.csv"], "it is the dataset's manifest"),
             (["train", data / "metadata.csv", "--out", data / "metadata.csv"],
              "it is the dataset"),
             (["evaluate", data, "--groups", "group", "--json", tmp_path / "cv.json",
               "--report", tmp_path / "cv_confusion.png"],
              "it is also --json's confusion matrix"),
             (["embed", data / "low", "--out", data / "low" / "low_01.wav"], "must end with")]
    model.write_bytes(b"precious")
    before = {p: p.read_bytes() for p in (model, data / "metadata.csv",
                                          data / "low" / "low_00.wav")}
    for argv, says in cases:
        assert main([str(a) for a in argv]) == 2
        err = capsys.readouterr().err
        assert says in err and "Traceback" not in err, (argv, err)
    assert {p: p.read_bytes() for p in before} == before


# -- predict: what is written when it stops, fails or finds nothing -----------------------------

class _ToyScorer:
    """Scores windows by loudness: 'loud' is the RMS (x5, at most 1), 'quiet' the rest."""

    def __init__(self):
        from earmark.config import FeatureConfig
        self.features = FeatureConfig(sample_rate=SR, window_s=0.5, hop_s=0.25, n_fft=256,
                                      hop_length=128, n_mels=32)

    def score_windows(self, windows):
        loud = np.clip(5 * np.sqrt(np.mean(np.square(windows), axis=1)), 0, 1)
        return np.stack([1 - loud, loud], axis=1)


class _ToyModel:
    classes_ = ["quiet", "loud"]
    model_ = _ToyScorer()

    def predict_table(self, sources, *, windows=False, progress=None):
        from earmark.predict import predict_table
        return predict_table(self.model_, self.classes_, sources, windows=windows,
                             progress=False)


@pytest.fixture
def recordings(tmp_path, monkeypatch):
    import earmark.estimators

    monkeypatch.setattr(earmark.estimators, "load", lambda path: _ToyModel())
    (tmp_path / "model.earmark").write_bytes(b"toy")
    rng = np.random.default_rng(5)
    folder = tmp_path / "rec"
    folder.mkdir()
    for i in range(5):
        sf.write(folder / f"r{i}.wav", make_clip("noise", rng, dur=1.0) * (i + 1) / 5, SR)
    return folder


def _predict(tmp_path, *sources, out="p.csv", extra=()):
    return main(["predict", str(tmp_path / "model.earmark"), *map(str, sources),
                 "--out", str(tmp_path / out), "-q", *extra])


def test_ctrl_c_writes_the_files_finished_and_says_so(recordings, tmp_path, monkeypatch, capsys):
    import earmark.predict

    assert _predict(tmp_path, recordings) == 0
    full = pd.read_csv(tmp_path / "p.csv")
    calls = []
    real = earmark.predict.score_source

    def stop_at_the_fourth(model, source, **kw):
        calls.append(source)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(model, source, **kw)

    monkeypatch.setattr(earmark.predict, "score_source", stop_at_the_fourth)
    assert _predict(tmp_path, recordings, out="part.csv") == 130
    err = capsys.readouterr().err
    assert "interrupted after 3 of 5 files" in err and "part.csv" in err
    part = pd.read_csv(tmp_path / "part.csv")
    pd.testing.assert_frame_equal(part, full.iloc[:3])        # the same rows, columns, values


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_stops_predict_as_ctrl_c_does(recordings, tmp_path, monkeypatch, capsys):
    import earmark.predict

    calls = []
    real = earmark.predict.score_source

    def terminated_at_the_third(model, source, **kw):
        calls.append(source)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(model, source, **kw)

    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(earmark.predict, "score_source", terminated_at_the_third)
    assert _predict(tmp_path, recordings, extra=["--windows"]) == 130
    assert signal.getsignal(signal.SIGTERM) is before          # the handler is put back
    assert "interrupted after 2 of 5 files" in capsys.readouterr().err
    t = pd.read_csv(tmp_path / "p.csv")
    assert t["path"].nunique() == 2 and list(t.columns[:3]) == ["path", "start_s", "end_s"]


def test_ctrl_c_before_the_first_file_writes_nothing(recordings, tmp_path, monkeypatch, capsys):
    import earmark.predict

    (tmp_path / "p.csv").write_text("old")

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(earmark.predict, "score_source", stop)
    assert _predict(tmp_path, recordings) == 130
    assert "p.csv was not written" in capsys.readouterr().err
    assert (tmp_path / "p.csv").read_text() == "old"


def test_partial_failure_exits_0_with_a_warning_counting_the_failed_files(recordings, tmp_path,
                                                                        capsys):
    (recordings / "broken.wav").write_bytes(b"not audio")
    (recordings / "empty.wav").write_bytes(b"")
    assert _predict(tmp_path, recordings) == 0
    captured = capsys.readouterr()
    assert "wrote" in captured.out and "2 with errors" in captured.out
    assert "earmark: warning: 2 of 7 files could not be predicted" in captured.err
    t = pd.read_csv(tmp_path / "p.csv")
    assert len(t) == 7 and t["error"].notna().sum() == 2
    # the loud ones are loud: scores come from the audio, not from the row order
    ok = t[t["error"].isna()].set_index("path")
    assert ok.loc[str(recordings / "r4.wav"), "loud"] > ok.loc[str(recordings / "r0.wav"), "loud"]


def test_when_every_file_fails_nothing_is_written_and_the_exit_status_is_2(tmp_path, recordings,
                                                                          capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.wav").write_bytes(b"not audio")
    (bad / "b.wav").write_bytes(b"")
    (tmp_path / "p.csv").write_text("old")
    assert _predict(tmp_path, bad, tmp_path / "missing.wav") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"earmark: error: {bad}, {tmp_path / 'missing.wav'}: none of the 3 "
                          "file(s) could be predicted")
    assert "p.csv was not written" in err
    assert "a.wav: cannot decode audio" in err and "b.wav: file is empty" in err
    assert "missing.wav: file not found" in err
    assert (tmp_path / "p.csv").read_text() == "old"


def test_sources_without_audio(tmp_path, recordings, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no audio here")
    assert _predict(tmp_path, tmp_path / "empty") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"earmark: error: {tmp_path / 'empty'}: no audio files found")
    assert not (tmp_path / "p.csv").exists()
    # beside a folder that has some: a warning, and the others are predicted
    assert _predict(tmp_path, tmp_path / "empty", recordings) == 0
    assert f"earmark: warning: {tmp_path / 'empty'}: no audio files found" in \
        capsys.readouterr().err
    assert len(pd.read_csv(tmp_path / "p.csv")) == 5


def test_predict_keeps_the_permissions_of_the_table_it_replaces(recordings, tmp_path):
    assert _predict(tmp_path, recordings) == 0
    os.chmod(tmp_path / "p.csv", 0o640)
    assert _predict(tmp_path, recordings / "r0.wav") == 0
    assert stat.S_IMODE((tmp_path / "p.csv").stat().st_mode) == 0o640
    assert len(pd.read_csv(tmp_path / "p.csv")) == 1
