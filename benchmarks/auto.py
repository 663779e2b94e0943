"""``--recipe auto`` on the bench datasets: every candidate and ensemble row, and the winner.

Runs :func:`earmark.auto_select` (what ``earmark train DATA --recipe auto`` runs before it trains
the winner) on each dataset's own 5 group-disjoint folds and prints one markdown table per
dataset plus a summary. Candidates whose models are not installed are skipped; the embedding
cache (``$EARMARK_HOME/cache/embeddings``) is used as by any run.

    python benchmarks/auto.py drums foley instruments [--budget-min 20] [--threads 1]
"""

import argparse

import earmark
from _bench import add_threads_option, bench_dataset, setup


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", nargs="+")
    ap.add_argument("--budget-min", type=float, default=20.0)
    add_threads_option(ap)
    args = ap.parse_args()
    setup(args)
    summary = []
    for name in args.datasets:
        r = earmark.auto_select(bench_dataset(name), budget_min=args.budget_min, progress=False,
                                verbose=False)
        print(f"\n{name} ({r['protocol']}, budget {args.budget_min:g} min, "
              f"{r['wall_s'] / 60:.1f} min used)\n")
        print("| candidate | balanced accuracy | time |")
        print("|---|---|---|")
        for row in r["rows"]:
            score = (f"{row['balanced_accuracy']:.3f} ± {row['balanced_accuracy_std']:.3f}"
                     if row["status"] == "done" else row["status"])
            mark = "**" if row is r["best"] else ""
            print(f"| {mark}{row['recipe']}{mark} | {score} | {row['wall_s'] / 60:.1f} min |",
                  flush=True)
        summary.append((name, r))
    print("\n| dataset | auto keeps | balanced accuracy | best single recipe |")
    print("|---|---|---|---|")
    for name, r in summary:
        single = max((row for row in r["rows"] if row["status"] == "done"
                      and not row["recipe"].startswith("ensemble:")),
                     key=lambda row: row["balanced_accuracy"])
        print(f"| {name} | {r['best']['recipe']} | {r['best']['balanced_accuracy']:.3f} | "
              f"{single['recipe']} {single['balanced_accuracy']:.3f} |")


if __name__ == "__main__":
    main()
