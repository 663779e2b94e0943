"""earmark predict MODEL SOURCE... --out TABLE: predict files, folders or CSV lists."""

import sys

from ._options import add_command

HELP = "predict files, folders or CSV lists with a model file"


def add_parser(subparsers):
    s = add_command(subparsers, "predict", HELP)
    s.add_argument("model")
    s.add_argument("sources", nargs="+")
    s.add_argument("--out", required=True, help="CSV (or .parquet) to write")
    s.add_argument("--windows", action="store_true", help="one row per analysis window")
    s.set_defaults(func=run)
    return s


def run(args):
    from ..estimators import load
    from ..predict import write_table

    clf = load(args.model)
    table = clf.predict_table(args.sources, windows=args.windows, progress=not args.quiet)
    write_table(table, args.out)
    n_err = int(table["error"].notna().sum())
    print(f"wrote {args.out}: {len(table)} rows" + (f", {n_err} with errors" if n_err else ""))
    if n_err:
        for _, row in table[table["error"].notna()].head(10).iterrows():
            print(f"  error: {row['error']}", file=sys.stderr)
    return 0
