"""The stream loop: a source fills a ring from its own thread; this loop, in the caller's
thread, resamples what arrived to the model's rate, scores the newest complete window every hop
and hands hop records and events to the sinks.

Capture never waits for the model. With a live source (a microphone, a file paced in real
time) the loop scores only the newest complete window: when the model took longer than a hop,
the windows in between are skipped and counted (``dropped``), so latency stays bounded. Other
sources wait for the loop instead, and every hop is scored.

Latency of a hop: from the moment the window's last sample was written into the ring (the
time the audio callback or reader delivered it) to the moment its record is handed to the sinks.
"""

import math
import sys
import time

import numpy as np

from ..errors import AudioError, ParameterError
from .ring import RingBuffer

__all__ = ["run_stream", "StreamSummary"]

#: Seconds of source audio the capture ring holds: how long the loop may stall (a slow first
#: model call, a swapped-out process) before capture overwrites audio it has not read.
RING_S = 30.0


class StreamSummary(dict):
    """What a stream did: seconds streamed, hops scored and dropped, samples lost to overruns,
    latency percentiles (ms), CPU use (% of one core), whether it was interrupted. A dict, so
    it is written as the last JSON line (``type='end'``)."""

    @property
    def interrupted(self):
        return bool(self.get("interrupted"))


def _percentile(values, q):
    return round(float(np.percentile(values, q)), 3) if len(values) else None


def run_stream(scorer, source, sinks, *, max_seconds=None, clock=time.perf_counter):
    """Stream ``source`` through ``scorer`` into ``sinks`` until the source ends, ``max_seconds``
    of audio have been scored, or Ctrl-C.

    Parameters
    ----------
    scorer : earmark.streaming.StreamScorer
    source : earmark.streaming.sources.Source
    sinks : list
        Objects with ``write(record)`` (a dict: type 'hop', 'event' or 'end') and ``close()``.
    max_seconds : float or None
        Stop after this much audio (the source's time).

    Returns
    -------
    StreamSummary
        Also written to the sinks as the last record. KeyboardInterrupt stops the stream
        cleanly: open events are closed at the current time, the summary says
        ``interrupted: true``, and the caller decides the exit status.

    Raises
    ------
    AudioError
        The source could not be read (after the outputs of what was read were written).
    """
    sr_in, sr = int(source.sample_rate), int(scorer.sample_rate)
    if sr_in < 1000:
        raise ParameterError(f"{source.name}: a sample rate of {sr_in} Hz cannot be streamed")
    if sr_in < sr:
        print(f"earmark: warning: {source.name} at {sr_in} Hz is resampled up to the model's "
              f"{sr} Hz: the model hears nothing above {sr_in / 2:g} Hz", file=sys.stderr)
    W, hop = scorer.window_samples, scorer.hop_samples
    raw = RingBuffer(int(max(RING_S * sr_in, 4 * W * sr_in / sr)))
    resampler = None
    if sr_in != sr:
        import soxr
        resampler = soxr.ResampleStream(sr_in, sr, 1, dtype="float32", quality="HQ")
    # the model-rate samples: a window, the hops a slow step may bring, the resampler's bursts
    model_ring = RingBuffer(W + 4 * hop + 4 * 8192)
    pull = max(256, min(hop * sr_in // sr, raw.capacity // 4))   # lossless: per step
    scratch = np.zeros(raw.capacity, np.float32)
    window = np.zeros(W, np.float32)
    latencies, n_hops = [], 0
    pos = 0                           # source samples read from the raw ring
    total = 0                         # model-rate samples produced
    overrun_samples = 0
    limit = None if max_seconds is None else int(round(max_seconds * sr))
    interrupted = False
    wall0, cpu0 = clock(), time.process_time()

    def emit(record):
        for s in sinks:
            s.write(record)

    def emit_hop(record, end):
        nonlocal n_hops
        n_hops += 1
        record["time_s"] = round(end / sr, 6)
        record["dropped"] = scorer.dropped
        # the window's last sample, in source samples (the resampler's delay counts too)
        arrived = raw.arrival_time(int(math.ceil(end * sr_in / sr)))
        if arrived is not None:
            ms = (clock() - arrived) * 1000.0
            record["latency_ms"] = round(ms, 3)
            latencies.append(ms)
        emit(record)

    def to_model(samples, last=False):
        nonlocal total
        y = samples if resampler is None else resampler.resample_chunk(samples, last=last)
        if limit is not None:
            y = y[:max(0, limit - total)]
        if len(y):
            model_ring.write(y)
            total += len(y)

    def score_due():
        if source.live:
            scorer.skip_to(total)
        while scorer.next_end <= total:
            end = scorer.next_end
            if not model_ring.read(end - W, window):
                scorer.skip_to(total)          # overwritten: the newest window instead
                continue
            record, events = scorer.score_next(window)
            emit_hop(record, end)
            for e in events:
                emit(e)
            if source.live and scorer.pending(total) > 1:
                scorer.skip_to(total)

    source.start(raw)
    try:
        while True:
            available = raw.written
            if available == pos:
                if raw.closed and raw.written == pos:
                    break
                raw.wait(0.05)
                continue
            n = available - pos if source.live else min(available - pos, pull)
            if available - pos > raw.capacity:          # capture went past what was read
                lost = available - raw.capacity - pos
                overrun_samples += lost
                raw.overruns += lost
                gap = int(round(lost * sr / sr_in))
                # the lost stretch becomes silence, so the time line stays whole
                model_ring.write(np.zeros(gap, np.float32))
                total += gap
                pos = available - raw.capacity
                n = min(available - pos, len(scratch))
            n = min(n, len(scratch))
            if not raw.read(pos, scratch[:n]):
                continue                                  # overwritten while copied: again
            pos += n
            raw.advance(pos)
            to_model(scratch[:n])
            score_due()
            if limit is not None and total >= limit:
                break
        if resampler is not None and (limit is None or total < limit):
            to_model(np.zeros(0, np.float32), last=True)
            score_due()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        source.stop()
    try:
        tail = np.zeros(min(total, W), np.float32)
        if len(tail):
            start = total - len(tail)
            if not model_ring.read(start, tail):
                tail[:] = 0
        records, events = scorer.finish(tail, total)
        for r in records:
            emit_hop(r, int(round(r["end_s"] * sr)))
        for e in events:
            emit(e)
    except KeyboardInterrupt:
        interrupted = True
    wall = clock() - wall0
    cpu = time.process_time() - cpu0
    summary = StreamSummary(
        type="end", source=source.name, duration_s=round(total / sr, 6),
        hops=n_hops, dropped=scorer.dropped, overrun_samples=overrun_samples,
        device_overflows=getattr(source, "device_overflows", 0),
        latency_ms={"p50": _percentile(latencies, 50), "p95": _percentile(latencies, 95),
                    "max": round(max(latencies), 3) if latencies else None},
        cpu_percent=round(100.0 * cpu / wall, 2) if wall > 0 else None,
        wall_s=round(wall, 3), interrupted=interrupted)
    summary.latencies_ms = latencies
    emit(summary)
    for s in sinks:
        s.close()
    if raw.error is not None and not interrupted:
        err = raw.error
        if isinstance(err, (AudioError, ParameterError)):
            raise err
        raise AudioError(source.name, f"cannot read: {err}") from err
    return summary
