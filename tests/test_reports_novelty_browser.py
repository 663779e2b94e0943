"""Open the novelty report in headless Chromium: it renders without console errors or anything
spilling out sideways, every section is visible, every image and audio element loads, and the
summary numbers equal the result.

Same browser and skips as test_reports_browser.py (``scripts/install_browser.sh`` installs it).
"""

import pytest

from earmark.reports.novelty import highest_scoring, missed_anomalies, write_novelty_report
from test_reports import page_numbers
from test_reports_browser import _NUMBERS, _check_media, browser, checked_page  # noqa: F401
from test_reports_novelty import cv  # noqa: F401 (pytest fixture)

SECTIONS = ["folds", "histograms", "roc", "families", "clips", "config"]


def test_novelty_report_in_chromium(browser, cv, tmp_path):  # noqa: F811 (pytest fixtures)
    r, _ = cv
    path = tmp_path / "report.html"
    write_novelty_report(r, path, max_clips=4, progress=False)
    n_clips = len(highest_scoring(r["predictions"], r["folds"], n=4)) + \
        len(missed_anomalies(r["predictions"], r["folds"], n=4))
    with checked_page(browser, path) as page:
        # fold spread, histograms, ROC curves + a spectrogram per clip card
        _check_media(page, n_images=3 + n_clips, n_audios=n_clips)
        assert page.title().startswith("earmark evaluation (novelty)")
        for sid in SECTIONS:
            section = page.locator(f"section#{sid}")
            assert section.is_visible(), sid
        got = page_numbers(page.evaluate(_NUMBERS))
        for key in ("roc_auc", "pauc", "false_alarm_rate", "recall"):
            assert got[("metric", key)] == f"{r[key]:.3f}"
