"""Sound event detection metrics: PSDS, collar-based (event) F1 and segment-based F1.

A detector gives, per recording, frame scores (a table ``onset, offset, <class>...``, one row per
frame, as :func:`sed_scores_eval.base_modules.io.create_score_dataframe` makes it) and, after
post-processing, events ``(onset_s, offset_s, label)``. The metrics here are the ones the DCASE
community reports, computed by its reference libraries rather than re-implemented:

    psds                PSDS1 / PSDS2 of the frame scores (``sed_scores_eval.intersection_based``)
    collar_metrics      event-based F1, precision, recall with onset/offset collars
                        (``sed_scores_eval.collar_based``, at threshold 0.5 on scores that are 1
                        inside the detected events and 0 outside, so nothing is quantised)
    segment_metrics     segment-based F1 and error rate
                        (``sed_eval.sound_event.SegmentBasedMetrics``)
    detection_metrics   all of them as one flat dict (the keys of :data:`DETECTION_METRICS`)
    detection_fold_means    mean and standard deviation over cross-validation folds

The same conventions hold everywhere:

- The evaluated recordings are the keys of ``ground_truth``; a recording with no reference event
  maps to ``[]`` and still counts (its detections are false positives, its duration enters the
  PSDS false-positive rate and the segment counts). A recording missing from ``detected`` has no
  detections.
- A class with no reference event in the evaluated set has no recall, F1 or PSD-ROC:
  ``sed_scores_eval`` refuses such a class (``AssertionError: No ground truth events for
  classes ...``) and ``sed_eval`` gives NaN. Here its per-class values are None and the macro
  averages and PSDS are taken over the classes with reference events; its detections still count
  as false positives in the micro (pooled) precision and F1 and in the error rates.
- Events of one class that overlap or touch in one recording are merged into one (reference and
  detected alike): ``sed_scores_eval`` rejects connected reference events, and a frame-score
  representation cannot hold two overlapping events of one class.
- Precision without any detection is 0, as DCASE's baselines set ``sed_eval``
  (``empty_system_output_handling="zero_score"``); so a system that detects nothing scores F1 0.
- Recording ids and class names are replaced by neutral internal keys before the reference
  libraries see them, so ids with slashes, dots or spaces (file stems, relative paths) and class
  names with backslashes (which ``sed_scores_eval`` asserts against) are safe.
"""

import contextlib
import math
import numbers
import warnings
from collections.abc import Hashable, Mapping

import numpy as np

from .._validation import check_choice, check_number
from ..errors import DatasetError, ParameterError

__all__ = ["PSDS1", "PSDS2", "DETECTION_METRICS", "PRIMARY_METRIC", "psds", "collar_metrics",
           "segment_metrics", "detection_metrics", "detection_fold_means"]

#: PSDS scenario 1 of DCASE task 4 (since 2021): tight localisation, no cross-trigger penalty.
PSDS1 = dict(dtc_threshold=0.7, gtc_threshold=0.7, cttc_threshold=None, alpha_ct=0.0,
             alpha_st=1.0, max_efpr=100.0)
#: PSDS scenario 2 of DCASE task 4 (since 2021): loose localisation, cross-triggers penalised.
PSDS2 = dict(dtc_threshold=0.1, gtc_threshold=0.1, cttc_threshold=0.3, alpha_ct=0.5,
             alpha_st=1.0, max_efpr=100.0)
_SETTINGS = {"psds1": PSDS1, "psds2": PSDS2}

#: The scalar metrics of :func:`detection_metrics` that :func:`detection_fold_means` averages.
DETECTION_METRICS = ("psds1", "psds2", "collar_f1", "collar_f1_micro", "segment_f1",
                     "segment_f1_macro", "segment_er", "collar_precision", "collar_recall",
                     "segment_precision", "segment_recall")

#: Detection models are ranked by PSDS1: threshold-free, and rare classes weigh as much as
#: common ones.
PRIMARY_METRIC = "psds1"

_INSTALL = "pip install 'earmark[detection]'"


# --------------------------------------------------------------------------- reference libraries

def _sed_scores_eval(owner):
    """Import sed_scores_eval (slow: ~0.6 s, and it pulls in sed_eval and dcase_util)."""
    try:
        with _quiet():
            import sed_scores_eval
            import sed_scores_eval.collar_based  # noqa: F401
            import sed_scores_eval.intersection_based  # noqa: F401
    except ImportError as exc:
        raise ParameterError(
            f"{owner} needs the DCASE reference library sed_scores_eval, which could not be "
            f"imported ({exc}). Install it with: {_INSTALL}") from None
    return sed_scores_eval


def _sed_eval(owner):
    try:
        with _quiet():
            import sed_eval
            import sed_eval.sound_event  # noqa: F401
    except ImportError as exc:
        raise ParameterError(
            f"{owner} needs the DCASE reference library sed_eval, which could not be imported "
            f"({exc}). Install it with: {_INSTALL}") from None
    return sed_eval


@contextlib.contextmanager
def _quiet():
    # dcase_util warns about pkg_resources on import, sed_eval's averages warn "Mean of empty
    # slice" where a class has no events, and the libraries' pandas/numpy calls raise
    # deprecation warnings a user of earmark can do nothing about. (The code paths used here
    # print nothing, so stdout is left alone.)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# --------------------------------------------------------------------------- input checks

def _check_classes(classes, owner):
    if isinstance(classes, str) or not hasattr(classes, "__iter__"):
        raise ParameterError(f"The 'classes' parameter of {owner} must be a list of class names. "
                             f"Got {classes!r} instead.")
    classes = list(classes)
    if not classes:
        raise ParameterError(f"The 'classes' parameter of {owner} must name at least one class. "
                             "Got [] instead.")
    seen = set()
    for c in classes:
        if c in seen:
            raise ParameterError(f"The 'classes' parameter of {owner} must hold distinct class "
                                 f"names. Got {c!r} more than once instead.")
        seen.add(c)
    return classes


def _check_event_table(events, name, owner, classes, *, ids=None):
    """Validate ``{audio_id: [(onset_s, offset_s, label), ...]}``; return it with plain floats.

    ``ids=None``: this is the reference, which defines the evaluated recordings (DatasetError on
    bad events). Otherwise it is a system output over ``ids`` (missing ids: no detections; ids
    not in ``ids``: ParameterError).
    """
    if not isinstance(events, Mapping):
        raise ParameterError(
            f"The {name!r} parameter of {owner} must be a dict mapping each audio id to a list "
            f"of (onset_s, offset_s, label) tuples. Got {type(events).__name__} instead.")
    if ids is None and not events:
        raise ParameterError(f"The {name!r} parameter of {owner} must hold at least one "
                             "recording. Got an empty dict instead.")
    if ids is not None:
        extra = [k for k in events if k not in ids]
        if extra:
            raise ParameterError(
                f"The {name!r} parameter of {owner} has {len(extra)} audio id(s) that are not in "
                f"ground_truth, e.g. {extra[0]!r}; every evaluated recording must have reference "
                "events (use [] for a recording without any).")
    known = set(classes)
    out, problems = {}, []
    for audio_id, evs in events.items():
        if isinstance(evs, (str, bytes)) or not hasattr(evs, "__iter__"):
            problems.append(f"{audio_id!r}: expected a list of (onset_s, offset_s, label) "
                            f"tuples, got {type(evs).__name__}")
            continue
        clean = []
        for ev in evs:
            if isinstance(ev, (str, bytes)) or not hasattr(ev, "__len__") or len(ev) != 3:
                problems.append(f"{audio_id!r}: {ev!r} is not an (onset_s, offset_s, label) tuple")
                continue
            on, off, label = ev
            if not all(isinstance(t, numbers.Real) and not isinstance(t, bool)
                       and math.isfinite(t) for t in (on, off)):
                problems.append(f"{audio_id!r}: onset and offset of {tuple(ev)!r} must be finite "
                                "numbers of seconds")
            elif not 0 <= on < off:
                problems.append(f"{audio_id!r}: {tuple(ev)!r} needs 0 <= onset_s < offset_s")
            elif not isinstance(label, Hashable) or label not in known:
                problems.append(f"{audio_id!r}: label {label!r} of {tuple(ev)!r} is not one of "
                                f"the classes {classes}")
            else:
                clean.append((float(on), float(off), label))
        out[audio_id] = clean
    if problems:
        if ids is None:
            raise DatasetError(f"{owner}: {len(problems)} problem(s) in the reference events "
                               "(ground_truth):", problems)
        shown = "; ".join(problems[:5]) + (f"; ... and {len(problems) - 5} more"
                                           if len(problems) > 5 else "")
        raise ParameterError(f"The {name!r} parameter of {owner} has {len(problems)} bad "
                             f"event(s): {shown}.")
    return out


def _merge(events):
    """Merge overlapping or touching events of one class (see the module docstring)."""
    by_class = {}
    for on, off, label in sorted(events, key=lambda e: (e[0], e[1])):
        runs = by_class.setdefault(label, [])
        if runs and on <= runs[-1][1]:
            runs[-1][1] = max(runs[-1][1], off)
        else:
            runs.append([on, off])
    return sorted(((on, off, label) for label, runs in by_class.items() for on, off in runs),
                  key=lambda e: (e[0], e[1]))


def _check_durations(durations, ids, owner):
    if not isinstance(durations, Mapping):
        raise ParameterError(f"The 'durations' parameter of {owner} must be a dict mapping each "
                             f"audio id to its duration in seconds. Got "
                             f"{type(durations).__name__} instead.")
    missing = [k for k in ids if k not in durations]
    if missing:
        raise ParameterError(f"The 'durations' parameter of {owner} lacks {len(missing)} "
                             f"recording(s) of ground_truth, e.g. {missing[0]!r}.")
    out = {}
    for k in ids:
        d = durations[k]
        if (isinstance(d, bool) or not isinstance(d, numbers.Real) or not math.isfinite(d)
                or d <= 0):
            raise ParameterError(f"The 'durations' parameter of {owner} must hold positive "
                                 f"durations in seconds. Got {d!r} for {k!r} instead.")
        out[k] = float(d)
    return out


_WRITABLE = []


def _writable(df):
    """``df`` as a DataFrame whose ``to_numpy()`` is writeable.

    sed_scores_eval 0.0.4 passes ``scores[classes].to_numpy()`` to Cython code that needs a
    writeable buffer; under pandas 3's copy-on-write that is a read-only view and it fails with
    "buffer source array is read-only". Fixed upstream (fgnt/sed_scores_eval#17) but not
    released; a DataFrame subclass that copies read-only arrays keeps the fix local to the
    tables passed here (no patching of the library).
    """
    if not _WRITABLE:
        import pandas as pd

        class WritableFrame(pd.DataFrame):
            @property
            def _constructor(self):
                return WritableFrame

            def to_numpy(self, *args, **kwargs):
                arr = super().to_numpy(*args, **kwargs)
                return arr if arr.flags.writeable else arr.copy()

        _WRITABLE.append(WritableFrame)
    return _WRITABLE[0](df)


class _Keys:
    """Neutral keys for the reference libraries: recording 7 is ``"r000007"``, class 3 is
    ``"c0003"``. The libraries sort ids, flatten statistics with a backslash separator and
    assert class names hold none, and (sed_eval) build file-based containers; user ids and class
    names never reach them."""

    def __init__(self, ids, classes):
        self.ids = list(ids)
        self.classes = list(classes)
        self.rid = {a: f"r{i:06d}" for i, a in enumerate(self.ids)}
        self.cid = {c: f"c{j:04d}" for j, c in enumerate(self.classes)}
        self.cname = {v: c for c, v in self.cid.items()}

    def events(self, table):
        return {self.rid[a]: [(on, off, self.cid[lab]) for on, off, lab in _merge(table.get(a, []))]
                for a in self.ids}


def _n_events(table, classes):
    n = dict.fromkeys(classes, 0)
    for evs in table.values():
        for _, _, label in _merge(evs):
            n[label] += 1
    return n


def _ratio(num, den):
    return float(num) / float(den) if den else None


def _mean(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


# --------------------------------------------------------------------------- PSDS

def _psds_params(setting, owner):
    if isinstance(setting, Mapping):
        unknown = set(setting) - set(PSDS1)
        missing = set(PSDS1) - set(setting)
        if unknown or missing:
            raise ParameterError(
                f"The 'setting' parameter of {owner} must be 'psds1', 'psds2' or a dict with the "
                f"keys {sorted(PSDS1)}. Got a dict with keys {sorted(setting)} instead.")
        return dict(setting)
    check_choice(setting, "setting", owner, tuple(_SETTINGS))
    return dict(_SETTINGS[setting])


def _check_scores(scores, owner):
    """Validate the frame-score tables (by sed_scores_eval's own check); return the classes."""
    if not isinstance(scores, Mapping) or not scores:
        raise ParameterError(
            f"The 'scores' parameter of {owner} must be a non-empty dict mapping each audio id "
            f"to a DataFrame of frame scores. Got {type(scores).__name__}"
            f"{' (empty)' if isinstance(scores, Mapping) else ''} instead.")
    from sed_scores_eval.base_modules.scores import validate_score_dataframe

    classes = None
    for audio_id, df in scores.items():
        cols = list(getattr(df, "columns", []))[2:]
        try:
            # checked under neutral class names: the user's may hold a backslash, which
            # sed_scores_eval asserts against but never sees here (see _Keys)
            neutral = [*df.columns[:2], *(f"c{j}" for j in range(len(cols)))]
            validate_score_dataframe(df.set_axis(neutral, axis=1) if cols else df)
        except (ValueError, AssertionError) as exc:
            raise ParameterError(f"The 'scores' parameter of {owner}: the table of {audio_id!r} "
                                 f"is not a frame-score table: {exc}") from None
        values = df.iloc[:, 2:].to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():
            raise ParameterError(f"The 'scores' parameter of {owner}: the table of {audio_id!r} "
                                 "holds NaN or infinite scores; every score must be finite.")
        if classes is None:
            classes = list(cols)
        elif list(cols) != classes:
            raise ParameterError(f"The 'scores' parameter of {owner}: the table of {audio_id!r} "
                                 f"has class columns {list(cols)}, the others {classes}.")
    return _check_classes(classes, owner)


def psds(scores, ground_truth, durations, *, setting="psds1"):
    """Polyphonic sound detection score of frame scores, by ``sed_scores_eval``.

    Parameters
    ----------
    scores : dict of pandas.DataFrame
        ``{audio_id: frame scores}``, each a table ``onset, offset, <class1>, <class2>, ...`` with
        one row per frame (contiguous frames), as
        :func:`sed_scores_eval.base_modules.io.create_score_dataframe` makes it. Every recording
        of ``ground_truth`` must have one, with the same class columns.
    ground_truth : dict of list of tuple
        ``{audio_id: [(onset_s, offset_s, label), ...]}``; ``[]`` for a recording without events.
        Its keys are the evaluated recordings.
    durations : dict of float
        ``{audio_id: seconds}`` for every evaluated recording (more keys are ignored); the false
        positive rate is per hour of this total.
    setting : {'psds1', 'psds2'} or dict, default='psds1'
        :data:`PSDS1` or :data:`PSDS2` (the DCASE task 4 scenarios), or a dict with the same keys
        (``dtc_threshold``, ``gtc_threshold``, ``cttc_threshold``, ``alpha_ct``, ``alpha_st``,
        ``max_efpr``).

    Returns
    -------
    dict
        ``psds``
            Normalised area under the PSD-ROC up to ``max_efpr`` false positives per hour, in
            [0, 1]; None if no class has a reference event.
        ``efpr``, ``tpr``
            The PSD-ROC (numpy arrays, effective false positives per hour and effective true
            positive rate), for plots; None with ``psds``.
        ``per_class``
            ``{class: {"psds", "tpr", "efpr", "n_ref"}}``, the single-class ROC and its area; all
            but ``n_ref`` None for a class without reference events.
        ``excluded_classes``
            Classes without reference events. ``sed_scores_eval`` asserts that every score
            column has reference events; their columns are left out, i.e. PSDS is computed as
            if they were not in the class list (PSDS is a mean over classes of per-class ROCs,
            and a class without references has no true positive rate to average).
        ``setting``
            The parameters used. With a single class with reference events there is nothing to
            cross-trigger on, so ``alpha_ct`` and ``cttc_threshold`` are dropped (0 and None).

    Raises
    ------
    earmark.errors.ParameterError
        If the score tables are malformed or do not cover the same recordings as
        ``ground_truth``, a duration is missing or not positive, ``setting`` is unknown, or
        ``sed_scores_eval`` is not installed.
    earmark.errors.DatasetError
        If a reference event is malformed or its label is not a score column.

    Examples
    --------
    >>> from sed_scores_eval.base_modules.io import create_score_dataframe
    >>> t = np.arange(0, 10.05, 0.1)                 # 100 frames of 0.1 s
    >>> s = np.zeros((100, 1)); s[20:50, 0] = 1.0     # 1 exactly inside the reference event
    >>> scores = {"a.wav": create_score_dataframe(s, t, ["dog"])}
    >>> psds(scores, {"a.wav": [(2.0, 5.0, "dog")]}, {"a.wav": 10.0})["psds"]
    1.0
    """
    owner = "psds"
    params = _psds_params(setting, owner)
    sse = _sed_scores_eval(owner)
    classes = _check_scores(scores, owner)
    classes = _check_classes(classes, owner)
    gt = _check_event_table(ground_truth, "ground_truth", owner, classes)
    return _psds(sse, scores, gt, _check_durations(durations, list(gt), owner), classes, params,
                 owner)


def _psds(sse, scores, gt, durations, classes, params, owner):
    ids = list(gt)
    if set(scores) != set(ids):
        missing = [k for k in ids if k not in scores]
        extra = [k for k in scores if k not in gt]
        raise ParameterError(
            f"The 'scores' parameter of {owner} must hold one table per recording of "
            f"ground_truth. Missing: {missing[:3]}{' ...' if len(missing) > 3 else ''}; "
            f"not in ground_truth: {extra[:3]}{' ...' if len(extra) > 3 else ''}.")
    n_ref = _n_events(gt, classes)
    evaluated = [c for c in classes if n_ref[c] > 0]
    excluded = [c for c in classes if n_ref[c] == 0]
    per_class = {c: {"psds": None, "tpr": None, "efpr": None, "n_ref": n_ref[c]}
                 for c in classes}
    out = {"psds": None, "efpr": None, "tpr": None, "per_class": per_class,
           "excluded_classes": excluded, "setting": params}
    if not evaluated:
        return out
    if len(evaluated) == 1 and params["alpha_ct"]:
        # One class has no other class to cross-trigger on. sed_scores_eval would average an
        # empty list of cross-trigger rates (and fails on the empty dict); the penalty is 0.
        params = dict(params, cttc_threshold=None, alpha_ct=0.0)
    keys = _Keys(ids, classes)
    cols = [keys.cid[c] for c in evaluated]
    internal_scores = {}
    for a in ids:
        df = scores[a]
        if len(evaluated) < len(classes):
            df = df[["onset", "offset", *evaluated]]
        internal_scores[keys.rid[a]] = _writable(df.set_axis(["onset", "offset", *cols], axis=1))
    with _quiet():
        value, single_psds, (tpr, efpr), single_rocs = sse.intersection_based.psds(
            scores=internal_scores, ground_truth=keys.events(gt),
            audio_durations={keys.rid[a]: durations[a] for a in ids},
            dtc_threshold=params["dtc_threshold"], gtc_threshold=params["gtc_threshold"],
            cttc_threshold=params["cttc_threshold"], alpha_ct=params["alpha_ct"],
            alpha_st=params["alpha_st"], max_efpr=params["max_efpr"], unit_of_time="hour",
            num_jobs=1)
    for col, c in zip(cols, evaluated):
        c_tpr, c_efpr, *_ = single_rocs[col]
        per_class[c].update(psds=float(single_psds[col]), tpr=np.asarray(c_tpr),
                            efpr=np.asarray(c_efpr))
    out.update(psds=float(value), efpr=np.asarray(efpr), tpr=np.asarray(tpr), setting=params)
    return out


# --------------------------------------------------------------------------- collar-based

def _binary_scores(keys, detected):
    """Frame scores that are 1 inside each detected event and 0 outside, with frame boundaries
    at the event boundaries, so that thresholding them at 0.5 gives back exactly the events."""
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    cols = [keys.cid[c] for c in keys.classes]
    out = {}
    for rid, evs in detected.items():
        ends = [t for on, off, _ in evs for t in (on, off)]
        stamps = np.unique([0.0, *ends, max(ends, default=0.0) + 1.0])
        mids = (stamps[:-1] + stamps[1:]) / 2
        s = np.zeros((len(mids), len(cols)))
        for on, off, label in evs:
            s[(mids > on) & (mids < off), cols.index(label)] = 1.0
        out[rid] = _writable(create_score_dataframe(s, stamps, cols))
    return out


def collar_metrics(detected, ground_truth, classes, *, onset_collar_s=0.2, offset_collar_s=0.2,
                   offset_collar_rate=0.2):
    """Collar-based (event-based) F1, precision, recall and error rate of detected events.

    A detected event is a true positive when it has the label of a reference event, its onset
    lies within ``onset_collar_s`` of the reference onset and its offset within
    ``max(offset_collar_s, offset_collar_rate * reference length)`` of the reference offset; each
    reference matches at most one detection (maximum bipartite matching). Computed by
    ``sed_scores_eval.collar_based`` at threshold 0.5 on scores that are 1 inside the detected
    events and 0 outside; with equal collars this equals ``sed_eval``'s ``EventBasedMetrics``
    (``t_collar``, ``percentage_of_length``, ``empty_system_output_handling="zero_score"``), the
    event-based F1 of DCASE task 4 (0.2 s, 20 %). One difference: times are compared to the
    microsecond (sed_scores_eval's ``time_decimals=6``), so a deviation of exactly the collar is
    a hit, where ``sed_eval`` compares raw floats and can miss it (``3.2 - 3.0 > 0.2`` in binary
    floating point).

    Parameters
    ----------
    detected : dict of list of tuple
        ``{audio_id: [(onset_s, offset_s, label), ...]}``; a recording missing here has no
        detections.
    ground_truth : dict of list of tuple
        The reference events in the same form; ``[]`` for a recording without events. Its keys
        are the evaluated recordings.
    classes : list of str
        The class names.
    onset_collar_s : float, default=0.2
        Allowed onset deviation in seconds.
    offset_collar_s : float, default=0.2
        Allowed offset deviation in seconds (at least).
    offset_collar_rate : float, default=0.2
        Allowed offset deviation as a fraction of the reference event's length, if larger.

    Returns
    -------
    dict
        ``f1_macro``
            Mean per-class F1 over the classes with reference events (the DCASE event-based
            F1); None if there is none.
        ``f1_micro``, ``precision_micro``, ``recall_micro``
            Of all events pooled; detections of classes without references count as false
            positives. Precision is 0 without detections; recall and F1 are None without
            reference events.
        ``error_rate``
            ``(deletions + insertions) / n_ref`` pooled over classes, ``sed_scores_eval``'s
            collar-based error rate; None without reference events. ``sed_eval``'s event-based
            ER further pairs a missed reference with a wrong-label detection matching it in time
            as one substitution, so it is lower by ``n_substitutions / n_ref`` when that happens.
        ``per_class``
            ``{class: {"f1", "precision", "recall", "n_ref", "n_sys"}}``; ``f1`` and ``recall``
            are None without reference events, ``precision`` None without detections.
        ``n_ref``, ``n_sys``
            The numbers of reference and detected events (after merging overlaps).

    Raises
    ------
    earmark.errors.ParameterError
        If a parameter is out of range, a detected event is malformed or its recording is not in
        ``ground_truth``, or ``sed_scores_eval`` is not installed.
    earmark.errors.DatasetError
        If a reference event is malformed or its label is not in ``classes``.

    Examples
    --------
    >>> ref = {"a.wav": [(1.0, 2.0, "dog"), (4.0, 6.0, "bird")], "b.wav": []}
    >>> det = {"a.wav": [(1.1, 2.1, "dog"), (4.0, 4.5, "bird")], "b.wav": [(0.0, 1.0, "dog")]}
    >>> m = collar_metrics(det, ref, ["dog", "bird"])
    >>> m["per_class"]["dog"]["f1"], m["per_class"]["bird"]["f1"], m["f1_macro"]
    (0.6666666666666666, 0.0, 0.3333333333333333)
    >>> m["precision_micro"], m["recall_micro"], m["error_rate"]
    (0.3333333333333333, 0.5, 1.5)
    """
    owner = "collar_metrics"
    check_number(onset_collar_s, "onset_collar_s", owner, low=0, closed="left")
    check_number(offset_collar_s, "offset_collar_s", owner, low=0, closed="left")
    check_number(offset_collar_rate, "offset_collar_rate", owner, low=0, closed="left")
    classes = _check_classes(classes, owner)
    gt = _check_event_table(ground_truth, "ground_truth", owner, classes)
    det = _check_event_table(detected, "detected", owner, classes, ids=gt)
    return _collar(gt, det, classes, onset_collar_s, offset_collar_s, offset_collar_rate, owner)


def _collar(gt, det, classes, onset_collar_s, offset_collar_s, offset_collar_rate, owner):
    n_ref = _n_events(gt, classes)
    n_sys = _n_events(det, classes)
    evaluated = [c for c in classes if n_ref[c] > 0]
    # A class without references matches nothing: all its detections are false positives.
    stats = {c: {"tps": 0, "fps": n_sys[c], "n_ref": 0} for c in classes}
    per_class = {c: {"f1": None, "precision": 0.0 if n_sys[c] else None, "recall": None,
                     "n_ref": 0, "n_sys": n_sys[c]} for c in classes}
    if evaluated:
        sse = _sed_scores_eval(owner)
        from sed_scores_eval.base_modules.precision_recall import micro_average

        # Only classes with reference events go in: sed_scores_eval asserts on the others.
        keys = _Keys(list(gt), evaluated)
        ref_i = keys.events(gt)
        det_i = keys.events({a: [e for e in evs if e[2] in keys.cid] for a, evs in det.items()})
        with _quiet():
            f, p, r, class_stats = sse.collar_based.fscore(
                _binary_scores(keys, det_i), ref_i, 0.5, onset_collar=onset_collar_s,
                offset_collar=offset_collar_s, offset_collar_rate=offset_collar_rate,
                num_jobs=1)
        for c in evaluated:
            col = keys.cid[c]
            st = {k: int(class_stats[col][k]) for k in ("tps", "fps", "n_ref")}
            stats[c] = st
            n = st["tps"] + st["fps"]
            # sed_scores_eval sets precision 1 without detections; None here (F1 is 0 either way)
            per_class[c] = {"f1": float(f[col]), "precision": float(p[col]) if n else None,
                            "recall": float(r[col]), "n_ref": st["n_ref"], "n_sys": n}
        f_micro, p_micro, r_micro = (float(v) for v in micro_average(stats))
        f_macro = float(f["macro_average"])
    else:
        f_micro = r_micro = f_macro = None
        p_micro = 0.0
    tp = sum(s["tps"] for s in stats.values())
    fp = sum(s["fps"] for s in stats.values())
    nr = sum(s["n_ref"] for s in stats.values())
    return {
        "f1_macro": f_macro, "f1_micro": f_micro, "precision_micro": p_micro,
        "recall_micro": r_micro,
        # sed_scores_eval's collar-based error rate (insertions + deletions), pooled over classes
        "error_rate": _ratio(fp + (nr - tp), nr),
        "per_class": per_class, "n_ref": nr, "n_sys": tp + fp,
    }


# --------------------------------------------------------------------------- segment-based

def segment_metrics(detected, ground_truth, durations, classes, *, segment_s=1.0):
    """Segment-based F1, precision, recall and error rate, by ``sed_eval``.

    Each recording is cut into segments of ``segment_s`` (the last one may be shorter); a class
    is active in a segment when an event of it overlaps the segment. Counts are pooled over all
    segments of all recordings (``sed_eval.sound_event.SegmentBasedMetrics``, evaluated over each
    recording's full duration).

    Parameters
    ----------
    detected : dict of list of tuple
        ``{audio_id: [(onset_s, offset_s, label), ...]}``; a recording missing here has no
        detections.
    ground_truth : dict of list of tuple
        The reference events in the same form; ``[]`` for a recording without events. Its keys
        are the evaluated recordings.
    durations : dict of float
        ``{audio_id: seconds}`` for every evaluated recording.
    classes : list of str
        The class names.
    segment_s : float, default=1.0
        The segment length in seconds.

    Returns
    -------
    dict
        ``f1_micro``, ``precision_micro``, ``recall_micro``
            Of all (segment, class) pairs pooled (``sed_eval``'s overall F-measure). Precision
            is 0 without active detected segments; recall and F1 are None without active
            reference segments.
        ``f1_macro``
            Mean per-class F1 over the classes with reference events; None if there is none.
        ``error_rate``
            ``sed_eval``'s overall error rate ``(S + D + I) / N``: per segment, substitutions
            ``S = min(n_ref, n_sys) - n_tp``, deletions ``max(0, n_ref - n_sys)``, insertions
            ``max(0, n_sys - n_ref)``, summed and divided by the active reference (segment,
            class) pairs; None if there is none.
        ``per_class``
            ``{class: {"f1", "precision", "recall", "n_ref", "n_sys"}}`` (counts of active
            segments); ``f1`` and ``recall`` None for a class without reference events,
            ``precision`` None without detected segments.

    Raises
    ------
    earmark.errors.ParameterError
        If ``segment_s`` is not positive, a duration is missing, a detected event is malformed,
        or ``sed_eval`` is not installed.
    earmark.errors.DatasetError
        If a reference event is malformed or its label is not in ``classes``.

    Examples
    --------
    >>> ref = {"a.wav": [(0.5, 2.5, "dog")]}
    >>> det = {"a.wav": [(1.2, 3.4, "dog")]}
    >>> m = segment_metrics(det, ref, {"a.wav": 5.0}, ["dog"])
    >>> m["precision_micro"], m["recall_micro"], m["error_rate"]
    (0.6666666666666666, 0.6666666666666666, 0.6666666666666666)
    """
    owner = "segment_metrics"
    check_number(segment_s, "segment_s", owner, low=0)
    classes = _check_classes(classes, owner)
    gt = _check_event_table(ground_truth, "ground_truth", owner, classes)
    det = _check_event_table(detected, "detected", owner, classes, ids=gt)
    return _segment(gt, det, _check_durations(durations, list(gt), owner), classes,
                    float(segment_s), owner)


def _segment(gt, det, durations, classes, segment_s, owner):
    sed_eval = _sed_eval(owner)
    keys = _Keys(list(gt), classes)
    ref_i, det_i = keys.events(gt), keys.events(det)
    cols = [keys.cid[c] for c in classes]
    with _quiet():
        metrics = sed_eval.sound_event.SegmentBasedMetrics(event_label_list=cols,
                                                           time_resolution=segment_s)
        for a in keys.ids:
            rid = keys.rid[a]
            as_dicts = [[{"filename": rid, "event_label": lab, "onset": on, "offset": off}
                         for on, off, lab in evs] for evs in (ref_i[rid], det_i[rid])]
            metrics.evaluate(reference_event_list=as_dicts[0], estimated_event_list=as_dicts[1],
                             evaluated_length_seconds=durations[a])
        overall = metrics.results_overall_metrics()
        class_wise = metrics.results_class_wise_metrics()
    per_class = {}
    for c, col in zip(classes, cols):
        counts = metrics.class_wise[col]
        nr, ns = int(counts["Nref"]), int(counts["Nsys"])
        f = class_wise[col]["f_measure"]
        # sed_eval gives NaN where a ratio is undefined; None here, and 0 precision (so F1 0)
        # for a class with references that was never detected.
        p = float(f["precision"]) if ns else None
        r = float(f["recall"]) if nr else None
        per_class[c] = {"f1": (float(f["f_measure"]) if ns else 0.0) if nr else None,
                        "precision": p, "recall": r, "n_ref": nr, "n_sys": ns}
    n_ref, n_sys = int(metrics.overall["Nref"]), int(metrics.overall["Nsys"])
    f = overall["f_measure"]
    p = float(f["precision"]) if n_sys else 0.0
    r = float(f["recall"]) if n_ref else None
    return {
        "f1_micro": (float(f["f_measure"]) if n_sys else 0.0) if n_ref else None,
        "f1_macro": _mean([per_class[c]["f1"] for c in classes if per_class[c]["n_ref"]]),
        "precision_micro": p, "recall_micro": r,
        "error_rate": float(overall["error_rate"]["error_rate"]) if n_ref else None,
        "per_class": per_class,
    }


# --------------------------------------------------------------------------- all of them

def detection_metrics(scores, detected, ground_truth, durations, classes):
    """PSDS1, PSDS2, collar-based and 1-s segment-based metrics of one evaluation set.

    Parameters
    ----------
    scores : dict of pandas.DataFrame
        Frame scores per recording, as for :func:`psds`; the class columns must be ``classes``.
    detected : dict of list of tuple
        Post-processed events per recording, as for :func:`collar_metrics`.
    ground_truth : dict of list of tuple
        Reference events per recording; its keys are the evaluated recordings.
    durations : dict of float
        Seconds per recording.
    classes : list of str
        The class names, in the order of the score columns.

    Returns
    -------
    dict
        The keys of :data:`DETECTION_METRICS`: ``psds1``, ``psds2`` (:func:`psds`),
        ``collar_f1`` (macro, the DCASE event-based F1), ``collar_f1_micro``,
        ``collar_precision``, ``collar_recall`` (micro; :func:`collar_metrics` with the DCASE
        collars 0.2 s / 20 %), ``segment_f1`` (micro), ``segment_f1_macro``, ``segment_er``,
        ``segment_precision``, ``segment_recall`` (micro; :func:`segment_metrics`, 1-s
        segments); each None where undefined (no reference event). Also ``per_class``
        (``{class: {"n_ref", "psds1", "psds2", "collar_f1", "collar_precision",
        "collar_recall", "segment_f1", "segment_precision", "segment_recall"}}``) and
        ``psd_roc`` (``{"efpr": list, "tpr": list}`` of PSDS1, or None), JSON-ready.

    Raises
    ------
    earmark.errors.ParameterError
        As :func:`psds`, :func:`collar_metrics` and :func:`segment_metrics`, or if the score
        columns are not ``classes``.
    earmark.errors.DatasetError
        If a reference event is malformed.

    Examples
    --------
    >>> from sed_scores_eval.base_modules.io import create_score_dataframe
    >>> t = np.arange(0, 10.05, 0.1)
    >>> s = np.zeros((100, 2)); s[20:50, 0] = 0.9
    >>> scores = {"a.wav": create_score_dataframe(s, t, ["dog", "bird"])}
    >>> m = detection_metrics(scores, {"a.wav": [(2.0, 5.0, "dog")]},
    ...                       {"a.wav": [(2.0, 5.0, "dog")]}, {"a.wav": 10.0}, ["dog", "bird"])
    >>> m["psds1"], m["collar_f1"], m["segment_f1"], m["per_class"]["bird"]["collar_f1"]
    (1.0, 1.0, 1.0, None)
    """
    owner = "detection_metrics"
    classes = _check_classes(classes, owner)
    gt = _check_event_table(ground_truth, "ground_truth", owner, classes)
    det = _check_event_table(detected, "detected", owner, classes, ids=gt)
    dur = _check_durations(durations, list(gt), owner)
    sse = _sed_scores_eval(owner)
    if _check_scores(scores, owner) != classes:
        raise ParameterError(f"The 'scores' parameter of {owner} must have the class columns "
                             f"{classes} (the 'classes' parameter, in order). Got "
                             f"{_check_scores(scores, owner)} instead.")
    p1 = _psds(sse, scores, gt, dur, classes, dict(PSDS1), owner)
    p2 = _psds(sse, scores, gt, dur, classes, dict(PSDS2), owner)
    col = _collar(gt, det, classes, 0.2, 0.2, 0.2, owner)
    seg = _segment(gt, det, dur, classes, 1.0, owner)
    per_class = {
        c: {"n_ref": col["per_class"][c]["n_ref"],
            "psds1": p1["per_class"][c]["psds"], "psds2": p2["per_class"][c]["psds"],
            "collar_f1": col["per_class"][c]["f1"],
            "collar_precision": col["per_class"][c]["precision"],
            "collar_recall": col["per_class"][c]["recall"],
            "segment_f1": seg["per_class"][c]["f1"],
            "segment_precision": seg["per_class"][c]["precision"],
            "segment_recall": seg["per_class"][c]["recall"]}
        for c in classes}
    return {
        "psds1": p1["psds"], "psds2": p2["psds"],
        "collar_f1": col["f1_macro"], "collar_f1_micro": col["f1_micro"],
        "segment_f1": seg["f1_micro"], "segment_f1_macro": seg["f1_macro"],
        "segment_er": seg["error_rate"],
        "collar_precision": col["precision_micro"], "collar_recall": col["recall_micro"],
        "segment_precision": seg["precision_micro"], "segment_recall": seg["recall_micro"],
        "per_class": per_class,
        "psd_roc": (None if p1["psds"] is None else
                    {"efpr": [float(x) for x in p1["efpr"]], "tpr": [float(x) for x in p1["tpr"]]}),
    }


def detection_fold_means(folds):
    """Mean and standard deviation over folds of each of :data:`DETECTION_METRICS`.

    Parameters
    ----------
    folds : sequence of dict
        Per-fold results of :func:`detection_metrics`.

    Returns
    -------
    dict
        For each name in :data:`DETECTION_METRICS`, the mean over the folds where it is not None,
        and ``<name>_std`` (``numpy.std``, population standard deviation) over the same folds;
        both None when the metric is None in every fold.

    Raises
    ------
    earmark.errors.ParameterError
        If ``folds`` is empty or a fold lacks one of the metrics.

    Examples
    --------
    >>> keys = DETECTION_METRICS
    >>> folds = [dict.fromkeys(keys, 0.4), dict(dict.fromkeys(keys, 0.6), segment_er=None)]
    >>> m = detection_fold_means(folds)
    >>> round(m["psds1"], 3), round(m["psds1_std"], 3), m["segment_er"], m["segment_er_std"]
    (0.5, 0.1, 0.4, 0.0)
    """
    folds = list(folds)
    if not folds:
        raise ParameterError("The 'folds' parameter of detection_fold_means must hold at least "
                             "one fold's metrics. Got [] instead.")
    out = {}
    for key in DETECTION_METRICS:
        vals = []
        for i, fold in enumerate(folds):
            if not isinstance(fold, Mapping) or key not in fold:
                raise ParameterError(
                    f"detection_fold_means: fold {i} has no {key!r}; each fold must be a result "
                    f"of detection_metrics (with {', '.join(DETECTION_METRICS)}).")
            if fold[key] is not None:
                vals.append(float(fold[key]))
        out[key] = float(np.mean(vals)) if vals else None
        out[f"{key}_std"] = float(np.std(vals)) if vals else None
    return out
