"""Augmentation ablation: what each augmentation buys on real data (issue: augmentation).

5-fold cross-validation over the bench datasets' group-disjoint folds, fixed seeds, SB-CNN (the
default model), adding augmentations in the talk's order: none / shift / +stretch+pitch /
+noise / +mixup / +SpecAugment (``--epochs`` each), the former default (pitch-shift + gain,
``--epochs``) and the default (gain, random equaliser, SpecAugment, mixup; the recipe's own 60
epochs). Prints balanced accuracy (mean over folds;
with several seeds, the mean over seeds of that and each seed's value), seconds per training
epoch (mean over folds and epochs; pitch/stretch variants are precomputed once and cached, their
one-off cost is in the wall time) and the wall time of one whole cross-validation.

    python benchmarks/augment_ablation.py drums foley [--epochs 30] [--seeds 0,1,2]
        [--only none,default] [--threads 2]
"""

import argparse
import time

import numpy as np
import torch

import earmark
from _bench import add_threads_option, bench_dataset, setup

#: (row name, --augment spec, epochs: None = --epochs, "recipe" = the recipe's default)
STEPS = [("none", None, None), ("shift", "shift", None),
         ("+stretch+pitch", "shift,stretch,pitch", None),
         ("+noise", "shift,stretch,pitch,noise", None),
         ("+mixup", "shift,stretch,pitch,noise,mixup", None),
         ("+specaugment", "shift,stretch,pitch,noise,mixup,specaugment", None),
         ("former-default (pitch,gain)", "pitch,gain", None),
         ("default (gain,filter,specaugment,mixup; 60 epochs)", "default", "recipe")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", nargs="+")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    ap.add_argument("--only", help="comma-separated step names to run (default: all)")
    add_threads_option(ap)
    args = ap.parse_args()
    setup(args)
    seeds = [int(s) for s in args.seeds.split(",")]
    steps = STEPS if not args.only else [s for s in STEPS if s[0].split()[0] in
                                         args.only.split(",")]
    print(f"seeds {seeds}, {args.epochs} epochs, torch threads {torch.get_num_threads()}")
    print("| dataset | augmentation | balanced accuracy | per seed | s / epoch | CV wall time |")
    print("|---|---|---|---|---|---|")
    for name in args.datasets:
        for label, spec, epochs in steps:
            scores, per_epoch, walls = [], [], []
            for seed in seeds:
                t = time.perf_counter()
                r = earmark.cross_validate(bench_dataset(name), folds="fold",
                                           epochs=None if epochs == "recipe" else args.epochs,
                                           augment=spec, seed=seed,
                                           progress=False)
                walls.append(time.perf_counter() - t)
                scores.append(r["balanced_accuracy"])
                per_epoch += [h["epoch_s"] for f in r["folds"] for h in f["history"]]
            print(f"| {name} | {label} | {np.mean(scores):.3f} | "
                  f"{', '.join(f'{v:.3f}' for v in scores)} | {np.mean(per_epoch):.2f} | "
                  f"{np.mean(walls) / 60:.1f} min |", flush=True)


if __name__ == "__main__":
    main()
