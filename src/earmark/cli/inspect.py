"""earmark inspect DATA: what is in a dataset, and what is wrong with it."""

import sys

from ._options import _add_annotations_option, add_command

HELP = "what is in a dataset, and what is wrong with it"


def add_parser(subparsers):
    s = add_command(subparsers, "inspect", HELP)
    s.add_argument("data", help="dataset folder (class sub-folders or metadata.csv) or manifest")
    _add_annotations_option(s)
    s.add_argument("--folds", default=None, help="fold column for leak checks (default: fold, "
                   "when the dataset has it; a column that is not there is an error)")
    s.add_argument("--json", help="write the full inspection as JSON")
    s.add_argument("--report", help="write an HTML report")
    s.add_argument("--strict", action="store_true", help="exit 1 when problems are found "
                   "(when no audio file can be read at all, the exit status is 2 in any case)")
    s.set_defaults(func=run)
    return s


def run(args):
    from .._io import check_outputs, write_json
    from ..data import inspect_dataset, load_dataset
    from ..data.sources import dataset_inputs
    from ..data.validate import check_columns

    check_outputs({"--json": args.json, "--report": args.report},
                  inputs=dataset_inputs(args.data, annotations=args.annotations))
    if args.annotations is None:
        ds = load_dataset(args.data)
    else:
        ds = load_dataset(args.data, annotations=args.annotations)
    check_columns(ds, {"--folds": args.folds})
    folds = args.folds or "fold"
    r = inspect_dataset(ds, fold_column=folds, progress=not args.quiet)
    print(f"{ds.source}: {r['n_clips']} clips in {len(r['classes'])} classes, "
          f"{r['total_duration_s'] / 60:.1f} min of audio")
    if r.get("multi_label"):
        shown = ", ".join(f"{k}: {v}" for k, v in r["tags_per_clip"].items())
        events = f"; {r['n_events']} events" if r.get("n_events") is not None else ""
        print(f"multi-label: tags per clip {shown}; {r['n_untagged']} clips without a "
              f"tag{events}")
    print(f"{'class':<20}{'clips':>7}{'total s':>10}{'mean s':>9}{'min s':>8}{'max s':>8}")
    for lab, c in r["classes"].items():
        print(f"{lab:<20}{c['count']:>7}{c['duration_s_total']:>10.1f}"
              f"{c['duration_s_mean']:>9.2f}{c['duration_s_min']:>8.2f}{c['duration_s_max']:>8.2f}")
    if r["folds"]:
        # a multi-label clip counts once per tag in r["folds"]: count the clips themselves
        fold_of = list(ds.column(folds)) if r.get("multi_label") else None
        print("clips per fold: " + ", ".join(
            f"{f}: {fold_of.count(f) if fold_of else sum(c.values())}"
            for f, c in r["folds"].items()))
    print("sample rates: " + ", ".join(f"{k} Hz x{v}" for k, v in r["sample_rates"].items()))
    print("channels: " + ", ".join(f"{k} x{v}" for k, v in r["channels"].items()))
    silent = [f["path"] for f in r["files"] if f["silent"]]
    clipped = [f["path"] for f in r["files"] if f["clipped"]]
    print(f"silent files: {len(silent)}" + "".join(f"\n  {p}" for p in silent[:20]))
    print(f"clipped files: {len(clipped)}" + "".join(f"\n  {p}" for p in clipped[:20]))
    print(f"exact duplicates: {len(r['duplicates'])} sets, "
          f"{sum(d['leak'] for d in r['duplicates'])} across folds (leakage)")
    for d in r["duplicates"][:20]:
        print(f"  {'LEAK ' if d['leak'] else ''}{', '.join(d['paths'])}")
    print(f"listed more than once: {len(r['repeated_clips'])} clips; in more than one fold: "
          f"{len(r['path_leaks'])} files (leakage)")
    for d in r["path_leaks"][:20]:
        print(f"  LEAK {d['paths'][0]} in folds {', '.join(d['folds'])}")
    if r["problems"]:
        print(f"problems ({len(r['problems'])}):")
        for p in r["problems"]:
            print(f"  - {p}")
    else:
        print("problems: none")
    for s in r["suggestions"]:
        print(f"suggestion: {s}")
    if args.json:
        write_json(r, args.json)
        print(f"wrote {args.json}")
    if args.report:
        from ..reports import write_dataset_report
        write_dataset_report(r, args.report, progress=not args.quiet)
        print(f"wrote {args.report}")
    n_files, n_read = r["n_files"], len({f["path"] for f in r["files"]})
    if n_files and not n_read:
        from ..errors import DatasetError
        raise DatasetError(f"{ds.source}: none of the {n_files} audio file(s) could be read "
                           "(the problems above say why)")
    if n_read < n_files:
        print(f"earmark: warning: {n_files - n_read} of {n_files} audio files could not be "
              "read (listed in the problems above)", file=sys.stderr)
    return 1 if (args.strict and r["problems"]) else 0
