"""Throughput of each embedding model on this machine: windows per second and x realtime.

For every embedder that is installed (``earmark models install yamnet|birdnet|efficientnet``;
'classic' needs nothing) it embeds batches of noise windows of the model's natural length and
reports, for each thread count:

- windows/s: wall-clock, best of ``--rounds`` rounds of at least ``--seconds`` each;
- x realtime: seconds of audio scanned per second at the model's hop (windows/s x hop_s), the
  speed of going through a long recording; and without overlap (windows/s x window_s);
- CPU ms/window: this process's CPU time per window (all threads), less disturbed by other
  programs on a shared machine than wall-clock time.

Usage::

    .venv/bin/python benchmarks/embedding_throughput.py [--threads 1 2] [--seconds 3] [--rounds 3]

The load average is printed with the table: on a busy machine the wall-clock numbers drop.
"""

import argparse
import os
import platform
import time

import numpy as np
import torch

from earmark.models.embeddings import ModelNotInstalledError, get_embedder

BATCH = {"yamnet": 64, "birdnet": 16, "efficientnet": 32, "classic": 256}


def measure(emb, *, seconds, rounds, rng):
    x = (0.1 * rng.standard_normal((BATCH[emb.name], emb.window_samples))).astype(np.float32)
    emb.embed(x[:2])                                   # warm-up: allocations, kernel choice
    best_rate, best_cpu = 0.0, float("inf")
    for _ in range(rounds):
        n, t0, c0 = 0, time.perf_counter(), time.process_time()
        while True:
            emb.embed(x, batch_size=len(x))
            n += len(x)
            wall = time.perf_counter() - t0
            if wall >= seconds:
                break
        best_rate = max(best_rate, n / wall)
        best_cpu = min(best_cpu, (time.process_time() - c0) / n * 1000)
    return best_rate, best_cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--models", nargs="+", default=["yamnet", "birdnet", "efficientnet",
                                                     "classic"])
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"# Embedding throughput — {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, torch {torch.__version__}")
    print()
    print("| model | threads | window | hop | windows/s | x realtime (at hop) "
          "| x realtime (no overlap) | CPU ms/window |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for threads in args.threads:
        torch.set_num_threads(threads)
        for name in args.models:
            try:
                emb = get_embedder(name, num_threads=threads)
            except ModelNotInstalledError as exc:
                print(f"| {name} | - | not installed: {exc} |")
                continue
            rate, cpu = measure(emb, seconds=args.seconds, rounds=args.rounds, rng=rng)
            print(f"| {name} | {threads} | {emb.window_s:g} s | {emb.hop_s:g} s | {rate:,.1f} "
                  f"| {rate * emb.hop_s:,.0f}x | {rate * emb.window_s:,.0f}x | {cpu:.1f} |",
                  flush=True)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"\nload average during the run: {load} (1, 5, 15 min)")


if __name__ == "__main__":
    main()
