"""Multi-label tagging metrics equal scikit-learn's, on seeded random scores and on small cases
worked out by hand; threshold tuning finds the best F1; bad input gives ParameterError."""

import numpy as np
import pytest
from sklearn.metrics import (average_precision_score, f1_score,
                             label_ranking_average_precision_score, precision_recall_fscore_support,
                             precision_score, recall_score, roc_auc_score)

from earmark.errors import ParameterError
from earmark.evaluation.tagging import (PRIMARY_METRIC, TAGGING_METRICS, tagging_fold_means,
                                        tagging_metrics, tune_thresholds)


def _case(seed, n_clips, n_classes, *, ties=False):
    """Multi-hot truth with class 0 never positive and class 1 always positive, and sigmoid
    scores that follow the truth loosely (rounded to one decimal when ``ties``, so that many
    scores are equal)."""
    rng = np.random.default_rng(seed)
    y = (rng.random((n_clips, n_classes)) < rng.uniform(0.1, 0.6, n_classes)).astype(int)
    y[:, 0] = 0
    y[:, 1] = 1
    logits = 1.5 * (2 * y - 1) + rng.normal(0, 1.5, y.shape)
    scores = 1 / (1 + np.exp(-logits))
    if ties:
        scores = np.round(scores, 1)
    return y, scores, [f"class_{j}" for j in range(n_classes)]


CASES = [(1, 40, 5, False), (2, 200, 12, False), (3, 9, 4, False), (4, 120, 6, True),
         (5, 500, 30, True)]


@pytest.mark.parametrize("seed, n_clips, n_classes, ties", CASES)
@pytest.mark.parametrize("threshold_kind", ["default", "scalar", "per_class"])
def test_summary_metrics_equal_sklearn(seed, n_clips, n_classes, ties, threshold_kind):
    y, s, labels = _case(seed, n_clips, n_classes, ties=ties)
    thresholds = {"default": None, "scalar": 0.35,
                  "per_class": np.random.default_rng(seed).uniform(0.2, 0.8, n_classes)
                  }[threshold_kind]
    m = tagging_metrics(y, s, labels, thresholds=thresholds)

    present = y.sum(0) > 0
    both = present & (y.sum(0) < n_clips)
    # the case must hold what the brief asks for, or the comparisons below prove less
    assert not present[0] and both.sum() >= 2 and not both[1] and present[1]
    t = 0.5 if thresholds is None else thresholds
    pred = (s >= t).astype(int)
    in_either = np.flatnonzero((y.sum(0) > 0) | (pred.sum(0) > 0))

    assert m["map_macro"] == pytest.approx(
        average_precision_score(y[:, present], s[:, present], average="macro"), abs=1e-12)
    assert m["map_micro"] == pytest.approx(average_precision_score(y, s, average="micro"),
                                           abs=1e-12)
    assert m["roc_auc_macro"] == pytest.approx(
        roc_auc_score(y[:, both], s[:, both], average="macro"), abs=1e-12)
    assert m["f1_micro"] == pytest.approx(f1_score(y, pred, average="micro", zero_division=0))
    assert m["f1_macro"] == pytest.approx(
        f1_score(y, pred, average="macro", labels=in_either, zero_division=0))
    assert m["precision_micro"] == pytest.approx(
        precision_score(y, pred, average="micro", zero_division=0))
    assert m["recall_micro"] == pytest.approx(
        recall_score(y, pred, average="micro", zero_division=0))
    assert m["lrap"] == pytest.approx(label_ranking_average_precision_score(y, s), abs=1e-12)
    assert m["n_clips"] == n_clips
    assert set(TAGGING_METRICS) <= set(m)
    for key in TAGGING_METRICS:
        assert isinstance(m[key], float)


@pytest.mark.parametrize("seed, n_clips, n_classes, ties", CASES)
def test_per_class_equal_sklearn_and_none_where_undefined(seed, n_clips, n_classes, ties):
    y, s, labels = _case(seed, n_clips, n_classes, ties=ties)
    s[:, 2] = np.minimum(s[:, 2], 0.95)
    thresholds = np.random.default_rng(seed + 100).uniform(0.3, 0.95, n_classes)
    thresholds[2] = 1.0  # above every score of class 2: no predicted positive
    m = tagging_metrics(y, s, labels, thresholds=thresholds)
    pred = (s >= thresholds).astype(int)
    p, r, f, support = precision_recall_fscore_support(y, pred, average=None, zero_division=0)
    ap = average_precision_score(y[:, 1:], s[:, 1:], average=None)

    assert list(m["per_class"]) == labels
    for j, c in enumerate(labels):
        pc = m["per_class"][c]
        assert pc["support"] == support[j] == y[:, j].sum()
        assert pc["threshold"] == thresholds[j]
        if j == 0:
            assert pc["ap"] is None and pc["recall"] is None
        else:
            assert pc["ap"] == pytest.approx(ap[j - 1], abs=1e-12)
            assert pc["recall"] == pytest.approx(r[j])
        if 0 < y[:, j].sum() < n_clips:
            assert pc["roc_auc"] == pytest.approx(roc_auc_score(y[:, j], s[:, j]), abs=1e-12)
        else:
            assert pc["roc_auc"] is None
        if pred[:, j].sum():
            assert pc["precision"] == pytest.approx(p[j])
        else:
            assert pc["precision"] is None
        if y[:, j].sum() or pred[:, j].sum():
            assert pc["f1"] == pytest.approx(f[j])
        else:
            assert pc["f1"] is None
    # class 2 has positives but no predicted positive: recall and F1 0, precision undefined
    assert m["per_class"]["class_2"]["precision"] is None
    assert m["per_class"]["class_2"]["f1"] == 0.0
    # class 1 is positive in every clip: a perfect AP whatever the scores, no ROC-AUC
    assert m["per_class"]["class_1"]["ap"] == pytest.approx(1.0, abs=1e-12)


def test_macro_means_leave_out_undefined_classes():
    y, s, labels = _case(7, 50, 5)
    m = tagging_metrics(y, s, labels)
    aps = [m["per_class"][c]["ap"] for c in labels[1:]]
    aucs = [m["per_class"][c]["roc_auc"] for c in labels[2:]]
    assert m["map_macro"] == pytest.approx(np.mean(aps))
    assert m["roc_auc_macro"] == pytest.approx(np.mean(aucs))
    # counting the class without positives as AP 0 would give a different (lower) number
    assert m["map_macro"] > np.sum(aps) / len(labels)


def test_hand_computed_four_clips():
    # ranked by score: pos (0.9), neg (0.8), pos (0.7), neg (0.1)
    # AP = 1/2 * precision@1 + 1/2 * precision@3 = 1/2 * 1 + 1/2 * 2/3 = 5/6
    # ROC-AUC: of the 4 (pos, neg) pairs, (0.7, 0.8) is the only one ranked wrong: 3/4
    # at 0.5: tagged 0.9, 0.8, 0.7 -> tp 2, fp 1, fn 0: precision 2/3, recall 1, F1 4/5
    y = [[1], [0], [1], [0]]
    s = [[0.9], [0.8], [0.7], [0.1]]
    m = tagging_metrics(y, s, ["dog"])
    dog = m["per_class"]["dog"]
    assert dog["ap"] == pytest.approx(5 / 6)
    assert dog["roc_auc"] == pytest.approx(3 / 4)
    assert (dog["precision"], dog["recall"], dog["f1"]) == pytest.approx((2 / 3, 1.0, 0.8))
    assert m["map_macro"] == m["map_micro"] == pytest.approx(5 / 6)
    assert m["f1_micro"] == m["f1_macro"] == pytest.approx(0.8)
    assert dog["support"] == 2


def test_hand_computed_tied_scores():
    # the two top clips tie at 0.5 (one positive, one negative): they pass any threshold
    # together, so precision there is 1/2, not 1. AP = 1/2 * 1/2 + 1/2 * 2/3 = 7/12
    m = tagging_metrics([[1], [0], [1], [0]], [[0.5], [0.5], [0.2], [0.1]], ["x"])
    assert m["per_class"]["x"]["ap"] == pytest.approx(7 / 12)
    # ROC-AUC counts a tied (pos, neg) pair as half: (0.5, 0.5) 1/2, (0.5, 0.1) 1,
    # (0.2, 0.5) 0, (0.2, 0.1) 1 -> 2.5 / 4
    assert m["per_class"]["x"]["roc_auc"] == pytest.approx(0.625)


def test_hand_computed_lrap_and_micro():
    y = [[1, 0, 1], [0, 1, 0]]
    s = [[0.9, 0.2, 0.5], [0.9, 0.2, 0.5]]
    m = tagging_metrics(y, s, ["a", "b", "c"])
    # clip 0: its tags rank 1st and 2nd -> 1; clip 1: its one tag ranks 3rd -> 1/3
    assert m["lrap"] == pytest.approx(2 / 3)
    # at 0.5: tagged (0,a), (0,c), (1,a), (1,c): tp 2, fp 2, fn 1
    assert m["precision_micro"] == pytest.approx(0.5)
    assert m["recall_micro"] == pytest.approx(2 / 3)
    assert m["f1_micro"] == pytest.approx(4 / 7)
    # per class F1: a 2/3 (tp 1, fp 1), b 0 (fn 1), c 2/3 (tp 1, fp 1) -> macro 4/9
    assert m["f1_macro"] == pytest.approx(4 / 9)
    assert m["per_class"]["b"]["f1"] == 0.0 and m["per_class"]["b"]["precision"] is None


def test_threshold_is_inclusive_and_scalar_equals_array():
    y = [[1, 1], [0, 0]]
    s = [[0.5, 0.3], [0.2, 0.29]]
    at_half = tagging_metrics(y, s, ["a", "b"])
    assert at_half["per_class"]["a"]["recall"] == 1.0  # 0.5 >= 0.5 tags the clip
    assert at_half["per_class"]["b"]["recall"] == 0.0
    by_array = tagging_metrics(y, s, ["a", "b"], thresholds=[0.5, 0.3])
    assert by_array["per_class"]["b"]["f1"] == 1.0
    assert by_array["f1_micro"] == 1.0
    scalar = tagging_metrics(y, s, ["a", "b"], thresholds=0.3)
    array = tagging_metrics(y, s, ["a", "b"], thresholds=np.array([0.3, 0.3]))
    assert scalar == array
    assert scalar["per_class"]["a"]["threshold"] == 0.3


def test_no_positive_anywhere():
    y = np.zeros((5, 3), int)
    s = np.full((5, 3), 0.1)
    m = tagging_metrics(y, s, ["a", "b", "c"])
    assert m["map_macro"] is None and m["map_micro"] is None and m["roc_auc_macro"] is None
    assert m["f1_macro"] is None  # no class is in the truth or the decisions
    assert m["f1_micro"] == 0.0  # scikit-learn's zero_division=0
    assert m["lrap"] == 1.0  # scikit-learn counts a clip without tags as 1
    tune = tune_thresholds(y, s, default=0.4)
    assert tune.tolist() == [0.4, 0.4, 0.4]


def test_single_class_accepts_column():
    y, s, _ = _case(11, 30, 3)
    m = tagging_metrics(y[:, 2:3], s[:, 2:3], ["only"])
    assert m["map_macro"] == pytest.approx(average_precision_score(y[:, 2], s[:, 2]))
    assert m["map_micro"] == pytest.approx(average_precision_score(y[:, 2], s[:, 2]))
    assert m["roc_auc_macro"] == pytest.approx(roc_auc_score(y[:, 2], s[:, 2]))
    pred = s[:, 2] >= 0.5
    # scikit-learn needs pos_label for one column; earmark reads it as one multi-label class
    assert m["f1_macro"] == m["f1_micro"] == pytest.approx(f1_score(y[:, 2], pred))
    assert m["precision_micro"] == pytest.approx(precision_score(y[:, 2], pred))
    assert m["recall_micro"] == pytest.approx(recall_score(y[:, 2], pred))
    assert 0 < m["f1_micro"] < 1


def test_accepts_bool_truth_and_lists():
    y, s, labels = _case(12, 25, 4)
    from_bool = tagging_metrics(y.astype(bool), s.tolist(), tuple(labels))
    assert from_bool == tagging_metrics(y, s, labels)


# ---- tune_thresholds -----------------------------------------------------------------------


def test_tune_separable_reaches_f1_one():
    rng = np.random.default_rng(21)
    y = (rng.random((80, 6)) < 0.3).astype(int)
    y[0] = 1  # every class has a positive
    s = np.where(y == 1, rng.uniform(0.55, 1.0, y.shape), rng.uniform(0.0, 0.45, y.shape))
    t = tune_thresholds(y, s)
    assert t.dtype == np.float64 and t.shape == (6,)
    # the highest threshold that keeps every positive: the lowest positive score
    np.testing.assert_array_equal(t, np.where(y == 1, s, np.inf).min(0))
    m = tagging_metrics(y, s, list("abcdef"), thresholds=t)
    assert m["f1_micro"] == 1.0 and m["f1_macro"] == 1.0
    assert all(m["per_class"][c]["f1"] == 1.0 for c in "abcdef")


def test_tune_separable_with_shifted_scores():
    # separable but every score above 0.5: the default threshold gives poor F1, tuning fixes it
    y = np.array([[1], [1], [0], [0], [0]])
    s = np.array([[0.95], [0.9], [0.8], [0.7], [0.6]])
    assert tagging_metrics(y, s, ["a"])["f1_macro"] == pytest.approx(4 / 7)
    t = tune_thresholds(y, s)
    assert t.tolist() == [0.9]
    assert tagging_metrics(y, s, ["a"], thresholds=t)["f1_macro"] == 1.0


@pytest.mark.parametrize("seed, n_clips, n_classes, ties", CASES)
def test_tune_finds_best_f1_and_highest_tied_threshold(seed, n_clips, n_classes, ties):
    y, s, _ = _case(seed, n_clips, n_classes, ties=ties)
    t = tune_thresholds(y, s, default=0.25)
    assert t[0] == 0.25  # class 0 has no positive clip
    for j in range(1, n_classes):
        candidates = np.unique(s[:, j])
        f1s = np.array([f1_score(y[:, j], s[:, j] >= c, zero_division=0) for c in candidates])
        best = f1s.max()
        assert f1_score(y[:, j], s[:, j] >= t[j]) == pytest.approx(best, abs=1e-12)
        assert t[j] == candidates[np.isclose(f1s, best, rtol=0, atol=1e-12)].max()


def test_tune_tie_goes_to_higher_threshold():
    # at 0.9: tp 1, fp 0, fn 1 -> F1 2/3; at 0.3: tp 2, fp 2, fn 0 -> F1 4/6 = 2/3
    y = [[1], [0], [0], [1]]
    s = [[0.9], [0.6], [0.5], [0.3]]
    assert tune_thresholds(y, s).tolist() == [0.9]


def test_tune_always_positive_class_keeps_every_clip():
    y = np.ones((4, 1), int)
    s = np.array([[0.2], [0.9], [0.4], [0.05]])
    t = tune_thresholds(y, s)
    assert t.tolist() == [0.05]  # F1 1 only when every clip is tagged


# ---- bad input -----------------------------------------------------------------------------


GOOD_Y = np.array([[1, 0], [0, 1], [1, 1]])
GOOD_S = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.6]])


@pytest.mark.parametrize("y, s, labels, kwargs, pattern", [
    (GOOD_Y, GOOD_S[:, :1], ["a", "b"], {}, r"same shape.*\(3, 2\).*\(3, 1\)"),
    (GOOD_Y, GOOD_S[:2], ["a", "b"], {}, r"same shape.*\(3, 2\).*\(2, 2\)"),
    (GOOD_Y[:, 0], GOOD_S[:, 0], ["a"], {}, r"'y_true'.*2-D.*reshape.*\(3,\)"),
    (GOOD_Y[None], GOOD_S[None], ["a", "b"], {}, r"'y_true'.*2-D.*\(1, 3, 2\)"),
    (np.zeros((0, 2)), np.zeros((0, 2)), ["a", "b"], {}, r"at least one clip.*\(0, 2\)"),
    (GOOD_Y * 2, GOOD_S, ["a", "b"], {}, r"'y_true'.*only 0 and 1.*Got 2 at clip 0, class 0"),
    (GOOD_Y - 0.5, GOOD_S, ["a", "b"], {}, r"'y_true'.*only 0 and 1"),
    (np.where(GOOD_Y == 1, np.nan, 0), GOOD_S, ["a", "b"], {}, r"'y_true'.*only 0 and 1"),
    (GOOD_Y.astype(str), GOOD_S, ["a", "b"], {}, r"'y_true'.*dtype"),
    (GOOD_Y, np.where(GOOD_S > 0.85, np.nan, GOOD_S), ["a", "b"], {},
     r"'scores'.*finite.*nan at clip 0, class 0"),
    (GOOD_Y, np.where(GOOD_S > 0.85, np.inf, GOOD_S), ["a", "b"], {}, r"'scores'.*finite"),
    (GOOD_Y, [["x", "y"]] * 3, ["a", "b"], {}, r"'scores'.*not numeric"),
    (GOOD_Y, GOOD_S, ["a"], {}, r"'labels'.*2 columns.*Got 1 labels"),
    (GOOD_Y, GOOD_S, ["a", "b", "c"], {}, r"'labels'.*Got 3 labels"),
    (GOOD_Y, GOOD_S, ["a", "a"], {}, r"'labels'.*distinct.*'a'"),
    (GOOD_Y, GOOD_S, "ab", {}, r"'labels'.*list"),
    (GOOD_Y, GOOD_S, ["a", "b"], {"thresholds": 1.5}, r"'thresholds'.*\[0, 1\].*1\.5"),
    (GOOD_Y, GOOD_S, ["a", "b"], {"thresholds": -0.1}, r"'thresholds'.*-0\.1"),
    (GOOD_Y, GOOD_S, ["a", "b"], {"thresholds": float("nan")}, r"'thresholds'"),
    (GOOD_Y, GOOD_S, ["a", "b"], {"thresholds": True}, r"'thresholds'"),
    (GOOD_Y, GOOD_S, ["a", "b"], {"thresholds": "0.5"}, r"'thresholds'.*'0\.5'"),
    (GOOD_Y, GOOD_S, ["a", "b"], {"thresholds": [0.5, 0.5, 0.5]},
     r"'thresholds'.*per class \(2 classes\).*shape \(3,\)"),
    (GOOD_Y, GOOD_S, ["a", "b"], {"thresholds": [[0.5, 0.5]]}, r"'thresholds'.*shape \(1, 2\)"),
    (GOOD_Y, GOOD_S, ["a", "b"], {"thresholds": [0.5, 2.0]}, r"'thresholds'.*2\.0 for class 1"),
    (GOOD_Y, GOOD_S, ["a", "b"], {"thresholds": [0.5, np.nan]}, r"'thresholds'.*class 1"),
])
def test_tagging_metrics_rejects_bad_input(y, s, labels, kwargs, pattern):
    with pytest.raises(ParameterError, match=pattern) as info:
        tagging_metrics(y, s, labels, **kwargs)
    assert "tagging_metrics" in str(info.value)


def test_good_input_passes_the_same_checks():
    # the bad-input cases above differ from this one only in the broken part
    m = tagging_metrics(GOOD_Y, GOOD_S, ["a", "b"], thresholds=[0.0, 1.0])
    assert m["per_class"]["a"]["threshold"] == 0.0


@pytest.mark.parametrize("y, s, kwargs, pattern", [
    (GOOD_Y, GOOD_S.T, {}, r"same shape"),
    (GOOD_Y * 3, GOOD_S, {}, r"'y_true'.*only 0 and 1"),
    (GOOD_Y, GOOD_S * np.inf, {}, r"'scores'.*finite"),
    (GOOD_Y, GOOD_S, {"default": 1.5}, r"'default'.*\[0, 1\].*1\.5"),
    (GOOD_Y, GOOD_S, {"default": None}, r"'default'"),
])
def test_tune_thresholds_rejects_bad_input(y, s, kwargs, pattern):
    with pytest.raises(ParameterError, match=pattern) as info:
        tune_thresholds(y, s, **kwargs)
    assert "tune_thresholds" in str(info.value)


# ---- fold means ----------------------------------------------------------------------------


def _fold(value, **override):
    d = {k: value for k in TAGGING_METRICS}
    d.update(override)
    return d


def test_fold_means_known_values():
    out = tagging_fold_means([_fold(0.2), _fold(0.6), _fold(0.7, roc_auc_macro=None)])
    assert out["map_macro"] == pytest.approx(0.5)
    assert out["map_macro_std"] == pytest.approx(np.sqrt(((0.3 ** 2) + 0.1 ** 2 + 0.2 ** 2) / 3))
    # None is left out, not counted as 0
    assert out["roc_auc_macro"] == pytest.approx(0.4)
    assert out["roc_auc_macro_std"] == pytest.approx(0.2)
    assert set(out) == set(TAGGING_METRICS) | {f"{k}_std" for k in TAGGING_METRICS}


def test_fold_means_all_none_and_single_fold():
    out = tagging_fold_means([_fold(0.5, roc_auc_macro=None), _fold(0.7, roc_auc_macro=None)])
    assert out["roc_auc_macro"] is None and out["roc_auc_macro_std"] is None
    one = tagging_fold_means([_fold(0.3)])
    assert one["lrap"] == 0.3 and one["lrap_std"] == 0.0


def test_fold_means_of_real_folds():
    folds = [tagging_metrics(*_case(seed, 60, 5)) for seed in (31, 32, 33)]
    out = tagging_fold_means(folds)
    for key in TAGGING_METRICS:
        vals = [f[key] for f in folds]
        assert out[key] == pytest.approx(np.mean(vals))
        assert out[f"{key}_std"] == pytest.approx(np.std(vals))
    assert out["map_macro_std"] > 0


def test_fold_means_rejects_empty_and_incomplete():
    with pytest.raises(ParameterError, match="at least one fold"):
        tagging_fold_means([])
    incomplete = _fold(0.5)
    del incomplete["lrap"]
    with pytest.raises(ParameterError, match=r"fold 1 has no 'lrap'"):
        tagging_fold_means([_fold(0.5), incomplete])


def test_primary_metric_is_a_summary_metric():
    assert PRIMARY_METRIC == "map_macro" and PRIMARY_METRIC in TAGGING_METRICS
    assert TAGGING_METRICS == ("map_macro", "map_micro", "f1_micro", "f1_macro",
                               "roc_auc_macro", "lrap")
