"""earmark.streaming: the ring, sources (pipe, file, a fake microphone), online events, and the
same window scores / frame scores / events as offline prediction."""

import io
import threading
import time

import numpy as np
import pytest
import soundfile as sf

import earmark
from earmark.errors import AudioError, ParameterError
from earmark.inference.postprocess import PostProcessing, decode_events
from earmark.streaming import (FileSource, JsonLinesSink, MicrophoneSource, PipeSource,
                               PlainView, RingBuffer, StreamingEvents, StreamScorer,
                               TerminalView, run_stream)
from earmark.streaming.sources import open_source

from _signals import FAST, SR, write_dataset


class Collect:
    """A sink that keeps the records."""

    def __init__(self):
        self.records = []

    def write(self, record):
        self.records.append(record)

    def close(self):
        pass

    def of(self, kind):
        return [r for r in self.records if r["type"] == kind]


@pytest.fixture(scope="module")
def clf(tmp_path_factory):
    root = write_dataset(tmp_path_factory.mktemp("stream_data"), per_class=6)
    model = earmark.SoundClassifier(**{**FAST, "epochs": 2}).fit(root)
    path = tmp_path_factory.mktemp("stream_model") / "clf.earmark"
    model.save(path)
    return earmark.load(path)


def _signal(seconds, sr=SR, seed=0):
    rng = np.random.default_rng(seed)
    y = 0.05 * rng.standard_normal(int(seconds * sr))
    t = np.arange(int(0.8 * sr)) / sr
    a = int(1.1 * sr)
    tone = 0.5 * np.sin(2 * np.pi * 300 * t)[:max(0, len(y) - a)]
    y[a:a + len(tone)] += tone
    return np.clip(y, -1, 1).astype(np.float32)


def _wav(path, seconds, sr=SR, seed=0):
    sf.write(path, _signal(seconds, sr, seed), sr, subtype="PCM_16")
    return str(path)


def _window_scores(records, classes):
    return np.array([[r["scores"][c] for c in classes] for r in records])


# -- the ring ------------------------------------------------------------------------------------


def test_ring_wraps_and_counts_overruns():
    ring = RingBuffer(10)
    ring.write(np.arange(7, dtype=np.float32))
    ring.write(np.arange(7, 15, dtype=np.float32))       # wraps
    out = np.zeros(5, np.float32)
    assert ring.read(10, out) and out.tolist() == [10, 11, 12, 13, 14]
    assert not ring.read(3, out) and ring.overruns == 2  # samples 3 and 4 were overwritten
    ring.write(np.arange(15, 40, dtype=np.float32))     # more than the ring at once
    assert ring.written == 40
    assert ring.read(35, out) and out.tolist() == [35, 36, 37, 38, 39]


def test_ring_blocking_writer_waits_for_the_reader():
    ring = RingBuffer(8)
    done = threading.Event()

    def writer():
        ring.write(np.arange(20, dtype=np.float32), block=True)
        done.set()

    threading.Thread(target=writer, daemon=True).start()
    got = []
    out = np.zeros(4, np.float32)
    pos = 0
    deadline = time.monotonic() + 5
    while pos < 20 and time.monotonic() < deadline:
        if ring.written >= pos + 4:
            assert ring.read(pos, out)
            got += out.tolist()
            pos += 4
            ring.advance(pos)
        else:
            ring.wait(0.01)
    assert done.wait(5)
    assert got == list(range(20)) and ring.overruns == 0


def test_ring_arrival_times():
    ring = RingBuffer(100)
    ring.write(np.zeros(10, np.float32), now=1.0)
    ring.write(np.zeros(10, np.float32), now=2.0)
    assert ring.arrival_time(10) == 1.0
    assert ring.arrival_time(11) == 2.0
    assert ring.arrival_time(21) is None


# -- online events -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_streaming_events_equal_decode_events(seed):
    """Any chunking of any scores, with any post-processing: the events of decode_events."""
    rng = np.random.default_rng(seed)
    for _ in range(40):
        n_classes = int(rng.integers(1, 4))
        n = int(rng.integers(1, 150))
        walk = np.abs(np.cumsum(rng.normal(0, 0.2, (n, n_classes)), axis=0)) % 1.0
        scores = walk if rng.uniform() < 0.5 else rng.uniform(size=(n, n_classes))
        onset = rng.uniform(0.3, 0.8, n_classes)
        pp = PostProcessing(tuple(onset), tuple(onset * rng.choice([1, 0.75, 0.5], n_classes)),
                            tuple(rng.choice([0, 0.1, 0.25, 0.5], n_classes)),
                            tuple(rng.choice([0, 0.1, 0.25], n_classes)),
                            tuple(rng.choice([0, 0.1, 0.25], n_classes)))
        classes = [f"c{i}" for i in range(n_classes)]
        expected = decode_events(scores, frame_step_s=0.05, classes=classes, postprocessing=pp,
                                 start_s=0.5)
        ev = StreamingEvents(classes, frame_step_s=0.05, postprocessing=pp, start_s=0.5)
        got, i = [], 0
        while i < n:
            k = int(rng.integers(1, 8))
            got += ev.push(scores[i:i + k])
            i += k
        got += ev.finish()
        got.sort(key=lambda e: (e[0], e[2]))
        assert [(a, b, c) for a, b, c, _ in got] == [(a, b, c) for a, b, c, _ in expected]
        assert np.allclose([e[3] for e in got], [e[3] for e in expected])


def test_streaming_events_report_an_event_when_it_ends():
    ev = StreamingEvents(["dog"], frame_step_s=0.5)
    assert ev.push(np.array([[0.1], [0.7]])) == []
    assert ev.active == ["dog"]
    assert ev.push(np.array([[0.2]])) == [(0.5, 1.0, "dog", 0.7)]
    assert ev.active == []
    assert ev.finish() == []


# -- sources -------------------------------------------------------------------------------------


def _drain(source, capacity=1 << 16):
    ring = RingBuffer(capacity)
    source.start(ring)
    deadline = time.monotonic() + 10
    while not ring.closed and time.monotonic() < deadline:
        ring.wait(0.02)
    out = np.zeros(ring.written, np.float32)
    assert ring.read(0, out)
    return out, ring


def test_pipe_source_s16le_f32le_and_stereo():
    y = np.array([0, 16384, -16384, 32767, -32768], "<i2")
    src = PipeSource(io.BytesIO(y.tobytes()), format="s16le", sample_rate=8000)
    out, _ = _drain(src)
    assert out.tolist() == (y / 32768.0).astype(np.float32).tolist()
    f = np.array([0.25, -0.5, 1.0], "<f4")
    out, _ = _drain(PipeSource(io.BytesIO(f.tobytes()), format="f32le", sample_rate=8000))
    assert out.tolist() == f.tolist()
    stereo = np.array([[0.5, 0.0], [0.25, 0.75]], "<f4")
    out, _ = _drain(PipeSource(io.BytesIO(stereo.tobytes()), format="f32le", sample_rate=8000,
                               channels=2))
    assert out.tolist() == [0.25, 0.5]


class Trickle(io.RawIOBase):
    """A pipe that hands out 3 bytes per read (frames split across reads)."""

    def __init__(self, data):
        self.data, self.pos = data, 0

    def readable(self):
        return True

    def readinto(self, b):
        n = min(3, len(b), len(self.data) - self.pos)
        b[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n


def test_pipe_source_keeps_frames_split_across_reads():
    y = (np.arange(1000) - 500).astype("<i2")
    out, _ = _drain(PipeSource(Trickle(y.tobytes()), format="s16le", sample_rate=8000))
    assert out.tolist() == (y / 32768.0).astype(np.float32).tolist()


def test_pipe_source_reads_a_wav_stream():
    y = _signal(0.5, sr=16000)
    buf = io.BytesIO()
    sf.write(buf, np.stack([y, y], axis=1), 16000, format="WAV", subtype="PCM_16")
    src = PipeSource(io.BytesIO(buf.getvalue()))               # detected from its header
    assert (src.format, src.sample_rate, src.channels) == ("wav", 16000, 2)
    out, _ = _drain(src)
    expected, _ = sf.read(io.BytesIO(buf.getvalue()), dtype="float32")
    assert np.allclose(out, expected.mean(axis=1), atol=1e-7)
    with pytest.raises(AudioError, match="WAV header says 16000"):
        PipeSource(io.BytesIO(buf.getvalue()), sample_rate=8000)


def test_pipe_source_errors():
    with pytest.raises(ParameterError, match="--rate"):
        PipeSource(io.BytesIO(b"\0\0"), format="s16le")
    with pytest.raises(AudioError, match="not a WAV stream"):
        PipeSource(io.BytesIO(b"nonsense" * 4), format="wav")
    bad = np.array([0.1, np.nan], "<f4").tobytes()
    _, ring = _drain(PipeSource(io.BytesIO(bad), format="f32le", sample_rate=8000))
    assert isinstance(ring.error, AudioError) and "NaN" in str(ring.error)
    with pytest.raises(ParameterError, match="paces a file"):
        open_source("-", realtime=True, sample_rate=8000, stdin=io.BytesIO(b""))


class FakeInputStream:
    """Stands in for sounddevice.InputStream: a thread calls the callback with blocks of a
    signal, as PortAudio would, then stops."""

    signal = None

    def __init__(self, *, samplerate, channels, dtype, blocksize, device, callback):
        assert channels == 1 and dtype == "float32"
        self.callback, self.blocksize = callback, blocksize or 160
        self._thread = None

    def start(self):
        def feed():
            y = type(self).signal
            for i in range(0, len(y), self.blocksize):
                block = y[i:i + self.blocksize, None].copy()
                self.callback(block, len(block), None, 1 if i == 0 else 0)
            self.stopped.set()

        self.stopped = threading.Event()
        self._thread = threading.Thread(target=feed, daemon=True)
        self._thread.start()

    def stop(self):
        self.stopped.wait(5)

    def close(self):
        pass


def test_microphone_source_callback_only_copies_into_the_ring():
    FakeInputStream.signal = _signal(0.3)
    src = MicrophoneSource(sample_rate=SR, stream_factory=FakeInputStream)
    ring = RingBuffer(1 << 14)
    src.start(ring)
    src._stream.stopped.wait(5)
    src.stop()
    out = np.zeros(ring.written, np.float32)
    assert ring.read(0, out)
    assert np.array_equal(out, FakeInputStream.signal)
    assert src.device_overflows == 1 and src.live


def test_no_microphone_is_a_clear_error():
    from earmark.streaming import input_devices
    if input_devices():
        pytest.skip("this machine has an input device")
    with pytest.raises(ParameterError, match="no microphone"):
        MicrophoneSource(preferred_rate=SR)


def test_real_microphone_when_there_is_one(request):
    from earmark.streaming import input_devices
    if not input_devices():
        pytest.skip("no input device (sounddevice.query_devices() lists none)")
    clf = request.getfixturevalue("clf")
    summary = run_stream(StreamScorer(clf), MicrophoneSource(preferred_rate=SR), [Collect()],
                         max_seconds=1.0)
    assert summary["hops"] >= 1


# -- same answers as offline ---------------------------------------------------------------------


def test_stream_of_a_file_gives_the_offline_window_scores(clf, tmp_path):
    path = _wav(tmp_path / "a.wav", 3.3)                   # the end needs a flush window
    offline = clf.predict_table([path], windows=True, progress=False)
    sink = Collect()
    summary = run_stream(StreamScorer(clf, hop_s=clf.features_.hop_s), FileSource(path), [sink])
    hops = sink.of("hop")
    assert [h["start_s"] for h in hops] == offline["start_s"].tolist()
    assert np.abs(_window_scores(hops, clf.classes_)
                  - offline[clf.classes_].to_numpy()).max() < 1e-5
    assert [h["label"] for h in hops] == offline["label"].tolist()
    assert summary["dropped"] == 0 and summary["hops"] == len(offline)
    assert sink.records[-1]["type"] == "end"


def test_stream_of_a_microphone_gives_the_offline_window_scores(clf, tmp_path):
    """The callback path end to end: a fake device delivering a known signal."""
    y = _signal(2.0, seed=3)
    path = tmp_path / "m.wav"
    sf.write(path, y, SR, subtype="FLOAT")
    FakeInputStream.signal = y
    offline = clf.predict_table([str(path)], windows=True, progress=False)
    sink = Collect()
    scorer = StreamScorer(clf, hop_s=clf.features_.hop_s)
    src = MicrophoneSource(sample_rate=SR, stream_factory=FakeInputStream)
    src.live = False             # the fake device is faster than real time: score every hop
    run_stream(scorer, src, [sink], max_seconds=2.0)
    hops = sink.of("hop")
    assert len(hops) == len(offline)
    assert np.abs(_window_scores(hops, clf.classes_)
                  - offline[clf.classes_].to_numpy()).max() < 1e-5


def test_stream_resamples_to_the_model_rate(clf, tmp_path):
    path = _wav(tmp_path / "r.wav", 2.0, sr=16000)
    offline = clf.predict_table([path], windows=True, progress=False)
    sink = Collect()
    run_stream(StreamScorer(clf, hop_s=clf.features_.hop_s), FileSource(path), [sink])
    hops = sink.of("hop")
    assert len(hops) == len(offline)
    assert np.abs(_window_scores(hops, clf.classes_)
                  - offline[clf.classes_].to_numpy()).max() < 1e-4


def test_short_stream_is_one_padded_window(clf, tmp_path):
    path = _wav(tmp_path / "s.wav", 0.3)
    offline = clf.predict_table([path], windows=True, progress=False)
    sink = Collect()
    run_stream(StreamScorer(clf), FileSource(path), [sink])
    hops = sink.of("hop")
    assert len(hops) == 1 == len(offline)
    assert np.abs(_window_scores(hops, clf.classes_)
                  - offline[clf.classes_].to_numpy()).max() < 1e-5


def test_detector_stream_gives_offline_frame_scores_and_events(clf, tmp_path):
    """A window classifier used as a detector (uniform frames) and a CRNN-like frame model
    (tapered frames): the stitched frames and the events of earmark detect."""
    import torch
    from earmark.models.frames import NeuralFrameModel

    path = _wav(tmp_path / "d.wav", 4.1)
    feats = clf.features_.replace(window_s=1.0, hop_s=0.75, normalize="window")
    torch.manual_seed(0)
    frame_model = NeuralFrameModel(n_classes=2, features=feats, device="cpu").prepare_inference()
    n_events = 0
    for model, step in ((clf.model_, 0.0625), (frame_model, None)):
        det = earmark.SoundDetector(recipe="cnn" if step else "crnn", progress=False)
        det.model_, det.features_ = model, model.features
        det.classes_ = list(clf.classes_) if step else ["a", "b"]
        det.frame_step_s_ = step or model.frame_step_samples / feats.sample_rate
        n = len(det.classes_)
        det.postprocessing_ = PostProcessing((0.4,) * n, (0.3,) * n, (0.1,) * n, (0.0,) * n,
                                             (0.1,) * n)
        for hop_s in (det.features_.window_s / 4, 0.75 * det.features_.window_s):
            det.hop_s = hop_s
            offline = det.frame_scores(path)
            expected = det.events(offline)
            sink = Collect()
            scorer = StreamScorer(det, hop_s=hop_s)
            frames, push = [], scorer.events.push

            def keep(scores):
                frames.append(np.array(scores))
                return push(scores)

            scorer.events.push = keep
            run_stream(scorer, FileSource(path), [sink])
            streamed = np.concatenate(frames)
            assert streamed.shape == offline.scores.shape
            assert np.abs(streamed - offline.scores).max() < 1e-5
            got = sorted([(e["onset_s"], e["offset_s"], e["label"]) for e in sink.of("event")],
                         key=lambda e: (e[0], e[2]))
            assert got == [(a, b, c) for a, b, c, _ in expected]
            assert sink.of("end")[0]["dropped"] == 0
            n_events += len(expected)
    assert n_events > 0, "some events should have been compared"


def test_tagger_stream_decides_with_its_thresholds(clf, tmp_path):
    path = _wav(tmp_path / "t.wav", 2.6)
    tagger = earmark.SoundTagger(progress=False)
    tagger.model_, tagger.features_ = clf.model_, clf.features_
    tagger.classes_ = list(clf.classes_)
    tagger.thresholds_ = np.array([0.2, 0.9, 0.4])
    offline = tagger.predict_table([path], windows=True, progress=False)
    sink = Collect()
    scorer = StreamScorer(tagger, hop_s=clf.features_.hop_s)
    assert scorer.thresholds == [0.2, 0.9, 0.4]
    run_stream(scorer, FileSource(path), [sink])
    hops = sink.of("hop")
    assert [";".join(h["labels"]) for h in hops] == offline["labels"].fillna("").tolist()
    assert np.abs(_window_scores(hops, clf.classes_)
                  - offline[clf.classes_].to_numpy()).max() < 1e-5


def test_novelty_stream_flags_and_events_as_offline(tmp_path):
    rng = np.random.default_rng(0)
    root = write_dataset(tmp_path / "normal", per_class=6, kinds=("noise",))
    nd = earmark.NoveltyDetector(progress=False).fit(root)
    sr = nd.features_.sample_rate
    y = (0.5 * rng.standard_normal(4 * sr) * (rng.uniform(size=4 * sr) < 0.3)).astype(np.float32)
    y[2 * sr:int(2.5 * sr)] = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(sr // 2) / sr)
    path = tmp_path / "n.wav"
    sf.write(path, y, sr, subtype="PCM_16")
    starts, scores = nd.score_windows(str(path))
    sink = Collect()
    run_stream(StreamScorer(nd, hop_s=nd.features_.hop_s), FileSource(path), [sink])
    hops = sink.of("hop")
    assert np.abs(np.array([h["score"] for h in hops]) - scores).max() < 1e-5
    assert [h["anomalous"] for h in hops] == (scores > nd.threshold_).tolist()
    expected = nd.events(starts, scores)
    assert expected, "the tone should be flagged"
    assert [(e["onset_s"], e["offset_s"], e["label"], e["score"]) for e in sink.of("event")] \
        == [(a, b, c, pytest.approx(d, abs=1e-6)) for a, b, c, d in expected]


def test_slow_model_drops_hops_and_says_so(clf, tmp_path):
    path = _wav(tmp_path / "slow.wav", 3.0)
    scorer = StreamScorer(clf, hop_s=0.125)
    fast = scorer._score

    def slow(windows):
        time.sleep(0.09)
        return fast(windows)

    scorer._score = slow
    sink = Collect()
    src = FileSource(path, realtime=True, speed=3.0)      # a hop every 42 ms of wall time
    summary = run_stream(scorer, src, [sink])
    hops = sink.of("hop")
    assert summary["dropped"] > 0 and hops[-1]["dropped"] == summary["dropped"]
    starts = [h["start_s"] for h in hops if not h.get("final_window")]
    assert all(b > a for a, b in zip(starts, starts[1:]))
    assert len(starts) + summary["dropped"] == int((3.0 - 0.5) / 0.125) + 1


def test_interrupt_closes_open_events_and_flushes(clf, tmp_path):
    path = _wav(tmp_path / "int.wav", 3.0)
    scorer = StreamScorer(clf, hop_s=0.25, threshold=0.0)   # every class always "on"
    calls = {"n": 0}
    fast = scorer._score

    def interrupting(windows):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return fast(windows)

    scorer._score = interrupting
    buf = io.StringIO()
    summary = run_stream(scorer, FileSource(path), [JsonLinesSink(buf)])
    assert summary.interrupted
    import json
    lines = [json.loads(x) for x in buf.getvalue().splitlines()]
    assert lines[-1]["type"] == "end" and lines[-1]["interrupted"] is True
    events = [x for x in lines if x["type"] == "event"]
    assert sorted(e["label"] for e in events) == sorted(clf.classes_)   # closed at the end


def test_smoothing_is_a_moving_average(clf, tmp_path):
    path = _wav(tmp_path / "sm.wav", 2.5)
    raw, smooth = Collect(), Collect()
    run_stream(StreamScorer(clf, hop_s=0.125), FileSource(path), [raw])
    run_stream(StreamScorer(clf, hop_s=0.125, smooth=3), FileSource(path), [smooth])
    r = _window_scores([h for h in raw.of("hop") if not h.get("final_window")], clf.classes_)
    s = np.array([[h["smoothed"][c] for c in clf.classes_] for h in smooth.of("hop")
                  if not h.get("final_window")])
    assert np.allclose(s[5], r[3:6].mean(axis=0), atol=2e-6)
    assert np.allclose(s[0], r[0], atol=2e-6)


def test_scorer_refuses_what_it_cannot_stream(clf):
    with pytest.raises(ParameterError, match="smooth"):
        StreamScorer(clf, smooth=0)
    with pytest.raises(ParameterError, match="ensemble"):
        StreamScorer(earmark.EnsembleClassifier.from_fitted([clf, clf]))


def test_views_plain_and_terminal():
    hop = {"type": "hop", "time_s": 1.5, "label": "kick", "scores": {"kick": 0.8, "snare": 0.2},
           "dropped": 0, "latency_ms": 3.0}
    event = {"type": "event", "onset_s": 1.0, "offset_s": 1.5, "label": "kick", "score": 0.8}
    end = {"type": "end", "duration_s": 2.0, "source": "x", "hops": 4, "dropped": 0,
           "latency_ms": {"p50": 3.0, "p95": 4.0}, "cpu_percent": 5.0, "interrupted": False}
    out = io.StringIO()
    view = PlainView(out)
    for r in (hop, event, end):
        view.write(r)
    lines = out.getvalue().splitlines()
    assert lines[0].split()[:3] == ["1.50", "s", "kick"] and "\x1b" not in out.getvalue()
    assert lines[1].startswith("event") and "4 hops" in lines[2]
    out = io.StringIO()
    tv = TerminalView(out, title="t", fps=1000)
    for r in (hop, event, hop, end):
        tv.write(r)
    text = out.getvalue()
    assert "\x1b[" in text and "kick" in text and "█" in text


@pytest.mark.parametrize("name", ["ring", "events", "sinks", "view", "sources"])
def test_docstring_examples(name):
    import doctest
    import importlib
    module = importlib.import_module(f"earmark.streaming.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
