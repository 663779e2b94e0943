"""Peak memory of ``earmark inspect`` next to ``earmark predict`` on one long stereo recording.

Generates a 30-minute stereo 44.1 kHz WAV (written in blocks, in a temporary folder), trains a
tiny model on generated clips, then runs each command in its own process and prints that
process's peak resident memory (``getrusage(RUSAGE_CHILDREN)`` of a wrapper that runs only that
command). Both read the file in blocks, so both should stay far below 1 GB (before blocks,
inspect took 2.8 GB on such a file).

    python benchmarks/inspect_memory.py [--minutes 30] [--keep DIR]
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _signals import make_clip, write_dataset  # noqa: E402

import earmark  # noqa: E402

# runs one command and prints its peak RSS (KiB on Linux): the wrapper's only child is it
_PEAK = ("import resource, subprocess, sys; "
         "r = subprocess.run(sys.argv[1:]); "
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
         "sys.exit(r.returncode)")


def peak_rss_mb(cmd):
    """(peak resident memory in MB, wall seconds) of ``cmd`` run in its own process."""
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", _PEAK, *map(str, cmd)], capture_output=True,
                       text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{p.stderr}")
    return int(p.stdout.strip().splitlines()[-1]) / 1024, wall


def write_recording(path, *, minutes, sample_rate=44100, seed=1):
    """Alternating generated sounds, a different mix in each channel, written in blocks."""
    rng = np.random.default_rng(seed)
    n_total = int(minutes * 60 * sample_rate)
    with sf.SoundFile(path, "w", samplerate=sample_rate, channels=2, subtype="PCM_16") as f:
        written = 0
        while written < n_total:
            n = min(int(rng.uniform(2, 20) * sample_rate), n_total - written)
            left = make_clip(("low", "high", "noise")[int(rng.integers(3))], rng,
                             sr=sample_rate, dur=n / sample_rate)[:n]
            right = make_clip(("low", "high", "noise")[int(rng.integers(3))], rng,
                              sr=sample_rate, dur=n / sample_rate)[:n]
            f.write(np.stack([left, right], axis=1))
            written += n
    return n_total / sample_rate


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--keep", help="folder to keep the recording, model and outputs in")
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="earmark-inspect-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        data = write_dataset(work / "train", per_class=8, seed=0)
        clf = earmark.SoundClassifier(model="sbcnn", epochs=2, augment=None, progress=False,
                                      features=earmark.FeatureConfig())   # 22.05 kHz, 1-s windows
        model = clf.fit(data).save(work / "tiny.earmark")

        rec_dir = work / "long" / "recording"          # a dataset: one class folder, one file
        rec_dir.mkdir(parents=True, exist_ok=True)
        rec = rec_dir / "long.wav"
        duration = write_recording(rec, minutes=args.minutes)
        print(f"recording: {duration / 60:.0f} min, stereo, 44100 Hz, 16-bit "
              f"({rec.stat().st_size / 1e6:.0f} MB on disk; "
              f"{duration * 44100 * 2 * 4 / 1e6:.0f} MB as float32)")

        inspect_mb, inspect_s = peak_rss_mb([sys.executable, "-m", "earmark", "inspect",
                                             work / "long", "--json", work / "inspect.json",
                                             "-q"])
        predict_mb, predict_s = peak_rss_mb([sys.executable, "-m", "earmark", "predict", model,
                                             rec, "--out", work / "predictions.csv", "-q"])
        print(f"{'command':<18}{'peak RSS':>12}{'wall':>9}")
        print(f"{'earmark inspect':<18}{inspect_mb:>9.0f} MB{inspect_s:>8.1f}s")
        print(f"{'earmark predict':<18}{predict_mb:>9.0f} MB{predict_s:>8.1f}s")
        ok = max(inspect_mb, predict_mb) < 1000
        print("both under 1 GB" if ok else "OVER 1 GB")
        if not ok:
            sys.exit(1)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
