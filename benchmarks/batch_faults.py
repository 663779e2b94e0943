"""earmark batch under faults: the job killed with SIGKILL half-way then rerun, and one worker
killed mid-job. Prints the counts that show nothing was lost or duplicated.

1. ``earmark batch predict ... --workers 2`` is killed with SIGKILL once about half of the
   archive's inputs are committed; the folder is checked (every part file complete and
   readable, its inputs recorded in it); the same command is run again and must process only
   the rest; then every input must be in exactly one part, with its row.
2. The same command on a new folder; once a fifth of the inputs are committed, another process
   kills one of its Dask worker processes (SIGKILL, as the kernel's OOM killer would); the job
   must complete with every row.

Uses the archive and model of ``batch_scaling.py`` (built once, cached).

    python benchmarks/batch_faults.py [--files 2000] [--seconds 1.5] [--model M.earmark]
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batch_scaling import build_archive, build_model  # noqa: E402

from earmark.batch.job import read_part_meta  # noqa: E402


def committed(out):
    """Inputs of the committed parts, and the number of part files that are not complete."""
    keys, broken = [], 0
    for f in sorted(Path(out).glob("part-*.parquet")):
        meta = read_part_meta(f)
        try:
            rows = len(pd.read_parquet(f))
        except Exception:                                   # noqa: BLE001 - counted
            rows = None
        if meta is None or rows != meta["rows"]:
            broken += 1
            continue
        keys += [tuple(i[:3]) for i in meta["inputs"]]
    return keys, broken


def wait_until(out, n, proc, timeout_s=900):
    end = time.time() + timeout_s
    while time.time() < end and proc.poll() is None:
        if len(committed(out)[0]) >= n:
            return True
        time.sleep(0.1)
    return False


def check_complete(out, n_inputs):
    keys, broken = committed(out)
    rows = sum(len(pd.read_parquet(f)) for f in Path(out).glob("part-*.parquet"))
    once = len(keys) == len(set(keys)) == n_inputs
    return keys, broken, rows, once


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=1.5)
    ap.add_argument("--model", default=None)
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    import psutil

    archive = build_archive(args.files, args.seconds)
    model = Path(args.model) if args.model else build_model(args.epochs)
    n = args.files
    work = Path(tempfile.mkdtemp(prefix="earmark-batch-faults-"))
    out = work / "results"
    cmd = [sys.executable, "-m", "earmark", "batch", "predict", str(model), str(archive),
           "--out", str(out), "--workers", "2", "-q"]
    print(f"archive: {archive} ({n} files); output: {out}")

    # -- 1. SIGKILL the job half-way, then rerun --------------------------------------------
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not wait_until(out, n // 2, p):
        raise SystemExit(f"the job ended before half-way: {p.communicate()}")
    p.send_signal(signal.SIGKILL)
    p.wait()
    time.sleep(1.0)                # the orphaned workers exit when their parent's pipe closes
    keys, broken = committed(out)
    temps = [f.name for f in out.iterdir() if f.name.endswith(".earmark.tmp")]
    staging = os.listdir(out / "_earmark" / "staging")
    print(f"\n1. job killed with SIGKILL after {len(keys)} of {n} inputs were committed "
          f"({len(list(out.glob('part-*.parquet')))} part files)")
    print(f"   incomplete part files: {broken}; temporary files beside them: {len(temps)}; "
          f"staging files (never read; removed by the next run): {len(staging)}")
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    took = time.perf_counter() - t
    m = re.search(r"\((\d+) this run, (\d+) before\)", r.stdout)
    if r.returncode != 0 or not m:
        raise SystemExit(f"rerun failed ({r.returncode}): {r.stdout}\n{r.stderr[-2000:]}")
    this_run, before = int(m.group(1)), int(m.group(2))
    keys2, broken2, rows, once = check_complete(out, n)
    print(f"   rerun ({took:.0f} s): processed {this_run} inputs, skipped {before} done "
          f"before; {this_run} + {before} = {this_run + before} (expected {n}); rerun did "
          f"only the rest: {this_run == n - len(keys) and before == len(keys)}")
    print(f"   output: {rows} rows; every input exactly once: {once}; incomplete part files: "
          f"{broken2}; staging left: {len(os.listdir(out / '_earmark' / 'staging'))}")

    # -- 2. kill one worker process mid-job ----------------------------------------------------
    out2 = work / "results-worker-killed"
    cmd2 = cmd[:cmd.index("--out") + 1] + [str(out2)] + cmd[cmd.index("--out") + 2:]
    p = subprocess.Popen(cmd2, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not wait_until(out2, n // 5, p):
        raise SystemExit(f"the job ended too soon: {p.communicate()}")
    # the Dask workers are the job's child processes running multiprocessing's spawn_main
    workers = [c for c in psutil.Process(p.pid).children(recursive=True)
               if "spawn_main" in " ".join(c.cmdline())]
    victim = workers[0].pid
    at = len(committed(out2)[0])
    os.kill(victim, signal.SIGKILL)
    stdout, stderr = p.communicate()
    keys, broken, rows, once = check_complete(out2, n)
    print(f"\n2. worker pid {victim} (one of {len(workers)}) killed with SIGKILL after {at} "
          f"of {n} inputs were committed")
    print(f"   job exit status {p.returncode}; {stdout.strip()}")
    print(f"   output: {rows} rows for {n} inputs; every input exactly once: {once}; "
          f"incomplete part files: {broken}")


if __name__ == "__main__":
    main()
