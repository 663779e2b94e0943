"""earmark stream: a tone burst piped through stdin is found where it is, the window scores of a
file equal earmark predict --windows, Ctrl-C closes and flushes, and bad input is refused."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import earmark
from earmark.cli import main

SR = 8000
HOP = 0.125
BURST = (2.0, 2.5)


def _tone_dataset(root, rng):
    """'tone' clips (a 1 kHz tone over a noise floor) and 'background' clips (the floor)."""
    rows = ["filename,label,group"]
    for label in ("tone", "background"):
        (root / label).mkdir(parents=True)
        for i in range(12):
            n = int(SR * rng.uniform(0.4, 0.8))
            y = rng.uniform(0.002, 0.02) * rng.standard_normal(n)
            if label == "tone":
                y += rng.uniform(0.2, 0.6) * np.sin(2 * np.pi * rng.uniform(900, 1100) *
                                                    np.arange(n) / SR)
            sf.write(root / label / f"{i}.wav", y.astype(np.float32), SR, subtype="PCM_16")
            rows.append(f"{label}/{i}.wav,{label},g{i % 3}")
    (root / "metadata.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def tone_model(tmp_path_factory):
    """A classifier of 0.25-s windows that knows a 1 kHz tone from background."""
    rng = np.random.default_rng(0)
    root = _tone_dataset(tmp_path_factory.mktemp("tone_data"), rng)
    clf = earmark.SoundClassifier(
        model="sbcnn", epochs=8, batch_size=16, learning_rate=3e-3, augment=None,
        val_fraction=0.25, progress=False,
        features=dict(sample_rate=SR, n_fft=256, hop_length=64, n_mels=32, window_s=0.25,
                      hop_s=HOP)).fit(root)
    path = tmp_path_factory.mktemp("tone_model") / "tone.earmark"
    clf.save(path)
    return str(path)


def _burst(seconds=5.0, sr=SR, seed=1, burst=BURST):
    rng = np.random.default_rng(seed)
    y = 0.01 * rng.standard_normal(int(seconds * sr))
    a, b = int(burst[0] * sr), int(burst[1] * sr)
    y[a:b] += 0.4 * np.sin(2 * np.pi * 1000 * np.arange(b - a) / sr)
    return y.astype(np.float32)


def _s16(y):
    return (np.clip(y, -1, 1) * 32767).astype("<i2").tobytes()


def _lines(text):
    return [json.loads(x) for x in text.splitlines() if x.strip()]


def _cmd(*args):
    return [sys.executable, "-m", "earmark", "stream", *args]


@pytest.mark.slow
def test_tone_burst_on_stdin_is_found_within_one_hop(tone_model):
    """s16le at 16 kHz on a pipe (resampled to the model's 8 kHz): the burst at 2.0 s."""
    import soxr
    y = soxr.resample(_burst(), SR, 16000)
    p = subprocess.run(_cmd(tone_model, "--input", "-", "--rate", "16000", "--hop", str(HOP),
                            "--out", "-"), input=_s16(y), capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    lines = _lines(p.stdout.decode())
    tones = [x for x in lines if x["type"] == "event" and x["label"] == "tone"]
    assert len(tones) == 1, lines
    assert abs(tones[0]["onset_s"] - BURST[0]) <= HOP
    assert abs(tones[0]["offset_s"] - BURST[1]) <= HOP
    hops = [x for x in lines if x["type"] == "hop"]
    assert all("latency_ms" in h and h["dropped"] == 0 for h in hops)
    assert lines[-1]["type"] == "end" and lines[-1]["interrupted"] is False


def test_stream_equals_predict_windows(tone_model, tmp_path, capsys):
    wav = tmp_path / "burst.wav"
    sf.write(wav, _burst(3.1), SR, subtype="PCM_16")
    assert main(["predict", tone_model, str(wav), "--out", str(tmp_path / "p.csv"), "--windows",
                 "-q"]) == 0
    assert main(["stream", tone_model, "--input", str(wav), "--hop", str(HOP), "--out",
                 str(tmp_path / "s.jsonl"), "-q"]) == 0
    offline = pd.read_csv(tmp_path / "p.csv")
    hops = [x for x in _lines((tmp_path / "s.jsonl").read_text()) if x["type"] == "hop"]
    classes = earmark.load(tone_model).classes_
    streamed = np.array([[h["scores"][c] for c in classes] for h in hops])
    assert len(hops) == len(offline)
    assert np.abs(streamed - offline[classes].to_numpy()).max() < 1e-5
    assert [h["label"] for h in hops] == offline["label"].tolist()


def test_plain_lines_when_not_on_a_terminal(tone_model, tmp_path, capsys):
    wav = tmp_path / "b.wav"
    sf.write(wav, _burst(3.0), SR, subtype="PCM_16")
    assert main(["stream", tone_model, "--input", str(wav), "--events-only"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "\x1b" not in "".join(out)
    assert any(line.startswith("event") and "tone" in line for line in out)
    assert out[-1].startswith("end: 3.00 s")


@pytest.mark.slow
def test_ctrl_c_closes_open_events_flushes_and_exits_130(tone_model):
    y = _burst(6.0, burst=(1.0, 6.0))            # the tone is still on when Ctrl-C comes
    proc = subprocess.Popen(_cmd(tone_model, "--input", "-", "--rate", str(SR), "--hop",
                                 str(HOP), "--out", "-"),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(_s16(y[:int(3.0 * SR)]))
        proc.stdin.flush()
        seen = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:        # wait until the stream is past 2.5 s
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(json.loads(line))
            if seen[-1]["type"] == "hop" and seen[-1]["time_s"] >= 2.5:
                break
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err.decode()
    lines = seen + _lines(rest.decode())
    tones = [x for x in lines if x["type"] == "event" and x["label"] == "tone"]
    assert len(tones) == 1 and abs(tones[0]["onset_s"] - 1.0) <= HOP
    # closed at the newest frame: the middle of the last window (2.5 - 0.125 s), plus half a hop
    assert tones[0]["offset_s"] >= 2.5 - 0.125 + HOP / 2
    assert lines[-1]["type"] == "end" and lines[-1]["interrupted"] is True


def test_errors_are_user_errors(tone_model, tmp_path, capsys):
    assert main(["stream", tone_model, "--input", "-", "--format", "s16le"]) == 2
    assert "--rate" in capsys.readouterr().err
    wav = tmp_path / "x.wav"
    sf.write(wav, _burst(3.0), SR)
    assert main(["stream", tone_model, "--input", str(wav), "--rate", "16000"]) == 2
    assert "carries its own" in capsys.readouterr().err
    assert main(["stream", tone_model, "--input", str(wav), "--out", tone_model]) == 2
    assert "model file" in capsys.readouterr().err
    assert main(["stream", tone_model, "--input", str(wav), "--smooth", "0"]) == 2
    assert "smooth" in capsys.readouterr().err
    assert main(["stream", str(tmp_path / "missing.earmark"), "--input", str(wav)]) == 2


def test_list_devices(capsys):
    from earmark.streaming import input_devices
    assert main(["stream", "--list-devices"]) == 0
    out = capsys.readouterr().out
    if not input_devices():
        assert "no input devices" in out


def test_microphone_without_a_device_is_a_clear_error(tone_model, capsys):
    from earmark.streaming import input_devices
    if input_devices():
        pytest.skip("this machine has an input device")
    assert main(["stream", tone_model]) == 2
    assert "no microphone" in capsys.readouterr().err


def test_wav_on_stdin_with_its_own_rate(tone_model, monkeypatch, capsys):
    import io
    buf = io.BytesIO()
    sf.write(buf, _burst(3.0), SR, format="WAV", subtype="PCM_16")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(buf.getvalue())))
    assert main(["stream", tone_model, "--input", "-", "--events-only", "--out", "-",
                 "-q"]) == 0
    lines = _lines(capsys.readouterr().out)
    assert all(x["type"] in ("event", "end") for x in lines)
    assert any(x["type"] == "event" and x["label"] == "tone" for x in lines)
    assert lines[-1]["duration_s"] == 3.0
