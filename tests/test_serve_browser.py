"""The service's page in headless Chromium: upload a generated file, and the answer, the scores
and the events it shows equal the API's JSON; the picture is drawn; no request leaves
127.0.0.1; no console error.

Chromium is Debian's ``chromium`` package driven by the ``playwright`` Python package, found as
tests/test_reports_browser.py finds it; the tests skip, saying why, only where neither can be
present.
"""

import os
import threading
import time
from urllib.parse import urlsplit

import numpy as np
import pytest

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")

from earmark.serve import create_app                                      # noqa: E402
from test_reports_browser import browser  # noqa: E402,F401  (the Chromium fixture)
from test_serve import (_home, anomalous_clip, fit_classifier, fit_novelty,  # noqa: E402,F401
                        free_port, wav_bytes)
from _signals import make_clip                                            # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real uvicorn on 127.0.0.1 (a free port) in a thread, stopped after the module."""
    root = tmp_path_factory.mktemp("page")
    models = {"tones": fit_classifier(root / "c", epochs=4), "hum": fit_novelty(root / "n")}
    port = free_port()
    config = uvicorn.Config(create_app(models), host="127.0.0.1", port=port,
                            log_level="warning", access_log=False)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield {"base": f"http://127.0.0.1:{port}", "models": models, "root": root}
    srv.should_exit = True
    thread.join(15)


@pytest.fixture
def page(browser, server):  # noqa: F811
    """The page, with every request recorded and any that would leave 127.0.0.1 blocked."""
    pg = browser.new_page(viewport={"width": 1280, "height": 1000})
    outside, errors = [], []

    def route(r):
        if urlsplit(r.request.url).hostname == "127.0.0.1" or r.request.url.startswith("data:"):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    pg.route("**/*", route)
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.console_errors = errors              # a test that expects one takes it out
    pg.goto(server["base"] + "/", wait_until="load")
    _wait(pg, "() => document.querySelectorAll('#model option').length === 2")
    yield pg
    try:
        assert not outside, f"requests that would have left the machine: {outside}"
        assert not errors, errors
        if os.environ.get("EARMARK_SCREENSHOT"):
            pg.screenshot(path=os.environ["EARMARK_SCREENSHOT"], full_page=True)
    finally:
        pg.close()


def _wait(page, predicate, timeout_s=30):
    """Poll ``predicate`` (a JS function) from here: the page's CSP forbids the string eval
    that ``wait_for_function`` uses inside the page."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(predicate):
        assert time.monotonic() < deadline, f"timed out waiting for {predicate}"
        time.sleep(0.05)


def _api(server, model, path):
    import httpx

    with open(path, "rb") as f:
        r = httpx.post(f"{server['base']}/v1/models/{model}/predict",
                       params={"windows": "true", "spectrogram": "true"},
                       files={"file": (os.path.basename(path), f)}, timeout=60,
                       trust_env=False)
    assert r.status_code == 200, r.text
    return r.json()


def _upload(page, model, path):
    page.select_option("#model", model)
    page.set_input_files("#file", str(path))
    _wait(page, f"() => document.getElementById('file-name').textContent === "
                f"'{os.path.basename(path)}' && "
                "document.getElementById('answer').dataset.answer !== undefined")


def _shown_scores(page):
    return page.eval_on_selector_all(".score-row", "rows => rows.map(r => [r.dataset.label, "
                                     "Number(r.dataset.score), r.children[1].textContent])")


def _drawn_colours(page):
    """How many distinct colours the canvas holds (a blank one holds one)."""
    return page.evaluate("""() => {
      const c = document.getElementById('view');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const seen = new Set();
      for (let i = 0; i < d.length; i += 4 * 97) seen.add(d[i] << 16 | d[i + 1] << 8 | d[i + 2]);
      return seen.size;
    }""")


def test_classifier_answer_on_the_page_equals_the_api(page, server):
    path = server["root"] / "high.wav"
    path.write_bytes(wav_bytes(make_clip("high", np.random.default_rng(7), dur=1.5)))
    _upload(page, "tones", path)
    api = _api(server, "tones", path)
    assert page.get_attribute("#answer", "data-answer") == api["label"]
    assert page.text_content("#answer").strip() == api["label"]
    want = sorted(api["scores"].items(), key=lambda kv: -kv[1])
    shown = _shown_scores(page)
    assert [(lab, s) for lab, s, _ in shown] == [(lab, pytest.approx(s, abs=1e-12))
                                                for lab, s in want]
    assert [text for _, _, text in shown] == [f"{s:.3f}" for _, s in want]
    assert page.is_hidden("#events-box")
    assert "1.50 s, 8000 Hz" in page.text_content("#file-meta")
    assert _drawn_colours(page) > 20          # waveform, spectrogram and score lines


def test_novelty_events_on_the_page_equal_the_api_and_play(page, server):
    path = server["root"] / "odd.wav"
    path.write_bytes(wav_bytes(anomalous_clip(np.random.default_rng(9), seconds=4.0)))
    _upload(page, "hum", path)
    api = _api(server, "hum", path)
    assert api["anomalous"] and api["events"]
    assert page.get_attribute("#answer", "data-answer") == "true"
    assert page.text_content("#answer").strip() == "anomalous"
    rows = page.eval_on_selector_all(".event-row", "rows => rows.map(r => [Number(r.dataset."
                                     "onset), Number(r.dataset.offset), r.dataset.label, "
                                     "Number(r.dataset.score)])")
    assert rows == [[e["onset"], e["offset"], e["label"], e["score"]] for e in api["events"]]
    shown = dict((lab, s) for lab, s, _ in _shown_scores(page))
    assert shown["anomaly score"] == pytest.approx(api["score"], abs=1e-12)
    assert shown["threshold"] == pytest.approx(api["threshold"], abs=1e-12)
    page.click(".event-row button")              # plays the event; any error fails the test
    page.wait_for_timeout(200)
    assert _drawn_colours(page) > 20


def test_the_pages_error_is_the_apis_message(page, server):
    path = server["root"] / "broken.wav"
    path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio")
    page.select_option("#model", "tones")
    page.set_input_files("#file", str(path))
    _wait(page, "() => document.getElementById('status').classList.contains('error')")
    text = page.text_content("#status")
    assert text.startswith("422 broken.wav: cannot decode audio"), text
    # Chromium logs the failed response itself; that, and only that, is expected here
    expected = [e for e in page.console_errors if "status of 422" in e]
    assert len(expected) == 1
    page.console_errors.remove(expected[0])


@pytest.fixture(scope="module")
def browser_with_microphone(browser):  # noqa: F811  (skips with it where Chromium is missing)
    """Chromium with its fake microphone (a beep) granted without asking."""
    from test_reports_browser import CHROMIUM_ARGS, _chromium_path

    b = browser.browser_type.launch(
        executable_path=_chromium_path(), headless=True,
        args=CHROMIUM_ARGS + ["--use-fake-device-for-media-stream",
                              "--use-fake-ui-for-media-stream"])
    yield b
    b.close()


def test_a_recording_is_sent_as_raw_pcm_and_its_answer_shown(browser_with_microphone, server):
    import httpx

    context = browser_with_microphone.new_context(permissions=["microphone"])
    pg = context.new_page()
    sent, outside = [], []

    def route(r):
        if urlsplit(r.request.url).hostname != "127.0.0.1":
            outside.append(r.request.url)
            return r.abort()
        if r.request.method == "POST":
            sent.append((r.request.url, r.request.post_data_buffer,
                         r.request.headers.get("content-type")))
        r.continue_()

    try:
        pg.route("**/*", route)
        pg.goto(server["base"] + "/", wait_until="load")
        _wait(pg, "() => document.querySelectorAll('#model option').length === 2")
        pg.select_option("#model", "tones")
        pg.click("#record")
        _wait(pg, "() => document.getElementById('record').textContent === 'stop'")
        pg.wait_for_timeout(1500)
        pg.click("#record")
        _wait(pg, "() => document.getElementById('file-name').textContent === 'recording'")
        assert len(sent) == 1 and not outside
        url, body, ctype = sent[0]
        assert ctype == "application/octet-stream" and "rate=" in url
        assert len(body) > 2 * 8000          # over a second of 16-bit samples
        api = httpx.post(url, content=body, headers={"content-type": ctype}, timeout=60,
                         trust_env=False).json()
        assert pg.get_attribute("#answer", "data-answer") == api["label"]
        shown = _shown_scores(pg)
        assert {lab: s for lab, s, _ in shown} == pytest.approx(api["scores"], abs=1e-12)
        assert api["duration_s"] > 1.0
    finally:
        context.close()
