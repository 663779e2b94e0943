"""Predict a generated 1-hour recording with the SB-CNN: speed, peak memory, and equality.

Prints × realtime (audio seconds per wall second) of ``earmark predict --windows`` on one hour of
audio, the peak resident memory of that process, and the largest difference between the
streaming scores and scoring every window on its own (cut from the file one by one).

    python benchmarks/long_recording.py [--minutes 60] [--keep DIR]
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
from _signals import make_clip, write_dataset  # noqa: E402

import earmark  # noqa: E402
from earmark.audio import load  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--keep", help="folder to keep the recording and outputs in")
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="earmark-long-"))
    work.mkdir(parents=True, exist_ok=True)
    sr = earmark.FeatureConfig().sample_rate

    # a small model on generated classes, at the default front end (22.05 kHz, 1-s windows)
    data = write_dataset(work / "train", per_class=12, seed=0)
    clf = earmark.SoundClassifier(model="sbcnn", epochs=3, augment=None, progress=False,
                                  features=earmark.FeatureConfig())   # 1-s windows, 0.5-s hop
    model_path = clf.fit(data).save(work / "long.earmark")

    # one hour of alternating generated sounds, written in blocks (never held whole)
    rec = work / "hour.wav"
    rng = np.random.default_rng(1)
    n_total = int(args.minutes * 60 * sr)
    with sf.SoundFile(rec, "w", samplerate=sr, channels=1, subtype="PCM_16") as f:
        written = 0
        while written < n_total:
            kind = ("low", "high", "noise")[int(rng.integers(3))]
            y = make_clip(kind, rng, sr=sr, dur=float(rng.uniform(2, 20)))[:n_total - written]
            f.write(y)
            written += len(y)
    duration = n_total / sr

    out = work / "windows.csv"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "earmark", "predict", str(model_path), str(rec),
                    "--windows", "--out", str(out), "-q"], check=True)
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    table = pd.read_csv(out)
    model = earmark.load(model_path)
    labels = model.classes_
    fc = model.features_
    streamed = table[labels].to_numpy()
    one_by_one = np.empty_like(streamed)
    for i, start in enumerate(table["start_s"].to_numpy()):
        a = int(round(start * sr))
        y, _ = load(rec, start_s=a / sr, end_s=(a + fc.window_samples) / sr)
        one_by_one[i] = model.score_windows(y[None, :fc.window_samples])[0]
    diff = float(np.abs(streamed - one_by_one).max())
    same_labels = float(np.mean(streamed.argmax(1) == one_by_one.argmax(1)))

    print(f"recording: {duration / 60:.0f} min at {sr} Hz, {len(table)} windows "
          f"({fc.window_s} s, hop {fc.hop_s} s)")
    print(f"earmark predict --windows: {wall:.1f} s wall = {duration / wall:.0f}x realtime "
          f"(whole command, incl. Python start-up and CSV writing)")
    print(f"peak RSS of the predict process: {peak_mb:.0f} MB")
    print(f"streaming vs one window at a time: max |score difference| = {diff:.2e} "
          f"(CSV keeps 6 significant digits), same top label for {same_labels:.1%} of windows")
    if not args.keep:
        for p in sorted(work.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        work.rmdir()


if __name__ == "__main__":
    main()
