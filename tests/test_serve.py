"""The HTTP service answers what the Python API answers: models listed, a generated clip's label,
window scores, raw PCM, detector events, novelty scores and flags, spectrogram, health, metrics,
the log line, and ``earmark serve`` end to end on a real socket."""

import io
import logging
import os
import re
import socket
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("fastapi")
pytest.importorskip("python_multipart")

import earmark                                      # noqa: E402
from _detection_signals import FAST_DETECTOR, burst, write_detection_dataset   # noqa: E402
from _signals import FAST, SR, make_clip, write_dataset, write_tagging_dataset  # noqa: E402
from earmark.errors import ParameterError                                      # noqa: E402
from earmark.serve import ServeLimits, create_app, load_models                 # noqa: E402

with warnings.catch_warnings():     # starlette's note that its TestClient will move to httpx2
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient                                  # noqa: E402


# -- helpers shared by the serve tests ---------------------------------------------------------

def wav_bytes(y, sr=SR, *, fmt="WAV", subtype="PCM_16"):
    buf = io.BytesIO()
    sf.write(buf, np.asarray(y, np.float32), sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def normal_clip(rng, seconds=1.5):
    """A 200-400 Hz tone with a little noise: what the novelty model learns as normal."""
    t = np.arange(int(seconds * SR)) / SR
    return (0.2 * np.sin(2 * np.pi * rng.uniform(200, 400) * t)
            + 0.03 * rng.standard_normal(len(t))).astype(np.float32)


def anomalous_clip(rng, seconds=3.0, at_s=1.0, length_s=0.8):
    y = normal_clip(rng, seconds)
    a, n = int(at_s * SR), int(length_s * SR)
    y[a:a + n] += 0.6 * np.sin(2 * np.pi * 2500 * np.arange(n) / SR)
    return y


def fit_novelty(root, *, n=24, seed=0):
    """A NoveltyDetector (classic features, fast) fitted on generated normal clips."""
    rng = np.random.default_rng(seed)
    (root / "normal").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        sf.write(root / f"normal/n{i:02d}.wav", normal_clip(rng), SR, subtype="PCM_16")
    return earmark.NoveltyDetector(false_alarms="5%", progress=False).fit(str(root / "normal"))


def fit_classifier(root, *, epochs=12):
    write_dataset(root / "data", per_class=6)
    return earmark.SoundClassifier(**{**FAST, "epochs": epochs}).fit(str(root / "data"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- fixtures ------------------------------------------------------------------------------------

@pytest.fixture(scope="module", autouse=True)
def _home(tmp_path_factory):
    # embedding caches of these tests stay in their own folder
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EARMARK_HOME", str(tmp_path_factory.mktemp("home")))
        yield


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    """One tiny model of each kind the service answers differently, saved under its name."""
    root = tmp_path_factory.mktemp("serve-models")
    files = {}
    files["tones"] = fit_classifier(root).save(root / "tones.earmark")
    scenes = write_detection_dataset(root / "scenes", n_clips=16)
    det = earmark.SoundDetector(**{**FAST_DETECTOR, "epochs": 3}).fit(scenes)
    files["bursts"] = det.save(root / "bursts.earmark")
    files["hum"] = fit_novelty(root / "hum").save(root / "hum.earmark")
    tags = write_tagging_dataset(root / "tags", n_clips=24)
    tagger = earmark.SoundTagger(recipe="embed:classic+logreg", progress=False).fit(tags)
    files["sounds"] = tagger.save(root / "sounds.earmark")
    return files


@pytest.fixture(scope="module")
def models(model_files):
    models = load_models(list(model_files.values()))
    # an ensemble of one classifier twice: its answer must be the ensemble's, not a member's
    models["pair"] = earmark.EnsembleClassifier.from_fitted([models["tones"], models["tones"]],
                                                            progress=False)
    return models


@pytest.fixture(scope="module")
def client(models):
    with TestClient(create_app(models)) as c:
        yield c


def predict(client, name, data, filename="clip.wav", **params):
    return client.post(f"/v1/models/{name}/predict", params=params,
                       files={"file": (filename, data, "audio/wav")})


# -- listing -------------------------------------------------------------------------------------

def test_models_are_listed_with_task_classes_rate_window_and_licence(client, models):
    body = client.get("/v1/models").json()
    listed = {m["name"]: m for m in body["models"]}
    assert set(listed) == {"tones", "bursts", "hum", "sounds", "pair"}
    assert listed["tones"]["task"] == "classification"
    assert listed["tones"]["classes"] == list(models["tones"].classes_) == ["high", "low", "noise"]
    assert listed["tones"]["sample_rate"] == SR and listed["tones"]["window_s"] == 0.5
    assert listed["bursts"]["task"] == "detection"
    assert listed["hum"]["task"] == "novelty"
    assert listed["hum"]["threshold"] == pytest.approx(models["hum"].file_threshold_)
    assert all("licence" in m for m in body["models"])
    assert body["limits"]["max_upload_mb"] == ServeLimits().max_upload_mb
    assert client.get("/v1/models/tones").json() == listed["tones"]
    missing = client.get("/v1/models/nope")
    assert missing.status_code == 404 and "tones" in missing.json()["detail"]


# -- classification ------------------------------------------------------------------------------

def test_a_high_clip_is_labelled_high_as_the_python_api_says(client, models, tmp_path):
    y = make_clip("high", np.random.default_rng(7), dur=1.0)
    data = wav_bytes(y)
    (tmp_path / "high.wav").write_bytes(data)
    clf = models["tones"]
    r = predict(client, "tones", data, filename="high.wav")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["label"] == "high" == clf.predict([tmp_path / "high.wav"])[0]
    proba = clf.predict_proba([tmp_path / "high.wav"])[0]
    assert [body["scores"][c] for c in clf.classes_] == pytest.approx(proba.tolist(), abs=1e-6)
    assert body["file"] == "high.wav" and body["duration_s"] == pytest.approx(1.0)
    assert body["sample_rate"] == SR and "windows" not in body


def test_windows_equal_predict_table_windows(client, models, tmp_path):
    y = np.concatenate([make_clip("low", np.random.default_rng(1), dur=1.0),
                        make_clip("high", np.random.default_rng(2), dur=1.0)])
    data = wav_bytes(y)
    (tmp_path / "two.wav").write_bytes(data)
    body = predict(client, "tones", data, windows="true").json()
    table = models["tones"].predict_table([tmp_path / "two.wav"], windows=True, progress=False)
    assert len(body["windows"]) == len(table) > 2
    for w, (_, row) in zip(body["windows"], table.iterrows()):
        assert (w["start_s"], w["end_s"], w["label"]) == (row["start_s"], row["end_s"],
                                                         row["label"])
        assert w["scores"]["high"] == pytest.approx(row["high"], abs=1e-6)
    assert body["windows"][0]["label"] == "low" and body["windows"][-1]["label"] == "high"


def test_raw_pcm_answers_as_the_same_samples_in_a_wav(client):
    y = make_clip("low", np.random.default_rng(3), dur=1.0)
    pcm = np.clip(np.round(y * 32767), -32768, 32767).astype("<i2")
    raw = client.post("/v1/models/tones/predict", params={"rate": SR}, content=pcm.tobytes(),
                      headers={"content-type": "application/octet-stream"})
    assert raw.status_code == 200, raw.text
    as_wav = predict(client, "tones", wav_bytes(pcm.astype(np.float32) / 32768.0)).json()
    assert raw.json()["label"] == as_wav["label"] == "low"
    assert raw.json()["scores"] == pytest.approx(as_wav["scores"], abs=1e-4)


def test_tagger_answers_its_tags_and_thresholds(client, models, tmp_path):
    tagger = models["sounds"]
    rng = np.random.default_rng(11)
    y = 0.01 * rng.standard_normal(SR).astype(np.float32)
    y[:int(0.4 * SR)] += make_clip("low", rng, dur=0.4)
    y[int(0.5 * SR):int(0.9 * SR)] += make_clip("high", rng, dur=0.4)
    data = wav_bytes(np.clip(y, -1, 1))
    (tmp_path / "both.wav").write_bytes(data)
    body = predict(client, "sounds", data, windows="true").json()
    assert tuple(body["labels"]) == tagger.predict([tmp_path / "both.wav"])[0]
    assert {"low", "high"} <= set(body["labels"])
    proba = tagger.predict_proba([tmp_path / "both.wav"])[0]
    assert [body["scores"][c] for c in tagger.classes_] == pytest.approx(proba.tolist())
    assert body["thresholds"] == pytest.approx(dict(zip(tagger.classes_,
                                                        tagger.thresholds_.tolist())))
    assert all(isinstance(w["labels"], list) for w in body["windows"])


def test_an_ensemble_answers_whole_files(client, models, tmp_path):
    data = wav_bytes(make_clip("noise", np.random.default_rng(12), dur=1.0))
    (tmp_path / "n.wav").write_bytes(data)
    listed = client.get("/v1/models/pair").json()
    assert listed["windows"] is False and len(listed["members"]) == 2
    body = predict(client, "pair", data, windows="true").json()
    assert body["label"] == models["pair"].predict([tmp_path / "n.wav"])[0] == "noise"
    assert "windows" not in body


# -- detection and novelty -----------------------------------------------------------------------

def test_detector_events_equal_detect(client, models, tmp_path):
    rng = np.random.default_rng(42)
    y = 0.01 * rng.standard_normal(6 * SR)
    a, b = int(2.3 * SR), int(3.2 * SR)
    y[a:b] += burst("high", b - a, rng)
    data = wav_bytes(y)
    (tmp_path / "scene.wav").write_bytes(data)
    body = predict(client, "bursts", data, windows="true").json()
    table = models["bursts"].detect([tmp_path / "scene.wav"], progress=False)
    got = [(e["onset"], e["offset"], e["label"], e["score"]) for e in body["events"]]
    want = [(round(r.onset, 6), round(r.offset, 6), r.event_label, round(r.score, 6))
            for r in table.itertuples()]
    assert len(want) >= 1 and [g[2] for g in got] == [w[2] for w in want]
    assert np.allclose([[g[0], g[1], g[3]] for g in got], [[w[0], w[1], w[3]] for w in want])
    frames = body["frames"]
    fs = models["bursts"].frame_scores(str(tmp_path / "scene.wav"))
    assert frames["classes"] == list(models["bursts"].classes_)
    assert np.allclose(frames["scores"], fs.scores, atol=1e-4)


def test_novelty_score_and_flag_equal_the_python_api(client, models, tmp_path):
    det = models["hum"]
    rng = np.random.default_rng(5)
    for name, y in (("odd.wav", anomalous_clip(rng)), ("calm.wav", normal_clip(rng, 3.0))):
        data = wav_bytes(y)
        (tmp_path / name).write_bytes(data)
        body = predict(client, "hum", data, filename=name, windows="true").json()
        assert body["score"] == pytest.approx(det.score_files([tmp_path / name])[0])
        assert body["anomalous"] == bool(det.predict([tmp_path / name])[0])
        events = det.detect([tmp_path / name], progress=False)
        got = np.array([(e["onset"], e["offset"]) for e in body["events"]]).reshape(-1, 2)
        assert np.allclose(got, events[["onset", "offset"]].to_numpy(float).reshape(-1, 2))
        assert len(body["windows"]) == len(det.score_windows(str(tmp_path / name))[0])
    assert body["anomalous"] is False           # the calm clip
    odd = predict(client, "hum", wav_bytes(anomalous_clip(np.random.default_rng(9)))).json()
    assert odd["anomalous"] is True and odd["score"] > odd["threshold"]


def test_spectrogram_is_a_small_log_mel_image(client):
    body = predict(client, "tones", wav_bytes(make_clip("high", np.random.default_rng(0),
                                                        dur=1.0)), spectrogram="true").json()
    spec = body["spectrogram"]
    import base64
    img = np.frombuffer(base64.b64decode(spec["data"]), np.uint8).reshape(spec["n_mels"], -1)
    assert img.shape == (64, spec["n_frames"]) and spec["n_frames"] >= 20
    # a 2.5 kHz tone at 8 kHz: the loudest band is high up (above the middle of 64 bands)
    assert img.mean(axis=1).argmax() > 32


# -- health, docs, metrics, logs -----------------------------------------------------------------

def test_health_ready_and_openapi(client):
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["models"] == ["tones", "bursts", "hum", "sounds", "pair"]
    spec = client.get("/openapi.json").json()
    assert "/v1/models/{name}/predict" in spec["paths"]
    post = spec["paths"]["/v1/models/{name}/predict"]["post"]
    assert "multipart/form-data" in post["requestBody"]["content"]
    docs = client.get("/docs")
    assert docs.status_code == 200
    # the API docs load Swagger UI from the service, never from a CDN (they work offline)
    scripts = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert scripts and all(s.startswith("/") for s in scripts), scripts
    for s in scripts:
        assert client.get(s).status_code == 200, s


def test_metrics_count_requests_and_latency_and_the_log_has_one_line(client, caplog):
    data = wav_bytes(make_clip("noise", np.random.default_rng(4), dur=1.0))
    with caplog.at_level(logging.INFO, logger="earmark.serve"):
        assert predict(client, "tones", data).status_code == 200
        assert predict(client, "tones", b"not audio").status_code == 422
    lines = [r.getMessage() for r in caplog.records if r.name == "earmark.serve"]
    assert len(lines) == 2
    assert re.search(r"POST /v1/models/tones/predict model=tones audio_s=1\.000 "
                     r"latency_ms=\d+\.\d status=200$", lines[0]), lines[0]
    assert lines[1].endswith("status=422") and len(lines[1]) < 200
    text = client.get("/metrics").text
    count = re.search(r'earmark_requests_total\{model="tones",status="200"\} (\d+)', text)
    assert count and int(count.group(1)) >= 1
    assert re.search(r'earmark_request_errors_total\{model="tones",status="422"\} [1-9]', text)
    assert 'earmark_request_duration_seconds_bucket{model="tones",le="+Inf"}' in text
    assert "earmark_queue_rejected_total 0" in text


# -- the page is served, and holds no address elsewhere --------------------------------------------

def test_page_is_served_with_a_strict_policy_and_no_outside_address(client):
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name in ("app.js", "app.css"):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200 and len(r.text) > 500
        assert not re.search(r"https?://", r.text), name
    assert not re.search(r"(src|href)=\"https?://", page.text)
    assert client.get("/static/../app.py").status_code == 404


# -- model names -----------------------------------------------------------------------------------

def test_model_names_come_from_file_stems_and_must_differ(model_files, tmp_path):
    other = tmp_path / "tones.earmark"
    other.write_bytes(open(model_files["tones"], "rb").read())
    with pytest.raises(ParameterError, match="also named 'tones'"):
        load_models([model_files["tones"], other])
    bad = tmp_path / "bad name!.earmark"
    bad.write_bytes(b"")
    with pytest.raises(ParameterError, match="must be 1-64 letters"):
        load_models([bad])
    with pytest.raises(ParameterError):
        create_app({})


# -- the command, end to end on a real socket ------------------------------------------------

@pytest.mark.slow
def test_earmark_serve_answers_on_loopback_with_a_token(model_files, tmp_path):
    import httpx

    token_file = tmp_path / "token"
    token_file.write_text("t0k3n-" + "x" * 20 + "\n")
    port = free_port()
    cmd = [sys.executable, "-m", "earmark", "serve", str(model_files["tones"]), "--port",
           str(port), "--token-file", str(token_file), "--workers", "1"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.communicate(timeout=5)
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start within 90 s"
            time.sleep(0.3)
        data = wav_bytes(make_clip("high", np.random.default_rng(7), dur=1.0))
        url = base + "/v1/models/tones/predict"
        assert httpx.post(url, files={"file": ("a.wav", data)}, timeout=30).status_code == 401
        r = httpx.post(url, files={"file": ("a.wav", data)}, timeout=30,
                       headers={"Authorization": "Bearer " + token_file.read_text().strip()})
        assert r.status_code == 200 and r.json()["label"] == "high"
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    err = err.decode()
    assert f"on http://127.0.0.1:{port}/" in err
    assert re.search(r"POST /v1/models/tones/predict model=tones audio_s=1\.000 .*status=200",
                     err), err


@pytest.mark.parametrize("name", ["earmark.serve.limits", "earmark.serve.auth",
                                  "earmark.serve.uploads", "earmark.serve.metrics"])
def test_docstring_examples(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
