"""How an embedding head should learn clip tags: a quick comparison on the sed bench set.

For one pretrained embedder (default YAMNet), on the set's 5 folds, with one logistic regression
per class at a fixed C (no inner search, so it runs in minutes rather than the ~40 of
``tagging.py``'s tuned heads), it prints the macro mAP (mean and per fold) of:

- ``pooled``: the head on each clip's mean- and max-pooled window embeddings (one row per clip);
- ``windows/clip``: the head on every window with its clip's tags (weak labels), window scores
  aggregated by mean, max and lse (what ``SoundTagger(recipe="embed:...")`` does);
- ``windows/events``: the same with each window labelled by the annotated events it overlaps
  (strong labels: ``window_labels="events"``);
- the mean of ``pooled`` and ``windows/events`` scores;
- for scale: ``chance``, a constant score per class (every clip tied: AP = the tag's share of
  the fold's clips), and the window-level ROC-AUC of the events-trained heads (how well a single
  window is recognised, before windows are pooled into a clip score).

    python benchmarks/tagging_heads.py [--embedder yamnet] [--c 0.1] [--threads 1]
"""

import argparse
import time
import warnings

import numpy as np

import earmark
from _bench import add_threads_option, bench_dataset, setup
from earmark._home import earmark_home
from earmark.data import clip_events, load_clips, load_dataset
from earmark.models.embedded import EmbeddingWindowModel
from earmark.train import window_targets
from earmark.windows import aggregate, window_starts


def _head(c):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    return Pipeline([("scale", StandardScaler()),
                     ("clf", LogisticRegression(C=c, class_weight="balanced", max_iter=2000))])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="sed")
    ap.add_argument("--embedder", default="yamnet")
    ap.add_argument("--c", type=float, default=0.1, help="logistic regression C (default 0.1)")
    add_threads_option(ap)
    args = ap.parse_args()
    setup(args)
    warnings.filterwarnings("ignore", message="No positive class found")
    from sklearn.metrics import average_precision_score

    ds = load_dataset(bench_dataset(args.dataset))
    labels = ds.labels
    k = len(labels)
    model = EmbeddingWindowModel(embedder=args.embedder, n_classes=k, task="tagging",
                                 cache_dir=earmark_home() / "cache" / "embeddings")
    fc = model.features
    clips = load_clips(ds, sample_rate=fc.sample_rate)
    emb = model.embed_clips(clips, progress=True)
    y = earmark.tasks.get_task("tagging").encode(ds.label_sets, labels)
    events = clip_events(ds, labels, sample_rate=fc.sample_rate)
    by_events = [window_targets(ev, window_starts(len(c), fc.window_samples,
                                                  fc.hop_samples)[:len(e)],
                                fc.window_samples, k) for c, e, ev in zip(clips, emb, events)]
    pooled = np.stack([np.r_[e.mean(axis=0), e.max(axis=0)] for e in emb])
    fold = ds.column("fold")
    folds = sorted(set(fold))

    def per_fold(scores):
        out = []
        for f in folds:
            te = fold == f
            present = y[te].sum(axis=0) > 0
            out.append(average_precision_score(y[te][:, present], scores[te][:, present],
                                               average="macro"))
        return out

    def show(name, scores, t0):
        v = per_fold(scores)
        print(f"{name:<28} macro mAP {np.mean(v):.3f} ± {np.std(v):.3f}  per fold "
              f"{[round(x, 3) for x in v]}  ({time.perf_counter() - t0:.0f} s)", flush=True)

    show("chance (constant scores)", np.zeros((len(ds), k)), time.perf_counter())
    t0 = time.perf_counter()
    s_pooled = np.zeros((len(ds), k))
    for f in folds:
        tr, te = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        for c in range(k):
            s_pooled[te, c] = _head(args.c).fit(pooled[tr], y[tr, c]).predict_proba(
                pooled[te])[:, 1]
    show("pooled", s_pooled, t0)
    from sklearn.metrics import roc_auc_score

    window_scores, window_auc = {}, []
    for mode in ("clip", "events"):
        t0 = time.perf_counter()
        scores = {a: np.zeros((len(ds), k)) for a in ("mean", "max", "lse")}
        for f in folds:
            tr, te = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
            X = np.concatenate([emb[i] for i in tr])
            Y = np.concatenate([np.repeat(y[i:i + 1], len(emb[i]), axis=0) if mode == "clip"
                                else by_events[i] for i in tr])
            Xt = np.concatenate([emb[i] for i in te])
            owner = np.repeat(np.arange(len(te)), [len(emb[i]) for i in te])
            W = np.zeros((len(Xt), k))
            for c in range(k):
                W[:, c] = _head(args.c).fit(X, Y[:, c]).predict_proba(Xt)[:, 1]
            if mode == "events":
                Yt = np.concatenate([by_events[i] for i in te])
                window_auc += [roc_auc_score(Yt[:, c], W[:, c]) for c in range(k)
                               if 0 < Yt[:, c].sum() < len(Yt)]
            for a in scores:
                scores[a][te] = np.stack([aggregate(W[owner == j], method=a, normalise=False)
                                          for j in range(len(te))])
        for a, s in scores.items():
            show(f"windows/{mode} {a}", s, t0)
        window_scores[mode] = scores["lse"]
    show("mean of pooled, events lse", (s_pooled + window_scores["events"]) / 2,
         time.perf_counter())
    print(f"window-level ROC-AUC of the events heads (test windows, per class and fold): "
          f"mean {np.mean(window_auc):.3f}, range {min(window_auc):.3f}-{max(window_auc):.3f}")


if __name__ == "__main__":
    main()
