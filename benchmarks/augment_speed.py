"""How long each augmentation takes, and what it does to the length of a training epoch.

Prints two tables:

1. ms per 1-s window at 22.05 kHz for every transform at p=1 (median of repeats), which code runs
   it, and — when audiomentations is importable — its equivalent's time for comparison.
2. One training epoch (features + forward + backward + optimiser step of earmark's CNNs on
   ``--windows`` windows) without augmentation, with every augmentation on at p=1 run on the fly,
   and with the slow transforms (stretch, pitch) drawn from precomputed variants. The issue's
   budget: every augmentation on costs at most 2x an epoch without.

Usage::

    .venv/bin/python benchmarks/augment_speed.py [--windows 256] [--repeats 30]

Uses torch with 1 thread by default (``--threads``), as a DataLoader worker or a busy laptop would,
and times with this process's CPU time (``time.process_time``), so other programs running on the
machine disturb the numbers less than wall-clock time would; each figure is the best of
``--rounds`` interleaved rounds.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import soundfile as sf
import torch

from earmark.augment import (AddBackgroundNoise, AddColoredNoise, ApplyImpulseResponse,
                             Augmentation, Gain, Mixup, PitchShift, SpecAugment, TimeShift,
                             TimeStretch)
from earmark.config import FeatureConfig
from earmark.features import FeatureExtractor

SR = 22050


clock = time.process_time


def _median_ms(fn, repeats):
    fn()  # warm-up: first calls build FFT plans, read folder indexes
    times = []
    for _ in range(repeats):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return 1000 * statistics.median(times)


def _folders(tmp):
    rng = np.random.default_rng(0)
    noise_dir, ir_dir = os.path.join(tmp, "noise"), os.path.join(tmp, "irs")
    os.makedirs(noise_dir)
    os.makedirs(ir_dir)
    for i in range(3):  # 30-s background recordings at 44.1 kHz (resampled on read)
        sf.write(os.path.join(noise_dir, f"bg{i}.wav"),
                 (0.1 * rng.standard_normal(30 * 44100)).astype(np.float32), 44100)
    t = np.arange(int(0.4 * SR)) / SR  # 0.4-s exponentially decaying noise "rooms"
    for i in range(3):
        ir = rng.standard_normal(len(t)) * np.exp(-t / (0.05 * (i + 1)))
        sf.write(os.path.join(ir_dir, f"room{i}.wav"), ir.astype(np.float32), SR)
    return noise_dir, ir_dir


def _audiomentations():
    try:
        import audiomentations as A
    except ImportError:
        return {}
    return {
        "TimeShift": A.Shift(p=1.0),
        "TimeStretch": A.TimeStretch(p=1.0),
        "PitchShift": A.PitchShift(p=1.0),
        "Gain": A.Gain(p=1.0),
        "AddColoredNoise": A.AddColorNoise(p=1.0),
    }


def per_transform(noise_dir, ir_dir, repeats):
    window = (0.3 * np.sin(2 * np.pi * 440 * np.arange(SR) / SR)).astype(np.float32)
    rng = np.random.default_rng(0)
    theirs = _audiomentations()
    rows = []
    for t in [TimeShift(p=1.0), TimeStretch(p=1.0), PitchShift(p=1.0), Gain(p=1.0),
              AddColoredNoise(p=1.0), AddBackgroundNoise(noise_dir, p=1.0),
              ApplyImpulseResponse(ir_dir, p=1.0)]:
        name = type(t).__name__
        ms = _median_ms(lambda: t(window, SR, rng=rng), repeats)
        other = theirs.get(name)
        other_ms = _median_ms(lambda: other(window, SR), repeats) if other else None
        rows.append((name, ms, "own (precomputed)" if t.precompute else "own", other_ms))
    x = torch.randn(32, 1, 64, 44)
    y = torch.eye(32)[:, :10]
    g = torch.Generator().manual_seed(0)
    rows.append(("SpecAugment (per window, batch 32)",
                 _median_ms(lambda: SpecAugment(p=1.0)(x, generator=g), repeats) / 32, "own",
                 None))
    rows.append(("Mixup (per window, batch 32)",
                 _median_ms(lambda: Mixup(p=1.0)(x, y, generator=g), repeats) / 32, "own", None))
    print(f"\nPer-transform cost, 1-s window at {SR} Hz, p=1, median of {repeats}")
    print(f"{'transform':38s} {'ms/window':>10s}  {'code':18s} {'audiomentations ms':>18s}")
    for name, ms, code, other_ms in rows:
        o = f"{other_ms:18.2f}" if other_ms is not None else f"{'-':>18s}"
        print(f"{name:38s} {ms:10.2f}  {code:18s} {o}")


def epoch_times(noise_dir, ir_dir, n_windows, batch_size, rounds):
    from earmark.models.cnn import build_network
    cfg = FeatureConfig(sample_rate=SR)
    fx = FeatureExtractor(cfg)
    rng0 = np.random.default_rng(1)
    t = np.arange(SR) / SR
    windows = [(0.3 * np.sin(2 * np.pi * rng0.uniform(200, 2000) * t)
                + 0.01 * rng0.standard_normal(SR)).astype(np.float32) for _ in range(n_windows)]
    labels = torch.as_tensor(rng0.integers(0, 10, n_windows))
    def every(p):
        kw = {} if p is None else {"p": p}
        return Augmentation([
            TimeShift(**kw), TimeStretch(**kw), PitchShift(**kw), Gain(**kw),
            ApplyImpulseResponse(ir_dir, **kw), AddBackgroundNoise(noise_dir, **kw),
            AddColoredNoise(**kw), SpecAugment(**kw), Mixup(**kw)], seed=0)
    plans = {"p=1": every(1.0), "default p": every(None)}
    plan = plans["p=1"]

    t0 = clock()
    variants = [plan.precompute(w, SR, n_variants=4) for w in windows]
    precompute_s = clock() - t0

    def epoch(net, opt, mode, plan=plan):
        net.train()
        t0 = clock()
        for b in range(0, n_windows, batch_size):
            idx = range(b, min(b + batch_size, n_windows))
            if mode == "none":
                batch = [windows[i] for i in idx]
            else:
                batch = []
                for i in idx:
                    rng = plan.window_rng(0, i)
                    if mode == "precomputed":
                        batch.append(plan.waveform(variants[i].choose(rng), SR, rng=rng,
                                                   precomputed=True))
                    else:
                        batch.append(plan.waveform(windows[i], SR, rng=rng))
            with torch.no_grad():
                x = fx(torch.from_numpy(np.stack(batch)))
            y = torch.nn.functional.one_hot(labels[list(idx)], 10).float()
            if mode != "none":
                g = plan.batch_generator(0, b)
                x = plan.spectrogram(x, generator=g)
                x, y = plan.batch(x, y, generator=g)
            loss = torch.nn.functional.cross_entropy(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return clock() - t0

    print(f"\nOne epoch of {n_windows} 1-s windows, batch {batch_size}, torch threads "
          f"{torch.get_num_threads()} (precomputing 4 variants per window took "
          f"{precompute_s:.1f} s once)")
    print("every augmentation on: shift, stretch, pitch, gain, ir:DIR, noise:DIR, noise, "
          f"specaugment, mixup; CPU seconds, best of {rounds} rounds")
    print(f"{'network':8s} {'augment p':10s} {'no augment s':>13s} {'on-the-fly s':>13s} "
          f"{'ratio':>6s} {'precomputed s':>14s} {'ratio':>6s}")
    for name in ("sbcnn", "cnn"):
        torch.manual_seed(0)
        net = build_network(name, 10)
        opt = torch.optim.Adam(net.parameters(), 1e-3)
        epoch(net, opt, "none")  # warm-up
        runs = [("none", None)] + [(mode, label) for label in plans
                                   for mode in ("fly", "precomputed")]
        best = {}
        for _ in range(rounds):  # interleaved, so a busy spell on the machine hits all alike
            for mode, label in runs:
                t = epoch(net, opt, mode, plans[label] if label else plan)
                best[mode, label] = min(t, best.get((mode, label), float("inf")))
        base = best["none", None]
        for label in plans:
            fly, pre = best["fly", label], best["precomputed", label]
            print(f"{name:8s} {label:10s} {base:13.2f} {fly:13.2f} {fly / base:6.2f} "
                  f"{pre:14.2f} {pre / base:6.2f}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--windows", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--skip-epoch", action="store_true", help="only the per-transform table")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        noise_dir, ir_dir = _folders(tmp)
        per_transform(noise_dir, ir_dir, args.repeats)
        if not args.skip_epoch:
            epoch_times(noise_dir, ir_dir, args.windows, args.batch_size, args.rounds)


if __name__ == "__main__":
    sys.exit(main())
