"""The service is safe by default: bearer tokens on every model endpoint, size and duration
limits (413), hostile audio answered 4xx with earmark's message, no path from a request on the
file system, uploads removed, a bounded queue (503), and a fuzz run with no 5xx."""

import os
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
hypothesis = pytest.importorskip("hypothesis")

from earmark.errors import ParameterError                        # noqa: E402
from earmark.serve import ServeLimits, create_app, read_token    # noqa: E402
# _home: each module's EARMARK_HOME of its own (an autouse fixture, shared by import)
from test_serve import _home, fit_novelty, normal_clip, wav_bytes  # noqa: E402,F401

with warnings.catch_warnings():     # starlette's note that its TestClient will move to httpx2
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient                    # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from serve_fuzz import fuzz_requests, send, wav_header           # noqa: E402

TOKEN = "test-token-" + "k" * 24
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LIMITS = ServeLimits(max_upload_mb=1, max_duration_s=5, workers=1, queue=1)


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    return fit_novelty(tmp_path_factory.mktemp("secure"), n=16)


@pytest.fixture(scope="module")
def app(detector):
    return create_app({"hum": detector}, token=TOKEN, limits=LIMITS)


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def good_wav():
    return wav_bytes(normal_clip(np.random.default_rng(0)))


def post(client, data, *, filename="clip.wav", headers=AUTH, **params):
    return client.post("/v1/models/hum/predict", params=params, headers=headers,
                       files={"file": (filename, data, "audio/wav")})


def _private_files(app):
    return os.listdir(app.state.folder())


# -- authentication ----------------------------------------------------------------------------

def test_every_model_endpoint_answers_401_without_the_token_and_200_with_it(client, app,
                                                                            good_wav):
    protected = sorted({r.path for r in app.routes
                        if r.path.startswith("/v1/") or r.path == "/metrics"})
    assert protected == ["/metrics", "/v1/models", "/v1/models/{name}",
                         "/v1/models/{name}/predict"]
    wrong = {"Authorization": "Bearer " + TOKEN[:-1] + "x"}
    basic = {"Authorization": "Basic " + TOKEN}
    for path in protected:
        url = path.replace("{name}", "hum")
        for headers in ({}, wrong, basic, {"Authorization": TOKEN}):
            if url.endswith("/predict"):
                r = post(client, good_wav, headers=headers)
            else:
                r = client.get(url, headers=headers)
            assert r.status_code == 401, (url, headers, r.status_code)
            assert r.headers["www-authenticate"] == "Bearer"
        ok = post(client, good_wav) if url.endswith("/predict") else client.get(url,
                                                                                headers=AUTH)
        assert ok.status_code == 200, (url, ok.text)
    # an unknown model is not told apart from a known one without the token
    assert client.get("/v1/models/nope").status_code == 401
    for path in ("/health", "/ready", "/"):
        assert client.get(path).status_code == 200


def test_the_token_comes_from_a_file_or_the_environment(tmp_path):
    f = tmp_path / "token"
    f.write_text(TOKEN + "\n")
    assert read_token(f, environ={}) == TOKEN
    assert read_token(None, environ={"EARMARK_SERVE_TOKEN": TOKEN}) == TOKEN
    assert read_token(None, environ={}) is None
    f.write_text("short\n")
    with pytest.raises(ParameterError, match="at least 16 characters"):
        read_token(f)
    with pytest.raises(ParameterError, match="cannot read the token file"):
        read_token(tmp_path / "missing")


# -- limits --------------------------------------------------------------------------------------

def test_uploads_over_the_size_limit_are_413_whatever_content_length_says(client, app):
    big = os.urandom(int(1.2 * 2 ** 20))
    r = post(client, big)
    assert r.status_code == 413 and "limit is 1 MB" in r.json()["detail"]

    def chunks():                       # streamed without Content-Length
        for _ in range(40):
            yield b"\0" * 65536

    r = client.post("/v1/models/hum/predict", params={"rate": 8000}, content=chunks(),
                    headers={**AUTH, "content-type": "application/octet-stream"})
    assert r.status_code == 413
    assert _private_files(app) == []


def test_audio_over_the_duration_limit_is_413_from_its_header(client):
    r = post(client, wav_bytes(np.zeros(8000 * 6, np.float32)))
    assert r.status_code == 413
    assert r.json()["detail"] == ("clip.wav: audio too long: its header says 6.0 s; the limit "
                                  "is 5 s (--max-duration-s)")


@pytest.mark.parametrize("data, status, message", [
    (b"", 422, "clip.wav: the upload is empty (0 bytes)"),
    (b"RIFF\x00\x00\x00\x00WAVEjunk", 422, "clip.wav: cannot decode audio"),
    (os.urandom(3000), 422, "clip.wav: cannot decode audio"),
    (wav_bytes(np.full(800, np.nan), subtype="FLOAT"), 422,
     "clip.wav: audio contains NaN or infinite samples"),
    (wav_bytes(np.full(800, 1e9), subtype="FLOAT"), 422, "clip.wav: sample values reach 1e+09"),
    (wav_header(rate=2 ** 31 - 1, channels=1, bits=16, data_len=1600) + b"\0" * 1600, 422,
     "clip.wav: sample rate 2147483647 Hz is outside"),
    (wav_header(rate=8000, channels=999, bits=16, data_len=1600) + b"\0" * 1600, 422,
     "clip.wav: 999 channels"),
    (wav_header(rate=8000, channels=1, bits=16, data_len=0), 422, "clip.wav: no audio samples"),
])
def test_hostile_audio_is_4xx_with_earmarks_message(client, app, data, status, message):
    r = post(client, data)
    assert r.status_code == status and r.json()["detail"].startswith(message), r.text
    assert app.state.folder() not in r.text          # the private path never shows
    assert _private_files(app) == []


def test_a_header_claiming_a_gigabyte_costs_nothing(client):
    data = wav_header(rate=8000, channels=1, bits=16, data_len=2 ** 30) + b"\0" * 16000
    r = post(client, data)
    # libsndfile reads the data that is there (1 s); a header may not make the server allocate
    assert r.status_code == 200 and r.json()["duration_s"] == pytest.approx(1.0)


@pytest.mark.parametrize("content_type, body, params, status, message", [
    ("text/plain", b"hello", {}, 415, "content type 'text/plain' is not accepted"),
    ("multipart/form-data", b"x", {}, 400, "multipart/form-data without a boundary"),
    ("application/octet-stream", b"\0" * 100, {}, 422, "a raw PCM body needs"),
    ("application/octet-stream", b"\0" * 3, {"rate": 8000}, 422, "a raw PCM body of 3 bytes"),
    ("application/octet-stream", b"\0" * 100, {"rate": 10 ** 9}, 422,
     "rate=1000000000: the sample rate must be in [1000, 384000] Hz"),
    ("application/octet-stream", b"\0" * 100, {"rate": 8000, "channels": 64}, 422,
     "channels=64"),
])
def test_wrong_content_types_and_raw_parameters_are_4xx(client, content_type, body, params,
                                                        status, message):
    r = client.post("/v1/models/hum/predict", params=params, content=body,
                    headers={**AUTH, "content-type": content_type})
    assert r.status_code == status and message in r.json()["detail"], r.text


def test_a_truncated_multipart_body_or_a_missing_field_is_400(client, good_wav):
    cut = (b"--abc\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\n"
           + good_wav[:100])
    r = client.post("/v1/models/hum/predict", content=cut,
                    headers={**AUTH, "content-type": "multipart/form-data; boundary=abc"})
    assert r.status_code == 400 and "ended early" in r.json()["detail"]
    r = client.post("/v1/models/hum/predict", headers=AUTH,
                    files={"audio": ("a.wav", good_wav, "audio/wav")})
    assert r.status_code == 400 and "multipart field 'file'" in r.json()["detail"]


def test_no_path_from_the_request_touches_the_file_system(client, app, tmp_path, good_wav):
    target = tmp_path / "planted.wav"
    for name in (str(target), "../../" + target.name, "..\\..\\x.wav", "/etc/passwd"):
        r = post(client, good_wav, filename=name)
        assert r.status_code == 200
        assert "/" not in r.json()["file"] and "\\" not in r.json()["file"]
    assert not target.exists() and _private_files(app) == []
    r = post(client, b"junk", filename="../../secret/x.wav")
    assert r.status_code == 422 and r.json()["detail"].startswith("x.wav: ")
    for name in ("../hum", "..%2Fhum", "hum%00"):
        assert client.get(f"/v1/models/{name}", headers=AUTH).status_code == 404


# -- the queue -------------------------------------------------------------------------------------

class _Held:
    """The real detector, whose scoring waits until the test lets it go (to fill the queue)."""

    def __init__(self, det):
        self._det = det
        self.release = threading.Event()
        self.started = threading.Event()

    def __getattr__(self, name):
        return getattr(self._det, name)

    def predict_table(self, *args, **kwargs):
        self.started.set()
        assert self.release.wait(30)
        return self._det.predict_table(*args, **kwargs)


def test_a_full_queue_answers_503_with_retry_after_and_the_rest_finish(detector, good_wav):
    held = _Held(detector)
    app = create_app({"hum": held}, limits=ServeLimits(workers=1, queue=1))
    results = []
    with TestClient(app) as c:
        def one():
            results.append(c.post("/v1/models/hum/predict",
                                  files={"file": ("a.wav", good_wav)}).status_code)

        threads = [threading.Thread(target=one) for _ in range(2)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while app.state.admission.in_flight < 2:     # one scoring, one queued
            assert time.monotonic() < deadline
            time.sleep(0.01)
        busy = c.post("/v1/models/hum/predict", files={"file": ("a.wav", good_wav)})
        assert c.get("/ready").status_code == 503
        held.release.set()
        for t in threads:
            t.join(30)
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
        assert "busy" in busy.json()["detail"]
        assert sorted(results) == [200, 200]
        assert c.get("/ready").status_code == 200
        assert "earmark_queue_rejected_total 1" in c.get("/metrics").text
        assert os.listdir(app.state.folder()) == []


# -- fuzz ------------------------------------------------------------------------------------------

def test_fuzzed_uploads_never_give_a_5xx_and_leave_no_file(client, app):
    from hypothesis import HealthCheck, given, settings

    before = set(os.listdir(tempfile.gettempdir()))
    seen = set()

    @settings(max_examples=150, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=fuzz_requests())
    def one(case):
        r = send(client, "/v1/models/hum/predict", case, headers=AUTH)
        assert r.status_code < 500, (case[0], case[1][:60], r.text)
        assert isinstance(r.json()["detail" if r.status_code >= 400 else "score"], (str, float))
        seen.add(r.status_code)

    one()
    assert {200, 415, 422} <= seen
    assert _private_files(app) == []
    new = {n for n in set(os.listdir(tempfile.gettempdir())) - before
           if not n.startswith("pytest")}
    assert not new, new
    assert client.get("/health").status_code == 200
