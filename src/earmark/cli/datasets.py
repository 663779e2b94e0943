"""earmark datasets fetch drums: build an example dataset (see :mod:`earmark.examples`)."""

from ._options import add_command

HELP = "fetch example datasets"


def add_parser(subparsers):
    s = add_command(subparsers, "datasets", HELP)
    s.add_argument("action", choices=("fetch",))
    s.add_argument("name", choices=("drums",))
    s.add_argument("--root", default=None, help="where to build it (default under "
                   "$EARMARK_HOME)")
    s.set_defaults(func=run)
    return s


def run(args):
    from ..examples import fetch_drums

    root = fetch_drums(args.root, progress=not args.quiet)
    print(root)
    return 0
