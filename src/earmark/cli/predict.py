"""earmark predict MODEL SOURCE... --out TABLE: predict files, folders or CSV lists.

The output is checked before the model is loaded, and written once, atomically, at the end: a
run killed outright (SIGKILL, power loss) leaves an existing ``--out`` as it was. Interrupted with
Ctrl-C (or SIGTERM, as batch schedulers send), the rows of the files already finished are
written and the command exits with status 130, saying how many files the table holds.
"""

import contextlib
import signal
import sys
import threading

from ._options import add_command

HELP = "predict files, folders or CSV lists with a model file"
DESCRIPTION = (HELP + ". Files that cannot be read get a row with their error and the run goes "
               "on (exit 0, with a warning counting them); when no file can be read, or the "
               "sources hold no audio, nothing is written and the exit status is 2. Ctrl-C or "
               "SIGTERM writes the rows of the files finished so far and exits with status "
               "130; a run killed outright leaves an existing --out unchanged.")
# parts of the table are joined every so many files: one small DataFrame per file would cost
# far more memory than the rows themselves on a long run
_JOIN_EVERY = 256


def add_parser(subparsers):
    s = add_command(subparsers, "predict", HELP)
    s.description = DESCRIPTION
    s.add_argument("model")
    s.add_argument("sources", nargs="+")
    s.add_argument("--out", required=True, help="CSV (or .parquet) to write")
    s.add_argument("--windows", action="store_true", help="one row per analysis window")
    s.add_argument("--false-alarms", default=None, metavar="BUDGET", help="novelty models: "
                   "flag at this false-alarm budget ('1%%', '2/h') instead of the stored one")
    s.add_argument("--unknown", default=None, metavar="SHARE", help="classifiers trained "
                   "with --unknown: reject at this share of held-out known-class clips ('10%%') "
                   "instead of the stored one")
    s.set_defaults(func=run)
    return s


def run(args):
    from .._io import check_output_path
    from ..estimators import load
    from ..predict import write_table

    items = expand_inputs(args.sources)
    inputs = [(args.model, "the model file")] + [(s, "an input") for s in args.sources]
    check_output_path(args.out, inputs=inputs + [(i.path, "an input") for i in items],
                      owner="--out")
    clf = load(args.model)
    if args.false_alarms is not None:       # moves the thresholds; nothing is refitted
        if not hasattr(clf, "set_false_alarms"):
            raise SystemExit("earmark predict: --false-alarms applies to novelty models only")
        clf.set_false_alarms(args.false_alarms)
    if args.unknown is not None:            # moves the rejection threshold; nothing is refitted
        if getattr(clf, "rejector_", None) is None:
            raise SystemExit("earmark predict: --unknown applies to classifiers trained with "
                             "--unknown only")
        clf.set_unknown(args.unknown)
    table, done = _predict(clf, items, windows=args.windows, quiet=args.quiet)
    interrupted = done < len(items)
    if interrupted and not len(table):
        print(f"earmark: interrupted before any file was finished: {args.out} was not written",
              file=sys.stderr)
        return 130
    errors = table["error"].dropna().tolist()
    if not interrupted and len(errors) == len(items):
        from ..errors import DatasetError
        raise DatasetError(f"{_shown(args.sources)}: none of the {len(items)} file(s) could be "
                           f"predicted; {args.out} was not written", errors)
    write_table(table, args.out)
    if interrupted:
        print(f"earmark: interrupted after {done} of {len(items)} files: wrote the rows of "
              f"those {done} to {args.out} ({len(table)} rows); the other files are not in it",
              file=sys.stderr)
        return 130
    print(f"wrote {args.out}: {len(table)} rows" +
          (f", {len(errors)} with errors" if errors else ""))
    for message in errors[:10]:
        print(f"  error: {message}", file=sys.stderr)
    if errors:
        print(f"earmark: warning: {len(errors)} of {len(items)} files could not be predicted; "
              f"their rows in {args.out} hold the error", file=sys.stderr)
    return 0


def _shown(sources, limit=3):
    more = f" and {len(sources) - limit} more" if len(sources) > limit else ""
    return ", ".join(sources[:limit]) + more


def expand_inputs(sources):
    """The files (and regions) to predict; an error when there are none, a warning for each
    folder without audio."""
    from ..audio import AUDIO_EXTENSIONS
    from ..data.sources import expand_sources
    from ..errors import DatasetError

    items, empty = [], []
    for source in sources:
        found = expand_sources([source])
        if not found:
            empty.append(source)
        items += found
    kinds = ", ".join(AUDIO_EXTENSIONS)
    if not items:
        raise DatasetError(f"{_shown(sources)}: no audio files found (folders are searched "
                           f"recursively for {kinds}; a CSV list needs rows)")
    for source in empty:
        print(f"earmark: warning: {source}: no audio files found in it", file=sys.stderr)
    return items


def _predict(clf, items, *, windows, quiet):
    """The prediction table of ``items`` and how many were finished (fewer when interrupted)."""
    import pandas as pd
    from tqdm.auto import tqdm

    joined, pending, done = [], [], 0
    with _sigterm_as_interrupt():
        try:
            for item in tqdm(items, desc="predicting", unit="file", disable=quiet):
                pending.append(clf.predict_table([item], windows=windows, progress=False))
                done += 1
                if len(pending) >= _JOIN_EVERY:
                    joined.append(pd.concat(pending, ignore_index=True))
                    pending = []
        except KeyboardInterrupt:
            pass
    parts = joined + pending
    if not parts:
        return pd.DataFrame(), done
    table = pd.concat(parts, ignore_index=True)
    # the columns of one table of all files: regions' start_s/end_s (when any) after the path
    first = [c for c in ("path", "start_s", "end_s") if c in table.columns]
    return table[first + [c for c in parts[0].columns if c not in first]], done


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM stops the run as Ctrl-C does (only the main thread can take signals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)

