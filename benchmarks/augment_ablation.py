"""Augmentation ablation: what each augmentation buys on real data (issue: augmentation).

5-fold cross-validation over the bench datasets' group-disjoint folds, fixed seed, SB-CNN (the
default model), adding augmentations in the talk's order: none / shift / +stretch+pitch /
+noise / +mixup / +SpecAugment, and the default set. Prints balanced accuracy, seconds per
training epoch (mean over folds and epochs; pitch/stretch variants are precomputed once and
cached, their one-off cost is in the wall time) and the whole cross-validation's wall time.

    python benchmarks/augment_ablation.py drums foley [--epochs 30] [--seed 0]
"""

import argparse
import time
import warnings

import numpy as np

import earmark
from _bench import bench_dataset

STEPS = [("none", None), ("shift", "shift"), ("+stretch+pitch", "shift,stretch,pitch"),
         ("+noise", "shift,stretch,pitch,noise"), ("+mixup", "shift,stretch,pitch,noise,mixup"),
         ("+specaugment", "shift,stretch,pitch,noise,mixup,specaugment"),
         ("default (pitch,gain)", "default")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", nargs="+")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", help="comma-separated step names to run (default: all)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
    steps = STEPS if not args.only else [s for s in STEPS if s[0] in args.only.split(",")]
    print("| dataset | augmentation | balanced accuracy | s / epoch | CV wall time |")
    print("|---|---|---|---|---|")
    for name in args.datasets:
        for label, spec in steps:
            t = time.perf_counter()
            r = earmark.cross_validate(bench_dataset(name), folds="fold", epochs=args.epochs,
                                       augment=spec, seed=args.seed, progress=False)
            wall = time.perf_counter() - t
            per_epoch = np.mean([h["epoch_s"] for f in r["folds"] for h in f["history"]])
            print(f"| {name} | {label} | {r['balanced_accuracy']:.3f} ± "
                  f"{r['balanced_accuracy_std']:.3f} | {per_epoch:.2f} | {wall / 60:.1f} min |",
                  flush=True)


if __name__ == "__main__":
    main()
