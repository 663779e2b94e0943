"""Shared by the benchmark scripts: where the bench datasets are (built by
../shared/bench/build_all.sh), the --threads option, and a temporary EARMARK_HOME."""

import contextlib
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


@contextlib.contextmanager
def earmark_home_at(path):
    """Set ``EARMARK_HOME`` to ``path`` inside the ``with`` block; restore it afterwards."""
    before = os.environ.get("EARMARK_HOME")
    os.environ["EARMARK_HOME"] = os.fspath(path)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("EARMARK_HOME", None)
        else:
            os.environ["EARMARK_HOME"] = before
