"""Cross-validate tagging recipes on the sed bench set's clips and print the numbers docs quote.

Reads ``$EARMARK_BENCH/datasets/sed`` (400 ten-second scenes, 7 event classes; built by
``bash ../shared/bench/build_sed.sh``, see docs/benchmarks.md), whose ``metadata.csv`` +
``annotations.csv`` give each clip its tags (the event labels it holds). Runs 5-fold
cross-validation over the set's own group-disjoint ``fold`` column with
:class:`earmark.SoundTagger`, and prints macro mAP, micro mAP, micro-F1 at the tuned thresholds
(mean ± std over folds), per-fold macro mAP and the wall time for each recipe; writes
``<out>/sed.<recipe>.cv.json`` (and, with ``--report``, the HTML report).

    python benchmarks/tagging.py [--recipes cnn,embed:yamnet+logreg] [--aggregation lse]
        [--window-labels clip|events] [--epochs N] [--patience 10] [--seed 0] [--threads N]
        [--out benchmarks/results] [--report] [--combine]

``--window-labels events`` trains every window on the annotated events it overlaps (strong
labels) instead of its clip's tags; the metrics are per clip either way. ``--combine`` also
prints the mean of the recipes' out-of-fold scores (the cross-validation of their ensemble,
:func:`earmark.evaluation.combine_cv_results`).

Two references for scale (each class's frequency as its score gives about 0.38 macro mAP; a
logistic regression per class on mean+max-pooled YAMNet embeddings about 0.45).
"""

import argparse
import time
from pathlib import Path

import earmark
from _bench import add_threads_option, bench_dataset, setup
from earmark._io import write_json


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="sed")
    ap.add_argument("--recipes", default="cnn,embed:yamnet+logreg",
                    help="comma-separated recipes (default: cnn,embed:yamnet+logreg)")
    ap.add_argument("--aggregation", default=None, help="mean, max or lse (default: lse)")
    ap.add_argument("--window-labels", default="clip", choices=("clip", "events"))
    ap.add_argument("--combine", action="store_true",
                    help="also score the mean of the recipes' out-of-fold scores")
    ap.add_argument("--epochs", type=int, default=None, help="CNN epochs (default: 60)")
    ap.add_argument("--patience", type=int, default=10,
                    help="CNN early-stopping patience on the validation clips (default 10)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--report", action="store_true")
    add_threads_option(ap)
    args = ap.parse_args()
    setup(args)
    root = bench_dataset(args.dataset)
    rows = []
    for recipe in args.recipes.split(","):
        t = time.perf_counter()
        est = earmark.SoundTagger(recipe=recipe, aggregation=args.aggregation,
                                  window_labels=args.window_labels, epochs=args.epochs,
                                  patience=args.patience,
                                  seed=args.seed, progress=False)
        r = earmark.cross_validate(root, folds="fold", estimator=est, progress=False)
        wall = time.perf_counter() - t
        out = Path(args.out)
        slug = recipe.replace(":", "-").replace("+", "-") + (
            "" if args.window_labels == "clip" else "-events") + (
            "" if args.patience == 10 else f"-patience{args.patience}")
        write_json(r, out / f"{args.dataset}.{slug}.cv.json")
        if args.report:
            from earmark.reports import write_evaluation_report
            write_evaluation_report(r, out / f"{args.dataset}.{slug}.report.html",
                                    progress=False)
        rows.append((recipe, r, wall))
        print(f"{recipe}: macro mAP {r['map_macro']:.3f} ± {r['map_macro_std']:.3f}, micro mAP "
              f"{r['map_micro']:.3f}, micro-F1 {r['f1_micro']:.3f} ± {r['f1_micro_std']:.3f}; "
              f"per fold {[round(f['map_macro'], 3) for f in r['folds']]}; "
              f"{wall / 60:.1f} min", flush=True)
    if args.combine and len(rows) > 1:
        from earmark.evaluation import combine_cv_results
        r = combine_cv_results([row[1] for row in rows])
        name = "mean of " + " and ".join(row[0] for row in rows)
        rows.append((name, r, sum(row[2] for row in rows)))
        print(f"{name}: macro mAP {r['map_macro']:.3f} ± {r['map_macro_std']:.3f}, micro-F1 "
              f"{r['f1_micro']:.3f}; per fold {[round(f['map_macro'], 3) for f in r['folds']]}",
              flush=True)
    print()
    print(f"| recipe ({args.dataset}, {rows[0][1]['n_clips']} clips, "
          f"{len(rows[0][1]['labels'])} classes, window labels: {args.window_labels}) | "
          "aggregation | macro mAP | micro mAP | "
          "micro-F1 | wall time |")
    print("|---|---|---|---|---|---|")
    for recipe, r, wall in rows:
        agg = (r["config"].get("estimator") or {}).get("aggregation") or "lse"
        print(f"| {recipe} | {agg} | {r['map_macro']:.3f} ± {r['map_macro_std']:.3f} | "
              f"{r['map_micro']:.3f} | {r['f1_micro']:.3f} | {wall / 60:.1f} min |")


if __name__ == "__main__":
    main()
