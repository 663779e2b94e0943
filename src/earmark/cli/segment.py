"""earmark segment MODEL SOURCE... --out DIR: each detected event as its own audio file.

Detects the events of the sources (as ``earmark detect``), then writes every event (with
``--padding`` seconds either side) to ``DIR/<label>/<recording>_<onset>-<offset>.wav`` and a
``DIR/manifest.csv`` (path, label, source, onset, offset, score, group) that ``earmark train``
reads back: review the clips, delete or move the wrong ones, and train on the rest.
"""

import sys

from ._options import add_command

HELP = "cut each detected event out as an audio file, with a manifest earmark train reads"


def add_parser(subparsers):
    s = add_command(subparsers, "segment", HELP)
    s.add_argument("model")
    s.add_argument("sources", nargs="+")
    s.add_argument("--out", required=True, help="folder for the event clips and manifest.csv")
    s.add_argument("--padding", type=float, default=0.0, metavar="SECONDS",
                   help="audio kept before and after each event (clipped to the file)")
    s.add_argument("--min-score", type=float, default=0.0,
                   help="only events whose score reaches this")
    s.set_defaults(func=run)
    return s


def run(args):
    from .._io import check_output_path
    from .._validation import check_number
    from ..errors import DatasetError, ParameterError
    from ..estimators import load
    from ..inference.segment import segment_events
    from .predict import expand_inputs

    check_number(args.padding, "padding", "earmark segment", low=0, high=600, closed="left")
    check_number(args.min_score, "min_score", "earmark segment", low=0, high=1, closed="both")
    items = expand_inputs(args.sources)
    inputs = [(args.model, "the model file")] + [(i.path, "an input") for i in items]
    check_output_path(args.out, inputs=inputs, owner="--out", kind="folder")
    det = load(args.model)
    if getattr(det, "task", None) != "detection":
        raise ParameterError(f"{args.model}: a {det.kind} model, not a detector (train one with "
                             "earmark train DATA --task detection)")
    table = det.detect(items, progress=not args.quiet)
    errors = table["error"].dropna().tolist()
    if errors and len(errors) == len(items):
        raise DatasetError(f"none of the {len(items)} file(s) could be read; nothing was "
                           "written", errors)
    events = table[table["error"].isna() & (table["score"] >= args.min_score)]
    manifest = segment_events(events.drop(columns="error"), args.out, padding_s=args.padding,
                              progress=not args.quiet)
    failed = manifest["error"].fillna("").astype(bool).sum() if "error" in manifest else 0
    print(f"wrote {len(manifest) - failed} event clips and {args.out}/manifest.csv "
          f"(train on them with: earmark train {args.out}/manifest.csv --out MODEL)")
    for message in errors[:10]:
        print(f"  error: {message}", file=sys.stderr)
    if errors or failed:
        print(f"earmark: warning: {len(errors)} file(s) could not be read, {failed} event(s) "
              "could not be cut", file=sys.stderr)
    return 0
