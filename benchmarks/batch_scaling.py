"""earmark batch predict on a local Dask cluster: 1 worker x 1 thread vs 2 workers x 1 thread.

Builds (once, in a cache folder outside the repository) an archive of short WAV files cut from
the drums and foley bench sets, and a model (the default recipe trained on drums for a few
epochs, or --model), then times three commands on it, each a fresh process:

- ``earmark predict MODEL ARCHIVE --out x.parquet`` (single process, torch's own threads),
- ``earmark batch predict MODEL ARCHIVE --out DIR --workers 1``,
- ``earmark batch predict MODEL ARCHIVE --out DIR --workers 2``,

and prints each one's throughput in audio-hours per hour (wall time of the whole command, and
for batch also inside the job: first task submitted to last partition committed) and the
speed-up of 2 workers over 1, with the CPU seconds of each command's process tree and the cores
it kept busy (CPU / wall: on a loaded machine, fewer than it asked for). It also checks that both batch outputs equal the single-process
table row for row.

    python benchmarks/batch_scaling.py [--files 2000] [--seconds 1.5] [--model M.earmark]
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench import bench_dataset  # noqa: E402


def cache_root():
    root = Path(os.environ.get("EARMARK_BENCH", Path.home() / ".cache" / "earmark-bench"))
    return root / "batch"


def build_archive(n_files, seconds, *, root=None):
    """``n_files`` WAVs of ``seconds`` each (shorter sources are kept whole), cut from the drums
    and foley clips in turn, in sub-folders of 500; built once and reused."""
    folder = (root or cache_root()) / f"archive-{n_files}x{seconds:g}s"
    done = folder / ".complete"
    if done.exists():
        return folder
    sources = []
    for name in ("drums", "foley"):
        sources += sorted(bench_dataset(name).rglob("*.wav"))
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_files):
        src = sources[i % len(sources)]
        y, sr = sf.read(src, dtype="float32", always_2d=True)
        # each copy starts elsewhere in its source, so copies of one clip differ
        offset = int((i // len(sources)) * 0.05 * sr) % max(1, len(y) - int(seconds * sr) + 1)
        y = y[offset:offset + int(seconds * sr)]
        sub = folder / f"{i // 500:02d}"
        sub.mkdir(exist_ok=True)
        sf.write(sub / f"clip_{i:05d}.wav", y, sr, subtype="PCM_16")
    done.write_text("ok\n")
    return folder


def build_model(epochs, *, root=None):
    """The default recipe (SB-CNN, default front end) trained on drums for ``epochs``."""
    path = (root or cache_root()) / f"drums-sbcnn-{epochs}ep.earmark"
    if not path.exists():
        import earmark
        path.parent.mkdir(parents=True, exist_ok=True)
        clf = earmark.SoundClassifier(epochs=epochs, progress=False, seed=0)
        clf.fit(str(bench_dataset("drums"))).save(path)
    return path


def audio_hours(folder):
    return sum(sf.info(p).duration for p in Path(folder).rglob("*.wav")) / 3600


def same_rows(batch, single):
    """The batch table equals the single-process one (an all-empty error column is typed
    null in one file and string in the other: compared as missing or not)."""
    assert (batch["error"].isna().to_numpy() == single["error"].isna().to_numpy()).all()
    pd.testing.assert_frame_equal(batch.drop(columns="error"), single.drop(columns="error"),
                                  check_dtype=False, rtol=1e-4)


def _children_cpu_s():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd):
    """Wall seconds of ``cmd`` and the CPU seconds of its whole process tree (the workers are
    waited for by their parent, so their time adds up in ours)."""
    cpu, t = _children_cpu_s(), time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n"
                         f"{p.stderr[-3000:]}")
    return wall, _children_cpu_s() - cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=1.5, help="length of each file")
    ap.add_argument("--model", default=None, help="a model file (default: the default recipe "
                    "trained on drums for --epochs, cached)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--partition-minutes", type=float, default=None)
    args = ap.parse_args()

    from earmark.batch import job_status, read_results

    archive = build_archive(args.files, args.seconds)
    model = Path(args.model) if args.model else build_model(args.epochs)
    hours = audio_hours(archive)
    work = Path(tempfile.mkdtemp(prefix="earmark-batch-bench-"))
    earmark = [sys.executable, "-m", "earmark"]
    print(f"archive: {archive} ({args.files} files, {hours:.3f} h of audio); model: {model}; "
          f"{os.cpu_count()} cores")

    single_out = work / "single.parquet"
    t_single, cpu = timed(earmark + ["predict", str(model), str(archive), "--out",
                                     str(single_out), "-q"])
    single = pd.read_parquet(single_out).sort_values("path").reset_index(drop=True)
    rows = [("earmark predict (1 process)", t_single, None, cpu)]
    extra = [] if args.partition_minutes is None else ["--partition-minutes",
                                                       str(args.partition_minutes)]
    for workers in (1, 2):
        out = work / f"batch-{workers}"
        wall, cpu = timed(earmark + ["batch", "predict", str(model), str(archive), "--out", str(out),
                                "--workers", str(workers), "--threads-per-worker", "1", "-q"]
                     + extra)
        inner = job_status(out)["audio_h_per_h"]
        batch = read_results(out).sort_values("path").reset_index(drop=True)
        same_rows(batch, single)
        rows.append((f"earmark batch predict --workers {workers}", wall, inner, cpu))

    print(f"\n{'command':38s} {'wall s':>7s} {'CPU s':>7s} {'cores busy':>10s} "
          f"{'audio-h/h (wall)':>17s} {'audio-h/h (in job)':>19s}")
    for name, wall, inner, cpu in rows:
        print(f"{name:38s} {wall:7.1f} {cpu:7.1f} {cpu / wall:10.2f} "
              f"{hours / (wall / 3600):17.0f} {'' if inner is None else f'{inner:19.0f}'}")
    w1, w2 = rows[1], rows[2]
    print(f"\nspeed-up 2 workers / 1 worker: {w1[1] / w2[1]:.2f}x wall, "
          f"{w2[2] / w1[2]:.2f}x in job (target >= 1.7x); "
          f"both batch outputs equal earmark predict's {len(single)} rows")
    print(f"per-core rate (1 worker x 1 thread, in job): {w1[2]:.0f} audio-h/h")


if __name__ == "__main__":
    main()
