"""scikit-learn heads on embeddings, and how they are saved without pickle.

:func:`make_head` builds ``standardise -> classifier`` with its hyper-parameters chosen by an
inner cross-validation on the training data it is fitted on (``GridSearchCV``; with
``fit(X, y, groups=...)`` the inner folds keep each group together, so windows of one recording
never sit on both sides of an inner split).

=========  ====================================================  ============================
kind       classifier                                            grid
=========  ====================================================  ============================
logreg     LogisticRegression (lbfgs, balanced class weights)    C in {0.01, 0.1, 1, 10}
svm        RBF SVC, sigmoid-calibrated (CalibratedClassifierCV,  C in {0.1, 1, 10, 100}
           ensemble=False, 3 folds or as many as the smallest
           class allows; replaces SVC(probability=True),
           deprecated in scikit-learn 1.9)
rf         RandomForest, 200 trees, balanced class weights       min_samples_leaf in {1, 3},
                                                                 max_features in {sqrt, 0.1}
mlp        MLP, one hidden layer of 128 ReLU, adam               alpha in {1e-3, 1e-1, 1}
=========  ====================================================  ============================

Saving (:func:`head_to_state` / :func:`head_from_state`) writes a JSON-able config and plain
NumPy arrays: the scaler's mean and scale; logistic regression's coefficients; the SVM's support
vectors, dual coefficients, intercepts, gamma and the calibrators' (a, b); every tree's
children, features, thresholds and leaf values; the MLP's weight matrices. The loaded
:class:`SavedHead` recomputes ``predict_proba`` with NumPy the way scikit-learn does, step by
step and in the same dtypes, so the probabilities are those of the fitted estimator: bit for bit
for logreg, rf and mlp, within 1e-12 for the SVM (libsvm sums its kernel terms in its own order);
the tests check all four kinds. Loading never executes code nor depends on the scikit-learn
version.
"""

import numpy as np
from scipy.spatial.distance import cdist
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold, StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from .._validation import check_choice, check_number
from ..errors import ModelFileError, NotFittedError, ParameterError

__all__ = ["HEADS", "make_head", "head_to_state", "head_from_state", "SavedHead", "InnerCV"]

HEADS = ("logreg", "svm", "rf", "mlp")
STATE_FORMAT = "earmark.head"
STATE_VERSION = 1


class InnerCV:
    """Inner cross-validation splitter: stratified, and grouped when groups are given.

    Without groups: ``StratifiedKFold(shuffle=True)``; with groups: ``StratifiedGroupKFold``
    (a GroupKFold that also balances the classes). The number of folds shrinks to what the data
    allow (the smallest class, or the number of groups).

    Raises
    ------
    ParameterError
        Fewer than 2 examples in some class (or fewer than 2 groups): no inner CV is possible.
    """

    def __init__(self, n_splits=3, *, seed=0):
        self.n_splits = n_splits
        self.seed = seed

    def _splitter(self, y, groups):
        _, counts = np.unique(np.asarray(y), return_counts=True)
        if groups is None:
            k = min(self.n_splits, int(counts.min()))
            if k < 2:
                raise ParameterError(
                    f"inner cross-validation needs at least 2 examples of every class; the "
                    f"smallest class has {int(counts.min())}.")
            return StratifiedKFold(k, shuffle=True, random_state=self.seed)
        n_groups = len(np.unique(np.asarray(groups)))
        k = min(self.n_splits, n_groups)
        if k < 2:
            raise ParameterError(f"inner cross-validation by group needs at least 2 groups; "
                                 f"got {n_groups}.")
        return StratifiedGroupKFold(k, shuffle=True, random_state=self.seed)

    def get_n_splits(self, X=None, y=None, groups=None):
        return self._splitter(y, groups).get_n_splits()

    def split(self, X, y, groups=None):
        return self._splitter(y, groups).split(X, y, groups)

    def __repr__(self):
        return f"InnerCV(n_splits={self.n_splits}, seed={self.seed})"


class _InSample:
    """One 'split' whose training and test part are all the data (see :class:`_CalibratedSVC`)."""

    def get_n_splits(self, X=None, y=None, groups=None):
        return 1

    def split(self, X, y=None, groups=None):
        idx = np.arange(len(X))
        yield idx, idx


class _CalibratedSVC(CalibratedClassifierCV):
    """CalibratedClassifierCV whose calibration folds shrink to the data.

    scikit-learn refuses k calibration folds when a class has fewer than k examples, which
    happens in the inner folds of small, grouped data sets (a class with one or two recordings
    left). Here k is ``min(cv, smallest class)``; with a class of a single example the sigmoid
    is fitted on the SVC's own training scores (over-confident, but the alternative is no model).
    With every class at ``cv`` examples or more it is exactly CalibratedClassifierCV(cv=cv).
    """

    def fit(self, X, y, **params):
        k = min(int(self.cv), int(np.unique(np.asarray(y), return_counts=True)[1].min()))
        given = self.cv
        self.cv = StratifiedKFold(k) if k >= 2 else _InSample()
        try:
            return super().fit(X, y, **params)
        finally:
            self.cv = given


def _classifier(kind, seed):
    if kind == "logreg":
        return (LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000),
                {"clf__C": [0.01, 0.1, 1.0, 10.0]})
    if kind == "svm":
        svc = SVC(kernel="rbf", C=1.0, gamma="scale", class_weight="balanced")
        return (_CalibratedSVC(svc, method="sigmoid", cv=3, ensemble=False),
                {"clf__estimator__C": [0.1, 1.0, 10.0, 100.0]})
    if kind == "rf":
        return (RandomForestClassifier(n_estimators=200, class_weight="balanced",
                                       random_state=seed, n_jobs=1),
                {"clf__min_samples_leaf": [1, 3], "clf__max_features": ["sqrt", 0.1]})
    # no early stopping: its 10 % validation split breaks with a few examples per class
    return (MLPClassifier(hidden_layer_sizes=(128,), alpha=1e-1, max_iter=1000,
                          random_state=seed),
            {"clf__alpha": [1e-3, 1e-1, 1.0]})


def make_head(kind="logreg", *, seed=0, inner_cv=3, scoring="balanced_accuracy"):
    """A scikit-learn head: StandardScaler -> classifier, tuned by inner cross-validation.

    Parameters
    ----------
    kind : {'logreg', 'svm', 'rf', 'mlp'}
    seed : int
        Seeds the inner folds, the forest and the MLP: the same seed gives the same head.
    inner_cv : int or None
        Inner folds for the grid search. None: no search, the pipeline with the middle of the
        grid.
    scoring : str
        What the grid search maximises (a scikit-learn scorer name): 'balanced_accuracy' for
        classification, 'average_precision' for the one-vs-rest heads of tagging.

    Returns
    -------
    GridSearchCV (or Pipeline when ``inner_cv`` is None)
        Fit it with ``fit(X, y)`` or ``fit(X, y, groups=recording_ids)``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(0, 1, (20, 4)), rng.normal(3, 1, (20, 4))]
    >>> y = np.repeat(["a", "b"], 20)
    >>> head = make_head("logreg").fit(X, y)
    >>> head.predict_proba(X[:1]).shape
    (1, 2)
    """
    check_choice(kind, "kind", "make_head", HEADS)
    check_number(seed, "seed", "make_head", low=0, closed="left", integer=True)
    check_number(inner_cv, "inner_cv", "make_head", low=2, high=20, closed="both", integer=True,
                 allow_none=True)
    clf, grid = _classifier(kind, seed)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", clf)])
    if inner_cv is None:
        return pipe
    return GridSearchCV(pipe, grid, cv=InnerCV(inner_cv, seed=seed),
                        scoring=scoring, refit=True, n_jobs=1, error_score="raise")


# ------------------------------------------------------------------------------ saving ---

def _jsonable(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return v


def _unwrap(fitted):
    if isinstance(fitted, SavedHead):
        return None, None, fitted
    info = {}
    if isinstance(fitted, GridSearchCV):
        if not hasattr(fitted, "best_estimator_"):
            raise NotFittedError("head_to_state: the GridSearchCV is not fitted")
        info = {"best_params": _jsonable(fitted.best_params_),
                "inner_cv_score": float(fitted.best_score_)}
        fitted = fitted.best_estimator_
    scaler = None
    if isinstance(fitted, Pipeline):
        steps = [s for _, s in fitted.steps]
        if len(steps) == 2 and isinstance(steps[0], StandardScaler):
            scaler, clf = steps
        elif len(steps) == 1:
            clf = steps[0]
        else:
            raise ParameterError("head_to_state: expected a Pipeline of StandardScaler and a "
                                 f"classifier; got steps {[type(s).__name__ for s in steps]}")
    else:
        clf = fitted
    return info, scaler, clf


def head_to_state(fitted):
    """Config (JSON-able) and arrays that describe a fitted head, with no pickle.

    Parameters
    ----------
    fitted : GridSearchCV, Pipeline, classifier or SavedHead
        A head from :func:`make_head` after ``fit`` (or one loaded with
        :func:`head_from_state`).

    Returns
    -------
    config : dict
    arrays : dict[str, np.ndarray]

    Examples
    --------
    >>> config, arrays = head_to_state(head)  # doctest: +SKIP
    >>> same = head_from_state(config, arrays)  # doctest: +SKIP
    """
    info, scaler, clf = _unwrap(fitted)
    if info is None:
        return dict(clf.config), dict(clf.arrays)
    if not hasattr(clf, "classes_"):
        raise NotFittedError(f"head_to_state: the {type(clf).__name__} is not fitted")
    arrays = {}
    if scaler is not None:
        arrays["scaler.mean"] = np.asarray(scaler.mean_)
        arrays["scaler.scale"] = np.asarray(scaler.scale_)
    config = {"format": STATE_FORMAT, "format_version": STATE_VERSION,
              "classes": _jsonable(list(clf.classes_)), "n_features": int(clf.n_features_in_),
              "scaler": scaler is not None, **info}
    if isinstance(clf, LogisticRegression):
        config["kind"] = "logreg"
        arrays["logreg.coef"] = clf.coef_
        # the memory order of coef_ decides which BLAS kernel computes X @ coef_.T, and so the
        # last bit of the scores: remember it
        config["logreg"] = {"coef_order": "F" if (clf.coef_.flags.f_contiguous and
                                                  not clf.coef_.flags.c_contiguous) else "C"}
        arrays["logreg.intercept"] = clf.intercept_
    elif isinstance(clf, CalibratedClassifierCV):
        config["kind"] = "svm"
        if len(clf.calibrated_classifiers_) != 1 or clf.method != "sigmoid":
            raise ParameterError("head_to_state: only CalibratedClassifierCV(ensemble=False, "
                                 "method='sigmoid') around an SVC can be saved")
        cc = clf.calibrated_classifiers_[0]
        svc = cc.estimator
        if not isinstance(svc, SVC) or svc.kernel != "rbf":
            raise ParameterError("head_to_state: the calibrated estimator must be an RBF SVC")
        if list(svc.classes_) != list(clf.classes_):
            raise ParameterError("head_to_state: the SVC saw other classes than the calibrator")
        config["svm"] = {"gamma": float(svc._gamma)}
        arrays["svm.support_vectors"] = svc.support_vectors_
        arrays["svm.dual_coef"] = svc.dual_coef_
        arrays["svm.intercept"] = svc.intercept_
        arrays["svm.n_support"] = svc.n_support_.astype(np.int64)
        arrays["svm.calibration_a"] = np.array([c.a_ for c in cc.calibrators], np.float64)
        arrays["svm.calibration_b"] = np.array([c.b_ for c in cc.calibrators], np.float64)
    elif isinstance(clf, RandomForestClassifier):
        config["kind"] = "rf"
        if clf.n_outputs_ != 1:
            raise ParameterError("head_to_state: multi-output forests are not supported")
        trees = [e.tree_ for e in clf.estimators_]
        arrays["rf.offsets"] = np.cumsum([0] + [t.node_count for t in trees]).astype(np.int64)
        arrays["rf.left"] = np.concatenate([t.children_left for t in trees]).astype(np.int64)
        arrays["rf.right"] = np.concatenate([t.children_right for t in trees]).astype(np.int64)
        arrays["rf.feature"] = np.concatenate([t.feature for t in trees]).astype(np.int64)
        arrays["rf.threshold"] = np.concatenate([t.threshold for t in trees])
        arrays["rf.value"] = np.concatenate([t.value[:, 0, :] for t in trees])
    elif isinstance(clf, MLPClassifier):
        config["kind"] = "mlp"
        config["mlp"] = {"activation": clf.activation, "out_activation": clf.out_activation_,
                         "n_layers": len(clf.coefs_)}
        for i, (w, b) in enumerate(zip(clf.coefs_, clf.intercepts_)):
            arrays[f"mlp.coef.{i}"] = w
            arrays[f"mlp.intercept.{i}"] = b
    else:
        raise ParameterError(f"head_to_state: cannot save a {type(clf).__name__}; heads are "
                             f"{', '.join(HEADS)} (from make_head)")
    return config, {k: np.ascontiguousarray(v) for k, v in arrays.items()}


def head_from_state(config, arrays):
    """Rebuild a head saved with :func:`head_to_state` (no pickle, no scikit-learn objects).

    Returns
    -------
    SavedHead
        With ``classes_``, ``predict_proba`` and ``predict``.

    Raises
    ------
    ModelFileError
        The state is not a head state, is from a newer format, or lacks an array.
    """
    return SavedHead(config, arrays)


_HIDDEN = {
    "relu": lambda a: np.maximum(a, 0, out=a),
    "tanh": lambda a: np.tanh(a, out=a),
    "logistic": lambda a: expit(a, out=a),
    "identity": lambda a: a,
}


class SavedHead:
    """A fitted head rebuilt from plain arrays; predicts like the scikit-learn original.

    Input rows must be finite; float32 and float64 inputs give what the original gives for
    that dtype.
    """

    def __init__(self, config, arrays):
        if not isinstance(config, dict) or config.get("format") != STATE_FORMAT:
            raise ModelFileError("not an earmark head state (config 'format' is not "
                                 f"{STATE_FORMAT!r})")
        if config.get("format_version", 0) > STATE_VERSION:
            raise ModelFileError(f"head state format version {config.get('format_version')} is "
                                 f"newer than this earmark reads ({STATE_VERSION}); upgrade "
                                 "earmark")
        kind = config.get("kind")
        if kind not in HEADS:
            raise ModelFileError(f"head state of unknown kind {kind!r}; known: {HEADS}")
        self.config = dict(config)
        self.arrays = {k: np.asarray(v) for k, v in arrays.items()}
        self.kind = kind
        self.classes_ = np.asarray(config["classes"])
        self.n_features_in_ = int(config["n_features"])
        needed = {"logreg": ["logreg.coef", "logreg.intercept"],
                  "svm": ["svm.support_vectors", "svm.dual_coef", "svm.intercept",
                          "svm.n_support", "svm.calibration_a", "svm.calibration_b"],
                  "rf": ["rf.offsets", "rf.left", "rf.right", "rf.feature", "rf.threshold",
                         "rf.value"],
                  "mlp": [f"mlp.{p}.{i}" for i in range(config.get("mlp", {}).get("n_layers", 0))
                          for p in ("coef", "intercept")]}[kind]
        if config.get("scaler"):
            needed += ["scaler.mean", "scaler.scale"]
        missing = [k for k in needed if k not in self.arrays]
        if missing:
            raise ModelFileError(f"head state ({kind}) lacks arrays {missing}")

    def __repr__(self):
        return f"SavedHead(kind={self.kind!r}, classes={self.classes_.tolist()!r})"

    def _input(self, X):
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ParameterError(f"{self.kind} head expects (n, {self.n_features_in_}) "
                                 f"embeddings. Got shape {X.shape} instead.")
        if not np.issubdtype(X.dtype, np.floating) or X.dtype.itemsize < 4:
            X = X.astype(np.float64)
        if not np.all(np.isfinite(X)):
            raise ParameterError(f"{self.kind} head: embeddings contain NaN or infinite values")
        X = np.array(X, copy=True)
        if self.config.get("scaler"):
            # as StandardScaler.transform: in place, in the input's dtype
            X -= self.arrays["scaler.mean"].astype(X.dtype)
            X /= self.arrays["scaler.scale"].astype(X.dtype)
        return X

    def decision_function(self, X):
        """Raw scores before the probability mapping (logreg / svm only)."""
        X = self._input(X)
        if self.kind == "logreg":
            return self._logreg_decision(X)
        if self.kind == "svm":
            return self._svm_decision(X)
        raise ParameterError(f"a {self.kind} head has no decision_function")

    def predict_proba(self, X):
        """Class probabilities, (n, n_classes) float64, columns in ``classes_`` order."""
        X = self._input(X)
        return getattr(self, f"_{self.kind}_proba")(X)

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    # logistic regression: LinearClassifierMixin.decision_function + LogisticRegression
    def _logreg_decision(self, X):
        coef = self.arrays["logreg.coef"]
        if self.config.get("logreg", {}).get("coef_order") == "F":
            coef = np.asfortranarray(coef)
        scores = X @ coef.T + self.arrays["logreg.intercept"]
        return scores.reshape(-1) if scores.shape[1] == 1 else scores

    def _logreg_proba(self, X):
        d = self._logreg_decision(X)
        if d.ndim == 1:
            p = expit(d, out=d)
            return np.stack([1 - p, p], axis=1)
        d -= d.max(axis=1).reshape(-1, 1)
        np.exp(d, out=d)
        d /= d.sum(axis=1).reshape(-1, 1)
        return d

    # RBF SVC (libsvm one-vs-one decision values, sklearn's ovr transform) + sigmoid calibrators
    def _svm_decision(self, X):
        a = self.arrays
        sv, coef, n_support = a["svm.support_vectors"], a["svm.dual_coef"], a["svm.n_support"]
        k = np.exp(-self.config["svm"]["gamma"] *
                   cdist(X.astype(np.float64), sv, "sqeuclidean"))
        starts = np.concatenate([[0], np.cumsum(n_support)])
        n_classes = len(n_support)
        dec = np.empty((len(X), n_classes * (n_classes - 1) // 2))
        p = 0
        for i in range(n_classes):
            for j in range(i + 1, n_classes):
                si, sj = slice(starts[i], starts[i + 1]), slice(starts[j], starts[j + 1])
                terms = np.concatenate([coef[j - 1, si] * k[:, si], coef[i, sj] * k[:, sj]],
                                       axis=1)
                # libsvm adds the terms one by one, in this order
                dec[:, p] = np.cumsum(terms, axis=1)[:, -1] + a["svm.intercept"][p]
                p += 1
        if n_classes == 2:
            return dec[:, 0]
        votes = np.zeros((len(X), n_classes))
        confidence = np.zeros((len(X), n_classes))
        p = 0
        for i in range(n_classes):
            for j in range(i + 1, n_classes):
                confidence[:, i] += dec[:, p]
                confidence[:, j] -= dec[:, p]
                votes[dec[:, p] >= 0, i] += 1
                votes[dec[:, p] < 0, j] += 1
                p += 1
        return votes + confidence / (3 * (np.abs(confidence) + 1))

    def _svm_proba(self, X):
        d = self._svm_decision(X)
        d = d.reshape(len(X), -1)
        a, b = self.arrays["svm.calibration_a"], self.arrays["svm.calibration_b"]
        n_classes = len(self.classes_)
        proba = np.zeros((len(X), n_classes))
        if n_classes == 2:
            proba[:, 1] = expit(-(a[0] * d[:, 0] + b[0]))
            proba[:, 0] = 1.0 - proba[:, 1]
        else:
            for c in range(n_classes):
                proba[:, c] = expit(-(a[c] * d[:, c] + b[c]))
            denominator = proba.sum(axis=1)[:, None]
            uniform = np.full_like(proba, 1 / n_classes)
            proba = np.divide(proba, denominator, out=uniform, where=denominator != 0)
        proba[(1.0 < proba) & (proba <= 1.0 + 1e-5)] = 1.0
        return proba

    # random forest: each tree's leaf values (already class fractions), summed in tree order
    def _rf_proba(self, X):
        a = self.arrays
        X32 = X.astype(np.float32)
        offsets = a["rf.offsets"]
        n_classes = len(self.classes_)
        total = np.zeros((len(X), n_classes))
        rows = np.arange(len(X))
        for t in range(len(offsets) - 1):
            lo = offsets[t]
            node = np.zeros(len(X), np.int64)
            while True:
                g = node + lo
                left = a["rf.left"][g]
                active = left != -1
                if not active.any():
                    break
                value = X32[rows, np.where(active, a["rf.feature"][g], 0)]
                # float32 input against float64 thresholds, as sklearn's tree code compares
                go_left = value <= a["rf.threshold"][g]
                node = np.where(active, np.where(go_left, left, a["rf.right"][g]), node)
            total += a["rf.value"][node + lo, :n_classes]
        total /= len(offsets) - 1
        return total

    # MLP: MLPClassifier._forward_pass_fast
    def _mlp_proba(self, X):
        m = self.config["mlp"]
        act = X
        n = m["n_layers"]
        for i in range(n):
            act = act @ self.arrays[f"mlp.coef.{i}"]
            act += self.arrays[f"mlp.intercept.{i}"]
            if i != n - 1:
                _HIDDEN[m["activation"]](act)
        if m["out_activation"] == "softmax":
            tmp = act - act.max(axis=1)[:, None]
            np.exp(tmp, out=act)
            act /= act.sum(axis=1)[:, None]
            return act
        if m["out_activation"] == "logistic":
            expit(act, out=act)
            y = act.ravel()
            return np.vstack([1 - y, y]).T
        raise ModelFileError(f"MLP head with unknown output activation {m['out_activation']!r}")
