"""earmark batch predict|detect|embed|status: whole archives on a Dask cluster, resumable.

A thin face over :func:`earmark.batch.run_batch` and :func:`earmark.batch.job_status`. Exit
status: 0 all inputs done; 3 some partitions failed after their retries (the others are
committed; run again to retry them); 130 interrupted (Ctrl-C, SIGTERM: the committed partitions
stay); 2 a user error.
"""

import sys

from ._options import add_command

HELP = "predict, detect or embed a whole archive on a Dask cluster (resumable)"
#: Exit status when some partitions failed after their retries.
EXIT_INCOMPLETE = 3


def add_parser(subparsers):
    s = subparsers.add_parser("batch", help=HELP, description=HELP + ". Outputs are Parquet "
                              "datasets (one part file per partition); run the same command "
                              "again to resume a job that stopped.")
    sub = s.add_subparsers(dest="batch_command", required=True, metavar="COMMAND")
    for name, what in (("predict", "predict files with a model file (as earmark predict)"),
                       ("detect", "detect events with a detector model (as earmark detect)"),
                       ("embed", "embed every window with a pretrained embedder (as earmark "
                        "embed)")):
        p = add_command(sub, name, what)
        if name != "embed":
            p.add_argument("model", help="the model file (read by every worker)")
        p.add_argument("sources", nargs="+", help="audio files, folders or CSV lists")
        if name == "embed":
            p.add_argument("--model", default="yamnet", help="yamnet (default), birdnet, "
                           "efficientnet, classic or onnx:PATH (installed on every worker)")
        p.add_argument("--out", required=True, help="output folder: part-NNNNN.parquet files "
                       "(read it with pandas.read_parquet, DuckDB, Polars, Dask) and the job's "
                       "state in _earmark/")
        if name == "predict":
            p.add_argument("--windows", action="store_true", help="one row per analysis window")
            p.add_argument("--false-alarms", default=None, metavar="BUDGET",
                           help="novelty models: flag at this false-alarm budget")
            p.add_argument("--unknown", default=None, metavar="SHARE",
                           help="classifiers trained with --unknown: reject at this share")
        if name == "detect":
            p.add_argument("--block-s", type=float, default=60.0,
                           help="seconds of audio read at a time")
        g = p.add_argument_group("cluster")
        g.add_argument("--workers", type=int, default=None, help="worker processes of the "
                       "local cluster (default: one per core)")
        g.add_argument("--threads-per-worker", type=int, default=1,
                       help="threads of each local worker (default 1)")
        g.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="use a running Dask cluster (tcp://host:8786) instead of a local "
                       "one; its workers need read access to the audio and to --out")
        g.add_argument("--partition-minutes", type=float, default=None,
                       help="minutes of audio per task (default: about 8 tasks per worker "
                       "thread, 0.5 to 10 minutes)")
        g.add_argument("--retries", type=int, default=3, help="times a partition is retried "
                       "after an error or its worker's death (default 3)")
        g.add_argument("--restart", action="store_true", help="delete the results of another "
                       "job (other model or settings) in --out and start over")
        p.set_defaults(func=run, batch_command=name)
    st = add_command(sub, "status", "done / failed / to do, throughput and time left of a job")
    st.add_argument("out", help="the job's output folder")
    st.add_argument("--json", action="store_true", help="print the status as JSON")
    st.set_defaults(func=run_status, batch_command="status")
    return s


def run(args):
    from ..batch import run_batch
    from .predict import _sigterm_as_interrupt

    minutes = args.partition_minutes
    if minutes is not None and not minutes > 0:
        raise SystemExit("earmark batch: --partition-minutes must be > 0")
    extra = {}
    if args.batch_command == "predict":
        extra = dict(windows=args.windows, false_alarms=args.false_alarms,
                     unknown=args.unknown)
    elif args.batch_command == "detect":
        extra = dict(block_s=args.block_s)
    with _sigterm_as_interrupt():
        r = run_batch(args.batch_command, args.sources, args.out, model=args.model,
                      workers=args.workers, threads_per_worker=args.threads_per_worker,
                      scheduler=args.scheduler,
                      partition_s=None if minutes is None else minutes * 60.0,
                      restart=args.restart, retries=args.retries, progress=not args.quiet,
                      quiet=args.quiet, **extra)
    total = r.done_before + r.processed
    rate = f", {r.audio_hours_per_hour:.0f} audio-h/h" if r.processed else ""
    line = (f"{args.out}: {total} of {r.inputs} inputs done ({r.processed} this run, "
            f"{r.done_before} before); {r.rows} rows written this run"
            + (f", {r.errors} with errors" if r.errors else "") + rate)
    if r.interrupted:
        print(f"earmark: interrupted: {line}; the committed partitions stay, run the same "
              "command again to go on", file=sys.stderr)
        return 130
    print(line)
    if r.failed:
        print(f"earmark: warning: {r.failed} inputs in {len(r.failures)} partition(s) failed "
              "after their retries (earmark batch status lists them); run the same command "
              "again to retry them", file=sys.stderr)
        return EXIT_INCOMPLETE
    return 0


def run_status(args):
    from ..batch import format_status, job_status

    s = job_status(args.out)
    if args.json:
        import json
        print(json.dumps(s, indent=1, default=str))
    else:
        print(format_status(s))
    return 0
