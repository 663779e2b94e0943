"""Predict a generated 1-hour recording with the SB-CNN: speed, peak memory, and equality.

Prints × realtime (audio seconds per wall second) of ``earmark predict --windows`` on one hour of
audio, the peak resident memory of that process, the largest difference between the
streaming scores and scoring every window on its own (cut from the file one by one), and the
same against the scoring earmark did before issue 23 (the reference copy in
tests/test_speed_paths.py: torch.stft front end, unfolded network).

    python benchmarks/long_recording.py [--minutes 60] [--keep DIR]

benchmarks/profile_predict.py reuses :func:`train_model` and :func:`write_recording`.
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
from test_speed_paths import _reference_scores  # noqa: E402


def train_model(work):
    """A small SB-CNN on generated classes at the default front end (22.05 kHz, 1-s windows,
    0.5-s hop), saved as ``work/long.earmark``; returns its path."""
    data = write_dataset(work / "train", per_class=12, seed=0)
    clf = earmark.SoundClassifier(model="sbcnn", epochs=3, augment=None, progress=False,
                                  features=earmark.FeatureConfig())
    return clf.fit(data).save(work / "long.earmark")


def write_recording(path, minutes, sr):
    """``minutes`` of alternating generated sounds (16-bit WAV), written in blocks (never held
    whole); returns the duration in seconds."""
    rng = np.random.default_rng(1)
    n_total = int(minutes * 60 * sr)
    with sf.SoundFile(path, "w", samplerate=sr, channels=1, subtype="PCM_16") as f:
        written = 0
        while written < n_total:
            kind = ("low", "high", "noise")[int(rng.integers(3))]
            y = make_clip(kind, rng, sr=sr, dur=float(rng.uniform(2, 20)))[:n_total - written]
            f.write(y)
            written += len(y)
    return n_total / sr


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--keep", help="folder to keep the recording and outputs in")
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="earmark-long-"))
    work.mkdir(parents=True, exist_ok=True)
    sr = earmark.FeatureConfig().sample_rate
    model_path = train_model(work)
    rec = work / "hour.wav"
    duration = write_recording(rec, args.minutes, sr)

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
    before = np.empty_like(streamed)
    cut = []
    for i, start in enumerate(table["start_s"].to_numpy()):
        a = int(round(start * sr))
        y, _ = load(rec, start_s=a / sr, end_s=(a + fc.window_samples) / sr)
        one_by_one[i] = model.score_windows(y[None, :fc.window_samples])[0]
        cut.append(y[:fc.window_samples])
        if len(cut) == 256 or i == len(table) - 1:
            before[i + 1 - len(cut):i + 1] = _reference_scores(model.model_, np.stack(cut))
            cut = []
    diff = float(np.abs(streamed - one_by_one).max())
    same_labels = float(np.mean(streamed.argmax(1) == one_by_one.argmax(1)))
    diff_before = float(np.abs(streamed - before).max())
    same_before = float(np.mean(streamed.argmax(1) == before.argmax(1)))

    print(f"recording: {duration / 60:.0f} min at {sr} Hz, {len(table)} windows "
          f"({fc.window_s} s, hop {fc.hop_s} s)")
    print(f"earmark predict --windows: {wall:.1f} s wall = {duration / wall:.0f}x realtime "
          f"(whole command, incl. Python start-up and CSV writing)")
    print(f"peak RSS of the predict process: {peak_mb:.0f} MB")
    print(f"streaming vs one window at a time: max |score difference| = {diff:.2e} "
          f"(CSV keeps 6 significant digits), same top label for {same_labels:.1%} of windows")
    print(f"streaming vs the scoring before issue 23: max |score difference| = "
          f"{diff_before:.2e}, same top label for {same_before:.1%} of windows")
    if not args.keep:
        for p in sorted(work.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        work.rmdir()


if __name__ == "__main__":
    main()
