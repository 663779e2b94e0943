"""Streaming: classify, tag, detect or flag sounds as they arrive, from a microphone, a pipe or
a file paced in real time.

A source (:mod:`~earmark.streaming.sources`) fills a preallocated ring buffer
(:mod:`~earmark.streaming.ring`) from its own thread and does nothing else; the loop
(:func:`run_stream`) resamples what arrived to the model's rate, scores the newest complete
window every hop (:class:`StreamScorer`), smooths, decides, turns scores into events with
detection's hysteresis (:class:`~earmark.streaming.events.StreamingEvents`) and hands the
records to sinks: JSON lines (:mod:`~earmark.streaming.sinks`) and a terminal view
(:mod:`~earmark.streaming.view`).

Streaming a file at the model's own hop gives the window scores of
``earmark predict --windows`` (the tests check it to 1e-5), and a detector's events are those
of ``earmark detect``.

Examples
--------
>>> import earmark
>>> from earmark.streaming import StreamScorer, FileSource, JsonLinesSink, run_stream
>>> model = earmark.load("alarm.earmark")                              # doctest: +SKIP
>>> summary = run_stream(StreamScorer(model, hop_s=0.25), FileSource("day.wav"),
...                      [JsonLinesSink(open("events.jsonl", "w"))])   # doctest: +SKIP
>>> summary["latency_ms"]                                               # doctest: +SKIP
{'p50': 4.1, 'p95': 6.3, 'max': 11.0}
"""

from .events import StreamingEvents
from .loop import StreamSummary, run_stream
from .ring import RingBuffer
from .scorer import KINDS, StreamScorer
from .sinks import JsonLinesSink
from .sources import (PIPE_FORMATS, FileSource, MicrophoneSource, PipeSource, Source,
                      input_devices, open_source)
from .view import PlainView, TerminalView

__all__ = ["StreamScorer", "StreamingEvents", "RingBuffer", "run_stream", "StreamSummary",
           "Source", "MicrophoneSource", "PipeSource", "FileSource", "open_source",
           "input_devices", "PIPE_FORMATS", "JsonLinesSink", "PlainView", "TerminalView",
           "KINDS"]
