"""earmark embed SOURCE... --model NAME --out TABLE: pretrained embeddings of every window.

The output is checked before the embedder is loaded and written once, atomically, at the end:
an interrupted run writes nothing and leaves an existing ``--out`` as it was.
"""

import sys

from ._options import add_command

HELP = "write the pretrained embeddings of every analysis window of files"


def add_parser(subparsers):
    s = add_command(subparsers, "embed", HELP)
    s.description = (HELP + ". Files that cannot be read are listed and the others embedded "
                     "(exit 0, with a warning counting them); when no file can be read, or the "
                     "sources hold no audio, nothing is written and the exit status is 2.")
    s.add_argument("sources", nargs="+", help="audio files, folders or CSV lists")
    s.add_argument("--model", default="yamnet", help="yamnet (default), birdnet, efficientnet, "
                   "classic or onnx:PATH")
    s.add_argument("--out", required=True, help="embeddings.parquet, .csv (one column per "
                   "dimension) or .npz")
    s.set_defaults(func=run)
    return s


def run(args):
    from .._io import check_output_path
    from ..embed import FORMATS, embed_sources, write_embeddings
    from ..errors import DatasetError
    from .predict import expand_inputs

    items = expand_inputs(args.sources)
    inputs = [(s, "an input") for s in args.sources] + [(i.path, "an input") for i in items]
    if args.model.startswith("onnx:"):
        inputs.append((args.model[len("onnx:"):], "the ONNX model"))
    check_output_path(args.out, inputs=inputs, owner="--out", suffixes=FORMATS)
    table, errors = embed_sources(items, model=args.model, progress=not args.quiet)
    if len(errors) == len(items):
        raise DatasetError(f"{', '.join(args.sources[:3])}"
                           f"{' and more' if len(args.sources) > 3 else ''}: none of the "
                           f"{len(items)} file(s) could be embedded; {args.out} was not written",
                           [message for _, message in errors])
    write_embeddings(table, args.out)
    dim = len(table["embedding"].iloc[0]) if len(table) else 0
    print(f"wrote {args.out}: {len(table)} windows of {table['path'].nunique()} files, "
          f"{dim} numbers each" + (f"; {len(errors)} files failed" if errors else ""))
    for path, message in errors[:10]:
        print(f"  error: {message}", file=sys.stderr)
    if errors:
        print(f"earmark: warning: {len(errors)} of {len(items)} files could not be embedded "
              "(listed above)", file=sys.stderr)
    return 0
