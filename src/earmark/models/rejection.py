"""Rejection scores of a classifier's window model: how unlike every known class an input is.

A closed-set classifier always answers one of its classes. Open-set classification adds a
*rejection score* (higher: less like any class the model knows) and a threshold above which the
answer is 'unknown' (:class:`Rejector`, used by :class:`~earmark.SoundClassifier` with
``unknown=``). Three scores, from what the window model computes anyway:

``maxprob``
    One minus the largest class probability of the clip (the maximum-softmax-probability
    baseline, Hendrycks & Gimpel 2017), from the clip's aggregated probabilities.
``energy``
    ``-logsumexp(logits)`` of each window (Liu et al. 2020), averaged over the clip's windows.
    Needs real logits: a CNN's last layer, or the decision function of a 'logreg' head. Heads
    that give only probabilities ('svm', 'rf', 'mlp') cannot have it: log-probabilities are
    logits up to a constant *per input*, ``log p = z - logsumexp(z)``, so the energy of
    log-probabilities is ``-log(sum p) = 0`` for every input and ranks nothing.
``knn``
    The mean distance of each window's embedding to its ``n_neighbors`` nearest training
    windows (Sun et al. 2022), averaged over the clip's windows, on embeddings scaled to unit
    length. For a CNN the embedding is the input of its last linear layer (the penultimate
    activations, as Sun et al.: measured on drums, standardising them first lowered the AUROC
    from 0.75 to 0.72); for an embedding recipe, the embedder's window embedding, standardised
    with the training windows' statistics first (its dimensions have unrelated scales).

The threshold is set on held-out known-class clips (never trained on) from a target
known-class recall; the held-out scores are stored, so the target changes without refitting
(:meth:`Rejector.set_unknown`). Everything is plain JSON and arrays in the model file.
"""

import math
import re

import numpy as np

from ..errors import ModelFileError, ParameterError
from ..tasks.classification import UNKNOWN_LABEL

__all__ = ["REJECTION_SCORES", "UNKNOWN_LABEL", "Rejector", "RejectingWindowModel",
           "window_outputs", "clip_window_outputs", "parse_unknown", "clip_rejection_scores"]

#: The rejection scores :class:`Rejector` knows.
REJECTION_SCORES = ("maxprob", "energy", "knn")
#: Training windows kept as the kNN reference (a seeded sample of them beyond this).
MAX_REFERENCE = 20000
#: Neighbours averaged by the 'knn' score.
KNN_NEIGHBORS = 5


def parse_unknown(value, *, owner="SoundClassifier"):
    """The fraction of known-class clips the rejection may turn away, from ``'5%'`` or a
    float in (0, 0.5] (``'5%'``: a target known-class recall of 95 %).

    Examples
    --------
    >>> parse_unknown("5%"), parse_unknown(0.1)
    (0.05, 0.1)
    """
    bad = ParameterError(f"The 'unknown' parameter of {owner} must be the share of known-class "
                         f"clips that may be rejected, such as '5%' or a fraction in (0, 0.5]. "
                         f"Got {value!r} instead.")
    if isinstance(value, str):
        m = re.fullmatch(r"([0-9]*\.?[0-9]+)%", value.strip().replace(" ", ""))
        if not m or not 0 < float(m.group(1)) <= 50:
            raise bad
        return float(m.group(1)) / 100
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or \
            not math.isfinite(value) or not 0 < value <= 0.5:
        raise bad
    return float(value)


def _last_linear(net):
    import torch
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    if not linears:
        raise ParameterError("this network has no linear output layer to read logits and "
                             "penultimate activations from")
    return linears[-1]


def _neural_outputs(model, windows, batch=64):
    """Probabilities, logits and penultimate activations of a NeuralWindowModel."""
    import torch

    net = model._inference_net or model.net
    net.eval()
    last = _last_linear(net)
    seen = {}

    def hook(module, inputs, output):
        seen["embedding"] = inputs[0].detach()

    handle = last.register_forward_hook(hook)
    probs, logits, embs = [], [], []
    try:
        with torch.inference_mode():
            for i in range(0, len(windows), batch):
                x = model.featurize(torch.from_numpy(windows[i:i + batch]).to(model.device))
                if model.device.type == "cpu":
                    x = x.contiguous(memory_format=torch.channels_last)
                z = net(x)
                probs.append(torch.softmax(z, dim=1).float().cpu().numpy())
                logits.append(z.float().cpu().numpy())
                embs.append(seen.pop("embedding").flatten(1).float().cpu().numpy())
    finally:
        handle.remove()
    return np.concatenate(probs), np.concatenate(logits), np.concatenate(embs)


def _head_logits(model, emb):
    """Logits (n, n_classes) of a 'logreg' head; None for heads without them."""
    head = model.head_
    if head.kind != "logreg":
        return None
    d = np.asarray(head.decision_function(np.asarray(emb, np.float32)), np.float64)
    if d.ndim == 1:            # binary: P(class 1) = sigmoid(d) = softmax([0, d])
        d = np.stack([np.zeros_like(d), d], axis=1)
    # a class missing from the training data has probability 0: logit -inf, i.e. left out
    out = np.full((len(d), model.n_classes), -np.inf)
    out[:, head.classes_.astype(np.int64)] = d
    return out


def window_outputs(model, windows):
    """``(probabilities, logits, embeddings)`` of waveform windows (n, window_samples) under a
    classifier's window model: a CNN (NeuralWindowModel, softmax) or an embedding recipe
    (EmbeddingWindowModel); ``logits`` is None for a head without them.

    Raises
    ------
    ParameterError
        A model of another kind (tagging, frames).
    """
    from .embedded import EmbeddingWindowModel
    from .neural import NeuralWindowModel

    windows = np.asarray(windows, np.float32)
    if isinstance(model, NeuralWindowModel) and model.activation == "softmax":
        if not len(windows):
            return (np.zeros((0, model.n_classes), np.float32),) * 2 + (None,)
        return _neural_outputs(model, windows)
    if isinstance(model, EmbeddingWindowModel) and model.task == "classification":
        model._check_fitted()
        emb = model.embedder.embed(windows) if len(windows) else \
            np.zeros((0, model.embedder.dim), np.float32)
        return model._proba(emb), _head_logits(model, emb), np.asarray(emb, np.float32)
    raise ParameterError(f"rejection scores need a single-label classifier's window model; got "
                         f"{type(model).__name__}")


def clip_window_outputs(model, clips, *, chunk_windows=2048):
    """Per decoded clip (1-D, model rate), its windows' ``(probabilities, logits,
    embeddings)`` (:func:`window_outputs`; ``logits`` None without them), scored in chunks of
    about ``chunk_windows`` windows."""
    from ..windows import frame_windows

    fc = model.features
    out, pending, n = [], [], 0

    def flush():
        if not pending:
            return
        p, z, e = window_outputs(model, np.concatenate(pending))
        bounds = np.cumsum([0] + [len(w) for w in pending])
        for a, b in zip(bounds[:-1], bounds[1:]):
            out.append((p[a:b], None if z is None else z[a:b], e[a:b]))
        pending.clear()

    for clip in clips:
        w, _ = frame_windows(np.asarray(clip, np.float32), fc.window_samples, fc.hop_samples)
        pending.append(w)
        n += len(w)
        if n >= chunk_windows:
            flush()
            n = 0
    flush()
    return out


class RejectingWindowModel:
    """A classifier's window model whose window scores carry one more column: each window's
    rejection value (:meth:`Rejector.window_values`), as
    :class:`~earmark.tasks.classification.OpenSetClassificationTask` takes them. Has the window
    model interface (``features``, ``score_windows``), so the prediction of files and long
    recordings (:mod:`earmark.predict`) runs it as any model."""

    def __init__(self, model, rejector):
        self.model, self.rejector, self.features = model, rejector, model.features

    def score_windows(self, windows):
        p, z, e = window_outputs(self.model, windows)
        if not len(p):
            return np.zeros((0, p.shape[1] + 1), np.float32)
        return np.column_stack([p, self.rejector.window_values(p, z, e)])


def _energy(logits):
    z = np.asarray(logits, np.float64)
    m = np.max(z, axis=1, keepdims=True)
    return -(m[:, 0] + np.log(np.sum(np.exp(z - m), axis=1)))


def clip_rejection_scores(window_values, probabilities, *, score):
    """A clip's rejection score: ``1 - max(probabilities)`` for 'maxprob' (its aggregated
    class probabilities), else the mean of its windows' values (energy or kNN distance).

    Examples
    --------
    >>> clip_rejection_scores([0.2, 0.4], [0.7, 0.3], score="maxprob")
    0.30000000000000004
    >>> clip_rejection_scores([0.2, 0.4], [0.7, 0.3], score="knn")
    0.30000000000000004
    """
    if score == "maxprob":
        return float(1.0 - np.max(probabilities))
    return float(np.mean(window_values))


def _threshold(calibration, fraction):
    """The smallest held-out score t with at most ``fraction`` of the scores above t."""
    s = np.sort(np.asarray(calibration, np.float64))
    k = max(1, int(math.ceil(len(s) * (1.0 - fraction) - 1e-9)))
    return float(s[min(k, len(s)) - 1])


class Rejector:
    """A rejection score, its kNN reference and its threshold.

    Parameters
    ----------
    score : {'maxprob', 'energy', 'knn'}
    unknown : str or float
        The share of known-class clips that may be rejected ('5%': target known recall 95 %).
    n_neighbors : int
        Neighbours of 'knn'.

    Attributes
    ----------
    mean_, scale_, reference_ : np.ndarray
        'knn' only: the standardisation and the unit-length reference embeddings.
    calibration_scores_ : np.ndarray
        The held-out known-class clips' scores, sorted.
    threshold_ : float
        A clip whose score is above this is rejected.

    Examples
    --------
    >>> r = Rejector(score="maxprob", unknown="50%")
    >>> r.set_calibration([0.1, 0.2, 0.3, 0.4]).threshold_
    0.2
    >>> r.reject([0.15, 0.35]).tolist()
    [False, True]
    """

    def __init__(self, *, score="knn", unknown="5%", n_neighbors=KNN_NEIGHBORS):
        from .._validation import check_choice, check_number

        self.score = check_choice(score, "rejection", "SoundClassifier", REJECTION_SCORES)
        self.unknown = unknown
        self.fraction = parse_unknown(unknown)
        check_number(n_neighbors, "n_neighbors", "Rejector", low=1, high=1000, closed="both",
                     integer=True)
        self.n_neighbors = int(n_neighbors)

    # -- kNN reference ---------------------------------------------------------------------------
    def fit_reference(self, embeddings, *, standardize=True, seed=0):
        """Keep (a seeded sample of at most :data:`MAX_REFERENCE`) training window embeddings,
        standardised (with ``standardize``) and at unit length; returns self."""
        X = np.asarray(embeddings, np.float64)
        if X.ndim != 2 or len(X) < 1 or not np.all(np.isfinite(X)):
            raise ParameterError("the kNN reference needs finite training window embeddings")
        if len(X) > MAX_REFERENCE:
            X = X[np.sort(np.random.default_rng(seed).choice(len(X), MAX_REFERENCE,
                                                              replace=False))]
        if standardize:
            self.mean_ = X.mean(axis=0)
            sd = X.std(axis=0)
            self.scale_ = np.where(sd > 1e-8, sd, 1.0)
        else:
            self.mean_, self.scale_ = np.zeros(X.shape[1]), np.ones(X.shape[1])
        self.reference_ = self._unit(X).astype(np.float32)
        return self

    def _unit(self, X):
        Z = (np.asarray(X, np.float64) - self.mean_) / self.scale_
        return Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)

    def knn_distance(self, embeddings, *, chunk=2048):
        """Mean distance of each embedding to its nearest reference embeddings."""
        Z = self._unit(embeddings).astype(np.float32)
        ref = self.reference_
        k = min(self.n_neighbors, len(ref))
        out = np.empty(len(Z))
        for a in range(0, len(Z), chunk):
            # unit vectors: |a - b|^2 = 2 - 2 a.b
            d2 = np.maximum(2.0 - 2.0 * (Z[a:a + chunk] @ ref.T), 0.0)
            near = np.partition(d2, k - 1, axis=1)[:, :k]
            out[a:a + chunk] = np.sqrt(near).mean(axis=1)
        return out

    # -- window values -----------------------------------------------------------------------------
    def window_values(self, probabilities, logits, embeddings):
        """Per window, the quantity whose clip mean is the score: 1 - max probability, the
        energy, or the kNN distance."""
        if self.score == "maxprob":
            return 1.0 - np.max(probabilities, axis=1)
        if self.score == "energy":
            if logits is None:
                raise ParameterError("rejection='energy' needs the model's logits: a CNN, or "
                                     "an embedding recipe with a 'logreg' head; use 'maxprob' "
                                     "or 'knn' with this head")
            return _energy(logits)
        if not hasattr(self, "reference_"):
            raise ParameterError("rejection='knn' needs a reference: call fit_reference first")
        return self.knn_distance(embeddings)

    # -- the decision --------------------------------------------------------------------------
    def set_calibration(self, scores):
        """Store held-out known-class clip scores and set the threshold; returns self."""
        s = np.sort(np.asarray(scores, np.float64).reshape(-1))
        if not len(s) or not np.all(np.isfinite(s)):
            raise ParameterError("the rejection threshold needs finite scores of held-out "
                                 "known-class clips")
        self.calibration_scores_ = s
        return self.set_unknown(self.unknown)

    def set_unknown(self, unknown):
        """Another share of known-class clips that may be rejected: the threshold moves on the
        stored held-out scores, nothing is refitted. Returns self."""
        self.fraction = parse_unknown(unknown)
        self.unknown = unknown
        self.threshold_ = _threshold(self.calibration_scores_, self.fraction)
        return self

    def reject(self, scores):
        """True where a clip's score is above the threshold."""
        return np.asarray(scores, np.float64) > self.threshold_

    # -- the model file --------------------------------------------------------------------------
    def get_state(self):
        """(config, arrays): plain JSON and float arrays."""
        config = {"score": self.score, "unknown": self.unknown, "n_neighbors": self.n_neighbors,
                  "threshold": self.threshold_}
        arrays = {"calibration_scores": self.calibration_scores_}
        if self.score == "knn":
            arrays.update(mean=self.mean_, scale=self.scale_, reference=self.reference_)
        return config, arrays

    @classmethod
    def from_state(cls, config, arrays):
        """Rebuild from :meth:`get_state`; ModelFileError for anything that does not fit."""
        try:
            r = cls(score=config["score"], unknown=config["unknown"],
                    n_neighbors=config.get("n_neighbors", KNN_NEIGHBORS))
            r.set_calibration(arrays["calibration_scores"])
            if r.score == "knn":
                r.mean_ = np.asarray(arrays["mean"], np.float64)
                r.scale_ = np.asarray(arrays["scale"], np.float64)
                r.reference_ = np.asarray(arrays["reference"], np.float32)
                d = len(r.mean_)
                if r.scale_.shape != (d,) or r.reference_.ndim != 2 or \
                        r.reference_.shape[1] != d or not len(r.reference_) or \
                        not np.all(r.scale_ > 0):
                    raise ValueError("the kNN reference's arrays do not agree")
        except (KeyError, TypeError, ValueError) as exc:      # ValueError: ParameterError too
            raise ModelFileError(f"damaged model file: field 'rejection': {exc}") from None
        return r
