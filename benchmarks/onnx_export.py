"""ONNX export of the drums default recipe: same scores as torch, and at least its speed.

Trains the default recipe (``SoundClassifier()``, SB-CNN) on the drums set's folds other than
``--test-fold`` (or takes ``--model``), exports it with :func:`earmark.export.export_onnx`, cuts
every clip of the test fold into the model's analysis windows, and prints:

- the largest |score difference| between onnxruntime and ``estimator.score_windows`` (torch)
  over all those windows, and whether the clip decisions agree;
- throughput in windows/s with ONE thread for both: torch (``torch.set_num_threads(1)``,
  ``model.score_windows``) and onnxruntime (``intra_op_num_threads=1``), the same windows in
  the same batches, for each ``--batch`` size (1: one window per call, as in streaming; 32:
  ``score_windows``' default), best of ``--rounds`` rounds of at least ``--seconds`` s each,
  interleaved so that both see the same machine load; and the CPU time per window of each
  (this process's, less disturbed by other programs);
- with ``--tflite`` (needs ``litert-torch``): the LiteRT export's largest score difference over
  the same windows, and its int8 variant's score change and clip accuracy against the labels.

Usage::

    .venv/bin/python benchmarks/onnx_export.py [--model drums.earmark] [--epochs 20]
        [--test-fold 1] [--batch 1 32] [--seconds 3] [--rounds 5] [--limit N] [--out DIR]
        [--tflite]

``--limit N`` uses N training and N test clips (a trial run). The full run trains for
``--epochs`` (20: the scores need a trained model, not a good one) and takes about 5 minutes on
2 cores.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench import bench_dataset  # noqa: E402

import earmark  # noqa: E402
from earmark.data import load_clips, load_dataset  # noqa: E402
from earmark.export import export_onnx, onnx_session, read_metadata  # noqa: E402
from earmark.windows import aggregate, frame_windows  # noqa: E402


def _rate(fn, windows, batch, seconds):
    """Windows/s and CPU ms/window of ``fn`` over ``windows`` in batches, >= ``seconds``."""
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while True:
        for i in range(0, len(windows), batch):
            fn(windows[i:i + batch])
        n += len(windows)
        wall = time.perf_counter() - t0
        if wall >= seconds:
            break
    return n / wall, (time.process_time() - c0) / n * 1000


def _litert(clf, model_path, out, windows, per_clip, test, agg):
    """LiteRT float and int8: score differences and clip accuracy against the labels."""
    from earmark.export.litert import export_litert, litert_interpreter, run_litert

    t = time.perf_counter()
    report = export_litert(model_path, out / "drums.tflite", int8=True,
                           check_windows=windows)
    print(f"LiteRT: exported in {time.perf_counter() - t:.0f} s; max |tflite - torch| = "
          f"{report['max_abs_diff']:.2e} over the {len(windows)} test windows")
    bounds = np.cumsum([0] + [len(w) for w in per_clip])
    truth = [labels[0] for labels in test.label_sets]
    classes = list(clf.classes_)

    def accuracy(scores):
        pred = [classes[int(np.argmax(aggregate(scores[a:b], method=agg)))]
                for a, b in zip(bounds[:-1], bounds[1:])]
        return float(np.mean([p == y for p, y in zip(pred, truth)]))

    want = clf.model_.score_windows(windows)
    q = run_litert(litert_interpreter(report["int8_path"]), windows)
    print(f"LiteRT int8 (network weights int8, {report['int8_bytes'] / 1e3:.0f} kB vs "
          f"{report['float_bytes'] / 1e3:.0f} kB): max |int8 - torch| = "
          f"{report['int8_max_abs_diff']:.3f}, top class equal on "
          f"{np.mean(q.argmax(1) == want.argmax(1)):.1%} of windows; clip accuracy "
          f"{accuracy(want):.3f} (torch) -> {accuracy(q):.3f} (int8)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="a trained drums model file (default: train)")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--test-fold", type=int, default=1)
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 32],
                    help="batch sizes to time (default: 1 32)")
    ap.add_argument("--tflite", action="store_true", help="also export to LiteRT (needs "
                    "litert-torch) and report its score differences and the int8 variant's "
                    "accuracy change")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--limit", type=int, default=None, help="clips per split (trial run)")
    ap.add_argument("--out", default=None, help="folder for the model files (default: temp)")
    args = ap.parse_args()
    torch.set_num_threads(1)

    root = bench_dataset("drums")
    ds = load_dataset(root)
    fold = ds.column("fold").astype(int)
    test_idx = np.flatnonzero(fold == args.test_fold)
    train_idx = np.flatnonzero(fold != args.test_fold)
    if args.limit:
        rng = np.random.default_rng(0)
        test_idx = np.sort(rng.choice(test_idx, min(args.limit, len(test_idx)), replace=False))
        # the same number from each class (training needs at least 2 of each)
        labels = np.array([ls[0] for ls in ds.label_sets])[train_idx]
        per = max(2, args.limit // len(set(labels)))
        train_idx = np.sort(np.concatenate([
            rng.choice(train_idx[labels == c], min(per, int((labels == c).sum())),
                       replace=False) for c in sorted(set(labels))]))
    out = Path(args.out or tempfile.mkdtemp(prefix="earmark-onnx-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    if args.model:
        clf = earmark.load(args.model)
        model_path = args.model
    else:
        clf = earmark.SoundClassifier(epochs=args.epochs, progress=False)
        clf.fit(ds.subset(train_idx))
        model_path = out / "drums.earmark"
        clf.save(model_path)
        print(f"trained the default recipe ({args.epochs} epochs) on {len(train_idx)} clips in "
              f"{time.perf_counter() - t:.0f} s")
    onnx_path = out / "drums.onnx"
    t = time.perf_counter()
    export_onnx(model_path, onnx_path)
    meta = read_metadata(onnx_path)
    print(f"exported {onnx_path} ({os.path.getsize(onnx_path) / 1e6:.2f} MB) in "
          f"{time.perf_counter() - t:.1f} s; window {meta['window_samples']} samples at "
          f"{meta['sample_rate']} Hz, labels {meta['labels']}")

    fc = clf.features_
    test = ds.subset(test_idx)
    clips = load_clips(test, sample_rate=fc.sample_rate, progress=False)
    per_clip = [frame_windows(c, fc.window_samples, fc.hop_samples)[0] for c in clips]
    windows = np.ascontiguousarray(np.concatenate(per_clip), np.float32)
    sess = onnx_session(onnx_path, threads=1)

    def run_onnx(w):
        return sess.run(["scores"], {"waveform": w})[0]

    want = clf.model_.score_windows(windows, batch=32)
    got = np.concatenate([run_onnx(windows[i:i + 32]) for i in range(0, len(windows), 32)])
    diff = float(np.max(np.abs(got - want)))
    bounds = np.cumsum([0] + [len(w) for w in per_clip])
    agg = clf.aggregation_
    same = sum(int(np.argmax(aggregate(want[a:b], method=agg)) ==
                   np.argmax(aggregate(got[a:b], method=agg)))
               for a, b in zip(bounds[:-1], bounds[1:]))
    print(f"test fold {args.test_fold}: {len(clips)} clips, {len(windows)} windows; "
          f"max |onnx - torch| score = {diff:.2e} (must be <= 1e-4); clip decisions equal: "
          f"{same}/{len(clips)}")

    fns = {"torch": lambda w: clf.model_.score_windows(w, batch=len(w)),
           "onnxruntime": run_onnx}
    for batch in args.batch:
        best = {name: (0.0, np.inf) for name in fns}
        for fn in fns.values():          # warm-up
            fn(windows[:batch])
        for _ in range(args.rounds):
            for name, fn in fns.items():
                rate, cpu = _rate(fn, windows, batch, args.seconds)
                best[name] = (max(best[name][0], rate), min(best[name][1], cpu))
        print(f"throughput, 1 thread, batch {batch}, best of {args.rounds} rounds "
              f"(load average {os.getloadavg()[0]:.1f}):")
        for name, (rate, cpu) in best.items():
            print(f"  {name:12s} {rate:8.0f} windows/s   {cpu:.3f} CPU ms/window")
        print(f"  onnxruntime / torch = {best['onnxruntime'][0] / best['torch'][0]:.2f}x "
              f"(windows/s), {best['torch'][1] / best['onnxruntime'][1]:.2f}x (CPU time)")
    if args.tflite:
        _litert(clf, model_path, out, windows, per_clip, test, agg)
    return 0 if diff <= 1e-4 else 1


if __name__ == "__main__":
    raise SystemExit(main())
