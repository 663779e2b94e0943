"""Cross-validate sound event detectors on the sed bench set and print the numbers docs quote.

Reads ``$EARMARK_BENCH/datasets/sed`` (400 ten-second scenes, 7 event classes, strong labels in
``annotations.csv``; built by ``bash ../shared/bench/build_sed.sh``). Runs 5-fold
cross-validation over the set's own group-disjoint ``fold`` column with
:class:`earmark.SoundDetector` for each recipe and prints, per recipe, segment F1 (1 s, micro)
and error rate, collar-based event F1 (macro; 200-ms onset collar, offset collar max(200 ms,
20 %)), PSDS1 and PSDS2 (means ± std over folds) and the wall time; writes
``<out>/sed.detect-<recipe>.cv.json`` (and, with ``--report``, the HTML report).

    python benchmarks/detection.py [--recipes crnn,crnn:weak,embed:yamnet+logreg]
        [--epochs N] [--patience 10] [--seed 0] [--threads N] [--out benchmarks/results]
        [--report]

A recipe is any :class:`~earmark.SoundDetector` recipe ('crnn', 'cnn', 'embed:yamnet+logreg',
...), with ``:weak`` appended to train it from the clip tags alone (weak labels). For scale, on
these folds (measured outside earmark): a random forest on 1-s segment features reaches segment
F1 0.16; YAMNet window embeddings with one logistic regression per class, mapped to 1-s
segments, 0.26.
"""

import argparse
import time
from pathlib import Path

import earmark
from _bench import add_threads_option, bench_dataset, setup
from earmark._io import write_json


def _fmt(v):
    return "-" if v is None else f"{v:.3f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="sed")
    ap.add_argument("--recipes", default="crnn,crnn:weak,embed:yamnet+logreg",
                    help="comma-separated detector recipes; ':weak' = clip tags only")
    ap.add_argument("--epochs", type=int, default=None, help="CRNN/CNN epochs (default: 60)")
    ap.add_argument("--patience", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--report", action="store_true")
    ap.add_argument("--oracle", action="store_true",
                    help="only print what perfect frame scores (1 on the frames an event covers "
                    "by half, 0 elsewhere) reach at 93-ms and 46-ms frames: the ceiling the "
                    "frame grid sets")
    add_threads_option(ap)
    args = ap.parse_args()
    setup(args)
    root = bench_dataset(args.dataset)
    if args.oracle:
        return oracle(root)
    rows = []
    for spec in args.recipes.split(","):
        recipe, _, weak = spec.partition(":weak") if spec.endswith(":weak") else (spec, "", "")
        weak = spec.endswith(":weak")
        t = time.perf_counter()
        est = earmark.SoundDetector(recipe=recipe, weak=weak, epochs=args.epochs,
                                    patience=args.patience, seed=args.seed, progress=False)
        r = earmark.cross_validate(root, folds="fold", estimator=est, progress=False)
        wall = time.perf_counter() - t
        slug = "detect-" + spec.replace(":", "-").replace("+", "-")
        out = Path(args.out)
        write_json(r, out / f"{args.dataset}.{slug}.cv.json")
        if args.report:
            from earmark.reports import write_evaluation_report
            write_evaluation_report(r, out / f"{args.dataset}.{slug}.report.html",
                                    progress=False)
        rows.append((spec, r, wall))
        print(f"{spec}: segment F1 {_fmt(r['segment_f1'])} ± {_fmt(r['segment_f1_std'])} "
              f"(P {_fmt(r['segment_precision'])}, R {_fmt(r['segment_recall'])}, ER "
              f"{_fmt(r['segment_er'])}), collar F1 {_fmt(r['collar_f1'])} ± "
              f"{_fmt(r['collar_f1_std'])}, PSDS1 {_fmt(r['psds1'])} ± {_fmt(r['psds1_std'])}, "
              f"PSDS2 {_fmt(r['psds2'])}; per fold segment F1 "
              f"{[round(f['segment_f1'], 3) for f in r['folds']]}; {wall / 60:.1f} min",
              flush=True)
    print()
    print(f"| recipe ({args.dataset}, {rows[0][1]['n_clips']} recordings, "
          f"{len(rows[0][1]['labels'])} classes) | segment F1 (1 s) | segment ER | collar F1 | "
          "PSDS1 | PSDS2 | wall time |")
    print("|---|---|---|---|---|---|---|")
    for spec, r, wall in rows:
        print(f"| {spec} | {_fmt(r['segment_f1'])} ± {_fmt(r['segment_f1_std'])} | "
              f"{_fmt(r['segment_er'])} | {_fmt(r['collar_f1'])} ± {_fmt(r['collar_f1_std'])} | "
              f"{_fmt(r['psds1'])} ± {_fmt(r['psds1_std'])} | {_fmt(r['psds2'])} | "
              f"{wall / 60:.1f} min |")


def oracle(root):
    """The metrics of perfect frame scores on the frame grid, per fold."""
    import numpy as np

    from earmark.data import load_dataset
    from earmark.data.annotations import clip_events
    from earmark.evaluation.detection import detection_metrics
    from earmark.inference.outputs import score_dataframe
    from earmark.inference.postprocess import PostProcessing, decode_events
    from earmark.models.frames import frame_targets

    ds = load_dataset(root)
    labels, sr = ds.labels, 22050
    events = clip_events(ds, labels, sample_rate=sr)
    folds = [str(f) for f in ds.column("fold")]
    durations = [float(d) for d in ds.column("duration")]
    for step in (2048, 1024):
        rows = []
        for fold in sorted(set(folds)):
            scores, truth, detected, dur = {}, {}, {}, {}
            for i in (i for i, f in enumerate(folds) if f == fold):
                n = int(np.ceil(durations[i] * sr / step))
                s = frame_targets(events[i], [0], n * step, len(labels), step=step,
                                  n_frames=n)[0]
                k = f"clip{i:05d}"
                scores[k] = score_dataframe(s, frame_step_s=step / sr, classes=labels)
                truth[k] = [(a / sr, b / sr, labels[c]) for a, b, c in events[i]]
                detected[k] = [e[:3] for e in decode_events(
                    s, frame_step_s=step / sr, classes=labels,
                    postprocessing=PostProcessing.default(len(labels)))]
                dur[k] = durations[i]
            rows.append(detection_metrics(scores, detected, truth, dur, labels))
        print(f"perfect frame scores at {1000 * step / sr:.0f}-ms frames: " + ", ".join(
            f"{k} {np.mean([r[k] for r in rows]):.3f}"
            for k in ("psds1", "psds2", "collar_f1", "segment_f1")))


if __name__ == "__main__":
    main()
