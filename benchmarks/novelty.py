"""Cross-validate novelty detectors on the anomaly bench set and print the numbers docs quote.

Reads ``$EARMARK_BENCH/datasets/anomaly`` (about 300 five-second ambience clips; a third carry
a foreign foley or drum event at -6...+6 dB; ``label`` is ``normal`` or ``anomaly``,
``anomaly_family`` names ``drum`` or ``foley``; built by
``SKIP_EVAL=1 bash ../shared/bench/build_anomaly.sh``). For each embedder, method and
aggregation it runs :func:`earmark.cross_validate` over the set's own group-disjoint 5 ``fold``
values with :class:`earmark.NoveltyDetector` (fitted on the normal clips of the other folds;
thresholds from their normal clips held out by group) and prints ROC-AUC (mean ± std over
folds), pAUC (FPR 0.1, as sklearn's ``roc_auc_score(max_fpr=0.1)``), ROC-AUC per anomaly
family, and the false-alarm rate measured on the test normals (files and windows) and the recall
at the ``--false-alarms`` budget (5 %); writes ``<out>/anomaly.novelty-<...>.cv.json``.

    python benchmarks/novelty.py [--embedders classic,yamnet]
        [--methods knn,knn:n_neighbors=1,mahalanobis,gmm,iforest] [--aggregations max,contrast]
        [--false-alarms 5%] [--seed 0] [--threads 1] [--out benchmarks/results]

A method is a :class:`~earmark.NoveltyDetector` method with optional parameters after ':'
(``gmm:covariance=full:n_components=2``). For scale, on these folds (outside earmark, one vector
per clip: mean and max of the window embeddings): Mahalanobis on MFCC statistics 0.70;
log-mel/MFCC statistics with kNN 0.76 or Mahalanobis 0.77; YAMNet with kNN 0.65.
"""

import argparse
import time
from pathlib import Path

import earmark
from _bench import add_threads_option, bench_dataset, setup
from earmark._io import write_json


def _fmt(v):
    return "-" if v is None else f"{v:.3f}"


def _method(spec):
    name, *rest = spec.split(":")
    params = {}
    for item in rest:
        key, _, value = item.partition("=")
        params[key] = int(value) if value.isdigit() else {"true": True, "false": False}.get(
            value, value)
    return name, params


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="anomaly")
    ap.add_argument("--embedders", default="classic,yamnet")
    ap.add_argument("--methods", default="knn,knn:n_neighbors=1,mahalanobis,gmm,"
                    "gmm:covariance=full:n_components=2,iforest")
    ap.add_argument("--aggregations", default="max,contrast")
    ap.add_argument("--false-alarms", default="5%")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/results")
    add_threads_option(ap)
    args = ap.parse_args()
    setup(args)
    root = bench_dataset(args.dataset)
    header = (f"{'embedder':<9}{'method':<36}{'aggregation':<12}{'ROC-AUC':>15}{'pAUC':>7}"
              f"{'drum':>7}{'foley':>7}{'FAR file':>9}{'FAR win':>8}{'recall':>7}{'s':>6}")
    print(f"{args.dataset}: 5 folds, fitted on the normal clips of the other folds; false-alarm "
          f"rates and recall at a {args.false_alarms} budget")
    print(header, flush=True)
    for embedder in args.embedders.split(","):
        for spec in args.methods.split(","):
            method, params = _method(spec)
            for aggregation in args.aggregations.split(","):
                t = time.perf_counter()
                est = earmark.NoveltyDetector(method=method, embedder=embedder,
                                              aggregation=aggregation,
                                              false_alarms=args.false_alarms, seed=args.seed,
                                              progress=False, **params)
                r = earmark.cross_validate(root, folds="fold", estimator=est, progress=False)
                wall = time.perf_counter() - t
                slug = "-".join([embedder, spec.replace(":", "-").replace("=", ""),
                                 aggregation])
                write_json(r, Path(args.out) / f"{args.dataset}.novelty-{slug}.cv.json")
                fam = r["per_family"]
                print(f"{embedder:<9}{spec:<36}{aggregation:<12}"
                      f"{_fmt(r['roc_auc']) + ' ± ' + _fmt(r['roc_auc_std']):>15}"
                      f"{_fmt(r['pauc']):>7}{_fmt(fam.get('drum', {}).get('roc_auc')):>7}"
                      f"{_fmt(fam.get('foley', {}).get('roc_auc')):>7}"
                      f"{_fmt(r['false_alarm_rate']):>9}{_fmt(r['window_false_alarm_rate']):>8}"
                      f"{_fmt(r['recall']):>7}{wall:>6.0f}", flush=True)


if __name__ == "__main__":
    main()
