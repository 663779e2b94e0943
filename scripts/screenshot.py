"""Screenshot an HTML report with Debian's headless Chromium (for README.md).

    python scripts/screenshot.py benchmarks/results/drums.report.html docs/drums_report.png
"""

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main(src, dst, height=2400):
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": int(height)})
        page.goto(Path(src).resolve().as_uri())
        page.wait_for_load_state("load")
        page.screenshot(path=dst, full_page=False)
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
