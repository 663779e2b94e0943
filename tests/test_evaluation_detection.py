"""Sound event detection metrics equal the DCASE reference implementations (sed_eval and
sed_scores_eval called directly here) and hand-computed answers."""

import ast
import doctest
import json
import math
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")   # dcase_util's pkg_resources warning
    import sed_eval
    import sed_scores_eval
    from sed_scores_eval.base_modules import statistics as sse_statistics
    from sed_scores_eval.base_modules.io import create_score_dataframe

import earmark.evaluation.detection as detection
from earmark.errors import DatasetError, ParameterError
from earmark.evaluation.detection import (DETECTION_METRICS, PSDS1, PSDS2, collar_metrics,
                                          detection_fold_means, detection_metrics, psds,
                                          segment_metrics)

CLASSES = ["dog", "bird", "car"]
# ids as earmark passes them: relative paths, dots, spaces
GT = {"fold1/a.b/x.wav": [(1.0, 2.0, "dog"), (3.0, 5.0, "bird"), (6.0, 6.5, "dog")],
      "y": [(0.5, 4.0, "car"), (2.0, 3.0, "dog")],
      "../up one.flac": [(7.0, 9.0, "bird")],
      "silent.wav": []}
DET = {"fold1/a.b/x.wav": [(1.15, 2.1, "dog"), (3.0, 5.5, "bird"), (6.0, 6.5, "bird")],
       "y": [(0.6, 3.5, "car"), (7.0, 8.0, "dog"), (2.05, 2.9, "dog")],
       "../up one.flac": [(7.1, 8.9, "bird"), (1.0, 1.5, "car")],
       "silent.wav": []}
DUR = {k: 10.0 for k in GT}


@pytest.fixture
def writable_sse(monkeypatch):
    """sed_scores_eval 0.0.4 fails on pandas 3's read-only to_numpy() views (fixed upstream in
    fgnt/sed_scores_eval#17, unreleased); for the direct reference calls in these tests, apply
    that fix: hand the Cython routine writeable copies."""
    original = sse_statistics.onset_offset_curves

    def copying(scores, timestamps, change_point_candidates=None):
        return original(np.array(scores), np.array(timestamps), change_point_candidates)

    monkeypatch.setattr(sse_statistics, "onset_offset_curves", copying)


def sed_eval_events(det, gt, classes, *, t_collar=0.2, percentage_of_length=0.2):
    """sed_eval's event-based metrics as DCASE task 4's baseline computes them."""
    metrics = sed_eval.sound_event.EventBasedMetrics(
        event_label_list=classes, t_collar=t_collar, percentage_of_length=percentage_of_length,
        empty_system_output_handling="zero_score")
    for k in gt:
        metrics.evaluate(
            [{"filename": "f.wav", "event_label": c, "onset": a, "offset": b} for a, b, c in gt[k]],
            [{"filename": "f.wav", "event_label": c, "onset": a, "offset": b}
             for a, b, c in det.get(k, [])])
    return metrics


def sed_eval_segments(det, gt, durations, classes, segment_s=1.0):
    metrics = sed_eval.sound_event.SegmentBasedMetrics(event_label_list=classes,
                                                       time_resolution=segment_s)
    for k in gt:
        metrics.evaluate(
            [{"filename": "f.wav", "event_label": c, "onset": a, "offset": b} for a, b, c in gt[k]],
            [{"filename": "f.wav", "event_label": c, "onset": a, "offset": b}
             for a, b, c in det.get(k, [])],
            evaluated_length_seconds=durations[k])
    return metrics


def frame_scores(events, classes, *, hop_s=0.01, duration_s=10.0, inside=None, base=None):
    """A uniform frame grid; ``inside`` (default 1) within each event, ``base`` (default 0)
    elsewhere."""
    n = int(round(duration_s / hop_s))
    t = np.arange(n + 1) * hop_s
    s = np.zeros((n, len(classes))) if base is None else np.array(base, dtype=float)
    mids = (t[:-1] + t[1:]) / 2
    for i, (on, off, c) in enumerate(events):
        value = 1.0 if inside is None else inside[i]
        s[(mids > on) & (mids < off), classes.index(c)] = value
    return create_score_dataframe(s, t, classes)


def close(a, b):
    return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


# --------------------------------------------------------------------------- collar-based

def test_collar_hand_computed():
    ref = {"a.wav": [(1.0, 2.0, "dog"), (4.0, 6.0, "bird")], "b.wav": []}
    det = {"a.wav": [(1.1, 2.1, "dog"), (4.0, 4.5, "bird")], "b.wav": [(0.0, 1.0, "dog")]}
    m = collar_metrics(det, ref, ["dog", "bird"])
    # dog: 1 TP, 1 FP (in b.wav); bird: offset 1.5 s off, beyond max(0.2, 0.2 * 2 s): FP + FN
    assert m["per_class"]["dog"] == {"f1": 2 / 3, "precision": 0.5, "recall": 1.0, "n_ref": 1,
                                     "n_sys": 2}
    assert m["per_class"]["bird"]["f1"] == 0.0
    assert close(m["f1_macro"], 1 / 3)
    assert close(m["precision_micro"], 1 / 3) and close(m["recall_micro"], 0.5)
    assert close(m["f1_micro"], 0.4)
    assert close(m["error_rate"], 1.5)          # (2 insertions + 1 deletion) / 2


def test_collar_equals_sed_eval_and_sed_scores_eval(writable_sse):
    m = collar_metrics(DET, GT, CLASSES)
    ref = sed_eval_events(DET, GT, CLASSES)
    overall = ref.results_overall_metrics()["f_measure"]
    assert close(m["f1_macro"], ref.results_class_wise_average_metrics()["f_measure"]["f_measure"])
    assert close(m["f1_micro"], overall["f_measure"])
    assert close(m["precision_micro"], overall["precision"])
    assert close(m["recall_micro"], overall["recall"])
    for c in CLASSES:
        cw = ref.results_class_wise_metrics()[c]["f_measure"]
        assert close(m["per_class"][c]["f1"], cw["f_measure"]), c
        assert close(m["per_class"][c]["recall"], cw["recall"]), c

    # the second reference: sed_scores_eval on scores 1 inside the detections, 0 outside, at 0.5
    scores = {k: frame_scores(DET[k], CLASSES) for k in GT}
    f, p, r, _ = sed_scores_eval.collar_based.fscore(
        scores, GT, 0.5, onset_collar=0.2, offset_collar=0.2, offset_collar_rate=0.2)
    assert close(m["f1_macro"], f["macro_average"])
    assert close(m["f1_micro"], f["micro_average"])
    assert close(m["precision_micro"], p["micro_average"])
    for c in CLASSES:
        assert close(m["per_class"][c]["f1"], f[c]), c
    assert 0 < m["f1_macro"] < 1 and m["f1_macro"] != m["f1_micro"]   # a case that can fail


def test_collar_separate_onset_and_offset_collars(writable_sse):
    # sed_eval has one collar for both; sed_scores_eval takes them apart
    kw = dict(onset_collar_s=0.05, offset_collar_s=0.5, offset_collar_rate=0.0)
    m = collar_metrics(DET, GT, CLASSES, **kw)
    scores = {k: frame_scores(DET[k], CLASSES) for k in GT}
    f, p, r, _ = sed_scores_eval.collar_based.fscore(
        scores, GT, 0.5, onset_collar=0.05, offset_collar=0.5, offset_collar_rate=0.0)
    assert close(m["f1_macro"], f["macro_average"]) and close(m["f1_micro"], f["micro_average"])
    assert m["f1_macro"] != collar_metrics(DET, GT, CLASSES)["f1_macro"]


def test_collar_deviation_of_exactly_the_collar_is_a_hit():
    # the one documented difference from sed_eval, which compares raw floats
    gt, det = {"a": [(3.0, 5.0, "dog")]}, {"a": [(3.2, 5.0, "dog")]}
    assert collar_metrics(det, gt, ["dog"])["f1_micro"] == 1.0
    ref = sed_eval_events(det, gt, ["dog"]).results_overall_metrics()
    assert ref["f_measure"]["f_measure"] == 0


def test_collar_error_rate_against_sed_eval():
    # no label confusion: sed_eval's event-based ER is the same number
    det = {k: [e for e in v if e != (6.0, 6.5, "bird")] for k, v in DET.items()}
    ref = sed_eval_events(det, GT, CLASSES).results_overall_metrics()["error_rate"]
    assert ref["substitution_rate"] == 0
    assert close(collar_metrics(det, GT, CLASSES)["error_rate"], ref["error_rate"])
    # a bird detected exactly on a dog: sed_eval counts one substitution where we count a
    # deletion and an insertion
    ref = sed_eval_events(DET, GT, CLASSES).results_overall_metrics()["error_rate"]
    assert ref["substitution_rate"] > 0
    assert close(collar_metrics(DET, GT, CLASSES)["error_rate"],
                 ref["error_rate"] + ref["substitution_rate"])


def test_collar_class_without_reference_events():
    gt = {k: [e for e in v if e[2] != "car"] for k, v in GT.items()}   # car: detections only
    m = collar_metrics(DET, gt, CLASSES)
    car = m["per_class"]["car"]
    assert car["f1"] is None and car["recall"] is None and car["n_ref"] == 0
    assert car["precision"] == 0.0 and car["n_sys"] == 2
    # macro over the classes with references, as sed_eval's nanmean; car's false positives still
    # count in the pooled precision
    ref = sed_eval_events(DET, gt, CLASSES)
    assert close(m["f1_macro"], ref.results_class_wise_average_metrics()["f_measure"]["f_measure"])
    assert close(m["f1_macro"], np.mean([m["per_class"][c]["f1"] for c in ("dog", "bird")]))
    assert close(m["precision_micro"], ref.results_overall_metrics()["f_measure"]["precision"])
    assert close(m["error_rate"], ref.results_overall_metrics()["error_rate"]["error_rate"]
                 + ref.results_overall_metrics()["error_rate"]["substitution_rate"])


def test_sed_scores_eval_itself_refuses_a_class_without_references(writable_sse):
    # why collar_metrics and psds leave such a class out of the reference library's input
    gt = {k: [e for e in v if e[2] != "car"] for k, v in GT.items()}
    scores = {k: frame_scores(DET[k], CLASSES) for k in GT}
    with pytest.raises(AssertionError, match="No ground truth events"):
        sed_scores_eval.collar_based.fscore(scores, gt, 0.5, onset_collar=0.2, offset_collar=0.2)


def test_collar_empty_detections_and_empty_recordings():
    m = collar_metrics({}, GT, CLASSES)
    assert m["f1_macro"] == 0.0 and m["f1_micro"] == 0.0 and m["precision_micro"] == 0.0
    assert m["recall_micro"] == 0.0 and m["error_rate"] == 1.0
    assert all(v["precision"] is None and v["f1"] == 0.0 for v in m["per_class"].values())
    # a recording without references or detections changes nothing ...
    base = collar_metrics({k: v for k, v in DET.items() if k != "silent.wav"},
                          {k: v for k, v in GT.items() if k != "silent.wav"}, CLASSES)
    assert collar_metrics(DET, GT, CLASSES) == base
    # ... one with detections adds false positives
    det = dict(DET, **{"silent.wav": [(1.0, 2.0, "dog")]})
    assert collar_metrics(det, GT, CLASSES)["precision_micro"] < base["precision_micro"]
    # nothing at all to evaluate: undefined, not a crash
    none = collar_metrics({}, {"a": []}, CLASSES)
    assert none["f1_macro"] is None and none["f1_micro"] is None and none["error_rate"] is None
    assert none["precision_micro"] == 0.0


def test_overlapping_reference_events_are_merged():
    gt = {"a": [(1.0, 2.0, "dog"), (1.5, 3.0, "dog"), (3.0, 4.0, "dog"), (1.0, 2.0, "bird")]}
    merged = {"a": [(1.0, 4.0, "dog"), (1.0, 2.0, "bird")]}
    det = {"a": [(1.0, 4.1, "dog"), (1.0, 2.0, "bird")]}
    assert collar_metrics(det, gt, CLASSES) == collar_metrics(det, merged, CLASSES)
    assert collar_metrics(det, gt, CLASSES)["f1_micro"] == 1.0


# --------------------------------------------------------------------------- segment-based

def test_segment_hand_computed():
    ref = {"a": [(0.5, 2.5, "dog"), (1.0, 1.5, "bird")]}
    det = {"a": [(1.2, 3.4, "dog"), (1.1, 1.4, "car")]}
    m = segment_metrics(det, ref, {"a": 5.0}, CLASSES)
    # segments: dog ref 0,1,2 / det 1,2,3; bird ref 1; car det 1
    # seg0 D=1; seg1 ref {dog,bird} sys {dog,car}: S=1; seg3 I=1 -> 3 errors / 4 references
    assert close(m["error_rate"], 0.75)
    assert close(m["precision_micro"], 0.5) and close(m["recall_micro"], 0.5)
    assert close(m["f1_micro"], 0.5)
    assert m["per_class"]["dog"] == {"f1": pytest.approx(2 / 3), "precision": pytest.approx(2 / 3),
                                     "recall": pytest.approx(2 / 3), "n_ref": 3, "n_sys": 3}
    assert m["per_class"]["bird"] == {"f1": 0.0, "precision": None, "recall": 0.0, "n_ref": 1,
                                      "n_sys": 0}
    assert m["per_class"]["car"] == {"f1": None, "precision": 0.0, "recall": None, "n_ref": 0,
                                     "n_sys": 1}
    assert close(m["f1_macro"], 1 / 3)          # dog and bird; car has no reference


@pytest.mark.parametrize("segment_s", [1.0, 0.5])
def test_segment_equals_sed_eval(segment_s):
    m = segment_metrics(DET, GT, DUR, CLASSES, segment_s=segment_s)
    ref = sed_eval_segments(DET, GT, DUR, CLASSES, segment_s)
    overall = ref.results_overall_metrics()
    assert close(m["f1_micro"], overall["f_measure"]["f_measure"])
    assert close(m["precision_micro"], overall["f_measure"]["precision"])
    assert close(m["recall_micro"], overall["f_measure"]["recall"])
    assert close(m["error_rate"], overall["error_rate"]["error_rate"])
    assert close(m["f1_macro"], ref.results_class_wise_average_metrics()["f_measure"]["f_measure"])
    for c in CLASSES:
        assert close(m["per_class"][c]["f1"],
                     ref.results_class_wise_metrics()[c]["f_measure"]["f_measure"]), c


def test_segment_empty_detections_and_empty_recordings():
    m = segment_metrics({}, GT, DUR, CLASSES)
    assert m["f1_micro"] == 0.0 and m["f1_macro"] == 0.0 and m["precision_micro"] == 0.0
    assert m["error_rate"] == 1.0
    det = dict(DET, **{"silent.wav": [(0.0, 3.0, "dog")]})
    more = segment_metrics(det, GT, DUR, CLASSES)
    assert more["per_class"]["dog"]["n_sys"] == segment_metrics(
        DET, GT, DUR, CLASSES)["per_class"]["dog"]["n_sys"] + 3
    none = segment_metrics({}, {"a": []}, {"a": 3.0}, CLASSES)
    assert none["f1_micro"] is None and none["f1_macro"] is None and none["error_rate"] is None


# --------------------------------------------------------------------------- PSDS

def smooth_scores(gt, rng):
    """Scores a plausible detector gives: high, jittered plateaus over the true events, a few
    false-alarm plateaus, low noise elsewhere."""
    out = {}
    for k, events in gt.items():
        false_alarms = [(float(rng.uniform(0, 8)), 0, CLASSES[rng.integers(3)]) for _ in range(2)]
        false_alarms = [(on, on + float(rng.uniform(0.3, 1.5)), c) for on, _, c in false_alarms]
        jittered = [(on + float(rng.normal(0, 0.1)), off + float(rng.normal(0, 0.1)), c)
                    for on, off, c in events]
        evs = jittered + false_alarms
        out[k] = frame_scores(evs, CLASSES, hop_s=0.05, inside=rng.uniform(0.4, 1.0, len(evs)),
                              base=rng.uniform(0, 0.3, (200, 3)))
    return out


@pytest.mark.parametrize("setting, params", [("psds1", PSDS1), ("psds2", PSDS2)])
def test_psds_equals_sed_scores_eval(writable_sse, rng, setting, params):
    scores = smooth_scores(GT, rng)
    m = psds(scores, GT, DUR, setting=setting)
    value, single, (tpr, efpr), single_rocs = sed_scores_eval.intersection_based.psds(
        scores, GT, DUR, **params)
    assert 0.05 < m["psds"] < 0.95                 # neither trivially 0 nor 1
    assert close(m["psds"], value)
    np.testing.assert_array_equal(m["tpr"], tpr)
    np.testing.assert_array_equal(m["efpr"], efpr)
    for c in CLASSES:
        assert close(m["per_class"][c]["psds"], single[c])
        np.testing.assert_array_equal(m["per_class"][c]["tpr"], single_rocs[c][0])
    assert m["excluded_classes"] == [] and m["setting"] == params


def test_psds_perfect_and_constant_detectors():
    perfect = {k: frame_scores(GT[k], CLASSES, hop_s=0.05) for k in GT}
    assert psds(perfect, GT, DUR)["psds"] == 1.0
    assert psds(perfect, GT, DUR, setting="psds2")["psds"] == 1.0
    constant = {k: create_score_dataframe(np.full((200, 3), 0.5), np.arange(201) * 0.05, CLASSES)
                for k in GT}
    assert psds(constant, GT, DUR)["psds"] < 0.05
    assert psds(constant, GT, DUR, setting="psds2")["psds"] < 0.05


def test_psds_class_without_reference_events(writable_sse, rng):
    gt = {k: [e for e in v if e[2] != "car"] for k, v in GT.items()}
    scores = smooth_scores(GT, rng)
    m = psds(scores, gt, DUR)
    assert m["excluded_classes"] == ["car"]
    assert m["per_class"]["car"] == {"psds": None, "tpr": None, "efpr": None, "n_ref": 0}
    with pytest.raises(AssertionError, match="No ground truth events"):
        sed_scores_eval.intersection_based.psds(scores, gt, DUR, **PSDS1)
    # equals the reference library on the classes that have references
    kept = {k: df[["onset", "offset", "dog", "bird"]] for k, df in scores.items()}
    for setting, params in (("psds1", PSDS1), ("psds2", PSDS2)):
        value = sed_scores_eval.intersection_based.psds(kept, gt, DUR, **params)[0]
        assert close(psds(scores, gt, DUR, setting=setting)["psds"], value)
    # no class with references: undefined
    assert psds(scores, {k: [] for k in GT}, DUR)["psds"] is None


def test_psds_single_class_psds2_has_no_cross_triggers(writable_sse):
    gt = {"a": [(1.0, 3.0, "dog")], "b": []}
    scores = {k: frame_scores(gt[k], ["dog"], hop_s=0.05, inside=[0.8] * len(gt[k]),
                              base=np.full((200, 1), 0.1)) for k in gt}
    m = psds(scores, gt, {"a": 10.0, "b": 10.0}, setting="psds2")
    assert m["setting"]["alpha_ct"] == 0.0 and m["setting"]["cttc_threshold"] is None
    no_ct = dict(PSDS2, alpha_ct=0.0, cttc_threshold=None)
    value = sed_scores_eval.intersection_based.psds(scores, gt, {"a": 10.0, "b": 10.0},
                                                   **no_ct)[0]
    assert close(m["psds"], value)


def test_psds_recording_without_events_counts_its_duration(writable_sse, rng):
    scores = smooth_scores(GT, rng)
    # silent.wav has only low noise and a couple of false alarms; dropping it changes the
    # false-positive rate per hour, so PSDS must differ
    without = {k: v for k, v in GT.items() if k != "silent.wav"}
    with_it = psds(scores, GT, DUR)["psds"]
    assert with_it != psds({k: scores[k] for k in without}, without, DUR)["psds"]
    assert close(with_it, sed_scores_eval.intersection_based.psds(scores, GT, DUR, **PSDS1)[0])


def test_psds_class_names_with_backslash_and_odd_ids():
    gt = {"a\\b/c.d.wav": [(1.0, 3.0, "dog\\bark")]}
    scores = {k: frame_scores(v, ["dog\\bark", "x"], hop_s=0.05) for k, v in gt.items()}
    assert psds(scores, gt, {"a\\b/c.d.wav": 10.0})["psds"] == 1.0


# --------------------------------------------------------------------------- all of them

def test_detection_metrics_is_the_sum_of_its_parts(rng):
    scores = smooth_scores(GT, rng)
    m = detection_metrics(scores, DET, GT, DUR, CLASSES)
    assert set(DETECTION_METRICS) | {"per_class", "psd_roc"} == set(m)
    col = sed_eval_events(DET, GT, CLASSES)
    seg = sed_eval_segments(DET, GT, DUR, CLASSES)
    assert close(m["collar_f1"], col.results_class_wise_average_metrics()["f_measure"]["f_measure"])
    assert close(m["collar_f1_micro"], col.results_overall_metrics()["f_measure"]["f_measure"])
    assert close(m["segment_f1"], seg.results_overall_metrics()["f_measure"]["f_measure"])
    assert close(m["segment_er"], seg.results_overall_metrics()["error_rate"]["error_rate"])
    assert close(m["psds1"], psds(scores, GT, DUR)["psds"])
    assert close(m["psds2"], psds(scores, GT, DUR, setting="psds2")["psds"])
    assert m["psd_roc"]["tpr"] == psds(scores, GT, DUR)["tpr"].tolist()
    assert set(m["per_class"]["dog"]) == {"n_ref", "psds1", "psds2", "collar_f1",
                                          "collar_precision", "collar_recall", "segment_f1",
                                          "segment_precision", "segment_recall"}
    json.dumps(m)                                    # plain floats, lists and None


def test_detection_metrics_with_nothing_detected(rng):
    scores = smooth_scores(GT, rng)
    m = detection_metrics(scores, {k: [] for k in GT}, GT, DUR, CLASSES)
    assert m["collar_f1"] == m["collar_f1_micro"] == m["segment_f1"] == 0.0
    assert m["collar_precision"] == m["segment_precision"] == 0.0


def test_detection_fold_means():
    folds = [dict.fromkeys(DETECTION_METRICS, 0.2), dict.fromkeys(DETECTION_METRICS, 0.6),
             dict(dict.fromkeys(DETECTION_METRICS, 0.7), psds2=None, collar_f1=None)]
    folds[0]["collar_f1"] = None
    m = detection_fold_means(folds)
    assert m["psds1"] == pytest.approx(0.5)
    assert m["psds1_std"] == pytest.approx(np.std([0.2, 0.6, 0.7]))
    assert m["psds2"] == pytest.approx(0.4) and m["psds2_std"] == pytest.approx(0.2)
    assert m["collar_f1"] == pytest.approx(0.6) and m["collar_f1_std"] == 0.0
    assert detection_fold_means([dict.fromkeys(DETECTION_METRICS)])["psds1"] is None
    with pytest.raises(ParameterError, match="at least one fold"):
        detection_fold_means([])
    with pytest.raises(ParameterError, match="has no 'segment_er'"):
        detection_fold_means([{k: 0.1 for k in DETECTION_METRICS if k != "segment_er"}])


# --------------------------------------------------------------------------- failures

def test_bad_inputs_raise_earmark_errors(rng):
    with pytest.raises(DatasetError, match="label 'cat'"):
        collar_metrics({}, {"a": [(0.0, 1.0, "cat")]}, CLASSES)
    with pytest.raises(DatasetError, match="onset_s < offset_s"):
        collar_metrics({}, {"a": [(2.0, 1.0, "dog")]}, CLASSES)
    with pytest.raises(ParameterError, match="not in ground_truth"):
        collar_metrics({"b": []}, {"a": []}, CLASSES)
    with pytest.raises(ParameterError, match="bad event"):
        collar_metrics({"a": [(0.0, 1.0)]}, {"a": []}, CLASSES)
    with pytest.raises(ParameterError, match="The 'onset_collar_s' parameter of collar_metrics "
                                             "must be a float in \\[0, inf\\). Got -1 instead."):
        collar_metrics({}, GT, CLASSES, onset_collar_s=-1)
    with pytest.raises(ParameterError, match="'segment_s' parameter of segment_metrics"):
        segment_metrics({}, GT, DUR, CLASSES, segment_s=0)
    with pytest.raises(ParameterError, match="lacks 1 recording"):
        segment_metrics({}, GT, {k: 10.0 for k in list(GT)[1:]}, CLASSES)
    with pytest.raises(ParameterError, match="The 'setting' parameter of psds must be one of"):
        psds(smooth_scores(GT, rng), GT, DUR, setting="psds3")
    scores = smooth_scores(GT, rng)
    with pytest.raises(ParameterError, match="one table per recording"):
        psds({k: scores[k] for k in list(GT)[1:]}, GT, DUR)
    with pytest.raises(ParameterError, match="class columns"):
        detection_metrics(scores, DET, GT, DUR, ["bird", "dog", "car"])
    broken = dict(scores)
    broken["y"] = scores["y"].assign(dog=np.nan)
    with pytest.raises(ParameterError, match="NaN or infinite"):
        psds(broken, GT, DUR)


@pytest.mark.parametrize("module", ["sed_eval", "sed_scores_eval"])
def test_missing_reference_library_says_how_to_install(monkeypatch, module):
    monkeypatch.setitem(__import__("sys").modules, module, None)     # import now fails
    call = (lambda: segment_metrics({}, GT, DUR, CLASSES)) if module == "sed_eval" else \
        (lambda: collar_metrics({}, GT, CLASSES))
    with pytest.raises(ParameterError, match=r"pip install 'earmark\[detection\]'"):
        call()


def test_reference_libraries_are_imported_lazily():
    # importing them takes ~0.6 s (sed_eval pulls in dcase_util): only inside the functions
    tree = ast.parse(Path(detection.__file__).read_text())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = {a.name.split(".")[0] for n in top for a in n.names} | {
        (n.module or "").split(".")[0] for n in top if isinstance(n, ast.ImportFrom)}
    assert not names & {"sed_eval", "sed_scores_eval", "dcase_util", "pandas"}


def test_docstring_examples():
    result = doctest.testmod(detection, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_quiet(capsys, rng):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        detection_metrics(smooth_scores(GT, rng), DET, GT, DUR, CLASSES)
        segment_metrics({}, {"a": []}, {"a": 3.0}, CLASSES)    # sed_eval: mean of empty slice
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "" and not caught


@pytest.mark.slow
def test_speed_80_recordings_7_classes(rng):
    classes = [f"class {j}" for j in range(7)]
    scores, det, gt = {}, {}, {}
    for i in range(80):
        events = []
        for c in classes:
            if rng.random() < 0.5:
                on = float(rng.uniform(0, 7))
                events.append((on, on + float(rng.uniform(0.3, 3.0)), c))
        k = f"fold{i % 5}/clip {i}.wav"
        gt[k] = events
        det[k] = [(on + 0.1, off - 0.05, c) for on, off, c in events if rng.random() < 0.8]
        s = rng.random((200, 7)) * 0.6                 # 20 frames/s
        for on, off, c in events:
            s[int(on * 20):int(off * 20), classes.index(c)] += 0.4
        scores[k] = create_score_dataframe(s, np.arange(201) / 20, classes)
    start = time.perf_counter()
    m = detection_metrics(scores, det, gt, {k: 10.0 for k in gt}, classes)
    seconds = time.perf_counter() - start
    assert m["psds1"] is not None and m["collar_f1"] > 0.5
    assert seconds < 10, f"detection_metrics took {seconds:.1f} s"
