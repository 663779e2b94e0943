"""Where the benchmark scripts find the bench datasets (built by ../shared/bench/build_all.sh)."""

import os
from pathlib import Path


def bench_dataset(name):
    """``$EARMARK_BENCH/datasets/<name>`` (default ``~/.cache/earmark-bench``); exits with the
    build command when it is missing."""
    root = Path(os.environ.get("EARMARK_BENCH", Path.home() / ".cache" / "earmark-bench"))
    path = root / "datasets" / name
    if not path.exists():
        raise SystemExit(f"{path} not found: build it with bash ../shared/bench/build_all.sh")
    return path
