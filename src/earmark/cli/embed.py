"""earmark embed SOURCE... --model NAME --out TABLE: pretrained embeddings of every window."""

import sys

from ._options import add_command

HELP = "write the pretrained embeddings of every analysis window of files"


def add_parser(subparsers):
    s = add_command(subparsers, "embed", HELP)
    s.add_argument("sources", nargs="+", help="audio files, folders or CSV lists")
    s.add_argument("--model", default="yamnet", help="yamnet (default), birdnet, efficientnet, "
                   "classic or onnx:PATH")
    s.add_argument("--out", required=True, help="embeddings.parquet, .csv (one column per "
                   "dimension) or .npz")
    s.set_defaults(func=run)
    return s


def run(args):
    from ..embed import embed_sources, write_embeddings

    table, errors = embed_sources(args.sources, model=args.model, progress=not args.quiet)
    write_embeddings(table, args.out)
    dim = len(table["embedding"].iloc[0]) if len(table) else 0
    print(f"wrote {args.out}: {len(table)} windows of {table['path'].nunique()} files, "
          f"{dim} numbers each" + (f"; {len(errors)} files failed" if errors else ""))
    for path, message in errors[:10]:
        print(f"  error: {message}", file=sys.stderr)
    return 0
