"""Open the tagging report in headless Chromium: it renders without console errors, every section
is visible, every image and audio element loads, and the numbers shown equal the result.

Same browser and skips as test_reports_browser.py (``scripts/install_browser.sh`` installs it).
Set ``EARMARK_SCREENSHOT=/tmp/tagging_report.png`` to keep a full-page screenshot.
"""


import pytest

from earmark.reports import write_evaluation_report
from test_reports import page_numbers
from test_reports_browser import _NUMBERS, _check_media, browser, checked_page  # noqa: F401
from test_reports_tagging import MISSING, expected_tagging_numbers, expected_wrong_tags, \
    make_tagging_result

SECTIONS = ["folds", "per-class", "pr-curves", "training", "wrong-tags", "config"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("tagging_browser")
    result = make_tagging_result(str(root))
    path = root / "report.html"
    write_evaluation_report(result, path, progress=False)  # dispatches on task == "tagging"
    return {"result": result, "path": path}


def test_tagging_report_in_chromium(browser, report):  # noqa: F811 (pytest fixture)
    with checked_page(browser, report["path"]) as page:
        fp, fn = expected_wrong_tags(report["result"])
        shown = fp + fn
        readable = sum(1 for p, _, _ in shown if not p.endswith(f"clip_{MISSING:02d}.wav"))
        # fold spread, PR curves, training curves + a spectrogram per readable clip
        _check_media(page, n_images=3 + readable, n_audios=readable)
        assert page.title().startswith("earmark evaluation (tagging)")
        for sid in SECTIONS:
            section = page.locator(f"section#{sid}")
            assert section.is_visible(), sid
            assert section.bounding_box()["height"] > 60, sid
        pr = page.locator('img[alt="precision-recall curves"]')
        assert pr.is_visible() and pr.bounding_box()["width"] > 500
        assert page.locator("[data-wrong-tag]").count() == len(shown)
        assert page_numbers(page.evaluate(_NUMBERS)) == expected_tagging_numbers(report["result"])
