"""Stream a recording in real time through each recipe and print latency, CPU and drops.

For each recipe a small model is trained (a few epochs: latency does not depend on accuracy) or
taken from ``--model``, and a recording of ``--seconds`` is streamed through it paced as a
sound card would deliver it (:class:`earmark.streaming.FileSource` with ``realtime=True``,
256-frame chunks, at the model's own rate (``--stream-rates model``: what a microphone gives
when it can be opened at that rate, as ``earmark stream`` asks it to) or at 44.1 kHz (resampled
to the model's rate in the stream; soxr's HQ stream resampler holds back about 23 ms on
average)).
Per recipe it prints:

- latency: from the moment a window's last sample was delivered to the moment its score was
  handed to the outputs (p50, p95, max, in ms). A sound is reported at most one hop plus this
  after it ends;
- CPU: the process's CPU time over the wall time of the stream (% of one core; capture,
  resampling, scoring and output together);
- dropped: hops skipped because the model was slower than the hop (0 is the goal);
- max |diff|: the largest difference between the streamed window scores (frame scores for the
  detector) and offline scoring of the same file at the same hop.

    python benchmarks/stream_latency.py [--recipes sbcnn,cnn,crnn] [--seconds 60]
        [--hop 0.25] [--epochs 3] [--threads 1] [--model PATH] [--out benchmarks/results]
        [--stream-rates 44100,model]

Recipes: ``sbcnn`` (the default drums recipe: cnn with SB-CNN), ``cnn`` (the deeper small CNN),
``classic`` (embed:classic+logreg) trained on the drums example set (``earmark datasets fetch
drums``); ``crnn`` (the default detector) trained on fold 1 of the sed bench set. The stream is
drums one-shots scattered over a quiet noise floor (seeded). Run it on a quiet machine: the
numbers measure this machine's spare time as much as the model.
"""

import argparse
import contextlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

import earmark
from _bench import add_threads_option, bench_dataset, earmark_home_at, setup
from earmark._io import write_json
from earmark.audio import load
from earmark.streaming import FileSource, StreamScorer, run_stream

STREAM_RATE = 44100
RECIPES = ("sbcnn", "cnn", "classic", "crnn")


def drums_root():
    out = subprocess.run([sys.executable, "-m", "earmark", "datasets", "fetch", "drums", "-q"],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip().splitlines()[-1])


def make_recording(path, root, seconds, seed=0, rate=STREAM_RATE):
    """Drum one-shots at random times over a -50 dBFS noise floor, at ``rate``."""
    rng = np.random.default_rng(seed)
    files = sorted(root.rglob("*.wav"))
    y = 0.003 * rng.standard_normal(int(seconds * rate)).astype(np.float32)
    t = 0.2
    while t < seconds - 0.5:
        clip, _ = load(files[rng.integers(len(files))], sample_rate=rate)
        a = int(t * rate)
        piece = clip[:len(y) - a] * rng.uniform(0.3, 0.9)
        y[a:a + len(piece)] += piece
        t += rng.uniform(0.3, 1.5)
    sf.write(path, np.clip(y, -1, 1), rate, subtype="PCM_16")
    return path


def train(recipe, epochs, drums):
    common = dict(epochs=epochs, augment=None, progress=False, seed=0)
    if recipe == "sbcnn":
        return earmark.SoundClassifier(**common).fit(drums)
    if recipe == "cnn":
        return earmark.SoundClassifier(model="cnn", **common).fit(drums)
    if recipe == "classic":
        return earmark.SoundClassifier(recipe="embed:classic+logreg", progress=False).fit(drums)
    if recipe == "crnn":
        from earmark.data import load_dataset
        data = load_dataset(bench_dataset("sed"))
        fold = np.asarray(data.column("fold")).astype(int)
        return earmark.SoundDetector(**common).fit(data.subset(np.flatnonzero(fold == 1)))
    raise SystemExit(f"unknown recipe {recipe!r}; known: {', '.join(RECIPES)}")


class _Keep:
    def __init__(self):
        self.hops = []

    def write(self, record):
        if record["type"] == "hop":
            self.hops.append(record)

    def close(self):
        pass


def offline_difference(model, scorer, path, sink, frames):
    """Largest |streamed - offline| over the scored hops (windows), or frames (detector)."""
    if scorer.kind == "detector":
        model.hop_s = scorer.hop_s
        offline = model.frame_scores(str(path)).scores
        streamed = np.concatenate(frames) if frames else np.zeros((0, offline.shape[1]))
        n = min(len(streamed), len(offline))
        if scorer.dropped:      # frames after a skip differ by design: compare the rest only
            return None
        return float(np.abs(streamed[:n] - offline[:n]).max())
    from earmark.predict import score_source

    class AtHop:
        features = model.features_.replace(hop_s=scorer.hop_s)
        score_windows = staticmethod(model.score_windows)

    starts, scores = score_source(AtHop, (str(path), None, None))
    by_start = {round(float(s), 6): sc for s, sc in zip(starts, scores)}
    diffs = [np.abs(np.array([h["scores"][c] for c in model.classes_]) -
                    by_start[h["start_s"]]).max()
             for h in sink.hops if h["start_s"] in by_start]
    return float(max(diffs)) if diffs else None


def measure(recipe, model, path, *, hop_s, seconds):
    scorer = StreamScorer(model, hop_s=hop_s)
    frames = []
    if scorer.kind == "detector":
        push = scorer.events.push

        def keep(scores, levels=None):
            frames.append(np.array(scores))
            return push(scores)

        scorer.events.push = keep
    sink = _Keep()
    # warm up the model (first calls allocate and pick kernels) before the clock runs
    scorer._score(np.zeros((1, scorer.window_samples), np.float32)) if scorer.kind != \
        "detector" else scorer._fm.score_frames(np.zeros((1, scorer.window_samples), np.float32))
    summary = run_stream(scorer, FileSource(path, realtime=True), [sink], max_seconds=seconds)
    return {"recipe": recipe, "kind": scorer.kind,
            "window_s": scorer.window_samples / scorer.sample_rate, "hop_s": scorer.hop_s,
            "model_rate": scorer.sample_rate, "hops": summary["hops"],
            "dropped": summary["dropped"], "latency_ms": summary["latency_ms"],
            "cpu_percent": summary["cpu_percent"], "wall_s": summary["wall_s"],
            "max_abs_diff_offline": offline_difference(model, scorer, path, sink, frames)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipes", default="sbcnn,cnn,crnn",
                    help=f"comma-separated, of {', '.join(RECIPES)}")
    ap.add_argument("--model", action="append", default=[],
                    help="stream this model file too (repeatable)")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--hop", type=float, default=0.25)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--stream-rates", default="44100,model",
                    help="rates to stream at, comma-separated: Hz, or 'model' (the model's own)")
    add_threads_option(ap)
    args = ap.parse_args()
    if args.threads is None:
        args.threads = 1             # what earmark stream uses
    setup(args)
    recipes = [r for r in args.recipes.split(",") if r]
    rows = []
    with tempfile.TemporaryDirectory() as tmp, earmark_home_at(Path(tmp) / "home"):
        drums = drums_root()
        recordings = {}

        def recording(rate):
            if rate not in recordings:
                recordings[rate] = make_recording(Path(tmp) / f"stream-{rate}.wav", drums,
                                                  args.seconds, rate=rate)
            return recordings[rate]

        rates = [r.strip() for r in args.stream_rates.split(",") if r.strip()]
        work = [(r, None) for r in recipes] + [(Path(m).name, m) for m in args.model]
        for name, model_path in work:
            t = time.perf_counter()
            model = earmark.load(model_path) if model_path else train(name, args.epochs, drums)
            trained = time.perf_counter() - t
            # a detector scores its long windows at its own default hop (a quarter window)
            hop = None if getattr(model, "kind", "") == "detector" else args.hop
            for rate in rates:
                rate = model.features_.sample_rate if rate == "model" else int(rate)
                row = measure(name, model, recording(rate), hop_s=hop, seconds=args.seconds)
                row["train_s"] = round(trained, 1)
                row["stream_rate"] = rate
                rows.append(row)
                print(_line(row), flush=True)
    print()
    print(f"{args.seconds:g} s of audio streamed in real time, hop {args.hop:g} s "
          "(a detector: a quarter of its window), "
          f"torch threads {args.threads}; latency = last sample delivered -> score out")
    print(f"{'recipe':10} {'kind':10} {'input Hz':>8} {'model Hz':>8} {'window':>7} {'hop':>6} "
          f"{'p50 ms':>8} {'p95 ms':>8} "
          f"{'max ms':>8} {'CPU %':>6} {'dropped':>7} {'max |diff|':>10}")
    for r in rows:
        lat = r["latency_ms"]
        diff = "-" if r["max_abs_diff_offline"] is None else f"{r['max_abs_diff_offline']:.1e}"
        print(f"{r['recipe']:10} {r['kind']:10} {r['stream_rate']:8d} {r['model_rate']:8d} "
              f"{r['window_s']:6.2f}s {r['hop_s']:5.3f}s "
              f"{lat['p50']:8.1f} {lat['p95']:8.1f} {lat['max']:8.1f} {r['cpu_percent']:6.1f} "
              f"{r['dropped']:7d} {diff:>10}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json({"seconds": args.seconds, "hop_s": args.hop, "threads": args.threads,
                "rows": rows}, out / "stream_latency.json")


def _line(r):
    lat = r["latency_ms"]
    return (f"{r['recipe']} at {r['stream_rate']} Hz: p50 {lat['p50']} ms, p95 {lat['p95']} ms, CPU "
            f"{r['cpu_percent']} %, dropped {r['dropped']}, max |diff| offline "
            f"{r['max_abs_diff_offline']} (trained in {r['train_s']} s)")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
