"""A pretrained embedder plus a scikit-learn head: waveform windows in, window scores out.

The "score windows" side of the embedding recipes
(``SoundClassifier(recipe="embed:yamnet+logreg")``), with the same duck interface as :class:`~earmark.models.neural.NeuralWindowModel` (``features``,
``n_classes``, ``score_windows``, ``get_state`` / ``from_state``), so framing, aggregation,
prediction of long files and evaluation work unchanged. Its ``features`` carry the embedder's
natural sample rate, window and hop. Training embeds every analysis window of every training clip
(cached on disk by window content and embedder settings, so cross-validation folds and reruns
embed each clip once) and fits the head on window embeddings with window labels; clip scores are
the estimator's aggregation of window scores, as for the CNNs.

For tagging (``task='tagging'``) the head is one-vs-rest: one binary head per class, each tuned
by its own inner cross-validation for average precision, trained on window embeddings with the
clip's tags; a class that is on every training clip or on none gets a constant score. The
out-of-fold window scores of each class's best head (the same grouped inner folds) are
aggregated to clip scores, ``oof_clip_scores_``, from which the tagger tunes its thresholds.

Recipes
-------
``"cnn"`` or ``"embed:<embedder>+<head>"``: embedder one of ``yamnet``, ``birdnet``,
``efficientnet``, ``classic`` or ``onnx:PATH`` (see :mod:`earmark.models.embeddings`); head one of
``logreg``, ``svm``, ``rf``, ``mlp`` (see :mod:`earmark.models.heads`).
"""

import json
import warnings

import numpy as np

from .._validation import _fail, check_choice
from ..config import FeatureConfig
from ..errors import ModelFileError, NotFittedError
from ..windows import frame_windows
from .embeddings import EMBEDDERS, EmbeddingCache, get_embedder, hash_array
from .transfer import TRANSFER_NETWORKS

__all__ = ["EmbeddingWindowModel", "parse_recipe", "embedder_features", "RECIPE_HELP"]

#: The embedding heads a recipe may name (as :data:`earmark.models.heads.HEADS`; repeated here so
#: that parsing a recipe does not import scikit-learn).
HEADS = ("logreg", "svm", "rf", "mlp")

RECIPE_HELP = ("'cnn', " + ", ".join(repr(f"transfer:{t}") for t in TRANSFER_NETWORKS)
               + " or 'embed:<embedder>+<head>' with embedder in {"
               + ", ".join(repr(e) for e in EMBEDDERS + ("onnx:PATH",)) + "} and head in {"
               + ", ".join(repr(h) for h in HEADS) + "}")

# Settings that decide what an embedding is; a model loads only onto an embedder that agrees on
# every one of them that both sides have (keys added to settings() later do not break old files).
_IDENTITY_KEYS = ("name", "dim", "sample_rate", "window_s", "model_sha256", "features",
                  "front_end", "config")


def parse_recipe(recipe, *, owner="SoundClassifier"):
    """Split a recipe string into ``(embedder, head)``; ``None`` for the torch recipes
    (``'cnn'``, ``'transfer:<network>'``).

    Raises
    ------
    ParameterError
        Not a recipe (the message lists what is accepted).

    Examples
    --------
    >>> parse_recipe("embed:yamnet+logreg")
    ('yamnet', 'logreg')
    >>> parse_recipe("embed:onnx:models/panns.onnx+svm")
    ('onnx:models/panns.onnx', 'svm')
    >>> parse_recipe("cnn") is None
    True
    >>> parse_recipe("transfer:efficientnet") is None
    True
    """
    if recipe == "cnn" or recipe in tuple(f"transfer:{t}" for t in TRANSFER_NETWORKS):
        return None
    if isinstance(recipe, str) and recipe.startswith("embed:") and "+" in recipe:
        # rpartition: an ONNX path may itself hold a '+'; the head never does
        name, _, head = recipe[len("embed:"):].rpartition("+")
        named = name in EMBEDDERS or (name.startswith("onnx:") and len(name) > len("onnx:"))
        if named and head in HEADS:
            return name, head
    _fail("recipe", owner, RECIPE_HELP, recipe)


def embedder_features(embedder):
    """The :class:`~earmark.FeatureConfig` of an embedder's analysis windows.

    Its sample rate, window and hop are the embedder's natural ones; an embedder that computes
    its input with earmark's own front end (``classic``, ``efficientnet``) gives that front end,
    the others a placeholder one (they compute their own).

    Examples
    --------
    >>> from earmark.models.embeddings import get_embedder
    >>> fc = embedder_features(get_embedder("classic"))
    >>> fc.sample_rate, fc.window_s, fc.hop_s
    (22050, 1.0, 0.5)
    """
    own = getattr(embedder, "features", None)
    if isinstance(own, FeatureConfig):
        return own.replace(window_s=embedder.window_s, hop_s=embedder.hop_s)
    window = int(round(embedder.window_s * embedder.sample_rate))
    n_fft = max(16, min(1024, window))
    return FeatureConfig(sample_rate=int(embedder.sample_rate), window_s=embedder.window_s,
                         hop_s=embedder.hop_s, n_fft=n_fft, hop_length=min(512, n_fft),
                         normalize="none")


def _jsonable(settings):
    # what the settings look like once read back from the model file (tuples -> lists, ...)
    return json.loads(json.dumps(settings, default=str))


def _spec(embedder):
    # the string get_embedder rebuilds this embedder from (an ONNX embedder's name is only the
    # file name; the path is what finds it again)
    path = getattr(embedder, "path", None)
    if path is not None and str(embedder.name).startswith("onnx:"):
        return f"onnx:{path}"
    return embedder.name


class EmbeddingWindowModel:
    """Score analysis windows with a pretrained embedder and a scikit-learn head.

    Parameters
    ----------
    embedder : str or Embedder
        A name :func:`~earmark.models.embeddings.get_embedder` accepts ('yamnet', 'birdnet',
        'efficientnet', 'classic', 'onnx:PATH') or an embedder built with it.
    head : {'logreg', 'svm', 'rf', 'mlp'}
        The head (:func:`~earmark.models.heads.make_head`), tuned by an inner cross-validation.
    n_classes : int
        Number of classes; window scores have one column per class index, also for classes
        missing from the training data (probability 0).
    inner_cv : int or None
        Inner folds of the head's grid search (None: no search).
    cache_dir : path-like or None
        Embedding cache folder (None: no cache).
    device : str
        Kept for the interface; embedders run on the CPU.
    task : {'classification', 'tagging'}
        One multi-class head, or one binary head per class (see above).

    Attributes
    ----------
    features : FeatureConfig
        The embedder's sample rate, window and hop.
    licence : str
        Licence of the embedder's weights; every model trained on it carries it.
    head_ : SavedHead
        The fitted head (after ``fit`` or ``from_state``).
    cache_hits_, cache_misses_ : int
        Clips whose embeddings came from / went to the cache in the last ``embed_clips``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> clips = [rng.standard_normal(22050).astype(np.float32) * a for a in [0.01] * 4 + [1] * 4]
    >>> m = EmbeddingWindowModel(embedder="classic", head="logreg", n_classes=2)
    >>> m = m.fit(clips, np.repeat([0, 1], 4), progress=False)
    >>> m.score_windows(np.stack(clips[:1] + clips[-1:])).argmax(axis=1).tolist()
    [0, 1]
    """

    def __init__(self, *, embedder, head="logreg", n_classes, inner_cv=3, cache_dir=None,
                 device="cpu", task="classification"):
        check_choice(head, "head", "EmbeddingWindowModel", HEADS)
        self.task = check_choice(task, "task", "EmbeddingWindowModel",
                                 ("classification", "tagging"))
        self.embedder = get_embedder(embedder) if isinstance(embedder, str) else embedder
        self.embedder_spec = embedder if isinstance(embedder, str) else _spec(self.embedder)
        self.head_kind = head
        self.n_classes = int(n_classes)
        self.inner_cv = inner_cv
        self.cache_dir = cache_dir
        self.features = embedder_features(self.embedder)
        self.licence = self.embedder.licence
        self.device = device
        self.cache_hits_ = self.cache_misses_ = 0

    def __repr__(self):
        return (f"EmbeddingWindowModel(embedder={self.embedder_spec!r}, head={self.head_kind!r}, "
                f"n_classes={self.n_classes})")

    # -- the torch-model interface, where it applies -----------------------------------------
    def to(self, device):
        self.device = device
        return self

    def prepare_inference(self):
        return self

    # -- embedding ----------------------------------------------------------------------------
    def embed_clips(self, clips, *, progress=False, chunk_windows=512):
        """Embeddings of every analysis window of each clip: a list of (n_windows_i, dim).

        Clips found in the cache (keyed by the windows' content and the embedder's settings,
        the key :func:`~earmark.models.embeddings.embed_cached` uses) are read from disk; the
        others are embedded together, ``chunk_windows`` windows at a time (bounded memory), and
        stored.
        """
        fc = self.features
        settings = self.embedder.settings()
        cache = EmbeddingCache(self.cache_dir) if self.cache_dir is not None else None
        out = [None] * len(clips)
        todo = []
        for i, clip in enumerate(clips):
            w, _ = frame_windows(clip, fc.window_samples, fc.hop_samples)
            key = hash_array(np.ascontiguousarray(w, np.float32)) if cache is not None else None
            if cache is not None:
                hit = cache.get("embedding", key, settings)
                if hit is not None and hit.shape == (len(w), self.embedder.dim):
                    out[i] = hit
                    continue
            todo.append((i, w, key))
        self.cache_hits_ = len(clips) - len(todo)
        self.cache_misses_ = len(todo)
        bar = None
        if progress and todo:
            from tqdm.auto import tqdm
            bar = tqdm(total=sum(len(w) for _, w, _ in todo), unit="window",
                       desc=f"embedding ({self.embedder.name})")
        start = 0
        while start < len(todo):
            stop, n = start, 0
            while stop < len(todo) and (n == 0 or n + len(todo[stop][1]) <= chunk_windows):
                n += len(todo[stop][1])
                stop += 1
            part = todo[start:stop]
            emb = self.embedder.embed(np.concatenate([w for _, w, _ in part]))
            offsets = np.cumsum([0] + [len(w) for _, w, _ in part])
            for (i, _, key), a, b in zip(part, offsets[:-1], offsets[1:]):
                out[i] = emb[a:b]
                if cache is not None:
                    cache.put("embedding", key, settings, value=out[i])
            if bar is not None:
                bar.update(n)
            start = stop
        if bar is not None:
            bar.close()
        return out

    # -- training -----------------------------------------------------------------------------
    def fit(self, clips, y, *, groups=None, seed=0, progress=True, aggregation=None,
            events=None):
        """Embed every window of every clip and fit the head on (window embedding, clip label).

        Parameters
        ----------
        clips : list of 1-D float32 arrays at ``features.sample_rate``
        y : int array (n_clips,) or multi-hot array (n_clips, n_classes)
            Class indices in ``[0, n_classes)`` (classification), or tags (tagging).
        groups : array (n_clips,) or None
            Recording groups for the head's inner cross-validation. Windows of one clip always
            stay together; with fewer than two groups each clip is its own group.
        seed : int
            Seeds the inner folds and the head.
        aggregation : str or None
            Tagging: how the out-of-fold window scores become clip scores (the task's default
            when None).
        events : list of arrays (n_events, 3) or None
            Tagging with strong labels: per clip, each event's onset and offset (samples at the
            embedder's rate) and class index; each window then carries the classes of the
            events it overlaps (:func:`earmark.train.window_targets`) instead of its clip's
            tags.
        """
        from .heads import head_from_state, head_to_state, make_head

        per_clip = self.embed_clips(clips, progress=progress)
        owner = np.repeat(np.arange(len(clips)), [len(e) for e in per_clip])
        X = np.concatenate(per_clip).astype(np.float32, copy=False)
        if groups is not None and len(np.unique(np.asarray(groups).astype(str))) >= 2:
            clip_groups = np.asarray(groups).astype(str)
        else:
            clip_groups = np.arange(len(clips)).astype(str)
        self.n_windows_ = int(len(X))
        self.oof_clip_scores_ = None
        if self.task == "tagging":
            y = np.asarray(y, np.float32)
            y_windows = y[owner]
            if events is not None:
                from ..train import window_targets
                from ..windows import window_starts
                fc = self.features
                y_windows = np.concatenate([
                    window_targets(ev, window_starts(len(c), fc.window_samples,
                                                     fc.hop_samples)[:len(e)],
                                   fc.window_samples, self.n_classes)
                    for c, e, ev in zip(clips, per_clip, events)])
            return self._fit_one_vs_rest(X, y, y_windows, owner, clip_groups, seed=seed,
                                         aggregation=aggregation, n_clips=len(clips))
        y = np.asarray(y, dtype=np.int64)
        head = make_head(self.head_kind, seed=seed, inner_cv=self.inner_cv)
        with warnings.catch_warnings():
            # grouped inner folds can lack a class; balanced accuracy then warns once per fold
            warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
            head.fit(X, y[owner], groups=clip_groups[owner])
        # predict with exactly what is saved: the pickle-free head, not the sklearn object
        self.head_ = head_from_state(*head_to_state(head))
        return self

    def _fit_one_vs_rest(self, X, y, y_windows, owner, clip_groups, *, seed, aggregation,
                         n_clips):
        from sklearn.base import clone
        from sklearn.model_selection import cross_val_predict

        from ..tasks import get_task
        from .heads import InnerCV, head_from_state, head_to_state, make_head

        task = get_task("tagging")
        heads, oof = [], np.zeros((len(X), self.n_classes))
        for c in range(self.n_classes):
            yc = (y_windows[:, c] > 0.5).astype(np.int64)
            if yc.min() == yc.max():
                heads.append(float(yc[0]))
                oof[:, c] = float(yc[0])
                continue
            head = make_head(self.head_kind, seed=seed, inner_cv=self.inner_cv,
                             scoring="average_precision")
            try:
                with warnings.catch_warnings():
                    # an inner test fold without a positive clip: its AP is undefined
                    warnings.filterwarnings("ignore", message="No positive class found")
                    head.fit(X, yc, groups=clip_groups[owner])
            except ValueError:
                # an inner training fold without a positive (or negative) clip of this class,
                # which grouped folds of small data can give: fit without the search
                head = make_head(self.head_kind, seed=seed, inner_cv=None).fit(X, yc)
            heads.append(head_from_state(*head_to_state(head)))
            best = getattr(head, "best_estimator_", head)
            try:
                oof[:, c] = cross_val_predict(
                    clone(best), X, yc, groups=clip_groups[owner],
                    cv=InnerCV(self.inner_cv or 3, seed=seed), method="predict_proba")[:, 1]
            except ValueError:       # too few groups or positives for inner folds: no held-out
                oof[:, c] = np.nan
        self.head_ = heads
        bounds = np.r_[0, np.cumsum(np.bincount(owner, minlength=n_clips))]
        clip = np.stack([task.aggregate(oof[a:b], method=aggregation)
                         for a, b in zip(bounds[:-1], bounds[1:])])
        self.oof_clip_scores_ = (y, clip)
        return self

    @property
    def head_config_(self):
        """The head's saved config: kind, best parameters and inner-CV score (for tagging
        the parameters per class and the mean score over the classes that have one)."""
        self._check_fitted()
        if self.task != "tagging":
            return self.head_.config
        fitted = [h for h in self.head_ if not isinstance(h, float)]
        scores = [h.config.get("inner_cv_score") for h in fitted]
        scores = [v for v in scores if v is not None]
        return {"kind": self.head_kind,
                "best_params": [None if isinstance(h, float) else h.config.get("best_params")
                                for h in self.head_],
                "inner_cv_score": float(np.mean(scores)) if scores else None}

    # -- scoring ------------------------------------------------------------------------------
    def _check_fitted(self):
        if not hasattr(self, "head_"):
            raise NotFittedError("This EmbeddingWindowModel is not fitted yet: call fit first.")

    def _proba(self, embeddings):
        if self.task == "tagging":
            e = np.asarray(embeddings, np.float32)
            out = np.zeros((len(e), self.n_classes), np.float32)
            for c, h in enumerate(self.head_):
                out[:, c] = h if isinstance(h, float) else h.predict_proba(e)[:, 1]
            return out
        p = self.head_.predict_proba(np.asarray(embeddings, np.float32))
        out = np.zeros((len(p), self.n_classes), np.float32)
        out[:, self.head_.classes_.astype(np.int64)] = p
        return out

    def score_windows(self, windows):
        """Class probabilities (n, n_classes) of waveform windows (n, window_samples)."""
        self._check_fitted()
        windows = np.asarray(windows, dtype=np.float32)
        if len(windows) == 0:
            return np.zeros((0, self.n_classes), np.float32)
        return self._proba(self.embedder.embed(windows))

    def score_clips(self, clips, *, aggregation=None):
        """Clip scores (n_clips, n_classes): every window scored (through the embedding
        cache), then aggregated by the task; equal to :func:`earmark.train.evaluate_clips` of
        this model."""
        from ..tasks import get_task

        aggregate = get_task(self.task).aggregate

        self._check_fitted()
        per_clip = self.embed_clips(clips)
        if not per_clip:
            return np.zeros((0, self.n_classes))
        scores = self._proba(np.concatenate(per_clip))
        bounds = np.cumsum([0] + [len(e) for e in per_clip])
        return np.stack([aggregate(scores[a:b], method=aggregation)
                         for a, b in zip(bounds[:-1], bounds[1:])])

    # -- state --------------------------------------------------------------------------------
    def get_state(self):
        """(config dict, arrays dict): embedder name, settings and licence, and the head."""
        from .heads import head_to_state

        self._check_fitted()
        config = {"family": "embedding", "embedder": self.embedder_spec,
                  "embedder_settings": _jsonable(self.embedder.settings()),
                  "licence": self.licence, "n_classes": self.n_classes,
                  "inner_cv": self.inner_cv}
        if self.task != "tagging":
            head_cfg, head_arrays = head_to_state(self.head_)
            config["head"] = head_cfg
            return config, {f"head.{k}": v for k, v in head_arrays.items()}
        config["task"] = "tagging"
        config["head"] = {"kind": self.head_kind, "one_vs_rest": []}
        arrays = {}
        for c, h in enumerate(self.head_):
            if isinstance(h, float):
                config["head"]["one_vs_rest"].append({"constant": h})
                continue
            cfg, arr = head_to_state(h)
            config["head"]["one_vs_rest"].append(cfg)
            arrays.update({f"head.c{c}.{k}": v for k, v in arr.items()})
        return config, arrays

    @classmethod
    def from_state(cls, config, arrays, *, features, device="cpu"):
        """Rebuild a model from :meth:`get_state` output; the embedder is built anew and must
        be the one the model was trained on.

        Raises
        ------
        ModelNotInstalledError
            The embedder's model is not installed (the message names the install command).
        ModelFileError
            The installed embedder differs from the saved one, or the state is damaged.
        """
        from ..errors import ParameterError
        from .heads import head_from_state

        try:
            spec, head_cfg = config["embedder"], config["head"]
            model = cls(embedder=spec, head=head_cfg.get("kind"), n_classes=config["n_classes"],
                        inner_cv=config.get("inner_cv"), device=device,
                        task=config.get("task", "classification"))
        except KeyError as exc:
            raise ModelFileError(f"embedding model config lacks {exc}") from None
        except (TypeError, AttributeError, ParameterError) as exc:
            raise ModelFileError(f"embedding model config: {exc}") from None
        saved = config.get("embedder_settings", {})
        now = _jsonable(model.embedder.settings())
        for k in _IDENTITY_KEYS:
            if k in saved and k in now and saved[k] != now[k]:
                raise ModelFileError(
                    f"the model was trained on embedder {spec!r} with {k}={saved[k]!r}, but the "
                    f"one available here has {k}={now[k]!r}; its embeddings would not match. "
                    "Install the model version it was trained on.")
        if features.sample_rate != model.features.sample_rate:
            raise ModelFileError(f"the model's features say {features.sample_rate} Hz, but "
                                 f"embedder {spec!r} takes {model.features.sample_rate} Hz")
        model.features = features
        model.licence = config.get("licence", model.licence)
        if model.task == "tagging":
            heads = []
            for c, cfg in enumerate(head_cfg.get("one_vs_rest", [])):
                if "constant" in cfg:
                    heads.append(float(cfg["constant"]))
                    continue
                prefix = f"head.c{c}."
                heads.append(head_from_state(cfg, {k[len(prefix):]: v for k, v in arrays.items()
                                                   if k.startswith(prefix)}))
            if len(heads) != model.n_classes:
                raise ModelFileError(f"tagging model has {len(heads)} class heads for "
                                     f"{model.n_classes} classes")
            model.head_ = heads
        else:
            model.head_ = head_from_state(head_cfg, {k[len("head."):]: v
                                                     for k, v in arrays.items()
                                                     if k.startswith("head.")})
        # a head for embeddings of another size would fail on every file at prediction
        dim = now.get("dim")
        sizes = {h.n_features_in_ for h in (model.head_ if isinstance(model.head_, list)
                                            else [model.head_]) if not isinstance(h, float)}
        if isinstance(dim, int) and not isinstance(dim, bool) and sizes - {dim}:
            raise ModelFileError(f"the head takes embeddings of size {sorted(sizes)}, but "
                                 f"embedder {spec!r} makes {dim}")
        return model
