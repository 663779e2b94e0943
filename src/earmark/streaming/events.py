"""Events from scores that arrive a few frames at a time: detection's post-processing, online.

:func:`earmark.inference.postprocess.decode_events` turns a whole recording's frame scores into
events (median filter, hysteresis thresholds, gap merging, minimum duration). A stream never
has the whole recording, so :class:`StreamingEvents` applies the same rules as frames come in
and reports each event as soon as nothing that may still arrive can change it:

- a frame's median-filtered score is final once the frames of the filter's right half have
  arrived (the first frames see the first frame repeated, as the offline filter does);
- an event is final once the frame that ends it is final and the frames after it leave a gap
  of at least ``min_gap_s`` (no later event could merge with it); only then is its length
  compared with ``min_duration_s``.

The events of a stream are therefore exactly those of ``decode_events`` on all its frames at
once (the tests check it), each reported a little after it ends: by half the median filter plus
``min_gap_s``. Memory holds the frames since the oldest event that is not yet final.
"""

import numpy as np

from .._validation import check_number
from ..errors import ParameterError
from ..inference.postprocess import (_EPS_S, PostProcessing, _class_events, _filter_frames,
                                     _frame_times)

__all__ = ["StreamingEvents"]


class _ClassState:
    """One class's frames: raw scores still needed by the filter, and filtered final frames
    since the oldest event that may still change."""

    def __init__(self, settings, frame_step_s):
        self.onset, self.offset, filt_s, self.min_duration_s, self.min_gap_s = settings
        self.k = _filter_frames(filt_s, frame_step_s)
        self.h = self.k // 2
        self.raw = np.zeros(0)          # raw scores of frames raw_base ...
        self.raw_base = 0
        self.filtered = np.zeros(0)     # filtered scores of frames base ... n_final - 1
        self.levels = np.zeros(0)       # what an event's score is the largest of
        self.raw_levels = np.zeros(0)   # the levels of the raw frames
        self.base = 0
        self.open = False               # an event is running at the newest final frame


class StreamingEvents:
    """Detection's post-processing applied online to frame scores.

    Parameters
    ----------
    classes : list of str
    frame_step_s : float
        Seconds from one frame to the next.
    postprocessing : PostProcessing or None
        One setting per class; None: :meth:`PostProcessing.default`.
    start_s : float
        Time where frame 0 starts.

    Examples
    --------
    >>> ev = StreamingEvents(["dog"], frame_step_s=0.5)
    >>> ev.push(np.array([[0.1], [0.7], [0.4]]))
    [(0.5, 1.0, 'dog', 0.7)]
    >>> ev.push(np.array([[0.8]])), ev.active
    ([], ['dog'])
    >>> ev.finish()                       # the stream ends: open events end with it
    [(1.5, 2.0, 'dog', 0.8)]
    """

    def __init__(self, classes, *, frame_step_s, postprocessing=None, start_s=0.0):
        o = "StreamingEvents"
        check_number(frame_step_s, "frame_step_s", o, low=0)
        check_number(start_s, "start_s", o)
        self.classes = [str(c) for c in classes]
        if postprocessing is None:
            postprocessing = PostProcessing.default(len(self.classes))
        if not isinstance(postprocessing, PostProcessing) or \
                postprocessing.n_classes != len(self.classes):
            raise ParameterError(f"{o}: postprocessing must be a PostProcessing for "
                                 f"{len(self.classes)} classes; got {postprocessing!r}")
        self.frame_step_s = float(frame_step_s)
        self.start_s = float(start_s)
        self.postprocessing = postprocessing
        self._states = [_ClassState(postprocessing._class_settings(c), self.frame_step_s)
                        for c in range(len(self.classes))]
        self.n_frames = 0
        self._finished = False
        self._levels_are_scores = True

    @property
    def active(self):
        """Labels with an event running at the newest final frame."""
        return [c for c, st in zip(self.classes, self._states) if st.open]

    def push(self, scores, levels=None):
        """Add frames (n, n_classes) of scores in [0, 1]; returns the events that became final,
        as ``(onset_s, offset_s, label, score)`` sorted by onset then label. ``levels`` (same
        shape): what an event's score is the largest of (default: the filtered scores)."""
        if self._finished:
            raise ParameterError("StreamingEvents.push: the stream was finished")
        scores = np.asarray(scores, np.float64).reshape(-1, len(self.classes))
        if self.n_frames == 0:
            self._levels_are_scores = levels is None
        elif self._levels_are_scores != (levels is None):
            raise ParameterError("StreamingEvents.push: give levels with every push or never")
        levels = scores if levels is None else \
            np.asarray(levels, np.float64).reshape(scores.shape)
        self.n_frames += len(scores)
        return self._collect(scores, levels, last=False)

    def finish(self):
        """The stream ended: the remaining events, open ones ending where the last frame ends."""
        if self._finished:
            return []
        self._finished = True
        n = len(self.classes)
        return self._collect(np.zeros((0, n)), np.zeros((0, n)), last=True)

    def _collect(self, scores, levels, last):
        found = []
        for c, st in enumerate(self._states):
            found += [(a, b, c, p) for a, b, p in self._class_push(st, scores[:, c],
                                                                   levels[:, c], last)]
        rank = np.argsort(np.argsort(self.classes))
        found.sort(key=lambda e: (e[0], rank[e[2]]))
        out = []
        for a, b, c, p in found:
            t = _frame_times(np.array([a, b]), self.frame_step_s, self.start_s).tolist()
            out.append((t[0], t[1], self.classes[c], float(p)))
        return out

    def _class_push(self, st, new, new_levels, last):
        st.raw = np.concatenate([st.raw, new])
        # the level of a frame travels with its raw score until the frame is final
        st.raw_levels = np.concatenate([st.raw_levels, new_levels])
        n_raw = st.raw_base + len(st.raw)
        n_final_before = st.base + len(st.filtered)
        n_final = n_raw if last else max(n_final_before, n_raw - st.h)
        if n_final > n_final_before:
            st.filtered = np.concatenate([st.filtered, self._filter(st, n_final_before, n_final,
                                                                    last)])
            a = n_final_before - st.raw_base
            fresh = st.filtered[len(st.filtered) - (n_final - n_final_before):] \
                if self._levels_are_scores else st.raw_levels[a:a + n_final - n_final_before]
            st.levels = np.concatenate([st.levels, fresh])
        # raw frames the filter still needs: the h before the first frame not yet final
        keep = max(st.raw_base, n_final - st.h)
        st.raw = st.raw[keep - st.raw_base:]
        st.raw_levels = st.raw_levels[keep - st.raw_base:]
        st.raw_base = keep
        if not len(st.filtered):
            return []
        # candidates: merged (min_gap) but not yet checked for length (a short event may still
        # merge with a later one and become long enough)
        s, e, _ = _class_events(st.filtered, st.onset, st.offset, 1, 0.0, st.min_gap_s,
                                self.frame_step_s)
        n_rel = len(st.filtered)
        out = []
        cut = n_rel
        st.open = False
        for a, b in zip(s.tolist(), e.tolist()):
            ended = b < n_rel or last
            gap_ok = last or (st.min_gap_s <= 0) or \
                (n_rel - b) * self.frame_step_s >= st.min_gap_s - _EPS_S
            if not (ended and gap_ok):
                cut = min(cut, a)
                st.open = st.open or b >= n_rel
                continue
            if (b - a) * self.frame_step_s >= st.min_duration_s - _EPS_S:
                out.append((st.base + a, st.base + b, float(st.levels[a:b].max())))
        st.filtered = st.filtered[cut:]
        st.levels = st.levels[cut:]
        st.base += cut
        return out

    def _filter(self, st, lo, hi, last):
        """Filtered scores of frames lo..hi-1 (absolute): the median of ``k`` raw frames
        around each, the first and (when ``last``) the last frame repeated at the edges, as
        ``scipy.ndimage.median_filter(mode='nearest')`` over the whole stream."""
        a, b = lo - st.raw_base, hi - st.raw_base
        if st.k == 1:
            return st.raw[a:b].copy()
        from scipy.ndimage import median_filter

        left = max(0, a - st.h)
        right = len(st.raw) if last else min(len(st.raw), b + st.h)
        seg = st.raw[left:right]
        # a segment that starts at the stream's first frame is padded with it, as offline;
        # elsewhere the segment holds the real context, so its edge padding is never used
        filt = median_filter(seg, size=st.k, mode="nearest")
        return filt[a - left:b - left]

