"""Detect events in a generated 1-hour recording: speed, peak memory, and block = whole file.

Trains a small CRNN detector on generated scenes at the default detection front end
(22.05 kHz, 5-s windows; the weights barely matter for speed), writes one hour of noise with
tone bursts, and runs ``earmark detect MODEL hour.wav --out events.csv --scores DIR`` in a
subprocess. Prints × realtime of the whole command, its peak resident memory, and the largest
difference between the frame scores it wrote (read in 60-s blocks) and scoring the whole file
held in memory at once.

    python benchmarks/long_detection.py [--minutes 60] [--keep DIR] [--threads N]
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _detection_signals import burst, write_detection_dataset  # noqa: E402

import earmark  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--keep", help="folder to keep the recording and outputs in")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads of the detect process (default: torch's)")
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="earmark-longdet-"))
    work.mkdir(parents=True, exist_ok=True)
    sr = earmark.estimators.detector.DETECTION_FEATURES.sample_rate

    data = write_detection_dataset(work / "train", n_clips=16, seconds=10.0, sr=sr)
    det = earmark.SoundDetector(epochs=2, augment=None, progress=False)
    model_path = det.fit(data).save(work / "det.earmark")

    rec = work / "hour.wav"
    rng = np.random.default_rng(1)
    n_total = int(args.minutes * 60 * sr)
    with sf.SoundFile(rec, "w", samplerate=sr, channels=1, subtype="PCM_16") as f:
        written = 0
        while written < n_total:
            n = min(int(rng.uniform(5, 30) * sr), n_total - written)
            y = 0.01 * rng.standard_normal(n)
            b = min(n, int(rng.uniform(0.3, 2.0) * sr))
            a = int(rng.integers(0, n - b + 1))
            y[a:a + b] += burst(("low", "high")[int(rng.integers(2))], b, rng, sr)
            f.write(y.astype(np.float32))
            written += n
    duration = n_total / sr

    out, scores_dir = work / "events.csv", work / "scores"
    env = dict(os.environ)
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "earmark", "detect", str(model_path), str(rec),
                    "--out", str(out), "--scores", str(scores_dir), "-q"], check=True, env=env)
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    written_scores = pd.read_csv(scores_dir / "hour.tsv", sep="\t")
    model = earmark.load(model_path)
    whole = model.frame_scores_of_clips([sf.read(rec, dtype="float32")[0]])[0]
    diff = float(np.abs(written_scores[model.classes_].to_numpy() - whole.scores).max())
    n_events = len(pd.read_csv(out))

    print(f"recording: {duration / 60:.0f} min at {sr} Hz; {len(written_scores)} frames of "
          f"{whole.frame_step_s * 1000:.1f} ms, {n_events} events")
    print(f"earmark detect (--scores too): {wall:.1f} s wall = {duration / wall:.0f}x realtime "
          "(whole command, incl. Python start-up and writing)")
    print(f"peak RSS of the detect process: {peak_mb:.0f} MB")
    print(f"frame scores read in 60-s blocks vs the whole file in memory: max |difference| = "
          f"{diff:.2e}")
    if not args.keep:
        for p in sorted(work.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        work.rmdir()


if __name__ == "__main__":
    main()
