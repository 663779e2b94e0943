"""StreamScorer: the model side of a stream — windows in, scores, decisions and events out.

Every hop the newest complete analysis window (on a grid of ``hop`` samples from the stream's
first sample, as :func:`earmark.windows.window_starts` places them) is scored by the model;
the last ``smooth`` scores are averaged (a moving average, as continuous keyword spotting
does), the task decides on the average, and :class:`~earmark.streaming.events.StreamingEvents`
turns the scores into events with detection's hysteresis.

- classifier, tagger: window scores; events where a class's smoothed score reaches its
  threshold (0.5; a tagger's tuned thresholds), each hop one frame whose time is the middle of
  the audio its smoothed score covers.
- novelty: the anomaly score; a window is flagged above the model's threshold, and flagged
  stretches are events ('anomaly'), scored by one minus the tail probability.
- detector: each window's frame scores, stitched over overlapping windows exactly as
  :func:`earmark.inference.frames.score_frames` does offline (a frame is final once no later
  window covers it), then the detector's own post-processing.

This module knows models and windows, not devices, files or threads.
"""

import math
from collections import deque

import numpy as np

from .._validation import check_number
from ..errors import ParameterError
from ..inference.postprocess import PostProcessing
from .events import StreamingEvents

__all__ = ["StreamScorer", "KINDS"]

#: The model kinds a stream can score.
KINDS = ("classifier", "tagger", "detector", "novelty")


class StreamScorer:
    """Score a stream window by window.

    Parameters
    ----------
    model : estimator
        A fitted :class:`~earmark.SoundClassifier`, :class:`~earmark.SoundTagger`,
        :class:`~earmark.SoundDetector` or :class:`~earmark.NoveltyDetector` (``earmark.load``).
    hop_s : float or None
        Seconds between scored windows; None: a quarter of the model's window. A detector's
        hop is rounded to whole frames.
    smooth : int
        Moving average over the last ``smooth`` scores (window scores; a detector's frames).
    threshold : float or None
        Onset threshold of events for every class (a novelty model: the anomaly score above
        which a window is flagged); None: the model's (0.5 for a classifier).
    offset_threshold : float or None
        Where an event ends (hysteresis, at most ``threshold``); None: the onset threshold (a
        detector: its own post-processing).

    Attributes
    ----------
    sample_rate, window_samples, hop_samples : int
    classes : list of str
    columns : list of str
        Names of the score columns (classes, then e.g. an open-set rejection score).
    dropped : int
        Hops skipped because the scorer was behind (:meth:`skip_to`).

    Examples
    --------
    >>> clf = earmark.load("drums.earmark")                  # doctest: +SKIP
    >>> sc = StreamScorer(clf, hop_s=0.25)                   # doctest: +SKIP
    >>> rec, events = sc.score_next(window)                  # doctest: +SKIP
    """

    def __init__(self, model, *, hop_s=None, smooth=1, threshold=None, offset_threshold=None):
        o = "StreamScorer"
        from ..estimators.ensemble import EnsembleClassifier

        kind = getattr(model, "kind", None)
        if kind == "ensemble" or isinstance(model, EnsembleClassifier):
            raise ParameterError("an ensemble scores whole files (its members use different "
                                 "analysis windows); stream one of its members, or train a "
                                 "single recipe")
        if kind not in KINDS:
            raise ParameterError(f"{o}: cannot stream a {kind!r} model; streamable kinds: "
                                 f"{', '.join(KINDS)}")
        model._check_fitted()
        check_number(smooth, "smooth", o, low=1, high=10000, closed="both", integer=True)
        check_number(hop_s, "hop_s", o, low=0, high=600, allow_none=True)
        check_number(threshold, "threshold", o, allow_none=True,
                     **({} if kind == "novelty" else dict(low=0, high=1, closed="both")))
        check_number(offset_threshold, "offset_threshold", o, low=0, high=1, closed="both",
                     allow_none=True)
        self.model = model
        self.kind = kind
        self.smooth = int(smooth)
        fc = model.features_
        self.features = fc
        self.sample_rate = fc.sample_rate
        self.window_samples = fc.window_samples
        self.classes = list(model.classes_) if kind != "novelty" else ["anomaly"]
        self.dropped = 0
        self.n_scored = 0
        self._recent = deque(maxlen=self.smooth)
        self._next = 0                   # index of the next window on the grid
        if kind == "detector":
            self._init_detector(hop_s, threshold, offset_threshold)
        else:
            hop = fc.window_s / 4 if hop_s is None else hop_s
            self.hop_samples = max(1, int(round(hop * self.sample_rate)))
            self._init_windows(threshold, offset_threshold)

    # -- set-up -----------------------------------------------------------------------------------
    def _init_windows(self, threshold, offset_threshold):
        m = self.model
        n = len(self.classes)
        if self.kind == "novelty":
            self._score = m._window_model().score_windows
            self.threshold = float(m.threshold_ if threshold is None else threshold)
            pp = None                                   # flags 0/1 against 0.5
        else:
            self._score = m.score_windows
            if threshold is not None:
                on = (float(threshold),) * n
            elif self.kind == "tagger":
                on = tuple(float(t) for t in np.asarray(m.thresholds_, float).ravel()[:n])
            else:
                on = (0.5,) * n
            off = on if offset_threshold is None else \
                tuple(min(float(offset_threshold), t) for t in on)
            pp = PostProcessing(on, off, (0.0,) * n, (0.0,) * n, (0.0,) * n)
        self.thresholds = None if self.kind == "novelty" else list(pp.onset_threshold)
        hop_s = self.hop_samples / self.sample_rate
        if self.kind == "novelty":
            # as NoveltyDetector.events: a flagged window flags every hop-long frame it
            # overlaps; a frame is final once the window after it is scored (a window flush
            # with the end may still cover it)
            self._span = math.ceil(self.window_samples / self.hop_samples - 1e-9)
            self._flags = np.zeros(self._span + 1)
            self._levels = np.zeros(self._span + 1)
            self._frames_out = 0
            start_s = 0.0
        else:
            # a hop's frame is centred on the audio its smoothed score covers (windows k-N+1..k)
            centre0 = (self.window_samples / self.sample_rate - (self.smooth - 1) * hop_s) / 2
            start_s = centre0 - hop_s / 2
        self.events = StreamingEvents(self.classes, frame_step_s=hop_s, postprocessing=pp,
                                      start_s=start_s)
        self.columns = list(self.classes)

    def _init_detector(self, hop_s, threshold, offset_threshold):
        from ..inference.frames import _weights, grid_hop_samples

        m = self.model
        fm = m._frame_model()
        self._fm = fm
        hop = fm.features.window_s / 4 if hop_s is None else hop_s
        self.hop_samples = grid_hop_samples(fm, hop)
        self._step = fm.frame_step_samples
        self._hop_frames = self.hop_samples // self._step
        self._out = fm.out_frames
        self._w = _weights(fm)[:, None]
        n = len(self.classes)
        self._sum = np.zeros((self._out + self._hop_frames, n))
        self._den = np.zeros((self._out + self._hop_frames, 1))
        self._final = 0                  # frames finalised so far
        pp = m.postprocessing_
        if threshold is not None or offset_threshold is not None:
            on = pp.onset_threshold if threshold is None else (float(threshold),) * n
            off = pp.offset_threshold if offset_threshold is None else \
                (float(offset_threshold),) * n
            off = tuple(min(a, b) for a, b in zip(off, on))
            pp = PostProcessing(on, off, pp.median_filter_s, pp.min_duration_s, pp.min_gap_s)
        self.thresholds = list(pp.onset_threshold)
        self.frame_step_s = self._step / self.sample_rate
        self.events = StreamingEvents(self.classes, frame_step_s=self.frame_step_s,
                                      postprocessing=pp)
        self.columns = list(self.classes)

    # -- the grid ---------------------------------------------------------------------------------
    @property
    def hop_s(self):
        return self.hop_samples / self.sample_rate

    @property
    def next_end(self):
        """Sample (exclusive) where the next window on the grid ends."""
        return self._next * self.hop_samples + self.window_samples

    def pending(self, available):
        """Complete windows on the grid not scored yet, given ``available`` samples."""
        if available < self.next_end:
            return 0
        return (available - self.next_end) // self.hop_samples + 1

    def skip_to(self, available):
        """Skip to the newest complete window (the scorer is behind): the windows between are
        counted in ``dropped``; returns how many were skipped."""
        n = self.pending(available) - 1
        if n <= 0:
            return 0
        if self.kind == "detector":     # frames only skipped windows covered are final now
            self._carry = self._finalise_until((self._next + n) * self._hop_frames)
        else:
            self._gap = n
        self._next += n
        self.dropped += n
        return n

    # -- scoring ----------------------------------------------------------------------------------
    def score_next(self, window):
        """Score the next window on the grid (``window_samples`` samples at the model rate).

        Returns ``(record, events)``: the hop's record (a dict: ``type='hop'``, start_s,
        end_s, scores, the decision) and the events that became final, as dicts.
        """
        start = self._next * self.hop_samples
        self._next += 1
        self.n_scored += 1
        if self.kind == "detector":
            return self._detector_hop(window, start)
        return self._window_hop(window, start, on_grid=True)

    def finish(self, tail, total):
        """The stream ended after ``total`` samples; ``tail`` holds its last
        ``min(total, window_samples)`` samples. Scores what offline prediction scores at the
        end (a window flush with the end, or a short stream zero-padded; a detector's last
        windows mirrored past the end), then closes open events at the end.

        Returns ``(records, events)``.
        """
        records, events = [], []
        W = self.window_samples
        tail = np.asarray(tail, np.float32)
        if self.kind == "detector":
            from ..inference.frames import frame_window_starts
            starts = frame_window_starts(total, W, self.hop_samples) if total else []
            first = total - len(tail)                # sample index of tail[0]
            n_frames = max(1, math.ceil(total / self._step)) if total else 0
            while total and self._next < len(starts):
                a = self._next * self.hop_samples - first
                piece = tail[max(a, 0):a + W]
                w = np.zeros(W, np.float32) if len(piece) == 0 else \
                    np.pad(piece, (0, W - len(piece)), mode="symmetric").astype(np.float32)
                rec, ev = self._detector_hop(w, self._next * self.hop_samples,
                                             limit=n_frames)
                self._next += 1
                records.append(rec)
                events += ev
            frames = self._finalise_until(n_frames)
            carry, self._carry = getattr(self, "_carry", None), None
            if carry is not None and len(carry):     # skipped just before the end
                frames = np.concatenate([carry, frames])
            if len(frames):
                if self.smooth > 1:
                    frames = self._moving_average(frames)
                events += self._event_dicts(self.events.push(frames))
        elif total and total < W:                  # a short stream: one zero-padded window
            w = np.zeros(W, np.float32)
            w[:total] = tail[-total:]
            records.append(self._window_hop(w, 0, on_grid=False))
        elif total > W:
            last_grid = (total - W) // self.hop_samples * self.hop_samples
            if last_grid + W < total:              # the end is not covered: one window flush
                records.append(self._window_hop(tail[-W:], total - W, on_grid=False))
        if self.kind == "novelty" and total:
            # to the end of the last window (flush with the end, or the one padded window)
            n_frames = math.ceil(max(total, W) / self.hop_samples - 1e-9)
            while self._frames_out < n_frames:
                events += self._event_dicts(self._push_novelty_frame())
        flat = []
        for rec in records:
            if isinstance(rec, tuple):            # (record, events) from a hop
                flat.append(rec[0])
                events += rec[1]
            else:
                flat.append(rec)
        events += self._event_dicts(self.events.finish())
        return flat, events

    # -- window models ----------------------------------------------------------------------------
    def _window_hop(self, window, start, *, on_grid):
        raw = np.asarray(self._score(np.asarray(window, np.float32)[None]), np.float64)[0]
        if not np.all(np.isfinite(raw)):
            raise ParameterError(f"the model gave NaN or infinite scores for the window at "
                                 f"{start / self.sample_rate:.3f} s")
        rec = {"type": "hop", "start_s": round(start / self.sample_rate, 6),
               "end_s": round((start + self.window_samples) / self.sample_rate, 6)}
        if not on_grid:        # the extra window at the end: reported, not smoothed
            rec["final_window"] = True
            rec.update(self._decide(raw, raw))
            found = self._novelty_window(raw, start) if self.kind == "novelty" else []
            return rec, self._event_dicts(found)
        self._recent.append(raw)
        smoothed = raw if self.smooth == 1 else np.mean(self._recent, axis=0)
        rec.update(self._decide(raw, smoothed))
        gap, self._gap = getattr(self, "_gap", 0), 0
        if self.kind == "novelty":
            found = self._novelty_window(smoothed, start, gap=gap)
        else:
            series = smoothed[None, :len(self.classes)]
            if gap:    # dropped hops: their frames hold the last score seen (nothing starts
                # or ends before it was seen), so the grid of frames stays whole
                held = getattr(self, "_last_series", np.zeros_like(series))
                series = np.concatenate([np.repeat(held, gap, axis=0), series])
            self._last_series = series[-1:]
            found = self.events.push(series)
        rec["active"] = self.events.active
        return rec, self._event_dicts(found)

    def _novelty_window(self, score, start, *, gap=0):
        """Flag the frames a novelty window covers; push the frames that became final."""
        hop = self.hop_samples
        found = []
        k = start // hop                          # the window's first frame
        while self._frames_out < k - 1:          # skipped windows' frames too (gap)
            found += self._push_novelty_frame()
        first = k - self._frames_out
        last = math.ceil((start + self.window_samples) / hop - 1e-9) - self._frames_out
        if last > len(self._flags):
            grow = last - len(self._flags)
            self._flags = np.concatenate([self._flags, np.zeros(grow)])
            self._levels = np.concatenate([self._levels, np.zeros(grow)])
        if score[0] > self.threshold:
            self._flags[first:last] = 1.0
        level = 1.0 - float(self.model.tail_probability(score[:1])[0])
        self._levels[first:last] = np.maximum(self._levels[first:last], level)
        return found

    def _push_novelty_frame(self):
        flag, level = self._flags[:1].copy(), self._levels[:1].copy()
        self._flags = np.concatenate([self._flags[1:], [0.0]])
        self._levels = np.concatenate([self._levels[1:], [0.0]])
        self._frames_out += 1
        return self.events.push(flag[:, None], level[:, None])

    def _decide(self, raw, smoothed):
        cols = self.columns + [f"extra_{i}" for i in range(len(raw) - len(self.columns))]
        if len(raw) == len(self.classes) + 1 and self.kind == "classifier":
            cols = self.classes + ["rejection"]      # an open-set classifier's rejection score
        out = {"scores": {c: round(float(v), 6) for c, v in zip(cols, raw)}}
        if self.smooth > 1:
            out["smoothed"] = {c: round(float(v), 6) for c, v in zip(cols, smoothed)}
        if self.kind == "novelty":
            out["score"] = out["scores"]["anomaly"]
            out["tail_probability"] = round(float(self.model.tail_probability(
                smoothed[:1])[0]), 6)
            out["anomalous"] = bool(smoothed[0] > self.threshold)
        elif self.kind == "tagger":
            out["labels"] = list(self.model.decide(smoothed[None])[0])
        else:
            out["label"] = str(self.model.decide(smoothed[None])[0])
        return out

    # -- detectors --------------------------------------------------------------------------------
    def _detector_hop(self, window, start, limit=None):
        f0 = start // self._step
        scores = np.asarray(self._fm.score_frames(np.asarray(window, np.float32)[None]),
                            np.float64)[0]
        if not np.all(np.isfinite(scores)):
            raise ParameterError(f"the model gave NaN or infinite scores for the window at "
                                 f"{start / self.sample_rate:.3f} s")
        a = f0 - self._final
        need = a + self._out
        if need > len(self._sum):
            grow = need - len(self._sum)
            self._sum = np.concatenate([self._sum, np.zeros((grow, self._sum.shape[1]))])
            self._den = np.concatenate([self._den, np.zeros((grow, 1))])
        self._sum[a:a + self._out] += self._w * scores
        self._den[a:a + self._out] += self._w
        # frames before the next window's start are covered by no later window: final
        until = f0 + self._hop_frames
        frames = self._finalise_until(until if limit is None else min(until, limit))
        carry = getattr(self, "_carry", None)
        if carry is not None and len(carry):
            frames = np.concatenate([carry, frames])
            self._carry = None
        rec = {"type": "hop", "start_s": round(start / self.sample_rate, 6),
               "end_s": round((start + self.window_samples) / self.sample_rate, 6)}
        found = []
        if len(frames):
            if self.smooth > 1:
                frames = self._moving_average(frames)
            found = self.events.push(frames)
            peak = frames.max(axis=0)
            rec["frames"] = int(len(frames))
            rec["scores"] = {c: round(float(v), 6) for c, v in zip(self.classes, peak)}
        else:
            rec["frames"] = 0
            rec["scores"] = {}
        rec["active"] = self.events.active
        return rec, self._event_dicts(found)

    def _moving_average(self, frames):
        out = np.empty_like(frames)
        for i, f in enumerate(frames):
            self._recent.append(f)
            out[i] = np.mean(self._recent, axis=0)
        return out

    def _finalise_until(self, frame):
        """Frame scores ``self._final .. frame - 1``, final: no window still to come covers
        them. Frames no window covered (after dropped hops) score 0."""
        n = frame - self._final
        if n <= 0:
            return np.zeros((0, len(self.classes)))
        if n > len(self._sum):
            pad = n - len(self._sum)
            self._sum = np.concatenate([self._sum, np.zeros((pad, self._sum.shape[1]))])
            self._den = np.concatenate([self._den, np.zeros((pad, 1))])
        out = (self._sum[:n] / np.maximum(self._den[:n], 1e-12)).astype(np.float32)
        self._sum = np.concatenate([self._sum[n:], np.zeros((n, self._sum.shape[1]))])
        self._den = np.concatenate([self._den[n:], np.zeros((n, 1))])
        self._final = frame
        return out.astype(np.float64)

    def _event_dicts(self, found):
        return [{"type": "event", "onset_s": max(0.0, on), "offset_s": max(0.0, off),
                 "label": lab, "score": round(float(sc), 6)} for on, off, lab, sc in found]
