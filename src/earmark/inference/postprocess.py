"""From frame scores to sound events: median filter, hysteresis thresholds, gap merging, minimum
duration, and the tuning of those settings on held-out recordings.

A detector scores a recording on a regular frame grid: ``scores[k, c]`` in [0, 1] is class ``c``'s
score for frame ``k``, which covers ``[start_s + k * frame_step_s, start_s + (k + 1) *
frame_step_s)``. :func:`decode_events` turns the scores into events class by class:

1. a median filter of ``median_filter_s`` seconds smooths the class's scores (it removes spikes
   and holes shorter than half the filter);
2. hysteresis: an event starts at the first frame whose score is ``>= onset_threshold`` and goes
   on until the first frame whose score is ``< offset_threshold`` (the first frame below is not
   part of it); a dip that stays between the two thresholds does not end an event;
3. events of the class separated by a gap shorter than ``min_gap_s`` are merged into one;
4. events shorter than ``min_duration_s`` (after merging) are dropped.

:func:`tune_postprocessing` chooses these settings per class, to maximise each class's
collar-based event F1 on recordings the model was not trained on.
"""

import math
import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._validation import check_number, check_range
from ..errors import ParameterError

__all__ = ["smooth_scores", "PostProcessing", "decode_events", "tune_postprocessing",
           "ONSET_COLLAR_S", "OFFSET_COLLAR_S", "OFFSET_COLLAR_RATE"]

#: Collars of the event F1 that :func:`tune_postprocessing` maximises (the DCASE convention): a
#: detection matches a reference event of its class when its onset is within 0.2 s of the
#: reference's and its offset within max(0.2 s, 20 % of the reference's length) of the reference's.
ONSET_COLLAR_S = 0.2
OFFSET_COLLAR_S = 0.2
OFFSET_COLLAR_RATE = 0.2

# Event times are rounded to microseconds: far below any frame step, and it hides float noise
# (0.15000000000000002) in the tables users read. sed_scores_eval rounds the same way.
_TIME_DECIMALS = 6
# Durations and gaps are compared with this slack, so 2 frames of 0.05 s count as 0.1 s.
_EPS_S = 1e-9

_FIELDS = ("onset_threshold", "offset_threshold", "median_filter_s", "min_duration_s",
           "min_gap_s")


@dataclass(frozen=True)
class PostProcessing:
    """Settings that turn one recording's frame scores into events, one value per class.

    Every field is a tuple with one value per class, in the order of the detector's classes.

    Parameters
    ----------
    onset_threshold : tuple of float in [0, 1]
        An event starts where the (median-filtered) score rises to ``>=`` this.
    offset_threshold : tuple of float in [0, 1]
        ... and ends where it falls below this (hysteresis). At most ``onset_threshold``.
    median_filter_s : tuple of float >= 0
        Length of the median filter, in seconds, applied to the class's scores before the
        thresholds; 0 for none. It spans ``round(median_filter_s / frame_step_s)`` frames, plus
        one when that is even (a centred filter does not shift events); 0 or 1 frame is no
        filter.
    min_duration_s : tuple of float >= 0
        Events shorter than this (after merging) are dropped.
    min_gap_s : tuple of float >= 0
        Events of a class separated by a gap shorter than this are merged.

    Notes
    -----
    :meth:`default` is 0.5 for both thresholds, no filter, no minimum duration, no merging: the
    plain "score >= 0.5" rule, the natural choice for a detector trained with binary
    cross-entropy, and the only one that assumes nothing about the sounds. Tune the settings
    on held-out recordings with :func:`tune_postprocessing`.

    Examples
    --------
    >>> pp = PostProcessing.default(2)
    >>> pp.onset_threshold
    (0.5, 0.5)
    >>> d = pp.to_dict()
    >>> d["median_filter_s"]
    [0.0, 0.0]
    >>> PostProcessing.from_dict(d, n_classes=2) == pp
    True
    """

    onset_threshold: tuple
    offset_threshold: tuple
    median_filter_s: tuple
    min_duration_s: tuple
    min_gap_s: tuple

    def __post_init__(self):
        lengths = set()
        for name in _FIELDS:
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
                raise ParameterError(
                    f"The {name!r} parameter of PostProcessing must be a sequence of floats, one "
                    f"per class. Got {value!r} instead.")
            value = tuple(value)
            for i, v in enumerate(value):
                high = 1 if name.endswith("threshold") else None
                check_number(v, f"{name}[{i}]", "PostProcessing", low=0, high=high,
                             closed="both" if high else "left")
            # plain floats: equality, hashing and JSON must not depend on NumPy scalar types
            object.__setattr__(self, name, tuple(float(v) for v in value))
            lengths.add(len(value))
        if len(lengths) > 1:
            given = ", ".join(f"{n}: {len(getattr(self, n))}" for n in _FIELDS)
            raise ParameterError(f"PostProcessing needs the same number of values (one per class) "
                                 f"in every field; got {given}.")
        for i, (on, off) in enumerate(zip(self.onset_threshold, self.offset_threshold)):
            check_range(off, on, f"offset_threshold[{i}]", f"onset_threshold[{i}]",
                        "PostProcessing")

    @property
    def n_classes(self):
        """The number of classes the settings are for."""
        return len(self.onset_threshold)

    @classmethod
    def default(cls, n_classes):
        """Thresholds 0.5 / 0.5, no median filter, no minimum duration, no gap merging.

        Examples
        --------
        >>> PostProcessing.default(1)
        PostProcessing(onset_threshold=(0.5,), offset_threshold=(0.5,), median_filter_s=(0.0,), \
min_duration_s=(0.0,), min_gap_s=(0.0,))
        """
        check_number(n_classes, "n_classes", "PostProcessing.default", low=1, closed="left",
                     integer=True)
        return cls((0.5,) * n_classes, (0.5,) * n_classes, (0.0,) * n_classes,
                   (0.0,) * n_classes, (0.0,) * n_classes)

    def to_dict(self):
        """The settings as plain JSON data: ``{field: [one float per class]}``."""
        return {name: list(getattr(self, name)) for name in _FIELDS}

    @classmethod
    def from_dict(cls, d, *, n_classes):
        """Settings from :meth:`to_dict`'s output (e.g. read back from JSON).

        Raises
        ------
        ParameterError
            A field missing or unknown, a field without exactly ``n_classes`` values, a value
            that is not a finite number in range, or an offset threshold above its onset
            threshold. The message names the field.
        """
        check_number(n_classes, "n_classes", "PostProcessing.from_dict", low=1, closed="left",
                     integer=True)
        if not isinstance(d, dict):
            raise ParameterError(f"PostProcessing.from_dict needs a dict with keys "
                                 f"{list(_FIELDS)}; got {type(d).__name__}.")
        missing = [f for f in _FIELDS if f not in d]
        unknown = sorted(set(d) - set(_FIELDS))
        if missing or unknown:
            raise ParameterError(f"PostProcessing.from_dict: missing field(s) {missing}, unknown "
                                 f"field(s) {unknown}; expected exactly {list(_FIELDS)}.")
        for name in _FIELDS:
            value = d[name]
            if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or \
                    len(value) != n_classes:
                raise ParameterError(
                    f"The {name!r} parameter of PostProcessing must be a list of {n_classes} "
                    f"floats (one per class). Got {value!r} instead.")
        return cls(**{name: tuple(d[name]) for name in _FIELDS})

    def _class_settings(self, c):
        return tuple(getattr(self, name)[c] for name in _FIELDS)


# --------------------------------------------------------------------------------------------
# decoding


def _check_scores(scores, n_classes, owner, name="scores"):
    scores = np.asarray(scores)
    if scores.ndim != 2 or scores.shape[1] != n_classes:
        raise ParameterError(f"The {name!r} parameter of {owner} must be an array of shape "
                             f"(n_frames, {n_classes}) (one column per class). Got shape "
                             f"{scores.shape} instead.")
    if not np.issubdtype(scores.dtype, np.number) or np.issubdtype(scores.dtype,
                                                                   np.complexfloating):
        raise ParameterError(f"The {name!r} parameter of {owner} must hold real numbers. Got "
                             f"dtype {scores.dtype} instead.")
    scores = scores.astype(np.float64, copy=False)
    if scores.size:
        finite = np.isfinite(scores).all(axis=1)
        if not finite.all():
            raise ParameterError(f"The {name!r} parameter of {owner} holds NaN or infinite "
                                 f"values (first at frame {int(np.argmin(finite))}).")
        lo, hi = float(scores.min()), float(scores.max())
        if lo < 0 or hi > 1:
            raise ParameterError(f"The {name!r} parameter of {owner} must hold scores in [0, 1]. "
                                 f"Got values in [{lo:g}, {hi:g}] instead.")
    return scores


def _check_classes(classes, owner):
    if isinstance(classes, str) or not hasattr(classes, "__len__") or not len(classes):
        raise ParameterError(f"The 'classes' parameter of {owner} must be a non-empty list of "
                             f"class names. Got {classes!r} instead.")
    classes = [str(c) for c in classes]
    if len(set(classes)) != len(classes):
        raise ParameterError(f"The 'classes' parameter of {owner} has duplicate names: {classes}.")
    return classes


def _filter_frames(median_filter_s, frame_step_s):
    """The median filter's length in frames (odd; 1 is no filter)."""
    n = int(round(median_filter_s / frame_step_s))
    if n <= 1:
        return 1
    return n + 1 if n % 2 == 0 else n


def _median_filter(x, median_filter_s, frame_step_s):
    """Median filter along axis 0 (edges repeat the first/last frame)."""
    n = _filter_frames(median_filter_s, frame_step_s)
    if n == 1 or len(x) == 0:
        return x
    from scipy.ndimage import median_filter

    size = (n,) + (1,) * (x.ndim - 1)
    return median_filter(x, size=size, mode="nearest")


def smooth_scores(scores, *, frame_step_s, postprocessing):
    """Frame scores (n_frames, n_classes) through each class's median filter: what the
    thresholds of :func:`decode_events` see, and what threshold-free metrics (PSDS) are
    computed on, as the DCASE baselines do.

    Examples
    --------
    >>> pp = PostProcessing.default(1).__class__(onset_threshold=(0.5,), offset_threshold=(0.5,),
    ...     median_filter_s=(0.3,), min_duration_s=(0.0,), min_gap_s=(0.0,))
    >>> smooth_scores(np.array([[0.0], [1.0], [0.0], [0.0]]), frame_step_s=0.1,
    ...               postprocessing=pp).ravel().tolist()
    [0.0, 0.0, 0.0, 0.0]
    """
    x = np.asarray(scores, dtype=np.float64)
    out = x.copy()
    for c in range(x.shape[1]):
        out[:, c] = _median_filter(x[:, c], postprocessing.median_filter_s[c], frame_step_s)
    return out


def _median_at_least(x, threshold, k):
    """``median_filter(x, k, mode="nearest") >= threshold`` for every frame (k odd).

    The median of k values is at least ``threshold`` exactly when at least k // 2 + 1 of them
    are: a moving count of a boolean, much cheaper than a median per frame.
    """
    above = x >= threshold
    if k == 1:
        return above
    n, h = len(x), k // 2
    # repeating the edge frames of the boolean = thresholding the edge-repeated scores
    padded = np.concatenate((np.full(h, above[0]), above, np.full(h, above[-1]))).view(np.uint8)
    if k <= 15:                        # a few byte-wide additions beat a cumulative sum
        count = padded[:n].copy()
        for j in range(1, k):
            count += padded[j:j + n]
    else:
        cumulative = np.zeros(len(padded) + 1, np.int32)
        np.cumsum(padded, dtype=np.int32, out=cumulative[1:])
        count = cumulative[k:] - cumulative[:-k]
    return count >= h + 1


def _filtered_at(x, k, frames):
    """The median-filtered scores at ``frames`` only (the frames inside events)."""
    if k == 1:
        return x[frames]
    if len(frames) > len(x) // 4:      # most of the recording: one filter over all is faster
        from scipy.ndimage import median_filter

        return median_filter(x, size=k, mode="nearest")[frames]
    h = k // 2
    windows = x[np.clip(frames[:, None] + np.arange(-h, h + 1), 0, len(x) - 1)]
    return np.partition(windows, h, axis=1)[:, h]


def _class_events(x, onset, offset, filter_frames, min_duration_s, min_gap_s, frame_step_s,
                  recording_starts=None):
    """Events of one class's scores ``x`` (1-D), as frame indices.

    Returns ``(starts, ends, peak)``: event k covers frames ``starts[k]:ends[k]`` and ``peak[k]``
    is the largest filtered score in it. ``x`` may be several recordings end to end (already
    filtered, ``filter_frames`` 1), each followed by one separator frame of score -1 (below any
    offset threshold, so no event runs across it); ``recording_starts`` (sorted frame indices)
    then keeps gap merging within a recording.
    """
    n = len(x)
    empty = np.zeros(0, np.int64)
    if n == 0:
        return empty, empty, np.zeros(0)
    k = filter_frames
    # Hysteresis without a loop over frames: an event is a run of frames at or above the offset
    # threshold, from the first frame of the run that reaches the onset threshold to the run's
    # end (the first frame below the offset threshold).
    above_off = _median_at_least(x, offset, k)
    edges = np.flatnonzero(np.diff(above_off, prepend=False, append=False))
    starts, ends = edges[0::2], edges[1::2]
    if onset > offset and len(starts):
        on_frames = np.flatnonzero(_median_at_least(x, onset, k))
        j = np.searchsorted(on_frames, starts)
        first = on_frames[np.minimum(j, max(len(on_frames) - 1, 0))] if len(on_frames) else starts
        keep = (j < len(on_frames)) & (first < ends)
        starts, ends = first[keep], ends[keep]
    if min_gap_s > 0 and len(starts) > 1:
        merge = (starts[1:] - ends[:-1]) * frame_step_s < min_gap_s - _EPS_S
        if recording_starts is not None:
            rec = np.searchsorted(recording_starts, starts, side="right")
            merge &= rec[1:] == rec[:-1]
        starts = starts[np.r_[True, ~merge]]
        ends = ends[np.r_[~merge, True]]
    if min_duration_s > 0 and len(starts):
        keep = (ends - starts) * frame_step_s >= min_duration_s - _EPS_S
        starts, ends = starts[keep], ends[keep]
    if not len(starts):
        return empty, empty, np.zeros(0)
    # the frames of all events in one index array, each event a contiguous piece of it
    lengths = ends - starts
    offsets = np.cumsum(lengths) - lengths
    frames = np.arange(int(lengths.sum())) - np.repeat(offsets - starts, lengths)
    peak = np.maximum.reduceat(_filtered_at(x, k, frames), offsets)
    return starts, ends, peak


def _frame_times(frames, frame_step_s, start_s):
    return np.round(start_s + frames * frame_step_s, _TIME_DECIMALS)


def decode_events(scores, *, frame_step_s, classes, postprocessing=None, start_s=0.0):
    """Turn one recording's frame scores into events.

    Parameters
    ----------
    scores : array of shape (n_frames, n_classes)
        Scores in [0, 1]; frame k covers ``[start_s + k * frame_step_s, start_s + (k + 1) *
        frame_step_s)``.
    frame_step_s : float
        Seconds from one frame to the next.
    classes : list of str
        The class of each column.
    postprocessing : PostProcessing or None
        The settings, one value per class; None: :meth:`PostProcessing.default`.
    start_s : float
        Time of the first frame's start, in seconds (for scores of a part of a recording).

    Returns
    -------
    list of (onset_s, offset_s, label, score)
        Sorted by onset, then label. ``score`` is the largest (filtered) frame score of the class
        inside the event. An event still open at the last frame ends where the last frame ends.
        Times are rounded to microseconds.

    Raises
    ------
    ParameterError
        Scores not of shape (n_frames, len(classes)), not finite or outside [0, 1]; settings for
        another number of classes; a step that is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> scores = np.array([[0.1], [0.7], [0.4], [0.8], [0.2], [0.1]])
    >>> decode_events(scores, frame_step_s=0.5, classes=["dog"])
    [(0.5, 1.0, 'dog', 0.7), (1.5, 2.0, 'dog', 0.8)]
    >>> pp = PostProcessing((0.5,), (0.3,), (0.0,), (0.0,), (0.0,))   # hysteresis: 0.4 holds
    >>> decode_events(scores, frame_step_s=0.5, classes=["dog"], postprocessing=pp)
    [(0.5, 2.0, 'dog', 0.8)]
    """
    owner = "decode_events"
    check_number(frame_step_s, "frame_step_s", owner, low=0)
    check_number(start_s, "start_s", owner)
    classes = _check_classes(classes, owner)
    scores = _check_scores(scores, len(classes), owner)
    if postprocessing is None:
        postprocessing = PostProcessing.default(len(classes))
    if not isinstance(postprocessing, PostProcessing):
        raise ParameterError(f"The 'postprocessing' parameter of {owner} must be a PostProcessing "
                             f"or None. Got {type(postprocessing).__name__} instead.")
    if postprocessing.n_classes != len(classes):
        raise ParameterError(f"decode_events: the post-processing settings are for "
                             f"{postprocessing.n_classes} classes, the scores have "
                             f"{len(classes)} ({classes}).")
    onsets, offsets, labels, peaks = [], [], [], []
    for c in range(len(classes)):
        on, off, filt_s, min_dur, min_gap = postprocessing._class_settings(c)
        s, e, p = _class_events(scores[:, c], on, off, _filter_frames(filt_s, frame_step_s),
                                min_dur, min_gap, frame_step_s)
        onsets.append(s)
        offsets.append(e)
        peaks.append(p)
        labels.append(np.full(len(s), c))
    onsets, offsets = np.concatenate(onsets), np.concatenate(offsets)
    labels, peaks = np.concatenate(labels), np.concatenate(peaks)
    rank = np.argsort(np.argsort(classes))     # label order = alphabetical order of names
    order = np.lexsort((rank[labels], onsets))
    t_on = _frame_times(onsets[order], frame_step_s, start_s).tolist()
    t_off = _frame_times(offsets[order], frame_step_s, start_s).tolist()
    names = [classes[i] for i in labels[order]]
    return list(zip(t_on, t_off, names, peaks[order].tolist()))


# --------------------------------------------------------------------------------------------
# event F1


def _collar_f1_counts(det, ref, *, onset_collar=ONSET_COLLAR_S, offset_collar=OFFSET_COLLAR_S,
                      offset_collar_rate=OFFSET_COLLAR_RATE):
    """True positives of one class's detections against its reference events (collar-based,
    optimal one-to-one matching, as sed_eval's ``EventBasedMetrics``).

    ``det`` and ``ref`` are ``(recording, onset, offset)`` triples of arrays (recording: an int
    id). Returns ``(tp, n_sys, n_ref)``. Distances are compared after rounding to microseconds,
    as sed_scores_eval does, so a detection exactly on the collar counts whatever the float noise.
    """
    d_rec, d_on, d_off = (np.asarray(a) for a in det)
    r_rec, r_on, r_off = (np.asarray(a) for a in ref)
    n_sys, n_ref = len(d_on), len(r_on)
    if n_sys == 0 or n_ref == 0:
        return 0, n_sys, n_ref
    # Candidates by onset only: sort references on (recording, onset) laid end to end on one
    # time axis, so a binary search finds each detection's few candidates.
    span = float(max(np.max(r_off), np.max(d_off), 0.0)) + 4 * onset_collar + 1.0
    r_key = r_rec * span + r_on
    order = np.argsort(r_key, kind="stable")
    r_key = r_key[order]
    d_key = d_rec * span + d_on
    lo = np.searchsorted(r_key, d_key - onset_collar - 1e-6, side="left")
    hi = np.searchsorted(r_key, d_key + onset_collar + 1e-6, side="right")
    counts = hi - lo
    total = int(counts.sum())
    if total == 0:
        return 0, n_sys, n_ref
    pd_idx = np.repeat(np.arange(n_sys), counts)
    first = np.cumsum(counts) - counts
    pr_idx = order[np.arange(total) - np.repeat(first, counts) + np.repeat(lo, counts)]
    ref_len = r_off[pr_idx] - r_on[pr_idx]
    hit = (
        (r_rec[pr_idx] == d_rec[pd_idx])
        & (np.round(np.abs(d_on[pd_idx] - r_on[pr_idx]) - onset_collar, _TIME_DECIMALS) <= 0)
        & (np.round(np.abs(d_off[pd_idx] - r_off[pr_idx])
                    - np.maximum(offset_collar, offset_collar_rate * ref_len),
                    _TIME_DECIMALS) <= 0)
    )
    pd_idx, pr_idx = pd_idx[hit], pr_idx[hit]
    if not len(pd_idx):
        return 0, n_sys, n_ref
    if np.bincount(pd_idx).max() <= 1 and np.bincount(pr_idx).max() <= 1:
        return len(pd_idx), n_sys, n_ref           # no detection or reference matched twice
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_bipartite_matching

    graph = csr_matrix((np.ones(len(pd_idx)), (pd_idx, pr_idx)), shape=(n_sys, n_ref))
    match = maximum_bipartite_matching(graph, perm_type="column")
    return int(np.sum(match >= 0)), n_sys, n_ref


class _WritableFrame(pd.DataFrame):
    """A score table whose ``to_numpy()`` is a writable copy.

    Under pandas' copy-on-write (the default from pandas 3), ``to_numpy()`` returns a read-only
    view, and sed_scores_eval's Cython detection code rejects read-only buffers.
    """

    @property
    def _constructor(self):
        return _WritableFrame

    def to_numpy(self, *args, **kwargs):
        return np.array(super().to_numpy(*args, **kwargs))


def _f1(tp, n_sys, n_ref):
    return 2.0 * tp / (n_sys + n_ref) if n_sys + n_ref else 0.0


# --------------------------------------------------------------------------------------------
# tuning


def _sequence(value, name, owner, *, high=None):
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ParameterError(f"The {name!r} parameter of {owner} must be a non-empty list of "
                             f"numbers. Got {value!r} instead.")
    value = list(value)
    if not value:
        raise ParameterError(f"The {name!r} parameter of {owner} must be a non-empty list of "
                             f"numbers. Got [] instead.")
    for i, v in enumerate(value):
        check_number(v, f"{name}[{i}]", owner, low=0, high=high,
                     closed="both" if high is not None else "left")
    return [float(v) for v in value]


def _merged_reference(events, classes, audio_id):
    """Per class: sorted (onset, offset) arrays of the reference events, overlapping or touching
    events of one class merged (sed_scores_eval refuses them; they mark one sound)."""
    per_class = {c: [] for c in classes}
    unknown = set()
    for ev in events:
        if not isinstance(ev, (list, tuple)) or len(ev) < 3:
            raise ParameterError(f"tune_postprocessing: ground truth of {audio_id!r} must be a "
                                 f"list of (onset, offset, label) tuples; got {ev!r}.")
        on, off, label = ev[0], ev[1], str(ev[2])
        if not (isinstance(on, numbers.Real) and isinstance(off, numbers.Real)
                and math.isfinite(on) and math.isfinite(off) and 0 <= on < off):
            raise ParameterError(f"tune_postprocessing: ground-truth event {ev!r} of {audio_id!r} "
                                 f"needs finite times with 0 <= onset < offset.")
        if label not in per_class:
            unknown.add(label)
            continue
        per_class[label].append((float(on), float(off)))
    if unknown:
        raise ParameterError(f"tune_postprocessing: ground truth of {audio_id!r} has label(s) "
                             f"{sorted(unknown)} that are not among the classes {classes}.")
    out = {}
    for c, evs in per_class.items():
        merged = []
        for on, off in sorted(evs):
            if merged and on <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], off)
            else:
                merged.append([on, off])
        arr = np.array(merged, dtype=np.float64).reshape(-1, 2)
        out[c] = (arr[:, 0], arr[:, 1])
    return out


def tune_postprocessing(scores, ground_truth, *, frame_step_s, classes, durations,
                        median_filters_s=(0, 0.1, 0.25, 0.5), hysteresis=(1.0, 0.75, 0.5),
                        min_durations_s=(0, 0.1, 0.25), min_gaps_s=(0, 0.1, 0.25)):
    """Choose post-processing settings per class on held-out recordings.

    For each class, the settings that maximise the class's collar-based event F1 (onset collar
    0.2 s, offset collar max(0.2 s, 20 % of the reference event's length): the DCASE
    convention, as ``sed_eval.sound_event.EventBasedMetrics``) over all the recordings.

    How: for each median filter, the best onset threshold of each class is found exactly over
    all thresholds with ``sed_scores_eval.collar_based.best_fscore`` on the filtered scores
    (offset threshold = onset threshold, no minimum duration, no merging); then, around it, every
    combination of ``hysteresis`` (offset threshold = ratio x onset threshold),
    ``min_durations_s`` and ``min_gaps_s`` is decoded and scored. Among equal F1s the earlier
    values of the grids win (list the simplest settings first), and a class keeps the defaults
    unless some setting beats them.

    Parameters
    ----------
    scores : dict of str to array (n_frames, n_classes)
        Frame scores of each held-out recording (first frame at 0 s).
    ground_truth : dict of str to list of (onset, offset, label)
        Reference events of each recording in ``scores`` (an empty list for none). Overlapping
        or touching events of one class count as one event.
    frame_step_s : float
        Seconds from one frame to the next.
    classes : list of str
        The class of each score column.
    durations : dict of str to float
        Duration of each recording in seconds: a detection still open at the last frame ends at
        ``min(end of last frame, duration)``.
    median_filters_s, hysteresis, min_durations_s, min_gaps_s : sequences of float
        The values tried. ``hysteresis`` ratios are in [0, 1].

    Returns
    -------
    postprocessing : PostProcessing
    report : dict
        ``{class: {"f1": best F1 (None for a class without reference events), "f1_default": F1
        with the defaults, "n_ref": number of reference events}}``.

    Raises
    ------
    ParameterError
        Mismatched recording ids, scores of the wrong shape, labels that are not classes, bad
        grid values.
    ImportError
        sed_scores_eval is not installed (``pip install earmark[detection]``).

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.zeros((200, 1)); truth[50:80] = truth[120:130] = 1
    >>> scores = {"a": 0.1 + 0.3 * truth}               # a shy detector: events at 0.4
    >>> gt = {"a": [(2.5, 4.0, "bird"), (6.0, 6.5, "bird")]}
    >>> pp, report = tune_postprocessing(scores, gt, frame_step_s=0.05, classes=["bird"],
    ...                                  durations={"a": 10.0})
    >>> 0.1 < pp.onset_threshold[0] <= 0.4, report["bird"]["f1"], report["bird"]["f1_default"]
    (True, 1.0, 0.0)
    """
    owner = "tune_postprocessing"
    try:
        from sed_scores_eval import collar_based
        from sed_scores_eval.base_modules.scores import create_score_dataframe
    except ImportError as exc:  # an optional dependency
        raise ImportError("tune_postprocessing needs sed_scores_eval: pip install "
                          "'earmark[detection]'") from exc
    check_number(frame_step_s, "frame_step_s", owner, low=0)
    classes = _check_classes(classes, owner)
    median_filters_s = _sequence(median_filters_s, "median_filters_s", owner)
    hysteresis = _sequence(hysteresis, "hysteresis", owner, high=1)
    min_durations_s = _sequence(min_durations_s, "min_durations_s", owner)
    min_gaps_s = _sequence(min_gaps_s, "min_gaps_s", owner)
    for name, d in (("scores", scores), ("ground_truth", ground_truth), ("durations", durations)):
        if not isinstance(d, dict):
            raise ParameterError(f"The {name!r} parameter of {owner} must be a dict keyed by "
                                 f"recording id. Got {type(d).__name__} instead.")
    ids = sorted(scores)
    if not ids:
        raise ParameterError(f"The 'scores' parameter of {owner} must hold at least one recording.")
    for name, d in (("ground_truth", ground_truth), ("durations", durations)):
        missing, extra = sorted(set(ids) - set(d)), sorted(set(d) - set(ids))
        if missing or extra:
            raise ParameterError(f"{owner}: the ids of {name!r} must be those of 'scores'; "
                                 f"missing {missing[:5]}, extra {extra[:5]}.")
    arrays = [_check_scores(scores[a], len(classes), owner, f"scores[{a!r}]") for a in ids]
    empty = [a for a, x in zip(ids, arrays) if len(x) == 0]
    if empty:
        raise ParameterError(f"{owner}: recording(s) {empty[:5]} have no frames.")
    ends = []
    for a, x in zip(ids, arrays):
        dur = check_number(durations[a], f"durations[{a!r}]", owner, low=0)
        frames_end = len(x) * frame_step_s
        # the last frame may reach past the end of the recording; never cut it to nothing
        ends.append(min(frames_end, dur) if dur > (len(x) - 1) * frame_step_s else frames_end)
    refs = [_merged_reference(ground_truth[a], classes, a) for a in ids]
    n_ref = {c: sum(len(r[c][0]) for r in refs) for c in classes}

    # all recordings end to end, each followed by a separator frame, so that a class decodes in
    # one vectorised call per setting
    lengths = np.array([len(x) for x in arrays])
    rec_starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])
    ends = np.array(ends)
    ref_arrays = {}
    for c in classes:
        rec = np.concatenate([np.full(len(r[c][0]), i) for i, r in enumerate(refs)])
        ref_arrays[c] = (rec.astype(np.int64), np.concatenate([r[c][0] for r in refs]),
                         np.concatenate([r[c][1] for r in refs]))

    def concatenated(filtered):
        sep = np.full((1, len(classes)), -1.0)
        return np.concatenate([part for x in filtered for part in (x, sep)])

    def f1_of(x, c, settings):
        on, off, _, min_dur, min_gap = settings
        s, e, _ = _class_events(x, on, off, 1, min_dur, min_gap, frame_step_s,
                                recording_starts=rec_starts)
        rec = np.searchsorted(rec_starts, s, side="right") - 1
        d_on = np.round((s - rec_starts[rec]) * frame_step_s, _TIME_DECIMALS)
        d_off = np.round(np.minimum((e - rec_starts[rec]) * frame_step_s, ends[rec]),
                         _TIME_DECIMALS)
        return _f1(*_collar_f1_counts((rec, d_on, d_off), ref_arrays[c]))

    default = PostProcessing.default(len(classes))
    best = {c: default._class_settings(i) for i, c in enumerate(classes)}
    x_raw = np.ascontiguousarray(concatenated(arrays).T)
    best_f1 = {c: f1_of(x_raw[i], c, best[c]) for i, c in enumerate(classes)}
    f1_default = dict(best_f1)
    # sed_scores_eval wants reference events for every class it scores: give it only those
    tuned = [c for c in classes if n_ref[c] > 0]
    tuned_columns = [classes.index(c) for c in tuned]
    gt_for_sse = {a: [(on, off, c) for c in tuned for on, off in zip(*r[c])]
                  for a, r in zip(ids, refs)}
    for filt in median_filters_s if tuned else ():
        filtered = [_median_filter(x, filt, frame_step_s) for x in arrays]
        frames = {}
        for a, x, end in zip(ids, filtered, ends):
            t = np.round(np.arange(len(x) + 1) * frame_step_s, _TIME_DECIMALS)
            t[-1] = round(end, _TIME_DECIMALS)
            frames[a] = _WritableFrame(create_score_dataframe(x[:, tuned_columns], t, tuned))
        _, _, _, thresholds, _ = collar_based.best_fscore(
            frames, gt_for_sse, onset_collar=ONSET_COLLAR_S, offset_collar=OFFSET_COLLAR_S,
            offset_collar_rate=OFFSET_COLLAR_RATE, time_decimals=_TIME_DECIMALS)
        x_all = np.ascontiguousarray(concatenated(filtered).T)
        for i, c in enumerate(classes):
            if n_ref[c] == 0:
                continue
            # -inf (every frame an event) becomes 0, which does the same for scores in [0, 1]
            onset = float(min(max(thresholds[c], 0.0), 1.0))
            for ratio in hysteresis:
                for min_dur in min_durations_s:
                    for min_gap in min_gaps_s:
                        settings = (onset, ratio * onset, filt, min_dur, min_gap)
                        f = f1_of(x_all[i], c, settings)
                        if f > best_f1[c] + 1e-12:
                            best[c], best_f1[c] = settings, f
    pp = PostProcessing(*(tuple(best[c][k] for c in classes) for k in range(len(_FIELDS))))
    report = {c: {"f1": best_f1[c] if n_ref[c] else None,
                  "f1_default": f1_default[c] if n_ref[c] else None,
                  "n_ref": n_ref[c]} for c in classes}
    return pp, report

