"""Where the errors are: accuracy per value of a metadata column, from cross-validation results.

Reads one or more cross-validation JSON files of the same bench dataset (written by
``classify.py``, ``recipes.py`` or ``earmark evaluate --json``); with several, their out-of-fold
probabilities are averaged (the ensemble of those recipes, as ``earmark.ensemble`` does). Joins
every clip to the dataset's ``metadata.csv`` and prints, for each value of ``--by`` (for
instruments: the GM ``program``), the share of its clips predicted correctly and the class most
often predicted; then how many values, and clips, fall below ``--below``. ``--confound COLUMN``
also cross-validates, on the same folds, a random forest that sees nothing but that metadata
column (for instruments: the MIDI ``pitch``): what a model could score from that cue alone.

    python benchmarks/per_group.py instruments --by program \\
        benchmarks/results/instruments.cv.json benchmarks/results/instruments.embed_yamnet_logreg.cv.json \\
        [--below 0.25] [--confound pitch]
"""

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from _bench import bench_dataset
from earmark.ensemble import combine_cv_results


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset")
    ap.add_argument("results", nargs="+", help="cross-validation JSON files of that dataset")
    ap.add_argument("--by", default="program", help="metadata.csv column (default: program)")
    ap.add_argument("--below", type=float, default=0.25,
                    help="count the values with an accuracy below this (default 0.25)")
    ap.add_argument("--confound", default=None, metavar="COLUMN",
                    help="also score a classifier that sees only this metadata column")
    args = ap.parse_args()
    root = bench_dataset(args.dataset)
    meta = pd.read_csv(root / "metadata.csv")
    if args.by not in meta.columns:
        raise SystemExit(f"{root / 'metadata.csv'}: no column {args.by!r}; it has "
                         f"{', '.join(meta.columns)}")
    results = [json.loads(Path(p).read_text()) for p in args.results]
    result = results[0] if len(results) == 1 else combine_cv_results(results)
    preds = pd.DataFrame(result["predictions"])
    where = {str((root / f).resolve()): v for f, v in zip(meta["filename"], meta[args.by])}
    preds[args.by] = [where.get(str(Path(p).resolve())) for p in preds["path"]]
    if preds[args.by].isna().any():
        missing = preds.loc[preds[args.by].isna(), "path"].iloc[0]
        raise SystemExit(f"{missing}: not in {root / 'metadata.csv'} (results of another dataset?)")
    preds["correct"] = preds["label"] == preds["predicted"]
    table = (preds.groupby(["label", args.by])
             .agg(clips=("correct", "size"), accuracy=("correct", "mean"),
                  most_predicted=("predicted", lambda s: s.value_counts().index[0]))
             .reset_index())
    print(f"{args.dataset}, {len(results)} result file(s): balanced accuracy "
          f"{result['balanced_accuracy']:.3f} (mean over folds)\n")
    print(table.to_string(index=False, float_format="%.2f"))
    low = table["accuracy"] < args.below
    rest = table[~low]
    print(f"\n{low.sum()} of {len(table)} {args.by} values below {args.below:.0%} correct "
          f"({int(table.loc[low, 'clips'].sum())} of {int(table['clips'].sum())} clips); "
          f"pooled accuracy of the rest "
          f"{np.average(rest['accuracy'], weights=rest['clips']):.3f}")
    if args.confound:
        print(f"{args.confound} alone (random forest, same folds): balanced accuracy "
              f"{confound_score(meta, args.confound):.3f}")


def confound_score(meta, column):
    """Balanced accuracy (mean over the ``fold`` column's folds) of a random forest that sees
    only ``column``."""
    import warnings

    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import balanced_accuracy_score

    if column not in meta.columns:
        raise SystemExit(f"metadata.csv: no column {column!r}")
    scores = []
    for fold in sorted(meta["fold"].unique()):
        train, test = meta[meta["fold"] != fold], meta[meta["fold"] == fold]
        forest = RandomForestClassifier(n_estimators=300, class_weight="balanced", random_state=0)
        forest.fit(train[[column]], train["label"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")      # a fold without every predicted class
            scores.append(balanced_accuracy_score(test["label"], forest.predict(test[[column]])))
    return float(np.mean(scores))


if __name__ == "__main__":
    main()
