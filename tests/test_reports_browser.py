"""Open both reports in headless Chromium: every image and audio element loads, and the numbers the
page shows equal the JSON results.

Chromium is Debian's ``chromium`` package driven by the ``playwright`` Python package
(``scripts/install_browser.sh`` installs both). The tests skip, saying why, only where neither
can be present.
"""

import contextlib
import importlib.util
import os
import shutil

import pytest

from earmark.reports import write_dataset_report, write_evaluation_report
from test_reports import (dataset_page_numbers, expected_dataset_numbers, expected_page_numbers,
                          make_audio_dataset, make_inspection, make_result, page_numbers)

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def _chromium_path():
    for candidate in (os.environ.get("EARMARK_CHROMIUM"), shutil.which("chromium"),
                      "/usr/bin/chromium", shutil.which("chromium-browser")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def browser():
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("the 'playwright' Python package is not installed; run "
                    "scripts/install_browser.sh")
    exe = _chromium_path()
    if exe is None:
        pytest.skip("no Chromium binary (Debian package 'chromium') found; run "
                    "scripts/install_browser.sh as root")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    rows = make_audio_dataset(str(root / "data"))
    inspection = make_inspection(str(root / "data"), rows)
    result = make_result(rows)
    eval_path, data_path = root / "report.html", root / "dataset.html"
    write_evaluation_report(result, eval_path, progress=False)
    write_dataset_report(inspection, data_path, progress=False)
    return {"result": result, "inspection": inspection, "eval": eval_path, "dataset": data_path}


# Waits until every <audio> has its metadata or an error (bounded), then reports each element.
_MEDIA_STATE = """async () => {
  const audios = Array.from(document.querySelectorAll('audio'));
  await Promise.all(audios.map(a => (a.readyState >= 1 || a.error) ? null : new Promise(done => {
    a.addEventListener('loadedmetadata', done, {once: true});
    a.addEventListener('error', done, {once: true});
    setTimeout(done, 10000);
  })));
  return {
    images: Array.from(document.images).map(i => ({complete: i.complete, width: i.naturalWidth,
                                                  alt: i.alt})),
    audios: audios.map(a => ({ready: a.readyState, error: a.error ? a.error.code : null,
                              duration: a.duration})),
  };
}"""

_NUMBERS = """() => Array.from(document.querySelectorAll(
    '[data-metric], [data-cm], [data-stat]')).map(e => {
  const attrs = {};
  for (const a of e.attributes) attrs[a.name] = a.value;
  return [attrs, e.textContent];
})"""


def _open(browser, path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    failed = []
    page.on("requestfailed", lambda r: failed.append(r.url[:80]))
    external = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(
        ("file:", "data:")) else None)
    page.goto(path.as_uri(), wait_until="load")
    return page, failed, external


@contextlib.contextmanager
def checked_page(browser, path):
    """The report at ``path`` in a laptop-wide page, reloaded with console-error listeners;
    after the ``with`` body: nothing spills out sideways, no console error, no failed or
    external request, a screenshot to ``$EARMARK_SCREENSHOT`` if set; the page is closed."""
    page, failed, external = _open(browser, path)
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.reload(wait_until="load")  # again, now that the listeners are attached
        yield page
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        assert not errors, errors
        assert not failed and not external
        if os.environ.get("EARMARK_SCREENSHOT"):
            page.screenshot(path=os.environ["EARMARK_SCREENSHOT"], full_page=True)
    finally:
        page.close()


def _check_media(page, *, n_images, n_audios):
    state = page.evaluate(_MEDIA_STATE)
    assert len(state["images"]) == n_images
    assert len(state["audios"]) == n_audios
    broken = [i["alt"] for i in state["images"] if not (i["complete"] and i["width"] > 0)]
    assert not broken, f"images that did not load: {broken}"
    bad = [a for a in state["audios"] if a["ready"] < 1 or a["error"] is not None]
    assert not bad, f"audio elements that did not load: {bad}"
    assert all(0 < a["duration"] <= 4.01 for a in state["audios"])


def test_evaluation_report_in_chromium(browser, reports):
    page, failed, external = _open(browser, reports["eval"])
    try:
        result = reports["result"]
        n_mistakes = min(12, sum(p["label"] != p["predicted"] for p in result["predictions"]))
        _check_media(page, n_images=5 + n_mistakes, n_audios=n_mistakes)
        assert page.title().startswith("earmark evaluation")
        assert page_numbers(page.evaluate(_NUMBERS)) == expected_page_numbers(result)
        assert not failed and not external
    finally:
        page.close()


def test_dataset_report_in_chromium(browser, reports):
    page, failed, external = _open(browser, reports["dataset"])
    try:
        _check_media(page, n_images=7, n_audios=3)
        assert page.title().startswith("earmark dataset")
        got = dataset_page_numbers(page.evaluate(_NUMBERS))
        assert got == expected_dataset_numbers(reports["inspection"])
        assert not failed and not external
    finally:
        page.close()
