#!/usr/bin/env bash
# Install what tests/test_reports_browser.py needs: Debian's `chromium` and the `playwright`
# Python package (which drives that browser; `playwright install` is never run, it would
# download a second browser). Idempotent: each is installed only when missing.
#
#   scripts/install_browser.sh            # uses .venv/bin/python if present, else python3
#   PYTHON=/path/to/python scripts/install_browser.sh
set -euo pipefail

cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi

if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
    echo "chromium: present ($(command -v chromium || echo /usr/bin/chromium))"
elif [ "$(id -u)" -eq 0 ]; then
    echo "chromium: installing with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    # CI runners are often a user with password-less sudo rather than root.
    echo "chromium: installing with sudo apt-get"
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
else
    echo "chromium: missing and not root; the browser tests will be skipped" >&2
fi

if "$PYTHON" -c "import playwright" >/dev/null 2>&1; then
    echo "playwright: present"
else
    echo "playwright: installing with pip into $("$PYTHON" -c 'import sys; print(sys.prefix)')"
    "$PYTHON" -m pip install --quiet playwright
fi
