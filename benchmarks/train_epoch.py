"""Training time per epoch of the default recipe on the drums set, before and after issue 23.

Every epoch computes its log-mel features on the fly, so the front end's speed is part of it.
Trains twice in one process with the same seed and settings: first with the front end earmark
had before issue 23 (torch.stft and a dense mel matmul: the reference copy in
tests/test_speed_paths.py, patched in for this run only), then with today's. Prints each epoch's
training seconds (``epoch_s`` of the history: the batches, without validation), their mean, the
ratio, and each fit's wall time. ``--only now`` skips the "before" run.

    python benchmarks/train_epoch.py [--dataset drums] [--epochs 3] [--seed 0] [--threads N]
        [--augment default|none] [--only now|before] [--fresh-cache]

The augmentation cache (pitch-shift and time-stretch variants, precomputed once per clip) is
earmark's usual one (EARMARK_HOME): the first fit fills it, before its first epoch, so its cost
is never inside ``epoch_s``; ``--fresh-cache`` uses a temporary one.
"""

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from _bench import add_threads_option, bench_dataset, earmark_home_at, setup

import earmark
from earmark.features import FeatureExtractor

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_speed_paths import _reference_features  # noqa: E402


@contextlib.contextmanager
def front_end_before():
    """FeatureExtractor computes as before issue 23 inside the block."""
    now = FeatureExtractor.forward
    FeatureExtractor.forward = lambda self, y: _reference_features(self.config,
                                                                    self.mel_basis, y)
    try:
        yield
    finally:
        FeatureExtractor.forward = now


def fit(root, args):
    clf = earmark.SoundClassifier(epochs=args.epochs, seed=args.seed, progress=False,
                                  augment=None if args.augment == "none" else args.augment)
    t0 = time.perf_counter()
    clf.fit(root)
    return clf, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="drums")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--augment", default="default")
    ap.add_argument("--only", choices=["now", "before"], default=None)
    ap.add_argument("--fresh-cache", action="store_true")
    add_threads_option(ap)
    args = ap.parse_args()
    setup(args)
    root = bench_dataset(args.dataset)
    runs = {}
    with tempfile.TemporaryDirectory(prefix="earmark-train-epoch-") as home:
        with earmark_home_at(home) if args.fresh_cache else contextlib.nullcontext():
            if args.only != "now":
                with front_end_before():
                    runs["before issue 23 (torch.stft)"] = fit(root, args)
            if args.only != "before":
                runs["now"] = fit(root, args)
    clf = next(iter(runs.values()))[0]
    info = clf.train_info_
    print(f"{args.dataset}: {info['n_train_clips']} training clips, "
          f"{info['n_val_clips']} validation clips, model {clf.get_params()['model']}, "
          f"augment {args.augment}, seed {args.seed}, torch threads {torch.get_num_threads()}")
    means = {}
    for name, (clf, wall) in runs.items():
        epochs = [h["epoch_s"] for h in clf.history_]
        means[name] = statistics.mean(epochs)
        shown = ", ".join(f"{s:.2f}" for s in epochs)
        print(f"  {name:30s} per epoch {means[name]:6.2f} s (epochs: {shown}); whole fit "
              f"{wall:.1f} s")
    if len(means) == 2:
        before, now = means.values()
        print(f"training time per epoch: {before:.2f} s before, {now:.2f} s now "
              f"({before / now:.2f}x faster)")


if __name__ == "__main__":
    main()
