"""Where the time of ``earmark predict --windows`` goes on a generated 1-hour recording.

Runs each stage of the predict path on its own, one after the other (torch on ``--threads``
threads, 1 by default, so each stage's CPU cost is clear): Python start-up and imports, loading
the model file, decoding (+ resampling), cutting windows, the log-mel front end, normalisation,
the network (+ softmax), the table of answers, and writing the CSV. Prints each stage's CPU
seconds (of the thread that runs it; of the child process for the start-up), its share of their
sum, and its wall seconds; the front end before issue 23 (torch.stft, for comparison; not part
of the sum); and then the whole command as users run it (all threads, stages overlapping) with
its × realtime. CPU seconds hardly move when other jobs share the machine; walls do.

    python benchmarks/profile_predict.py [--minutes 60] [--threads 1] [--keep DIR]

The model and the recording are those of benchmarks/long_recording.py.
"""

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from long_recording import train_model, write_recording  # noqa: E402
from frontend_speed import _before as front_end_before  # noqa: E402

import earmark  # noqa: E402
from earmark.audio import iter_blocks  # noqa: E402
from earmark.features import normalize_windows  # noqa: E402
import earmark.predict  # noqa: E402
from earmark.predict import predict_table, write_table  # noqa: E402
from earmark.windows import iter_windows  # noqa: E402

IMPORTS = ("import earmark, earmark.cli, earmark.cli.predict, earmark.estimators, "
           "earmark.predict")


class _Clock:
    """Wall and CPU seconds (this thread's; a child's for the start-up) per stage."""

    def __init__(self, names):
        self.wall = dict.fromkeys(names, 0.0)
        self.cpu = dict.fromkeys(names, 0.0)

    def add(self, name, wall, cpu):
        self.wall[name] = self.wall.get(name, 0.0) + wall
        self.cpu[name] = self.cpu.get(name, 0.0) + cpu


def _now():
    return time.perf_counter(), time.thread_time()


def _since(t):
    w, c = _now()
    return w - t[0], c - t[1]


def _timed_blocks(blocks, clock):
    it = iter(blocks)
    while True:
        t = _now()
        try:
            block = next(it)
        except StopIteration:
            clock.add("decode + resample", *_since(t))
            return
        clock.add("decode + resample", *_since(t))
        yield block


STAGES = ["Python start-up + imports", "load model file", "decode + resample", "cut windows",
          "front end", "normalisation", "network + softmax", "table of answers", "CSV writing"]
BEFORE = "front end before issue 23 (torch.stft)"


def profile_stages(model_path, rec, *, batch=32):
    """Wall and CPU seconds of each stage, run one after the other over the whole recording."""
    clock = _Clock(STAGES)
    best = (np.inf, np.inf)
    for _ in range(3):                          # start-up varies with the file cache
        t = time.perf_counter()
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", IMPORTS], check=True)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        best = min(best, (time.perf_counter() - t, cpu))
    clock.add("Python start-up + imports", *best)

    t = _now()
    clf = earmark.load(model_path)
    clock.add("load model file", *_since(t))
    model = clf.model_
    fc = model.features
    net = model._inference_net or model.net
    starts, scores = [], []
    blocks = _timed_blocks(iter_blocks(rec, sample_rate=fc.sample_rate, block_s=60.0), clock)
    windows = iter_windows(blocks, fc.window_samples, fc.hop_samples, batch=256)
    with torch.inference_mode():
        while True:
            t = _now()
            decode_before = (clock.wall["decode + resample"], clock.cpu["decode + resample"])
            try:
                w, s = next(windows)
            except StopIteration:
                break
            wall, cpu = _since(t)
            clock.add("cut windows", wall - (clock.wall["decode + resample"] - decode_before[0]),
                      cpu - (clock.cpu["decode + resample"] - decode_before[1]))
            for i in range(0, len(w), batch):
                y = torch.from_numpy(np.ascontiguousarray(w[i:i + batch]))
                t = _now()
                x = model.frontend(y)
                clock.add("front end", *_since(t))
                t = _now()
                front_end_before(model.frontend, y)
                clock.add(BEFORE, *_since(t))
                t = _now()
                x = normalize_windows(x, mode=fc.normalize, mean=model.norm_mean,
                                      std=model.norm_std)
                clock.add("normalisation", *_since(t))
                t = _now()
                logits = net(x.contiguous(memory_format=torch.channels_last))
                scores.append(torch.softmax(logits, dim=1).numpy())
                clock.add("network + softmax", *_since(t))
            starts.append(s)
    starts = np.concatenate(starts) / fc.sample_rate
    scores = np.concatenate(scores)

    # the table alone: predict_table with the scores above standing in for scoring the file
    real = earmark.predict.score_source
    earmark.predict.score_source = lambda model, source: (starts, scores)
    try:
        t = _now()
        table = predict_table(model, clf.classes_, [str(rec)], windows=True, progress=False)
        clock.add("table of answers", *_since(t))
    finally:
        earmark.predict.score_source = real
    with tempfile.TemporaryDirectory() as tmp:
        t = _now()
        write_table(table, Path(tmp) / "windows.csv")
        clock.add("CSV writing", *_since(t))
    return clock, len(scores)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads for the stages")
    ap.add_argument("--keep", help="folder to keep the recording and model in (and reuse)")
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="earmark-profile-"))
    work.mkdir(parents=True, exist_ok=True)
    sr = earmark.FeatureConfig().sample_rate
    model_path = work / "long.earmark"
    if not model_path.exists():
        model_path = train_model(work)
    rec = work / f"recording-{args.minutes:g}min.wav"
    if not rec.exists():
        write_recording(rec, args.minutes, sr)
    duration = args.minutes * 60

    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    clock, n_windows = profile_stages(model_path, rec)
    torch.set_num_threads(threads)
    cpu = sum(clock.cpu[k] for k in STAGES)
    wall = sum(clock.wall[k] for k in STAGES)
    print(f"recording: {duration / 60:g} min at {sr} Hz, {n_windows} windows; stages one after "
          f"the other, torch threads {args.threads}")
    print(f"  {'stage':36s} {'CPU s':>7s} {'share':>6s} {'wall s':>7s}")
    for name in STAGES:
        print(f"  {name:36s} {clock.cpu[name]:7.2f} {clock.cpu[name] / cpu:6.1%} "
              f"{clock.wall[name]:7.2f}")
    print(f"  {'sum':36s} {cpu:7.2f} {1:6.0%} {wall:7.2f}  (= {duration / wall:.0f}x realtime "
          "on one core, one stage at a time)")
    print(f"  ({BEFORE}: {clock.cpu[BEFORE]:.2f} CPU s, {clock.wall[BEFORE]:.2f} s wall; now "
          f"{clock.cpu[BEFORE] / max(clock.cpu['front end'], 1e-9):.1f}x less CPU)")

    out = work / "windows.csv"
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "earmark", "predict", str(model_path), str(rec),
                    "--windows", "--out", str(out), "-q"], check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    print(f"whole command (earmark predict --windows, {torch.get_num_threads()} torch threads, "
          f"stages overlapping): {wall:.2f} s = {duration / wall:.0f}x realtime")
    if not args.keep:
        for p in sorted(work.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        work.rmdir()


if __name__ == "__main__":
    main()
