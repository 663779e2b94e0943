"""Open-set classification on drums: leave one class out in turn, print AUROC per rejection
score and the known-class accuracy at the threshold (the numbers docs/novelty.md quotes).

For every class of ``$EARMARK_BENCH/datasets/drums`` (8 classes, 790 one-shots, group-disjoint
``fold`` 1-5) and every test fold asked for: a :class:`earmark.SoundClassifier` with
``unknown=`` is trained on the *other* classes' clips of the other folds (its threshold set on
about 20 % of them held out by group, as ``fit`` does), and the test fold's known-class clips
and *all* held-out-class clips (none was trained on; one test fold holds too few of some
classes, e.g. 6 claps in fold 1) are scored by each rejection score (maximum probability,
energy, kNN on the penultimate activations or window embeddings) of that one model
(:func:`earmark.evaluation.open_set.evaluate_open_set`). Prints the AUROC (unknown against
known) per held-out class and score, the means, and at the threshold the known-class accuracy
(right class and not rejected), the share of known clips rejected and of unknown clips
rejected; writes ``<out>/drums.open_set-<recipe>.json``.

    python benchmarks/open_set.py [--recipe cnn] [--epochs 20] [--test-folds 1]
        [--unknown 5%] [--classes kick,snare] [--seed 0] [--threads 2] [--out benchmarks/results]

The final measurement (8 trainings of the SB-CNN, about 5 minutes on a quiet 2-core machine):
``python benchmarks/open_set.py --epochs 20 --test-folds 1``.
"""

import argparse
from pathlib import Path

import earmark
from _bench import add_threads_option, bench_dataset, earmark_home_at, setup
from earmark._io import write_json
from earmark.evaluation.open_set import evaluate_open_set, format_open_set


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="drums")
    ap.add_argument("--recipe", default="cnn")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--test-folds", default="1", help="comma-separated test folds, or 'all'")
    ap.add_argument("--unknown", default="5%")
    ap.add_argument("--unknown-from", default="all", choices=("all", "test_fold"),
                    help="unknown clips scored: all of the held-out class, or its test-fold "
                    "clips only")
    ap.add_argument("--rejection", default=None, help="the estimator's own score (all three "
                    "are measured; this one sets the model's threshold in train_info)")
    ap.add_argument("--classes", default=None, help="comma-separated classes held out in turn "
                    "(default: every class)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--home", default=None, help="EARMARK_HOME for the run (default: as set)")
    add_threads_option(ap)
    args = ap.parse_args()
    setup(args)
    root = bench_dataset(args.dataset)
    params = {"recipe": args.recipe, "unknown": args.unknown, "rejection": args.rejection,
              "seed": args.seed, "progress": False}
    if not args.recipe.startswith("embed:"):
        params["epochs"] = args.epochs
    est = earmark.SoundClassifier(**params)
    folds = None if args.test_folds == "all" else args.test_folds.split(",")
    classes = None if args.classes is None else args.classes.split(",")
    print(f"{args.dataset}: each class held out as unknown in turn; recipe {args.recipe}"
          + ("" if args.recipe.startswith("embed:") else f", {args.epochs} epochs")
          + f"; test folds {args.test_folds}; threshold at {args.unknown} of held-out known "
          "clips rejected", flush=True)
    with earmark_home_at(args.home) if args.home else _nothing():
        r = evaluate_open_set(root, folds="fold", estimator=est, test_folds=folds,
                              unknown_classes=classes, unknown_from=args.unknown_from,
                              progress=True)
    print(format_open_set(r))
    print(f"{r['wall_s']:.0f} s")
    slug = args.recipe.replace(":", "-").replace("+", "-")
    write_json(r, Path(args.out) / f"{args.dataset}.open_set-{slug}.json")


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    main()
