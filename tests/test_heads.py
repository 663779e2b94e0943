"""scikit-learn heads: inner CV by group, and saving without pickle with identical predictions."""

import io
import json

import numpy as np
import pytest

from earmark.errors import ModelFileError, NotFittedError, ParameterError
from earmark.models.heads import HEADS, InnerCV, head_from_state, head_to_state, make_head


def _data(rng, n_classes, *, per_class=20, dim=8, dtype=np.float32):
    X = np.concatenate([rng.normal(0.8 * c, 1.0, (per_class, dim)) for c in range(n_classes)])
    y = np.repeat(np.array(["bird", "dog", "rain"][:n_classes]), per_class)
    groups = np.tile(np.arange(5), n_classes * per_class // 5)
    return X.astype(dtype), y, groups


def _through_a_file(config, arrays):
    """What a model file does: JSON text and an .npz read back without pickle."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return json.loads(json.dumps(config)), arrays


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("kind", HEADS)
def test_saved_head_predicts_what_the_fitted_one_does(kind, n_classes, rng):
    X, y, groups = _data(rng, n_classes)
    head = make_head(kind, seed=0, inner_cv=2).fit(X, y, groups=groups)
    config, arrays = head_to_state(head)
    assert all(a.dtype != object for a in arrays.values())
    assert config["kind"] == kind and config["classes"] == sorted(set(y))
    assert set(config["best_params"]) and 0 <= config["inner_cv_score"] <= 1
    saved = head_from_state(*_through_a_file(config, arrays))
    for dtype in (np.float32, np.float64):
        Xt = rng.normal(0.8, 2.0, (40, 8)).astype(dtype)
        expected, got = head.predict_proba(Xt), saved.predict_proba(Xt)
        if kind == "svm":
            # libsvm sums its kernel terms in its own order: equal to the last bits
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
        else:
            np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(saved.predict(Xt), head.predict(Xt))
    assert list(saved.classes_) == list(head.classes_)
    # a saved head saves to the same state
    again = head_to_state(saved)
    assert again[0] == config and again[1].keys() == arrays.keys()


def test_svm_calibration_folds_shrink_for_rare_classes(rng):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import SVC
    X, y, groups = _data(rng, 2)
    # every class with >= 3 examples: exactly scikit-learn's CalibratedClassifierCV(cv=3)
    ours = make_head("svm", inner_cv=None).fit(X, y)
    ref = CalibratedClassifierCV(SVC(kernel="rbf", class_weight="balanced"), method="sigmoid",
                                 cv=3, ensemble=False)
    ref.fit(ours.named_steps["scale"].transform(X), y)
    np.testing.assert_array_equal(ours.predict_proba(X[:7]),
                                  ref.predict_proba(ours.named_steps["scale"].transform(X[:7])))
    # a class with 2 examples (2 folds) and then 1 example (in-sample sigmoid): fits and saves
    for n_rare in (2, 1):
        Xr = np.r_[X, rng.normal(5.0, 1.0, (n_rare, X.shape[1])).astype(X.dtype)]
        yr = np.r_[y, ["rare"] * n_rare]
        head = make_head("svm", inner_cv=None).fit(Xr, yr)
        p = head.predict_proba(Xr)
        assert p.shape == (len(yr), 3) and np.allclose(p.sum(1), 1)
        assert head.predict(Xr[-1:])[0] == "rare"
        saved = head_from_state(*_through_a_file(*head_to_state(head)))
        np.testing.assert_allclose(saved.predict_proba(Xr), p, rtol=0, atol=1e-12)
    # inside a grouped grid search, where an inner training split holds one rare recording
    Xr = np.r_[X, rng.normal(5.0, 1.0, (4, X.shape[1])).astype(X.dtype)]
    yr = np.r_[y, ["rare"] * 4]
    gr = np.r_[groups, [10, 10, 11, 11]]
    assert make_head("svm", inner_cv=2).fit(Xr, yr, groups=gr).predict(Xr[-1:])[0] == "rare"


def test_inner_folds_keep_groups_together(rng):
    X, y, groups = _data(rng, 3)
    cv = InnerCV(3, seed=0)
    assert cv.get_n_splits(X, y, groups) == 3
    for train, test in cv.split(X, y, groups):
        assert not set(groups[train]) & set(groups[test])
    # fewer groups than folds: as many folds as groups
    two = np.where(groups < 3, 0, 1)
    assert InnerCV(3).get_n_splits(X, y, two) == 2


def test_inner_cv_needs_two_examples_or_two_groups(rng):
    X, y, _ = _data(rng, 2)
    y = y.copy()
    y[0] = "rare"
    with pytest.raises(ParameterError, match="at least 2 examples of every class"):
        make_head("logreg").fit(X, y)
    X, y, _ = _data(rng, 2)
    with pytest.raises(ParameterError, match="at least 2 groups"):
        make_head("logreg").fit(X, y, groups=np.zeros(len(y)))


@pytest.mark.parametrize("kind", ["rf", "mlp"])
def test_same_seed_same_head(kind, rng):
    X, y, _ = _data(rng, 2)
    states = [head_to_state(make_head(kind, seed=s, inner_cv=None).fit(X, y))[1]
              for s in (7, 7, 8)]
    assert all(np.array_equal(states[0][k], states[1][k]) for k in states[0])
    assert not all(states[0][k].shape == states[2][k].shape and
                   np.array_equal(states[0][k], states[2][k]) for k in states[0])


def test_errors_name_the_problem(rng):
    with pytest.raises(ParameterError, match="'kind' parameter of make_head"):
        make_head("knn")
    with pytest.raises(NotFittedError):
        head_to_state(make_head("logreg"))
    X, y, _ = _data(rng, 2)
    config, arrays = head_to_state(make_head("logreg", inner_cv=None).fit(X, y))
    saved = head_from_state(config, arrays)
    with pytest.raises(ParameterError, match=r"\(n, 8\)"):
        saved.predict_proba(np.zeros((2, 5)))
    with pytest.raises(ParameterError, match="NaN"):
        saved.predict_proba(np.full((1, 8), np.nan))
    with pytest.raises(ModelFileError, match="not an earmark head"):
        head_from_state({"kind": "logreg"}, arrays)
    with pytest.raises(ModelFileError, match="newer"):
        head_from_state({**config, "format_version": 99}, arrays)
    with pytest.raises(ModelFileError, match="lacks arrays"):
        head_from_state(config, {k: v for k, v in arrays.items() if k != "logreg.coef"})
