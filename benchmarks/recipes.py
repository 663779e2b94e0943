"""Cross-validate recipes (CNN, ImageNet transfer, pretrained embeddings + heads) on the bench datasets.

Reads ``$EARMARK_BENCH/datasets/<name>`` (default ``~/.cache/earmark-bench``), runs
cross-validation over each dataset's own group-disjoint ``fold`` column for every recipe, and
prints a markdown table: balanced accuracy (mean ± std over folds), macro-F1 and wall time.
Writes ``<out>/<dataset>.<recipe>.cv.json``.

By default each (recipe, dataset) run gets a fresh, empty embedding cache (a temporary
EARMARK_HOME whose ``models`` folder points at the installed models), so the wall time includes
computing every embedding, as on a first run; ``--reuse-cache`` uses the shared cache instead.

    python benchmarks/recipes.py drums --recipes embed:yamnet+logreg embed:classic+logreg
    python benchmarks/recipes.py drums instruments foley \\
        --recipes cnn embed:yamnet+logreg embed:birdnet+logreg embed:classic+logreg
    python benchmarks/recipes.py drums foley --recipes transfer:efficientnet --threads 1
    python benchmarks/recipes.py instruments --threads 1 \\
        --recipes ensemble:cnn,embed:yamnet+logreg,embed:birdnet+svm

``ensemble:A,B,...`` cross-validates each member (each also written to its own JSON) and scores
the average of their out-of-fold probabilities, as ``earmark evaluate --recipe ensemble:...``.

``--epochs`` applies to the torch recipes (cnn, transfer:...); ``--threads`` sets torch's threads.
"""

import argparse
import contextlib
import re
import tempfile
import time
import warnings
from pathlib import Path

import earmark
from _bench import add_threads_option, bench_dataset, earmark_home_at, setup
from earmark._home import earmark_home
from earmark.ensemble import combine_cv_results, member_seeds
from earmark.evaluate import write_json



@contextlib.contextmanager
def fresh_cache():
    """A temporary EARMARK_HOME that sees the installed models but has an empty cache."""
    models = earmark_home() / "models"
    with tempfile.TemporaryDirectory(prefix="earmark-bench-home-") as tmp:
        if models.is_dir():
            (Path(tmp) / "models").symlink_to(models.resolve())
        with earmark_home_at(tmp):
            yield


def is_torch(recipe):
    return recipe == "cnn" or recipe.startswith("transfer:")


def safe_name(recipe):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", recipe)


def cross_validate_recipe(root, recipe, args, seed):
    extra = {"epochs": args.epochs} if is_torch(recipe) and args.epochs else {}
    return earmark.cross_validate(root, folds="fold", recipe=recipe, seed=seed, progress=False,
                                  **extra)


def cross_validate_ensemble(root, recipe, args, name):
    """``ensemble:A,B,...``: cross-validate every member (a recipe named again gets the next
    seed, as ``earmark evaluate --recipe ensemble:...``), write each member's JSON, and average
    their out-of-fold probabilities."""
    members = recipe[len("ensemble:"):].split(",")
    runs = []
    for member, seed in zip(members, member_seeds(members, args.seed)):
        r = cross_validate_recipe(root, member, args, seed)
        write_json(r, Path(args.out) / f"{name}.{safe_name(member)}.seed{seed}.cv.json")
        print(f"  member {member}: balanced accuracy {r['balanced_accuracy']:.3f}", flush=True)
        runs.append(r)
    return combine_cv_results(runs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", nargs="+", help="drums, instruments, foley, ...")
    ap.add_argument("--recipes", nargs="+", default=["embed:yamnet+logreg",
                                                     "embed:classic+logreg"])
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=None, help="torch recipes only (default: the "
                    "recipe's, 30 for cnn, 15 for transfer)")
    add_threads_option(ap)
    ap.add_argument("--reuse-cache", action="store_true",
                    help="use the shared embedding cache (wall times then exclude embedding)")
    args = ap.parse_args()
    setup(args)
    warnings.filterwarnings("ignore", message="The least populated class in y has only")
    rows = []
    for name in args.datasets:
        root = bench_dataset(name)
        for recipe in args.recipes:
            cache = contextlib.nullcontext() if args.reuse_cache else fresh_cache()
            with cache:
                t = time.perf_counter()
                if recipe.startswith("ensemble:"):
                    r = cross_validate_ensemble(root, recipe, args, name)
                else:
                    r = cross_validate_recipe(root, recipe, args, args.seed)
                wall = time.perf_counter() - t
            write_json(r, Path(args.out) / f"{name}.{safe_name(recipe)}.cv.json")
            if is_torch(recipe):
                recipe = f"{recipe} ({len(r['folds'][0]['history'])} epochs)"
            rows.append((name, recipe, r, wall))
            print(f"{name} {recipe}: balanced accuracy {r['balanced_accuracy']:.3f} ± "
                  f"{r['balanced_accuracy_std']:.3f}, macro-F1 {r['macro_f1']:.3f}; per fold "
                  f"{[round(f['balanced_accuracy'], 3) for f in r['folds']]}; {wall:.0f} s",
                  flush=True)
    print()
    cache_note = "shared cache" if args.reuse_cache else "cold cache"
    print(f"| dataset | clips | recipe | balanced accuracy | macro-F1 | wall time ({cache_note}) |")
    print("|---|---|---|---|---|---|")
    for name, recipe, r, wall in rows:
        print(f"| {name} | {r['n_clips']} | {recipe} | {r['balanced_accuracy']:.3f} ± "
              f"{r['balanced_accuracy_std']:.3f} | {r['macro_f1']:.3f} | {wall:.0f} s |")


if __name__ == "__main__":
    main()
