"""Load test of ``earmark serve`` on loopback: 2-s clips from the drums set sent by concurrent
clients for a fixed time to a drums classifier.

Prints requests per second, p50/p95/p99 latency of the answered requests, errors (any status
but 200 and 503, or a failed connection; must be 0 while the clients are within the queue
bound), 503s (queue full) counted apart, and the server's peak RSS (sampled every 50 ms; must
stay under 1.5 GB). Bounded in count and time; the server is a subprocess on 127.0.0.1 and is
stopped at the end.

    python benchmarks/serve_load.py                          # trains a drums model (3 epochs)
    python benchmarks/serve_load.py --model drums.earmark --seconds 60 --clients 16
"""

import argparse
import io
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

RSS_LIMIT_MB = 1536


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def drums_path():
    out = subprocess.run([sys.executable, "-m", "earmark", "datasets", "fetch", "drums", "-q"],
                         check=True, capture_output=True, text=True)
    return Path(out.stdout.strip().splitlines()[-1])


def train_drums(root, out, *, epochs):
    import earmark

    t0 = time.perf_counter()
    clf = earmark.SoundClassifier(epochs=epochs, progress=False).fit(str(root))
    clf.save(out)
    print(f"trained a drums model (default recipe, {epochs} epochs) in "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    return out


def clips(root, *, n, seconds, seed=0):
    """``n`` WAV files (bytes) of ``seconds`` each: drum one-shots from ``root``, zero-padded
    or cut, at their own rate."""
    import pandas as pd
    import soundfile as sf

    meta = pd.read_csv(root / "metadata.csv")
    rows = meta.sample(n=min(n, len(meta)), random_state=seed)
    out = []
    for name in rows["filename"]:
        y, sr = sf.read(root / name, dtype="float32", always_2d=True)
        y = y.mean(axis=1)
        want = int(seconds * sr)
        y = np.pad(y[:want], (0, max(0, want - len(y))))
        buf = io.BytesIO()
        sf.write(buf, y, sr, format="WAV", subtype="PCM_16")
        out.append((os.path.basename(name), buf.getvalue()))
    return out


def _peak_rss(pid, stop, out):
    import psutil

    proc = psutil.Process(pid)
    while not stop.is_set():
        try:
            out[0] = max(out[0], proc.memory_info().rss)
        except psutil.Error:
            return
        time.sleep(0.05)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="a drums model file (default: train one)")
    p.add_argument("--epochs", type=int, default=3, help="epochs when training (default 3)")
    p.add_argument("--seconds", type=float, default=60.0, help="load duration (default 60)")
    p.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    p.add_argument("--clip-s", type=float, default=2.0, help="seconds per clip (default 2)")
    p.add_argument("--workers", type=int, default=2, help="server --workers (default 2)")
    p.add_argument("--queue", type=int, default=32, help="server --queue (default 32)")
    p.add_argument("--threads", type=int, default=None, help="server --threads")
    args = p.parse_args(argv)
    if not (0 < args.seconds <= 600 and 0 < args.clients <= 256):
        raise SystemExit("--seconds must be in (0, 600] and --clients in (0, 256]")

    import httpx

    work = Path(tempfile.mkdtemp(prefix="earmark-load-"))
    root = drums_path()
    model = Path(args.model) if args.model else train_drums(root, work / "drums.earmark",
                                                            epochs=args.epochs)
    name = model.name[:-len(".earmark")] if model.name.endswith(".earmark") else model.stem
    bodies = clips(root, n=64, seconds=args.clip_s)
    port = _free_port()
    cmd = [sys.executable, "-m", "earmark", "serve", str(model), "--host", "127.0.0.1",
           "--port", str(port), "--workers", str(args.workers), "--queue", str(args.queue)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    log_path = work / "server.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    url = f"{base}/v1/models/{name}/predict"
    stop = threading.Event()
    peak = [0]
    results = []                 # (status or None, latency s)
    lock = threading.Lock()
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"the server exited; see {log_path}")
            try:
                if httpx.get(base + "/health", timeout=1, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start within 120 s")
            time.sleep(0.3)
        sampler = threading.Thread(target=_peak_rss, args=(proc.pid, stop, peak), daemon=True)
        sampler.start()
        with httpx.Client(timeout=60, trust_env=False) as c:       # warm-up, not counted
            for fname, body in bodies[:4]:
                r = c.post(url, files={"file": (fname, body, "audio/wav")})
                if r.status_code != 200:
                    raise SystemExit(f"warm-up request failed: {r.status_code} {r.text}")
        end = time.monotonic() + args.seconds

        def client(k):
            rng = np.random.default_rng(k)
            with httpx.Client(timeout=60, trust_env=False) as c:
                while time.monotonic() < end:
                    fname, body = bodies[rng.integers(len(bodies))]
                    t0 = time.perf_counter()
                    try:
                        status = c.post(url, files={"file": (fname, body, "audio/wav")}
                                        ).status_code
                    except httpx.HTTPError:
                        status = None
                    with lock:
                        results.append((status, time.perf_counter() - t0))

        t0 = time.perf_counter()
        threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(args.seconds + 120)
        wall = time.perf_counter() - t0
        metrics = httpx.get(base + "/metrics", timeout=10, trust_env=False).text
    finally:
        stop.set()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    ok = np.array([lat for s, lat in results if s == 200])
    busy = sum(s == 503 for s, _ in results)
    errors = sum(s not in (200, 503) for s, _ in results)
    pct = np.percentile(ok * 1e3, [50, 95, 99]) if len(ok) else [float("nan")] * 3
    print(f"serve load: {args.clients} clients x {args.seconds:g} s, {args.clip_s:g}-s drum "
          f"clips, model {name}, server --workers {args.workers} --queue {args.queue}"
          f"{' --threads ' + str(args.threads) if args.threads else ''}, {os.cpu_count()} CPUs")
    print(f"  requests answered 200: {len(ok)} in {wall:.1f} s = {len(ok) / wall:.1f} req/s "
          f"({len(ok) * args.clip_s / wall:.0f} s of audio per s)")
    print(f"  latency p50 {pct[0]:.0f} ms, p95 {pct[1]:.0f} ms, p99 {pct[2]:.0f} ms")
    print(f"  errors: {errors}   503 (queue full): {busy}")
    print(f"  server peak RSS: {peak[0] / 2 ** 20:.0f} MB (limit {RSS_LIMIT_MB} MB: "
          f"{'ok' if peak[0] / 2 ** 20 < RSS_LIMIT_MB else 'OVER'})")
    print(f"  model file: {model} (reuse it with --model); server log: {log_path}")
    rejected = [ln for ln in metrics.splitlines() if ln.startswith("earmark_queue_rejected")]
    print(f"  server metrics: {rejected[0] if rejected else ''}")
    within_bound = args.clients <= args.workers + args.queue
    good = (errors == 0 and (busy == 0 or not within_bound)
            and peak[0] / 2 ** 20 < RSS_LIMIT_MB and len(ok) > 0)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
