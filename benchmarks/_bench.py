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


def add_threads_option(parser):
    """``--threads N``: torch's intra-op threads (default: torch's own choice)."""
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's)")


def setup(args):
    """Apply ``--threads`` and silence the warning grouped folds make expected (a test fold
    without a class the model predicts)."""
    import warnings

    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
