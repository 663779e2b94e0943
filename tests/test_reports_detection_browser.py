"""Open the sound event detection report in headless Chromium: it renders without console errors
or outside requests, every section is visible, every image and audio element loads (a long
recording plays its first 30 s), and the numbers shown equal the result.

Same browser and skips as test_reports_browser.py (``scripts/install_browser.sh`` installs it).
Set ``EARMARK_SCREENSHOT=/tmp/detection_report.png`` to keep a full-page screenshot.
"""

import os

import pytest

from test_reports import page_numbers
from test_reports_browser import _MEDIA_STATE, _NUMBERS, browser, checked_page  # noqa: F401
from test_reports_detection import (EXAMPLES, MISSING, built_report, expected_detection_numbers,
                                    expected_examples)

SECTIONS = ["folds", "per-class", "psd-roc", "training", "examples", "config"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    # the report test_reports_detection.py checks (written once per session); that
    # write_evaluation_report hands it to write_detection_report is checked there
    return built_report(tmp_path_factory)


def test_detection_report_in_chromium(browser, report):  # noqa: F811 (pytest fixture)
    shown = expected_examples(report["result"])
    seconds = {name: s for name, _, s, *_ in EXAMPLES}
    readable = [min(30.0, seconds[os.path.basename(p)]) for _, p in shown
                if not p.endswith(MISSING)]
    with checked_page(browser, report["path"]) as page:
        assert page.title().startswith("earmark evaluation (detection)")
        state = page.evaluate(_MEDIA_STATE)
        # fold spread, PSD-ROC, training curves + one figure per example shown (also unreadable)
        assert len(state["images"]) == 3 + len(shown)
        broken = [i["alt"] for i in state["images"] if not (i["complete"] and i["width"] > 0)]
        assert not broken, f"images that did not load: {broken}"
        bad = [a for a in state["audios"] if a["ready"] < 1 or a["error"] is not None]
        assert not bad, f"audio elements that did not load: {bad}"
        assert [round(a["duration"], 1) for a in state["audios"]] == readable
        for sid in SECTIONS:
            section = page.locator(f"section#{sid}")
            assert section.is_visible(), sid
            assert section.bounding_box()["height"] > 60, sid
        figures = page.locator('img[alt^="recording "]')
        assert figures.count() == len(shown)
        for i in range(figures.count()):
            assert figures.nth(i).is_visible() and figures.nth(i).bounding_box()["width"] > 700
        assert page.locator("[data-example]").count() == len(shown)
        assert page.locator("text=Audio not shown").count() == 1
        assert page_numbers(page.evaluate(_NUMBERS)) == \
            expected_detection_numbers(report["result"])
