"""Frame scores to events: hand-made score curves with known events, a loop-per-frame reference
implementation on random scores, the event F1 against sed_eval (the DCASE reference), and the
tuning on synthetic held-out sets."""

import doctest
import json
import time
import warnings

import numpy as np
import pytest
from scipy.ndimage import median_filter

from earmark.errors import EarmarkError, ParameterError
from earmark.inference import postprocess
from earmark.inference.postprocess import PostProcessing, decode_events, tune_postprocessing

STEP = 0.05


def pp1(onset=0.5, offset=None, median_s=0.0, min_dur=0.0, min_gap=0.0):
    """Settings for one class."""
    return PostProcessing((onset,), (onset if offset is None else offset,), (median_s,),
                          (min_dur,), (min_gap,))


def decode1(curve, pp=None, step=STEP, start_s=0.0):
    """Events of a one-class curve as (onset, offset) pairs."""
    x = np.asarray(curve, dtype=float)[:, None]
    return [(on, off) for on, off, _, _ in decode_events(
        x, frame_step_s=step, classes=["a"], postprocessing=pp or pp1(), start_s=start_s)]


def reference_decode(x, onset, offset, k, min_dur, min_gap, step):
    """Frame-by-frame reference: scipy's median filter, then one state machine per frame."""
    if k > 1:
        x = median_filter(x, size=k, mode="nearest")
    events, active = [], False
    for i, v in enumerate(x):
        if not active and v >= onset:
            active, start = True, i
        elif active and v < offset:
            events.append([start, i])
            active = False
    if active:
        events.append([start, len(x)])
    merged = []
    for e in events:
        if merged and (e[0] - merged[-1][1]) * step < min_gap:
            merged[-1][1] = e[1]
        else:
            merged.append(e)
    return [(s, e, float(x[s:e].max())) for s, e in merged if (e - s) * step >= min_dur]


# ------------------------------------------------------------------ hand-made curves


def test_threshold_events_and_scores():
    x = np.array([[0.1], [0.7], [0.4], [0.8], [0.9], [0.2]])
    assert decode_events(x, frame_step_s=0.5, classes=["dog"]) == [
        (0.5, 1.0, "dog", 0.7), (1.5, 2.5, "dog", 0.9)]


def test_hysteresis_keeps_an_event_through_a_dip_between_the_thresholds():
    curve = [0.1, 0.7, 0.45, 0.35, 0.8, 0.2, 0.1]
    assert decode1(curve, pp1(0.6, 0.3)) == [(0.05, 0.25)]
    # the same dip ends the event without hysteresis...
    assert decode1(curve, pp1(0.6)) == [(0.05, 0.1), (0.2, 0.25)]
    # ...and a dip below the offset threshold ends it with hysteresis too
    assert decode1([0.1, 0.7, 0.25, 0.8, 0.1], pp1(0.6, 0.3)) == [(0.05, 0.1), (0.15, 0.2)]


def test_event_starts_where_the_onset_threshold_is_reached():
    # frames between the thresholds before the onset frame are not part of the event
    assert decode1([0.4, 0.4, 0.7, 0.4, 0.1], pp1(0.6, 0.3)) == [(0.1, 0.2)]
    # and a bump between the thresholds that never reaches the onset is no event
    assert decode1([0.1, 0.4, 0.5, 0.4, 0.1], pp1(0.6, 0.3)) == []


def test_median_filter_removes_a_one_frame_spike_and_fills_a_one_frame_hole():
    spike = [0, 0, 0, 0.9, 0, 0, 0]
    assert decode1(spike) == [(0.15, 0.2)]
    assert decode1(spike, pp1(median_s=3 * STEP)) == []
    hole = [0, 0.9, 0.9, 0, 0.9, 0.9, 0]
    assert decode1(hole) == [(0.05, 0.15), (0.2, 0.3)]
    assert decode1(hole, pp1(median_s=3 * STEP)) == [(0.05, 0.3)]


def test_median_filter_length_rounds_up_to_an_odd_number_of_frames():
    # 0.1 s at 0.05 s is 2 frames, made 3: a one-frame spike goes, a two-frame event stays
    assert decode1([0, 0, 0.9, 0, 0], pp1(median_s=0.1)) == []
    assert decode1([0, 0, 0.9, 0.9, 0, 0], pp1(median_s=0.1)) == [(0.1, 0.2)]
    # a filter shorter than 1.5 frames is no filter
    assert decode1([0, 0.9, 0], pp1(median_s=0.07)) == [(0.05, 0.1)]


def test_gap_merging():
    curve = [0.9, 0.9, 0, 0, 0.9, 0, 0, 0, 0.9]     # gaps of 2 and 3 frames (0.1 s, 0.15 s)
    assert decode1(curve) == [(0.0, 0.1), (0.2, 0.25), (0.4, 0.45)]
    assert decode1(curve, pp1(min_gap=0.1)) == decode1(curve)        # 0.1 s is not shorter
    assert decode1(curve, pp1(min_gap=0.12)) == [(0.0, 0.25), (0.4, 0.45)]
    assert decode1(curve, pp1(min_gap=0.2)) == [(0.0, 0.45)]


def test_min_duration_drops_short_events_after_merging():
    curve = [0.9, 0.9, 0, 0, 0.9, 0, 0, 0, 0.9]
    assert decode1(curve, pp1(min_dur=0.1)) == [(0.0, 0.1)]         # 0.1 s is kept
    assert decode1(curve, pp1(min_dur=0.11)) == []
    # merged first (0.25 s), then long enough
    assert decode1(curve, pp1(min_dur=0.2, min_gap=0.12)) == [(0.0, 0.25)]


def test_event_open_at_the_end_ends_with_the_last_frame_and_start_s_shifts_times():
    assert decode1([0, 0, 0.9, 0.9]) == [(0.1, 0.2)]
    assert decode1([0.9] * 4, start_s=10.0) == [(10.0, 10.2)]
    assert decode1([0.9, 0, 0.6], pp1(0.5), step=0.1, start_s=3600.0) == [
        (3600.0, 3600.1), (3600.2, 3600.3)]


def test_empty_and_silent():
    assert decode_events(np.zeros((0, 2)), frame_step_s=STEP, classes=["a", "b"]) == []
    assert decode_events(np.full((50, 2), 0.49), frame_step_s=STEP, classes=["a", "b"]) == []


def test_score_is_the_peak_of_the_filtered_scores_inside_the_event():
    # the 1.0 spike is filtered away; the peak of the filtered curve is 0.8
    x = np.array([0, 0.6, 1.0, 0.6, 0.8, 0.8, 0])[:, None]
    ev = decode_events(x, frame_step_s=STEP, classes=["a"], postprocessing=pp1(median_s=0.15))
    assert [(on, off, s) for on, off, _, s in ev] == [(0.05, 0.3, 0.8)]


def test_events_sorted_by_onset_then_label_and_settings_per_class():
    x = np.zeros((6, 3))
    x[1:3, 0] = x[1:4, 1] = x[0:2, 2] = 0.7
    x[3, 0] = 0.4
    pp = PostProcessing((0.6, 0.6, 0.8), (0.3, 0.6, 0.8), (0, 0, 0), (0, 0, 0), (0, 0, 0))
    ev = decode_events(x, frame_step_s=1.0, classes=["zebra", "ant", "cat"], postprocessing=pp)
    # 'cat' is below its own threshold (0.8); 'zebra' has hysteresis, 'ant' not
    assert ev == [(1.0, 4.0, "ant", 0.7), (1.0, 4.0, "zebra", 0.7)]


@pytest.mark.parametrize("k_frames", [1, 3, 5, 15, 17, 41])
def test_matches_a_frame_by_frame_reference_on_random_scores(rng, k_frames):
    # covers the moving-count threshold (short and long filters), the peak of the filtered scores
    # computed for few frames and for most frames, and every setting together
    for trial in range(30):
        n = int(rng.integers(1, 400))
        smooth = median_filter(rng.random(n), size=int(rng.integers(1, 9)))
        x = np.round(np.clip(smooth + 0.2 * rng.standard_normal(n), 0, 1), 2)
        onset = float(rng.choice([0.3, 0.5, 0.7, 0.05]))
        offset = onset * float(rng.choice([1.0, 0.75, 0.5]))
        min_dur = float(rng.choice([0.0, 0.07, 0.13, 0.31]))
        min_gap = float(rng.choice([0.0, 0.07, 0.13, 0.31]))
        pp = pp1(onset, offset, k_frames * STEP if k_frames > 1 else 0.0, min_dur, min_gap)
        got = decode_events(x[:, None], frame_step_s=STEP, classes=["a"], postprocessing=pp)
        want = reference_decode(x, onset, offset, k_frames, min_dur, min_gap, STEP)
        assert [(on, off, s) for on, off, _, s in got] == [
            (round(s * STEP, 6), round(e * STEP, 6), p) for s, e, p in want], (trial, pp)


def test_ten_hours_of_ten_classes_decode_well_under_a_second(rng):
    n = 10 * 3600 * 20
    truth = np.zeros((n, 10), np.float32)
    for c in range(10):
        for on in rng.integers(0, n - 40, 2000):
            truth[on:on + 20, c] = 1
    scores = np.clip(0.6 * truth + 0.2 + 0.1 * rng.standard_normal((n, 10)), 0, 1)
    pp = PostProcessing((0.6,) * 10, (0.4,) * 10, (0.25,) * 10, (0.1,) * 10, (0.1,) * 10)
    classes = [f"c{i}" for i in range(10)]
    times = []
    for _ in range(3):                  # best of three: the test machine is shared
        t = time.perf_counter()
        events = decode_events(scores, frame_step_s=0.05, classes=classes, postprocessing=pp)
        times.append(time.perf_counter() - t)
    assert min(times) < 0.8, times
    assert 15000 < len(events) <= 20000


# ------------------------------------------------------------------ settings


def test_default_and_json_round_trip():
    d = PostProcessing.default(3)
    assert d.onset_threshold == d.offset_threshold == (0.5, 0.5, 0.5)
    assert d.median_filter_s == d.min_duration_s == d.min_gap_s == (0.0, 0.0, 0.0)
    pp = PostProcessing((0.7, 0.31), (0.35, 0.31), (0.25, 0), (0.1, 0), (0, 0.5))
    text = json.dumps(pp.to_dict())
    back = PostProcessing.from_dict(json.loads(text), n_classes=2)
    assert back == pp and hash(back) == hash(pp)
    assert json.loads(text)["offset_threshold"] == [0.35, 0.31]
    # NumPy values become plain floats
    assert PostProcessing.from_dict({k: np.asarray(v) for k, v in pp.to_dict().items()},
                                    n_classes=2) == pp


@pytest.mark.parametrize("field, value, needle", [
    ("onset_threshold", [0.5, 1.5], "'onset_threshold[1]' parameter of PostProcessing must be "
                                    "a float in [0, 1]. Got 1.5"),
    ("offset_threshold", [0.5, float("nan")], "'offset_threshold[1]'"),
    ("median_filter_s", [-0.1, 0], "'median_filter_s[0]' parameter of PostProcessing must be a "
                                   "float in [0, inf)"),
    ("min_gap_s", [0, float("inf")], "'min_gap_s[1]'"),
    ("min_duration_s", [0, "0.1"], "'min_duration_s[1]'"),
    ("onset_threshold", [0.5], "'onset_threshold' parameter of PostProcessing must be a list of "
                               "2 floats"),
    ("min_gap_s", 0.1, "'min_gap_s' parameter of PostProcessing must be a list of 2"),
    ("offset_threshold", [0.6, 0.5], "offset_threshold[0] (0.6) cannot be greater than "
                                     "onset_threshold[0] (0.5)"),
])
def test_from_dict_validates_and_names_the_field(field, value, needle):
    d = PostProcessing.default(2).to_dict()
    d[field] = value
    with pytest.raises(ParameterError) as err:
        PostProcessing.from_dict(d, n_classes=2)
    assert needle in str(err.value)


def test_from_dict_missing_or_unknown_fields():
    d = PostProcessing.default(1).to_dict()
    del d["min_gap_s"]
    with pytest.raises(ParameterError, match=r"missing field\(s\) \['min_gap_s'\]"):
        PostProcessing.from_dict(d, n_classes=1)
    d = PostProcessing.default(1).to_dict() | {"threshold": [0.5]}
    with pytest.raises(ParameterError, match=r"unknown field\(s\) \['threshold'\]"):
        PostProcessing.from_dict(d, n_classes=1)
    with pytest.raises(ParameterError, match="same number of values"):
        PostProcessing((0.5, 0.5), (0.5,), (0,), (0,), (0,))


@pytest.mark.parametrize("kwargs, needle", [
    (dict(scores=np.zeros((5, 3))), "shape (n_frames, 2)"),
    (dict(scores=np.full((5, 2), 1.2)), "scores in [0, 1]. Got values in [1.2, 1.2]"),
    (dict(scores=np.array([[0.1, np.nan]])), "NaN or infinite"),
    (dict(frame_step_s=0), "'frame_step_s' parameter of decode_events must be a float in (0, inf)"),
    (dict(postprocessing=PostProcessing.default(3)), "settings are for 3 classes"),
    (dict(classes=["a", "a"]), "duplicate"),
])
def test_decode_events_rejects_bad_input(kwargs, needle):
    args = dict(scores=np.zeros((5, 2)), frame_step_s=STEP, classes=["a", "b"]) | kwargs
    with pytest.raises(EarmarkError) as err:
        decode_events(**args)
    assert needle in str(err.value)


# ------------------------------------------------------------------ event F1 vs sed_eval


def sed_eval_class_f1(det, ref, labels):
    """Per-class collar-based F1 from sed_eval.sound_event.EventBasedMetrics."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import sed_eval
    metrics = sed_eval.sound_event.EventBasedMetrics(
        event_label_list=labels, t_collar=0.2, percentage_of_length=0.2,
        evaluate_onset=True, evaluate_offset=True)
    files = sorted({e[0] for e in det} | {e[0] for e in ref})
    for f in files:
        def as_dicts(evs):
            return [{"filename": f, "event_label": lab, "onset": on, "offset": off}
                    for g, on, off, lab in evs if g == f]
        metrics.evaluate(as_dicts(ref), as_dicts(det))
    out = {}
    for lab in labels:
        counts = metrics.class_wise[lab]
        out[lab] = (counts["Ntp"], counts["Nsys"], counts["Nref"],
                    metrics.class_wise_f_measure(lab)["f_measure"])
    return out


def random_events(rng, n, files, labels):
    events = []
    for _ in range(n):
        on = float(rng.uniform(0, 9))
        length = float(rng.uniform(0.05, 2.0))
        events.append((str(rng.choice(files)), on, on + length, str(rng.choice(labels))))
    return events


def perturbed(rng, events, scale):
    out = []
    for f, on, off, lab in events:
        a = on + float(rng.normal(0, scale))
        b = max(a + 0.01, off + float(rng.normal(0, scale)))
        out.append((f, a, b, lab))
    return out


def test_own_event_f1_equals_sed_eval_on_random_cases(rng):
    files, labels = ["f1", "f2", "f3"], ["a", "b"]
    checked = 0
    for trial in range(40):
        ref = random_events(rng, int(rng.integers(0, 25)), files, labels)
        det = perturbed(rng, rng.permutation(np.array(ref, dtype=object)).tolist()[:int(
            rng.integers(0, len(ref) + 1))], float(rng.choice([0.05, 0.15, 0.3])))
        det += random_events(rng, int(rng.integers(0, 10)), files, labels)   # false alarms
        reference = sed_eval_class_f1(det, ref, labels)
        for lab in labels:
            def arrays(evs):
                sel = [(files.index(f), on, off) for f, on, off, label in evs if label == lab]
                sel = np.array(sel, dtype=float).reshape(-1, 3)
                return sel[:, 0].astype(int), sel[:, 1], sel[:, 2]
            tp, n_sys, n_ref = postprocess._collar_f1_counts(arrays(det), arrays(ref))
            want_tp, want_sys, want_ref, want_f = reference[lab]
            assert (tp, n_sys, n_ref) == (want_tp, want_sys, want_ref), (trial, lab)
            if n_sys and n_ref:
                assert postprocess._f1(tp, n_sys, n_ref) == pytest.approx(want_f, abs=1e-12)
                checked += 1
    assert checked > 40


def test_own_event_f1_needs_optimal_matching_like_sed_eval():
    # two references, two detections: greedy matching of the first detection to the first
    # reference leaves the second unmatched; the optimal matching pairs both
    ref = [("f", 0.0, 1.0, "a"), ("f", 0.3, 1.2, "a")]
    det = [("f", 0.15, 1.1, "a"), ("f", 0.0, 0.95, "a")]
    tp_want = sed_eval_class_f1(det, ref, ["a"])["a"][0]
    got = postprocess._collar_f1_counts(
        (np.zeros(2, int), np.array([0.15, 0.0]), np.array([1.1, 0.95])),
        (np.zeros(2, int), np.array([0.0, 0.3]), np.array([1.0, 1.2])))
    assert got == (2, 2, 2) and tp_want == 2


# ------------------------------------------------------------------ tuning


def synthetic_set(rng, *, n_recordings, classes, frames=200, level=0.35, base=0.1, noise=0.04,
                  spikes=0.01):
    """Scores = truth x level + base + noise, with one-frame spikes to 0.9; the planted
    threshold lies between base and base + level."""
    scores, truth, durations = {}, {}, {}
    for r in range(n_recordings):
        x = np.zeros((frames, len(classes)))
        events = []
        for c, name in enumerate(classes):
            t = int(rng.integers(0, 20))
            while True:
                length = int(rng.integers(6, 30))
                if t + length >= frames:
                    break
                x[t:t + length, c] = 1
                events.append((round(t * STEP, 6), round((t + length) * STEP, 6), name))
                t += length + int(rng.integers(10, 60))
        s = level * x + base + noise * rng.standard_normal(x.shape)
        s[rng.random(x.shape) < spikes] = 0.9
        scores[f"rec{r:03d}"] = np.clip(s, 0, 1)
        truth[f"rec{r:03d}"] = events
        durations[f"rec{r:03d}"] = frames * STEP
    return scores, truth, durations


def sed_eval_f1_of(pp, scores, truth, classes):
    det, ref = [], []
    for a in scores:
        det += [(a, on, off, lab) for on, off, lab, _ in decode_events(
            scores[a], frame_step_s=STEP, classes=classes, postprocessing=pp)]
        ref += [(a, on, off, lab) for on, off, lab in truth[a]]
    return {lab: v[3] for lab, v in sed_eval_class_f1(det, ref, classes).items()}


def test_tuning_recovers_a_planted_threshold_within_budget(rng):
    # the budget of the brief: 80 ten-second recordings, 7 classes, 20 frames/s, < 15 s
    classes = [f"k{i}" for i in range(7)]
    scores, truth, durations = synthetic_set(rng, n_recordings=80, classes=classes)
    t = time.perf_counter()
    pp, report = tune_postprocessing(scores, truth, frame_step_s=STEP, classes=classes,
                                     durations=durations)
    assert time.perf_counter() - t < 15
    for i, c in enumerate(classes):
        # events sit at 0.45, background at 0.1: the threshold must fall in between
        assert 0.15 < pp.onset_threshold[i] < 0.43, pp
        # the one-frame spikes call for a median filter or a minimum duration
        assert pp.median_filter_s[i] > 0 or pp.min_duration_s[i] > 0
        assert report[c]["n_ref"] == sum(e[2] == c for evs in truth.values() for e in evs)
        assert report[c]["f1_default"] < 0.05 and report[c]["f1"] > 0.95, report[c]
    # the F1 reported is what sed_eval finds for the tuned settings on these recordings
    f_eval = sed_eval_f1_of(pp, scores, truth, classes)
    for c in classes:
        assert f_eval[c] == pytest.approx(report[c]["f1"], abs=1e-12)


def test_tuned_settings_beat_the_defaults_on_new_recordings(rng):
    classes = ["bird", "frog"]
    tune_set = synthetic_set(rng, n_recordings=15, classes=classes, level=0.3, noise=0.08,
                             spikes=0.03)
    test_scores, test_truth, _ = synthetic_set(rng, n_recordings=15, classes=classes, level=0.3,
                                               noise=0.08, spikes=0.03)
    pp, _ = tune_postprocessing(*tune_set[:2], frame_step_s=STEP, classes=classes,
                                durations=tune_set[2])
    tuned = sed_eval_f1_of(pp, test_scores, test_truth, classes)
    default = sed_eval_f1_of(PostProcessing.default(2), test_scores, test_truth, classes)
    for c in classes:
        assert tuned[c] > default[c] + 0.3, (tuned, default)


def test_class_without_reference_events_keeps_the_defaults(rng):
    scores, truth, durations = synthetic_set(rng, n_recordings=5, classes=["a", "b"])
    truth = {k: [e for e in v if e[2] == "a"] for k, v in truth.items()}
    pp, report = tune_postprocessing(scores, truth, frame_step_s=STEP, classes=["a", "b"],
                                     durations=durations, median_filters_s=(0, 0.15))
    assert report["b"] == {"f1": None, "f1_default": None, "n_ref": 0}
    assert PostProcessing.from_dict({k: [v[1]] for k, v in pp.to_dict().items()},
                                    n_classes=1) == PostProcessing.default(1)
    assert report["a"]["f1"] > 0.9


def test_tuning_merges_overlapping_reference_events_and_checks_ids(rng):
    x = np.zeros((100, 1))
    x[20:60] = 0.8
    scores = {"r": x}
    # two overlapping annotations of one sound count as one reference event
    truth = {"r": [(1.0, 2.5, "a"), (2.0, 3.0, "a")]}
    pp, report = tune_postprocessing(scores, truth, frame_step_s=STEP, classes=["a"],
                                     durations={"r": 5.0})
    assert report["a"]["n_ref"] == 1 and report["a"]["f1"] == 1.0
    with pytest.raises(ParameterError, match="missing \\['r'\\]"):
        tune_postprocessing(scores, {}, frame_step_s=STEP, classes=["a"], durations={"r": 5.0})
    with pytest.raises(ParameterError, match="not among the classes"):
        tune_postprocessing(scores, {"r": [(1.0, 2.0, "dog")]}, frame_step_s=STEP,
                            classes=["a"], durations={"r": 5.0})
    with pytest.raises(ParameterError, match="'hysteresis\\[0\\]' parameter"):
        tune_postprocessing(scores, truth, frame_step_s=STEP, classes=["a"],
                            durations={"r": 5.0}, hysteresis=(1.5,))


def test_docstring_examples_run():
    result = doctest.testmod(postprocess, optionflags=doctest.ELLIPSIS |
                             doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 5 and result.failed == 0
