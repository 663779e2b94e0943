"""A pretrained embedder plus a scikit-learn head: waveform windows in, class probabilities out.

The "score windows" side of the embedding recipes
(``SoundClassifier(recipe="embed:yamnet+logreg")``), with the same duck interface as :class:`~earmark.models.neural.NeuralWindowModel` (``features``,
``n_classes``, ``score_windows``, ``get_state`` / ``from_state``), so framing, aggregation,
prediction of long files and evaluation work unchanged. Its ``features`` carry the embedder's
natural sample rate, window and hop. Training embeds every analysis window of every training clip
(cached on disk by window content and embedder settings, so cross-validation folds and reruns
embed each clip once) and fits the head on window embeddings with window labels; clip scores are
the classifier's aggregation of window scores, as for the CNNs.

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
                 device="cpu"):
        check_choice(head, "head", "EmbeddingWindowModel", HEADS)
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
    def fit(self, clips, y, *, groups=None, seed=0, progress=True):
        """Embed every window of every clip and fit the head on (window embedding, clip label).

        Parameters
        ----------
        clips : list of 1-D float32 arrays at ``features.sample_rate``
        y : int array (n_clips,)
            Class indices in ``[0, n_classes)``.
        groups : array (n_clips,) or None
            Recording groups for the head's inner cross-validation. Windows of one clip always
            stay together; with fewer than two groups each clip is its own group.
        seed : int
            Seeds the inner folds and the head.
        """
        from .heads import head_from_state, head_to_state, make_head

        y = np.asarray(y, dtype=np.int64)
        per_clip = self.embed_clips(clips, progress=progress)
        owner = np.repeat(np.arange(len(clips)), [len(e) for e in per_clip])
        X = np.concatenate(per_clip).astype(np.float32, copy=False)
        if groups is not None and len(np.unique(np.asarray(groups).astype(str))) >= 2:
            clip_groups = np.asarray(groups).astype(str)
        else:
            clip_groups = np.arange(len(clips)).astype(str)
        head = make_head(self.head_kind, seed=seed, inner_cv=self.inner_cv)
        with warnings.catch_warnings():
            # grouped inner folds can lack a class; balanced accuracy then warns once per fold
            warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
            head.fit(X, y[owner], groups=clip_groups[owner])
        # predict with exactly what is saved: the pickle-free head, not the sklearn object
        self.head_ = head_from_state(*head_to_state(head))
        self.n_windows_ = int(len(X))
        return self

    # -- scoring ------------------------------------------------------------------------------
    def _check_fitted(self):
        if not hasattr(self, "head_"):
            raise NotFittedError("This EmbeddingWindowModel is not fitted yet: call fit first.")

    def _proba(self, embeddings):
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

    def score_clips(self, clips, *, aggregation="mean"):
        """Clip probabilities (n_clips, n_classes): every window scored (through the embedding
        cache), then aggregated; equal to :func:`earmark.train.evaluate_clips` of this model."""
        from ..windows import aggregate

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
        head_cfg, head_arrays = head_to_state(self.head_)
        config = {"family": "embedding", "embedder": self.embedder_spec,
                  "embedder_settings": _jsonable(self.embedder.settings()),
                  "licence": self.licence, "n_classes": self.n_classes,
                  "inner_cv": self.inner_cv, "head": head_cfg}
        return config, {f"head.{k}": v for k, v in head_arrays.items()}

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
        from .heads import head_from_state

        try:
            spec, head_cfg = config["embedder"], config["head"]
        except KeyError as exc:
            raise ModelFileError(f"embedding model config lacks {exc}") from None
        model = cls(embedder=spec, head=head_cfg.get("kind"), n_classes=config["n_classes"],
                    inner_cv=config.get("inner_cv"), device=device)
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
        model.head_ = head_from_state(head_cfg, {k[len("head."):]: v for k, v in arrays.items()
                                                 if k.startswith("head.")})
        return model
