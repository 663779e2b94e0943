"""Fuzz the upload endpoint of a running ``earmark serve`` (loopback only): random bytes,
truncated and mutated WAV/FLAC/OGG files, WAV headers claiming 1 GB, absurd sample rates and
channel counts, zero-length bodies, wrong content types and raw-PCM query strings.

Prints the count of answers by status, the server's RSS before and after (MB) and its growth,
and the files left in the server's temporary folder; exits 1 on any 5xx, a server that died,
or a file left behind.

    python benchmarks/serve_fuzz.py --cases 1000            # a tiny novelty model, trained here
    python benchmarks/serve_fuzz.py --model drums.earmark --cases 2000

The strategy (:func:`fuzz_requests`) is shared with tests/test_serve_security.py.
"""

import argparse
import io
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

SR = 8000


def _encoded(fmt, subtype=None, seconds=0.6, sr=SR):
    import soundfile as sf

    t = np.arange(int(seconds * sr)) / sr
    y = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, y, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def seed_files():
    """Valid small files the fuzzer truncates and mutates."""
    return {"wav": _encoded("WAV", "PCM_16"), "wavf": _encoded("WAV", "FLOAT"),
            "flac": _encoded("FLAC"), "ogg": _encoded("OGG", "VORBIS")}


def wav_header(*, rate, channels, bits, data_len, fmt=1):
    """A 44-byte WAV header claiming anything (sizes wrap at 32 bits)."""
    block = (channels * bits // 8) & 0xFFFF
    return (b"RIFF" + struct.pack("<I", (36 + data_len) & 0xFFFFFFFF) + b"WAVE" + b"fmt " +
            struct.pack("<IHHIIHH", 16, fmt & 0xFFFF, channels & 0xFFFF, rate & 0xFFFFFFFF,
                        (rate * block) & 0xFFFFFFFF, block, bits & 0xFFFF) +
            b"data" + struct.pack("<I", data_len & 0xFFFFFFFF))


def fuzz_requests():
    """A hypothesis strategy of ``(kind, body, params)``: kind 'file' (multipart, field
    'file'), 'raw' (application/octet-stream) or a content type to send as it is."""
    from hypothesis import strategies as st

    seeds = seed_files()
    seed = st.sampled_from(sorted(seeds)).map(seeds.get)
    truncated = st.tuples(seed, st.floats(0, 1)).map(lambda s: s[0][:int(len(s[0]) * s[1])])
    mutated = st.tuples(seed, st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)),
                                       min_size=1, max_size=8)).map(_mutate)
    claims = st.builds(lambda h, n: h + b"\0" * n,
                       st.builds(wav_header,
                                 rate=st.one_of(st.sampled_from([0, 1, 8000, 44100, 10 ** 9,
                                                                 2 ** 32 - 1]),
                                                st.integers(0, 2 ** 32 - 1)),
                                 channels=st.sampled_from([0, 1, 2, 17, 255, 65535]),
                                 bits=st.sampled_from([0, 7, 8, 16, 24, 32, 64]),
                                 data_len=st.sampled_from([0, 2, 2 ** 30, 2 ** 32 - 1]),
                                 fmt=st.sampled_from([1, 3, 0, 2, 0xFFFE])),
                       st.integers(0, 4000))
    body = st.one_of(st.binary(max_size=4096), truncated, mutated, claims, st.just(b""),
                     seed)
    file_case = st.tuples(st.just("file"), body, st.just({}))
    rate = st.one_of(st.integers(-10, 10 ** 10), st.sampled_from(["", "abc", "1e9", "nan"]))
    raw_case = st.tuples(st.just("raw"), st.one_of(st.binary(max_size=4096), st.just(b"")),
                         st.fixed_dictionaries({"rate": rate},
                                               optional={"channels": st.integers(-2, 300)}))
    other = st.tuples(st.sampled_from(["text/plain", "application/json", "image/png", "",
                                       "multipart/form-data", "multipart/form-data; boundary=",
                                       "audio/wav", "multipart/mixed; boundary=x"]),
                      body, st.just({}))
    return st.one_of(file_case, file_case, raw_case, other)


def _mutate(args):
    data, flips = args
    b = bytearray(data)
    for pos, value in flips:
        if pos < len(b):
            b[pos] = value
    return bytes(b)


def send(client, url, case, headers=None):
    """Send one case with an httpx-like ``client``; returns the response."""
    kind, body, params = case
    headers = dict(headers or {})
    if kind == "file":
        return client.post(url, files={"file": ("fuzz.wav", body, "audio/wav")},
                           headers=headers)
    if kind == "raw":
        headers["content-type"] = "application/octet-stream"
    else:
        headers["content-type"] = kind
    return client.post(url, params=params, content=body, headers=headers)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tiny_model(folder):
    import soundfile as sf

    import earmark

    rng = np.random.default_rng(0)
    (folder / "normal").mkdir(parents=True)
    t = np.arange(int(1.5 * SR)) / SR
    for i in range(16):
        y = 0.2 * np.sin(2 * np.pi * rng.uniform(200, 400) * t) + 0.03 * rng.standard_normal(
            len(t))
        sf.write(folder / f"normal/n{i:02d}.wav", y.astype(np.float32), SR, subtype="PCM_16")
    det = earmark.NoveltyDetector(progress=False).fit(str(folder / "normal"))
    return det.save(folder / "fuzz.earmark")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="a model file (default: a tiny novelty model "
                   "trained here in a second)")
    p.add_argument("--cases", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-upload-mb", type=float, default=1.0)
    args = p.parse_args(argv)

    import httpx
    import psutil
    from hypothesis import HealthCheck, given, seed, settings

    work = Path(tempfile.mkdtemp(prefix="earmark-fuzz-"))
    model = Path(args.model if args.model else _tiny_model(work))
    name = model.name[:-len(".earmark")] if model.name.endswith(".earmark") else model.stem
    server_tmp = work / "server-tmp"      # the server's TMPDIR: what it leaves shows here
    server_tmp.mkdir()
    port = _free_port()
    log = open(work / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "earmark", "serve", str(model), "--host",
                             "127.0.0.1", "--port", str(port), "--workers", "2",
                             "--max-upload-mb", str(args.max_upload_mb)],
                            env={**os.environ, "TMPDIR": str(server_tmp)}, stdout=log,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    statuses, failures = Counter(), []
    try:
        with httpx.Client(base_url=base, timeout=60, trust_env=False) as client:
            deadline = time.monotonic() + 120
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"the server exited; see {work / 'server.log'}")
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not start within 120 s")
                time.sleep(0.3)
            server = psutil.Process(proc.pid)
            url = f"/v1/models/{name}/predict"
            for _ in range(20):                           # warm up before the baseline
                send(client, url, ("file", seed_files()["wav"], {}))
            rss0 = server.memory_info().rss
            t0 = time.perf_counter()

            @seed(args.seed)
            @settings(max_examples=args.cases, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=fuzz_requests())
            def one(case):
                r = send(client, url, case)
                statuses[r.status_code] += 1
                if r.status_code >= 500:
                    failures.append((case[0], case[1][:40], r.status_code, r.text[:200]))

            one()
            wall = time.perf_counter() - t0
            rss1 = server.memory_info().rss
            alive = proc.poll() is None and client.get("/health").status_code == 200
            left = [str(p.relative_to(server_tmp)) for p in server_tmp.rglob("*")
                    if p.is_file()]
            private = [p.name for p in server_tmp.iterdir() if p.is_dir()]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    after_stop = [str(p.relative_to(server_tmp)) for p in server_tmp.rglob("*")]
    total = sum(statuses.values())
    print(f"fuzz: {total} requests in {wall:.1f} s against {name} "
          f"(upload limit {args.max_upload_mb:g} MB)")
    for status, n in sorted(statuses.items()):
        print(f"  status {status}: {n}")
    print(f"  5xx: {sum(n for s, n in statuses.items() if s >= 500)}")
    print(f"  server alive afterwards: {'yes' if alive else 'NO'}")
    print(f"  server RSS: {rss0 / 2 ** 20:.1f} MB before, {rss1 / 2 ** 20:.1f} MB after "
          f"(growth {(rss1 - rss0) / 2 ** 20:+.1f} MB)")
    print(f"  server's private upload folder(s) while running: {', '.join(private) or 'none'}")
    print(f"  files left in the server's temporary folder while running: {len(left)}; "
          f"after it stopped: {len(after_stop)}")
    for f in failures[:10]:
        print("  5xx:", f)
    ok = not failures and alive and not left and not after_stop
    if ok:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"  the server's log: {work / 'server.log'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
