"""Novelty scorers: fitted on the embeddings of normal windows only, they give every window an
anomaly score (higher: less like the normal windows).

Every scorer first standardises each embedding dimension with the mean and standard deviation
of its training windows (a dimension that never varies is left unscaled), then:

==================  ===========================================================================
``knn``             mean Euclidean distance to the ``n_neighbors`` nearest training windows,
                    on standardised embeddings, L2-normalised too with ``l2_normalize`` (the
                    strong simple baseline of the open-set literature, Sun et al. 2022, uses
                    unit-length deep features). Stores every training window.
``mahalanobis``     squared Mahalanobis distance to the training mean, with a Ledoit-Wolf
                    shrunk covariance (one Gaussian; stores the mean and the precision matrix).
``gmm``             negative log-likelihood under a Gaussian mixture (``n_components``,
                    ``covariance`` 'diag' or 'full'); stores weights, means and covariances and
                    scores with its own NumPy log-likelihood.
``iforest``         isolation forest (Liu et al. 2008): the negated score of
                    :meth:`sklearn.ensemble.IsolationForest.score_samples`, from its trees
                    stored as plain arrays.
``autoencoder``     mean squared reconstruction error of stacked log-mel frames by a small
                    dense autoencoder (the DCASE Task 2 baseline's design); its windows come
                    from :class:`LogMelFrames` (``embedder='logmel'``).
==================  ===========================================================================

None is stored with pickle: :meth:`NoveltyScorer.get_state` returns a JSON-able config and
plain arrays, and :func:`scorer_from_state` rebuilds the scorer from them.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> scorer = make_scorer("knn", n_neighbors=3).fit(rng.normal(size=(200, 4)))
>>> normal, odd = scorer.score(np.zeros((1, 4))), scorer.score(np.full((1, 4), 6.0))
>>> bool(odd[0] > normal[0])
True
"""

import numpy as np

from .._validation import check_choice, check_number
from ..errors import ModelFileError, ParameterError

__all__ = ["NoveltyScorer", "KNNScorer", "MahalanobisScorer", "GMMScorer", "IForestScorer",
           "AutoencoderScorer", "LogMelFrames", "SCORERS", "make_scorer", "scorer_from_state"]

#: Rows scored at a time (bounds the memory of the distance matrices).
_CHUNK = 1024


def _check_matrix(X, owner, *, dim=None):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ParameterError(f"{owner}: embeddings must be a 2-D array (n_windows, dim) with at "
                             f"least one row. Got shape {X.shape} instead.")
    if dim is not None and X.shape[1] != dim:
        raise ParameterError(f"{owner}: embeddings must have {dim} dimensions (as in fitting). "
                             f"Got {X.shape[1]} instead.")
    if not np.all(np.isfinite(X)):
        raise ParameterError(f"{owner}: embeddings contain NaN or infinite values.")
    return X


class NoveltyScorer:
    """The interface: ``fit(X)`` on normal embeddings, ``score(X)`` -> anomaly scores,
    ``get_state()`` / :func:`scorer_from_state` for the model file."""

    method = ""

    def _params(self):
        return {}

    def __repr__(self):
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in
                                                     self._params().items()) + ")"

    def _check_fitted(self):
        if not hasattr(self, "mean_"):
            from ..errors import NotFittedError
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet: call fit(X).")

    def _standardise_fit(self, X):
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        # a dimension that never varies carries no information; leave it unscaled
        self.scale_ = np.where(std > 1e-12 * max(1.0, float(np.abs(X).max())), std, 1.0)
        return self._standardise(X)

    def _standardise(self, X):
        return (X - self.mean_) / self.scale_

    def fit(self, X, *, seed=0):
        """Fit on normal embeddings (n_windows, dim); returns self."""
        X = _check_matrix(X, f"{type(self).__name__}.fit")
        if len(X) < 2:
            raise ParameterError(f"{type(self).__name__}.fit needs at least 2 normal windows. "
                                 f"Got {len(X)} instead.")
        self._fit(self._standardise_fit(X), seed=seed)
        self.n_features_in_ = X.shape[1]
        self.n_train_ = int(len(X))
        return self

    def score(self, X):
        """Anomaly scores (n,) float64 of embeddings (n, dim): higher is more anomalous."""
        self._check_fitted()
        X = _check_matrix(X, f"{type(self).__name__}.score", dim=self.n_features_in_)
        Z = self._standardise(X)
        return np.concatenate([self._score(Z[i:i + _CHUNK]) for i in range(0, len(Z), _CHUNK)])

    def get_state(self):
        """(config, arrays): the method, its parameters and the fitted arrays (no pickle)."""
        self._check_fitted()
        arrays = {"mean": self.mean_, "scale": self.scale_, **self._arrays()}
        return ({"method": self.method, "params": self._params(),
                 "n_features": int(self.n_features_in_), "n_train": int(self.n_train_)},
                {k: np.ascontiguousarray(v) for k, v in arrays.items()})

    def _set_state(self, arrays):
        raise NotImplementedError


class KNNScorer(NoveltyScorer):
    """Mean distance to the ``n_neighbors`` nearest normal windows (standardised; L2-normalised
    with ``l2_normalize``)."""

    method = "knn"

    def __init__(self, *, n_neighbors=5, l2_normalize=False):
        check_number(n_neighbors, "n_neighbors", "KNNScorer", low=1, high=1000, closed="both",
                     integer=True)
        check_choice(l2_normalize, "l2_normalize", "KNNScorer", (True, False))
        self.n_neighbors = n_neighbors
        self.l2_normalize = l2_normalize

    def _params(self):
        return {"n_neighbors": self.n_neighbors, "l2_normalize": self.l2_normalize}

    def _unit(self, Z):
        if not self.l2_normalize:
            return Z
        return Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)

    def _fit(self, Z, *, seed):
        self.reference_ = self._unit(Z)

    def _arrays(self):
        return {"reference": self.reference_}

    def _set_state(self, arrays):
        self.reference_ = np.asarray(arrays["reference"], np.float64)

    def _score(self, Z):
        U = self._unit(Z)
        R = self.reference_
        # |u|^2 + |r|^2 - 2 u.r, one chunk of rows at a time
        d2 = np.maximum((U * U).sum(1)[:, None] + (R * R).sum(1)[None, :] - 2.0 * U @ R.T, 0.0)
        k = min(self.n_neighbors, R.shape[0])
        nearest = np.partition(d2, k - 1, axis=1)[:, :k]
        return np.sqrt(nearest).mean(axis=1)


class MahalanobisScorer(NoveltyScorer):
    """Squared Mahalanobis distance with a Ledoit-Wolf shrunk covariance."""

    method = "mahalanobis"

    def _fit(self, Z, *, seed):
        from sklearn.covariance import LedoitWolf  # slow import: lazy
        lw = LedoitWolf().fit(Z)
        self.location_ = lw.location_
        self.precision_ = lw.precision_
        self.shrinkage_ = float(lw.shrinkage_)

    def _arrays(self):
        return {"location": self.location_, "precision": self.precision_}

    def _set_state(self, arrays):
        self.location_ = np.asarray(arrays["location"], np.float64)
        self.precision_ = np.asarray(arrays["precision"], np.float64)

    def _score(self, Z):
        D = Z - self.location_
        return np.einsum("ij,jk,ik->i", D, self.precision_, D)


class GMMScorer(NoveltyScorer):
    """Negative log-likelihood under a Gaussian mixture fitted on normal windows."""

    method = "gmm"

    def __init__(self, *, n_components=4, covariance="diag"):
        check_number(n_components, "n_components", "GMMScorer", low=1, high=256,
                     closed="both", integer=True)
        check_choice(covariance, "covariance", "GMMScorer", ("diag", "full"))
        self.n_components = n_components
        self.covariance = covariance

    def _params(self):
        return {"n_components": self.n_components, "covariance": self.covariance}

    def _fit(self, Z, *, seed):
        from sklearn.mixture import GaussianMixture  # slow import: lazy
        k = min(self.n_components, len(Z))
        gm = GaussianMixture(n_components=k, covariance_type=self.covariance, reg_covar=1e-3,
                             random_state=seed).fit(Z)
        self.weights_, self.means_, self.covariances_ = gm.weights_, gm.means_, gm.covariances_

    def _arrays(self):
        return {"weights": self.weights_, "means": self.means_,
                "covariances": self.covariances_}

    def _set_state(self, arrays):
        self.weights_ = np.asarray(arrays["weights"], np.float64)
        self.means_ = np.asarray(arrays["means"], np.float64)
        self.covariances_ = np.asarray(arrays["covariances"], np.float64)
        want = (len(self.means_), self.means_.shape[1]) + \
            ((self.means_.shape[1],) if self.covariance == "full" else ())
        if self.covariances_.shape != want or self.weights_.shape != (len(self.means_),):
            raise ModelFileError(f"gmm scorer: covariances of shape {self.covariances_.shape} "
                                 f"and weights {self.weights_.shape} do not fit means "
                                 f"{self.means_.shape} ({self.covariance})")

    def log_likelihood(self, Z):
        """Log-likelihood (n,) of standardised embeddings under the mixture."""
        d = Z.shape[1]
        per = np.empty((len(Z), len(self.weights_)))
        for c, (w, mu, cov) in enumerate(zip(self.weights_, self.means_, self.covariances_)):
            D = Z - mu
            if self.covariance == "diag":
                maha = (D * D / cov).sum(axis=1)
                logdet = np.log(cov).sum()
            else:
                L = np.linalg.cholesky(cov)
                sol = np.linalg.solve(L, D.T)
                maha = (sol * sol).sum(axis=0)
                logdet = 2.0 * np.log(np.diag(L)).sum()
            per[:, c] = np.log(w) - 0.5 * (d * np.log(2 * np.pi) + logdet + maha)
        top = per.max(axis=1, keepdims=True)
        return (top + np.log(np.exp(per - top).sum(axis=1, keepdims=True)))[:, 0]

    def _score(self, Z):
        return -self.log_likelihood(Z)


def _average_path_length(n):
    """The mean path length of an unsuccessful search in a binary search tree of ``n`` nodes
    (the depth an isolation tree's leaf of ``n`` samples stands for)."""
    n = np.asarray(n, np.float64)
    out = np.zeros_like(n)
    out[n == 2] = 1.0
    big = n > 2
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


class IForestScorer(NoveltyScorer):
    """Isolation forest; its trees are stored as arrays (one node table for all trees)."""

    method = "iforest"

    def __init__(self, *, n_trees=100):
        check_number(n_trees, "n_trees", "IForestScorer", low=1, high=10000, closed="both",
                     integer=True)
        self.n_trees = n_trees

    def _params(self):
        return {"n_trees": self.n_trees}

    def _fit(self, Z, *, seed):
        from sklearn.ensemble import IsolationForest  # slow import: lazy
        forest = IsolationForest(n_estimators=self.n_trees, random_state=seed).fit(Z)
        self._from_forest(forest)

    def _from_forest(self, forest):
        """Copy a fitted :class:`sklearn.ensemble.IsolationForest` into arrays: per node its
        children (-1 for a leaf, indices inside its tree), the feature (of the whole
        embedding) and threshold it splits on, and the depth a sample ending there scores."""
        left, right, feature, threshold, leaf_depth, offsets = [], [], [], [], [], [0]
        for tree, features in zip(forest.estimators_, forest.estimators_features_):
            t = tree.tree_
            depth = np.zeros(t.node_count)
            depth[0] = 1.0          # sklearn counts the root as depth 1
            for node in range(t.node_count):        # children come after their parent
                for child in (t.children_left[node], t.children_right[node]):
                    if child != -1:
                        depth[child] = depth[node] + 1.0
            left.append(t.children_left)
            right.append(t.children_right)
            feature.append(np.where(t.feature >= 0, np.asarray(features)[np.maximum(t.feature,
                                                                                    0)], -1))
            threshold.append(t.threshold)
            leaf_depth.append(depth + _average_path_length(t.n_node_samples) - 1.0)
            offsets.append(offsets[-1] + t.node_count)
        self.offsets_ = np.asarray(offsets, np.int64)
        self.left_ = np.concatenate(left).astype(np.int64)
        self.right_ = np.concatenate(right).astype(np.int64)
        self.feature_ = np.concatenate(feature).astype(np.int64)
        self.threshold_ = np.concatenate(threshold).astype(np.float64)
        self.leaf_depth_ = np.concatenate(leaf_depth).astype(np.float64)
        self.max_samples_ = int(forest.max_samples_)

    def _arrays(self):
        return {"offsets": self.offsets_, "left": self.left_, "right": self.right_,
                "feature": self.feature_, "threshold": self.threshold_,
                "leaf_depth": self.leaf_depth_,
                "max_samples": np.asarray([self.max_samples_], np.int64)}

    def _set_state(self, arrays):
        for name in ("offsets", "left", "right", "feature"):
            setattr(self, name + "_", np.asarray(arrays[name], np.int64))
        self.threshold_ = np.asarray(arrays["threshold"], np.float64)
        self.leaf_depth_ = np.asarray(arrays["leaf_depth"], np.float64)
        self.max_samples_ = int(np.asarray(arrays["max_samples"]).reshape(-1)[0])
        n = len(self.left_)
        sizes = np.diff(self.offsets_)
        if (len(self.offsets_) < 2 or self.offsets_[0] != 0 or self.offsets_[-1] != n
                or np.any(sizes < 1) or not all(len(a) == n for a in (
                    self.right_, self.feature_, self.threshold_, self.leaf_depth_))):
            raise ModelFileError("iforest scorer: the node tables do not add up")
        local = np.arange(n) - np.repeat(self.offsets_[:-1], sizes)
        inner = self.left_ != -1
        size = np.repeat(sizes, sizes)
        for child in (self.left_, self.right_):
            # children after their parent, inside their tree: every walk ends
            if np.any(child[inner] <= local[inner]) or np.any(child[inner] >= size[inner]):
                raise ModelFileError("iforest scorer: a child index points outside its tree")
        if np.any(self.right_[~inner] != -1) or np.any(self.feature_[inner] < 0):
            raise ModelFileError("iforest scorer: a node has one child or no split feature")

    def _score(self, Z):
        # trees compare float32 samples with float64 thresholds, as sklearn's trees do
        X = Z.astype(np.float32).astype(np.float64)
        if np.any(self.feature_ >= X.shape[1]):
            raise ModelFileError("iforest scorer: a split on a feature beyond the embedding")
        rows = np.arange(len(X))
        total = np.zeros(len(X))
        for start in self.offsets_[:-1]:
            node = np.zeros(len(X), np.int64)
            while True:
                g = start + node
                inner = self.left_[g] != -1
                if not inner.any():
                    break
                gi = g[inner]
                go_left = X[rows[inner], self.feature_[gi]] <= self.threshold_[gi]
                node[inner] = np.where(go_left, self.left_[gi], self.right_[gi])
            total += self.leaf_depth_[start + node]
        c = _average_path_length([self.max_samples_])[0] * (len(self.offsets_) - 1)
        return 2.0 ** -(total / c) if c > 0 else np.ones(len(X))


class AutoencoderScorer(NoveltyScorer):
    """Reconstruction error of a small dense autoencoder on stacked log-mel frames (the DCASE
    2020-2023 Task 2 baseline's design).

    Its windows are :class:`LogMelFrames` embeddings, a window's log-mel spectrogram flattened
    (``n_mels`` x frames). Every ``context`` consecutive frames form one input vector
    (``context * n_mels``), encoded through ``hidden`` units (three layers, ReLU) to a
    ``bottleneck`` and decoded back; a window's score is the mean squared reconstruction error
    of its frame stacks (on standardised log-mel values). Trained with Adam (``epochs``, batch
    256, learning rate 1e-3) on the normal windows; the weights are stored as arrays and
    scoring is plain NumPy.
    """

    method = "autoencoder"

    def __init__(self, *, n_mels=64, context=5, hidden=128, bottleneck=8, epochs=30):
        for name, value, high in (("n_mels", n_mels, 512), ("context", context, 64),
                                  ("hidden", hidden, 4096), ("bottleneck", bottleneck, 1024),
                                  ("epochs", epochs, 10000)):
            check_number(value, name, "AutoencoderScorer", low=1, high=high, closed="both",
                         integer=True)
        self.n_mels, self.context, self.hidden = n_mels, context, hidden
        self.bottleneck, self.epochs = bottleneck, epochs

    def _params(self):
        return {"n_mels": self.n_mels, "context": self.context, "hidden": self.hidden,
                "bottleneck": self.bottleneck, "epochs": self.epochs}

    @property
    def sizes(self):
        d = self.context * self.n_mels
        h, b = self.hidden, self.bottleneck
        return [d, h, h, h, b, h, h, h, d]

    def _stacks(self, Z):
        """(n_windows, n_stacks, context * n_mels) from flattened (n_mels, frames) windows."""
        n, dim = Z.shape
        if dim % self.n_mels:
            raise ParameterError(f"AutoencoderScorer: windows of {dim} values are not "
                                 f"{self.n_mels} mel bands times a number of frames")
        frames = dim // self.n_mels
        if frames < self.context:
            raise ParameterError(f"AutoencoderScorer: {frames} frames per window, fewer than "
                                 f"the context of {self.context}")
        spec = Z.reshape(n, self.n_mels, frames)
        idx = np.arange(frames - self.context + 1)[:, None] + np.arange(self.context)[None, :]
        # (n, stacks, mels, context) -> frames first within a stack, as the baseline stacks
        return spec[:, :, idx].transpose(0, 2, 3, 1).reshape(n, len(idx), -1)

    def _fit(self, Z, *, seed):
        import torch

        from .embeddings.base import torch_threads

        X = torch.as_tensor(self._stacks(Z).reshape(-1, self.sizes[0]), dtype=torch.float32)
        gen = torch.Generator().manual_seed(int(seed))
        torch.manual_seed(int(seed))
        layers = []
        for i, (a, b) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            layers.append(torch.nn.Linear(a, b))
            if i < len(self.sizes) - 2:
                layers.append(torch.nn.ReLU())
        net = torch.nn.Sequential(*layers)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        # a net this small is slowed down by more threads (measured 15x on 2 busy cores)
        with torch_threads(1):
            for _ in range(self.epochs):
                order = torch.randperm(len(X), generator=gen)
                for i in range(0, len(X), 256):
                    batch = X[order[i:i + 256]]
                    opt.zero_grad()
                    loss = torch.nn.functional.mse_loss(net(batch), batch)
                    loss.backward()
                    opt.step()
        linear = [m for m in net if isinstance(m, torch.nn.Linear)]
        self.weights_ = [m.weight.detach().numpy().T.astype(np.float64) for m in linear]
        self.biases_ = [m.bias.detach().numpy().astype(np.float64) for m in linear]

    def _arrays(self):
        out = {}
        for i, (w, b) in enumerate(zip(self.weights_, self.biases_)):
            out[f"w{i}"], out[f"b{i}"] = w, b
        return out

    def _set_state(self, arrays):
        n = len(self.sizes) - 1
        self.weights_ = [np.asarray(arrays[f"w{i}"], np.float64) for i in range(n)]
        self.biases_ = [np.asarray(arrays[f"b{i}"], np.float64) for i in range(n)]
        for i, (w, b) in enumerate(zip(self.weights_, self.biases_)):
            if w.shape != (self.sizes[i], self.sizes[i + 1]) or b.shape != (self.sizes[i + 1],):
                raise ModelFileError(f"autoencoder scorer: layer {i} has shape {w.shape}; the "
                                     f"config implies {(self.sizes[i], self.sizes[i + 1])}")

    def reconstruct(self, X):
        """The autoencoder's output for input vectors (m, context * n_mels)."""
        h = X
        for i, (w, b) in enumerate(zip(self.weights_, self.biases_)):
            h = h @ w + b
            if i < len(self.weights_) - 1:
                h = np.maximum(h, 0.0)
        return h

    def _score(self, Z):
        stacks = self._stacks(Z)
        flat = stacks.reshape(-1, stacks.shape[-1])
        err = ((self.reconstruct(flat) - flat) ** 2).mean(axis=1)
        return err.reshape(len(Z), -1).mean(axis=1)


class LogMelFrames:
    """The autoencoder's front end as an embedder: a window's log-mel spectrogram (dB, 16 kHz,
    1024-point FFT, hop 512, ``n_mels`` bands), flattened to ``n_mels * frames`` values, 1-s
    windows every 0.5 s (the DCASE Task 2 baseline's features, with 64 bands).

    Examples
    --------
    >>> emb = LogMelFrames()
    >>> emb.embed(np.zeros((2, 16000), np.float32)).shape
    (2, 2048)
    """

    name = "logmel"
    licence = "MIT (computed by earmark; no pretrained weights)"
    sample_rate = 16000
    window_s = 1.0
    hop_s = 0.5

    def __init__(self, *, n_mels=64):
        from ..config import FeatureConfig
        from ..features import FeatureExtractor

        self.n_mels = n_mels
        self.features = FeatureConfig(sample_rate=self.sample_rate, n_fft=1024, hop_length=512,
                                      n_mels=n_mels, top_db=80.0, window_s=self.window_s,
                                      hop_s=self.hop_s, normalize="none")
        self._fx = FeatureExtractor(self.features).eval()
        self.frames = self._log_mel(np.zeros((1, self.window_samples), np.float32)).shape[-1]
        self.dim = n_mels * self.frames

    @property
    def window_samples(self):
        return int(round(self.window_s * self.sample_rate))

    def settings(self):
        return {"name": self.name, "sample_rate": self.sample_rate, "window_s": self.window_s,
                "hop_s": self.hop_s, "dim": self.dim, "licence": self.licence,
                "features": self.features.to_dict()}

    def _log_mel(self, x):
        import torch
        with torch.inference_mode():
            return self._fx(torch.from_numpy(np.ascontiguousarray(x, np.float32)))[:, 0].numpy()

    def embed(self, windows, *, batch_size=256, progress=False):
        x = np.asarray(windows, np.float32)
        if x.ndim != 2 or not np.all(np.isfinite(x)):
            raise ParameterError("LogMelFrames.embed: windows must be a finite (n, samples) "
                                 f"array. Got shape {x.shape} instead.")
        out = np.empty((len(x), self.dim), np.float32)
        for s in range(0, len(x), batch_size):
            part = x[s:s + batch_size]
            if part.shape[1] != self.window_samples:     # every window gives the same frames
                fixed = np.zeros((len(part), self.window_samples), np.float32)
                fixed[:, :min(part.shape[1], self.window_samples)] = \
                    part[:, :self.window_samples]
                part = fixed
            out[s:s + batch_size] = self._log_mel(part).reshape(len(part), -1)
        return out


#: method name -> scorer class.
SCORERS = {"knn": KNNScorer, "mahalanobis": MahalanobisScorer, "gmm": GMMScorer,
           "iforest": IForestScorer, "autoencoder": AutoencoderScorer}


def make_scorer(method, **params):
    """A new scorer of ``method`` ('knn', 'mahalanobis', 'gmm', 'iforest', 'autoencoder') with
    ``params``
    (those it does not take are ignored)."""
    check_choice(method, "method", "make_scorer", tuple(SCORERS))
    cls = SCORERS[method]
    import inspect
    takes = set(inspect.signature(cls.__init__).parameters) - {"self"}
    return cls(**{k: v for k, v in params.items() if k in takes})


def scorer_from_state(config, arrays):
    """Rebuild a scorer from :meth:`NoveltyScorer.get_state` output.

    Raises
    ------
    ModelFileError
        Unknown method, bad parameters, or arrays that do not fit.
    """
    try:
        method = config["method"]
        if method not in SCORERS:
            raise ModelFileError(f"novelty scorer method {method!r} is not known to this "
                                 f"earmark (known: {', '.join(SCORERS)})")
        scorer = make_scorer(method, **dict(config.get("params", {})))
        scorer.mean_ = np.asarray(arrays["mean"], np.float64)
        scorer.scale_ = np.asarray(arrays["scale"], np.float64)
        scorer.n_features_in_ = int(config["n_features"])
        scorer.n_train_ = int(config.get("n_train", 0))
        if scorer.mean_.shape != (scorer.n_features_in_,) or \
                scorer.scale_.shape != (scorer.n_features_in_,) or np.any(scorer.scale_ <= 0):
            raise ModelFileError("novelty scorer: 'mean'/'scale' do not fit n_features or "
                                 "scale is not positive")
        scorer._set_state(arrays)
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, ParameterError) as exc:
        raise ModelFileError(f"damaged novelty scorer ({type(exc).__name__}: {exc})") from None
    return scorer
