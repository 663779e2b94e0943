"""Cross-validate the default recipe on the bench datasets and print the numbers README quotes.

Reads ``$EARMARK_BENCH/datasets/<name>`` (built by ../shared/bench/build_all.sh; default
``~/.cache/earmark-bench``), runs 5-fold cross-validation over the datasets' own group-disjoint
``fold`` column, and prints balanced accuracy, accuracy and macro-F1 (mean ± std over folds),
per-fold balanced accuracy and the wall time. Writes ``<out>/<name>.cv.json`` and, with
``--report``, ``<out>/<name>.report.html``.

    python benchmarks/classify.py drums instruments [--out benchmarks/results] [--report]
        [--model sbcnn] [--augment default] [--epochs N] [--seed 0] [--threads N]

``--epochs`` defaults to the recipe's own (60 for the CNNs).
"""

import argparse
import time
from pathlib import Path

import earmark
from _bench import add_threads_option, bench_dataset, setup
from earmark.evaluate import write_confusion_png, write_json



def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", nargs="+")
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--report", action="store_true")
    ap.add_argument("--model", default="sbcnn")
    ap.add_argument("--augment", default="default")
    ap.add_argument("--epochs", type=int, default=None, help="default: the recipe's (60)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--window-s", type=float, default=None,
                    help="analysis window (default: chosen from the clip durations)")
    add_threads_option(ap)
    args = ap.parse_args()
    setup(args)
    rows = []
    for name in args.datasets:
        root = bench_dataset(name)
        t = time.perf_counter()
        features = (None if args.window_s is None else
                    earmark.FeatureConfig(window_s=args.window_s, hop_s=args.window_s / 2))
        r = earmark.cross_validate(root, folds="fold", model=args.model, epochs=args.epochs,
                                   features=features,
                                   augment=None if args.augment == "none" else args.augment,
                                   seed=args.seed, progress=False)
        wall = time.perf_counter() - t
        out = Path(args.out)
        write_json(r, out / f"{name}.cv.json")
        write_confusion_png(r, out / f"{name}.cv_confusion.png")
        if args.report:
            from earmark.reports import write_evaluation_report
            write_evaluation_report(r, out / f"{name}.report.html", progress=False)
        rows.append((name, r, wall))
        print(f"{name}: balanced accuracy {r['balanced_accuracy']:.3f} ± "
              f"{r['balanced_accuracy_std']:.3f}, accuracy {r['accuracy']:.3f}, macro-F1 "
              f"{r['macro_f1']:.3f}; per fold "
              f"{[round(f['balanced_accuracy'], 3) for f in r['folds']]}; {wall / 60:.1f} min",
              flush=True)
    print()
    print(f"| dataset | clips | recipe | balanced accuracy | accuracy | macro-F1 | wall time |")
    print("|---|---|---|---|---|---|---|")
    for name, r, wall in rows:
        print(f"| {name} | {r['n_clips']} | {args.model}, augment={args.augment}, "
              f"{r['config']['training']['epochs']} epochs | {r['balanced_accuracy']:.3f} ± "
              f"{r['balanced_accuracy_std']:.3f} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} | "
              f"{wall / 60:.1f} min |")


if __name__ == "__main__":
    main()
