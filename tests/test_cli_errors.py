"""One error contract for the command line.

User errors exit 2 with one ``earmark: error: <file>: <problem>`` message and no traceback;
errors inside earmark exit 1 with one line that says where the traceback was saved and how to
report it; unreadable files say "permission denied".
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from earmark import audio
from earmark.cli import EXIT_INTERNAL_ERROR, EXIT_USER_ERROR, main
from earmark.errors import AudioError, ModelFileError

ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _with_run(monkeypatch, command, fail):
    """Make ``earmark <command>`` call ``fail(args)`` instead of its work."""
    from earmark import cli
    parser = cli.build_parser
    module = {c.__name__.rsplit(".", 1)[1]: c for c in cli.COMMANDS}[command]
    monkeypatch.setattr(module, "run", fail)

    def build():
        p = parser()
        for action in p._subparsers._group_actions:
            action.choices[command].set_defaults(func=fail)
        return p

    monkeypatch.setattr(cli, "build_parser", build)


def test_exit_statuses_are_the_documented_ones():
    assert (EXIT_USER_ERROR, EXIT_INTERNAL_ERROR) == (2, 1)


def test_an_earmark_error_is_one_message_and_exit_2(tmp_path, capsys):
    code, out, err = _run(capsys, "inspect", tmp_path / "nothing")
    assert code == 2 and out == ""
    assert err == f"earmark: error: {tmp_path / 'nothing'}: no such file or folder\n"


def test_a_multi_line_dataset_error_keeps_its_list_without_a_traceback(tmp_path, capsys):
    (tmp_path / "m.csv").write_text("path,label,start\na.wav,x,soon\nb.wav,,\n")
    code, _, err = _run(capsys, "inspect", tmp_path / "m.csv")
    assert code == 2 and "Traceback" not in err
    assert err.splitlines() == [f"earmark: error: {tmp_path / 'm.csv'}: 2 problem(s) in the "
                                "manifest", "  - row 2: start='soon' is not a number",
                                "  - row 3: empty label (b.wav)"]


@pytest.mark.parametrize("argv, says", [
    (["predict", "m.earmark"], "earmark: error: predict: the following arguments are required: "
                               "sources, --out"),
    (["train", "d", "--out", "m", "--epochs", "many"], "earmark: error: train: argument "
                                                       "--epochs: invalid int value: 'many'"),
    (["frobnicate"], "earmark: error: argument command: invalid choice: 'frobnicate'"),
    (["evaluate", "d", "--task", "karaoke"], "earmark: error: evaluate: argument --task: invalid "
                                             "choice: 'karaoke'"),
])
def test_bad_arguments_exit_2_in_the_same_format_and_return(capsys, argv, says):
    code, _, err = _run(capsys, *argv)         # returns: no SystemExit to catch
    assert code == 2
    assert err.splitlines()[-1].startswith(says) and err.startswith("usage: earmark")


def test_help_and_version_still_exit_0_through_system_exit(capsys):
    for argv in (["--help"], ["predict", "--help"], ["--version"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 0
    assert "earmark" in capsys.readouterr().out


@pytest.mark.parametrize("argv, says", [
    (["evaluate", "d"], "earmark: error: evaluate: give --folds COLUMN (predefined folds) or "
                        "--groups COLUMN (grouped k-fold)\n"),
    (["evaluate", "d", "--folds", "fold", "--recipe", "ensemble:cnn", "--allow-duplicates"],
     "earmark: error: --recipe ensemble:cnn: an ensemble names 2 or more recipes"),
    (["models", "install"], "earmark: error: models install: name the model to install"),
])
def test_commands_system_exit_messages_follow_the_contract(capsys, argv, says):
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith(says) and len(err.strip().splitlines()) == 1
    assert says.split(": ", 2)[2].strip() in str(e.value)       # the text, for callers


def test_an_internal_error_exits_1_with_one_line_and_the_traceback_in_a_log(monkeypatch,
                                                                             capsys):
    def bug(args):
        return {}["no such key"]

    _with_run(monkeypatch, "inspect", bug)
    code, _, err = _run(capsys, "inspect", "data")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("earmark: internal error (KeyError: 'no such key'): this looks like a "
                          "bug in earmark; the traceback is in ")
    assert "please report it to the earmark developers with that file" in err
    log = Path(err.split("the traceback is in ")[1].split(";")[0])
    try:
        text = log.read_text()
        assert "Traceback (most recent call last)" in text and "in bug" in text
        assert "KeyError: 'no such key'" in text and "command: earmark inspect data" in text
        assert text.startswith("earmark ")                    # the version comes first
    finally:
        log.unlink()


@pytest.mark.parametrize("exc, says", [
    (PermissionError(13, "Permission denied", "/data/x.csv"),
     "earmark: error: /data/x.csv: permission denied\n"),
    (OSError(28, "No space left on device", "/data/out.csv"),
     "earmark: error: /data/out.csv: no space left on device\n"),
    (IsADirectoryError(21, "Is a directory", "/data"), "earmark: error: /data: is a directory\n"),
    (ModelFileError("m.earmark: damaged (bad CRC)"), "earmark: error: m.earmark: damaged"),
])
def test_errors_of_the_file_system_are_user_errors(monkeypatch, capsys, exc, says):
    def fail(args):
        raise exc

    _with_run(monkeypatch, "inspect", fail)
    code, _, err = _run(capsys, "inspect", "data")
    assert code == 2 and err.startswith(says) and "Traceback" not in err


def test_ctrl_c_exits_130(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    _with_run(monkeypatch, "inspect", interrupted)
    code, _, err = _run(capsys, "inspect", "data")
    assert code == 130 and err.startswith("earmark: interrupted")


def test_a_command_that_returns_a_status_keeps_it(monkeypatch, capsys):
    _with_run(monkeypatch, "inspect", lambda args: 1)
    assert _run(capsys, "inspect", "data")[0] == 1


# -- permission denied, not "cannot decode audio" or "file not found" ----------------------------

@pytest.fixture
def wav(tmp_path):
    path = tmp_path / "sub" / "a.wav"
    path.parent.mkdir()
    sf.write(path, np.zeros(800, np.float32), 8000)
    return path


def test_an_unreadable_audio_file_says_permission_denied(wav, monkeypatch):
    real_access = os.access
    monkeypatch.setattr(audio.os, "access", lambda p, mode: False if str(p) == str(wav)
                        else real_access(p, mode))

    def system_error(path, *args, **kwargs):        # what libsndfile says of an unreadable file
        raise RuntimeError(f"Error opening {path!r}: System error.")

    monkeypatch.setattr(audio.sf, "info", system_error)
    with pytest.raises(AudioError) as e:
        audio.info(wav)
    assert str(e.value) == f"{wav}: permission denied"


def test_a_file_in_a_folder_that_cannot_be_entered_says_permission_denied(wav, monkeypatch):
    real_stat = os.stat

    def stat(path, *args, **kwargs):
        if str(path) == str(wav):
            raise PermissionError(13, "Permission denied", str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(audio.os, "stat", stat)
    error = audio._open_error(str(wav), RuntimeError("System error."))     # what info() raises
    assert isinstance(error, AudioError)
    assert str(error) == f"{wav}: permission denied (its folder cannot be read)"


@pytest.mark.skipif(ROOT, reason="root reads any file")
def test_real_unreadable_files_say_permission_denied(wav):
    os.chmod(wav, 0)
    try:
        with pytest.raises(AudioError, match=r"a\.wav: permission denied$"):
            audio.load(wav)
    finally:
        os.chmod(wav, 0o644)
    os.chmod(wav.parent, 0o600)
    try:
        with pytest.raises(AudioError, match="permission denied"):
            audio.info(wav)
    finally:
        os.chmod(wav.parent, 0o755)


def test_missing_empty_and_garbage_files_keep_their_messages(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "garbage.wav").write_bytes(bytes(range(256)) * 8)
    for name, says in (("missing.wav", "file not found"), ("empty.wav", "file is empty"),
                       ("garbage.wav", "cannot decode audio")):
        with pytest.raises(AudioError, match=says):
            audio.info(tmp_path / name)


# -- the installed command -----------------------------------------------------------------------

def test_the_installed_command_follows_the_contract(tmp_path):
    exe = Path(sys.executable).with_name("earmark")
    if not exe.exists():
        pytest.skip("the earmark script is not installed beside this Python")
    p = subprocess.run([str(exe), "predict", str(tmp_path / "m.earmark"), str(tmp_path),
                        "--out", str(tmp_path / "p.csv")], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr == f"earmark: error: {tmp_path}: no audio files found (folders are " \
                       "searched recursively for .wav, .flac, .ogg, .oga, .opus, .mp3, .aif, " \
                       ".aiff, .au, .w64, .rf64, .caf; a CSV list needs rows)\n"
