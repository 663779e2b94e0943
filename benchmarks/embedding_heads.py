"""Embedding heads: window-level training + clip aggregation vs pooled clip embeddings.

For each dataset and embedder, every analysis window of every clip is embedded once (through
earmark's embedding cache), then the same 5 group-disjoint folds compare, with the same head
(standardise -> logistic regression or RBF SVM, C by grouped inner CV on the training folds):

- ``window``: the head is trained on window embeddings with their clip's label, and a test clip's
  window probabilities are averaged (what ``--recipe embed:...`` does);
- ``pooled mean`` / ``pooled mean+max``: one embedding per clip (the mean, or mean and max
  concatenated, over its windows), one prediction per clip.

Embedders joined with ``,`` (e.g. ``yamnet,birdnet``) are compared pooled only: their windows
differ, so their clip embeddings are concatenated.

    python benchmarks/embedding_heads.py drums instruments foley \\
        --embedders classic yamnet birdnet efficientnet yamnet,birdnet [--heads logreg svm]
"""

import argparse
import time
import warnings

import numpy as np

from _bench import bench_dataset
from earmark._home import earmark_home
from earmark.data import cv_splits, load_clips, load_dataset
from earmark.evaluate import classification_metrics
from earmark.models.embedded import EmbeddingWindowModel
from earmark.models.heads import make_head


def embed(dataset, name):
    """Per-clip window embeddings (list of (n_windows, dim)) and the seconds it took."""
    t = time.perf_counter()
    model = EmbeddingWindowModel(embedder=name, head="logreg", n_classes=1,
                                 cache_dir=earmark_home() / "cache" / "embeddings")
    clips = load_clips(dataset, sample_rate=model.features.sample_rate, progress=False)
    per_clip = model.embed_clips(clips, progress=True)
    return per_clip, time.perf_counter() - t


def pooled(per_clip, how):
    if how == "mean":
        return np.stack([e.mean(0) for e in per_clip])
    return np.stack([np.r_[e.mean(0), e.max(0)] for e in per_clip])


def evaluate(splits, y, groups, labels, *, head, per_clip=None, X_clip=None, seed=0):
    scores = []
    for _, tr, te in splits:
        h = make_head(head, seed=seed)
        if X_clip is not None:
            h.fit(X_clip[tr], y[tr], groups=groups[tr])
            pred = h.predict(X_clip[te])
        else:
            Xw = np.concatenate([per_clip[i] for i in tr])
            yw = np.concatenate([np.full(len(per_clip[i]), y[i]) for i in tr])
            gw = np.concatenate([np.full(len(per_clip[i]), groups[i]) for i in tr])
            h.fit(Xw, yw, groups=gw)
            pred = []
            for i in te:
                p = h.predict_proba(per_clip[i]).mean(0)
                pred.append(h.classes_[p.argmax()])
            pred = np.array(pred)
        m = classification_metrics(np.array(labels)[y[te]], np.array(labels)[pred], labels)
        scores.append(m["balanced_accuracy"])
    return float(np.mean(scores)), float(np.std(scores))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", nargs="+")
    ap.add_argument("--embedders", nargs="+", default=["classic", "yamnet", "birdnet",
                                                        "efficientnet"])
    ap.add_argument("--heads", nargs="+", default=["logreg"])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    print("| dataset | embedder | head | window + mean of window scores | pooled mean | "
          "pooled mean+max | embedding time |")
    print("|---|---|---|---|---|---|---|")
    for name in args.datasets:
        ds = load_dataset(bench_dataset(name))
        labels = ds.labels
        y = np.array([labels.index(v) for v in ds.table["label"]])
        groups = ds.column("group").astype(str)
        splits = cv_splits(ds, folds="fold")
        cache = {}
        for spec in args.embedders:
            parts = spec.split(",")
            secs = 0.0
            for p in parts:
                if p not in cache:
                    cache[p] = embed(ds, p)
                    secs += cache[p][1]
            for head in args.heads:
                cells = []
                if len(parts) == 1:
                    cells.append(evaluate(splits, y, groups, labels, head=head,
                                          per_clip=cache[parts[0]][0], seed=args.seed))
                else:
                    cells.append(None)
                for how in ("mean", "meanmax"):
                    X = np.concatenate([pooled(cache[p][0], how) for p in parts], axis=1)
                    cells.append(evaluate(splits, y, groups, labels, head=head, X_clip=X,
                                          seed=args.seed))
                shown = ["–" if c is None else f"{c[0]:.3f} ± {c[1]:.3f}" for c in cells]
                print(f"| {name} | {spec} | {head} | " + " | ".join(shown) +
                      f" | {secs:.0f} s |", flush=True)


if __name__ == "__main__":
    main()
