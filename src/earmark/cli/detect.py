"""earmark detect MODEL SOURCE... --out EVENTS: every sound event of files, folders or lists.

Each recording is scored in blocks (memory bounded whatever its length), its frame scores
stitched and post-processed into events. The events go to one CSV or Parquet table, Audacity
label files or Raven selection tables; ``--scores DIR`` also keeps the frame scores of each
recording in the layout of ``sed_scores_eval``. Everything is written atomically at the end; a
file that cannot be read gets an error line and the run goes on.
"""

import sys

from ._options import add_command

HELP = "detect sound events (onset, offset, class, score) in recordings with a detector model"


def add_parser(subparsers):
    from ..inference.outputs import EVENT_FORMATS

    s = add_command(subparsers, "detect", HELP)
    s.add_argument("model")
    s.add_argument("sources", nargs="+")
    s.add_argument("--out", required=True, help="events: a CSV or .parquet table (filename, "
                   "onset, offset, event_label, score); for --format audacity a folder of label "
                   "files; for --format raven a selection table (a folder with --per-recording)")
    s.add_argument("--format", default=None, choices=EVENT_FORMATS,
                   help="default: from --out's ending (.parquet: parquet, else csv)")
    s.add_argument("--per-recording", action="store_true",
                   help="raven: one selection table per recording in folder --out")
    s.add_argument("--scores", metavar="DIR", default=None,
                   help="also write each recording's frame scores to DIR/<name>.tsv "
                   "(onset, offset, one column per class: the sed_scores_eval layout)")
    s.add_argument("--block-s", type=float, default=60.0, help="seconds of audio read at a time")
    s.set_defaults(func=run)
    return s


def _format(args):
    if args.format:
        return args.format
    return "parquet" if args.out.lower().endswith(".parquet") else "csv"


def run(args):
    from .._io import check_output_path
    from ..errors import ParameterError
    from ..estimators import load
    from ..inference.outputs import events_table, write_events, write_frame_scores
    from .predict import expand_inputs

    fmt = _format(args)
    if args.per_recording and fmt != "raven":
        raise ParameterError("--per-recording applies to --format raven only")
    items = expand_inputs(args.sources)
    inputs = [(args.model, "the model file")] + [(i.path, "an input") for i in items]
    folder = fmt == "audacity" or args.per_recording
    check_output_path(args.out, inputs=inputs, owner="--out",
                      kind="folder" if folder else "file")
    if args.scores:
        check_output_path(args.scores, inputs=inputs, owner="--scores", kind="folder")
    det = load(args.model)
    if getattr(det, "task", None) != "detection":
        raise ParameterError(f"{args.model}: a {det.kind} model, not a detector (train one with "
                             "earmark train DATA --task detection)")
    from tqdm.auto import tqdm
    events, errors, names = {}, [], {}
    for path, fs, found, error in tqdm(det.iter_detect(items, block_s=args.block_s),
                                       total=len(items), desc="detecting", unit="file",
                                       disable=args.quiet):
        if error is not None:
            errors.append(error)
            continue
        events[path] = found
        if args.scores:
            stem = _unique(names, path)
            write_frame_scores(fs.scores, args.scores, stem, frame_step_s=fs.frame_step_s,
                               classes=list(det.classes_))
    if errors and len(errors) == len(items):
        from ..errors import DatasetError
        raise DatasetError(f"none of the {len(items)} file(s) could be read; {args.out} was "
                           "not written", errors)
    table = events_table(events)
    written = write_events(table, args.out, format=fmt,
                           per_recording=True if args.per_recording else None)
    n = len(table)
    where = args.out if len(written) <= 1 else f"{len(written)} files in {args.out}"
    print(f"wrote {where}: {n} events in {len(events)} recordings" +
          (f"; frame scores in {args.scores}" if args.scores else ""))
    for message in errors[:10]:
        print(f"  error: {message}", file=sys.stderr)
    if errors:
        print(f"earmark: warning: {len(errors)} of {len(items)} files could not be read",
              file=sys.stderr)
    return 0


def _unique(names, path):
    from pathlib import Path
    stem = Path(path).stem
    n = names.get(stem, 0)
    names[stem] = n + 1
    return stem if n == 0 else f"{stem}_{n + 1}"
