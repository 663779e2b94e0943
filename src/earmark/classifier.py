"""SoundClassifier: the estimator a scikit-learn user would guess.

``SoundClassifier(...).fit(data)``, ``.predict(paths)``, ``.predict_proba(paths)``, ``.save(path)``
and :func:`earmark.load`.
"""

import time
import warnings

import numpy as np
import torch

from ._validation import check_choice, check_number
from .bundle import read_bundle, write_bundle
from .config import FeatureConfig
from .data import load_clips, load_dataset, validate_dataset, validation_split
from .data.sources import expand_sources
from .errors import EarmarkWarning, ModelFileError, NotFittedError, ParameterError
from .models.cnn import NETWORKS
from .models.neural import NeuralWindowModel
from .predict import predict_table, score_source
from .train import TrainConfig, evaluate_clips, train_window_model
from .windows import AGGREGATIONS, aggregate

__all__ = ["SoundClassifier", "load"]

_TRAIN_KEYS = ("epochs", "batch_size", "learning_rate", "weight_decay", "patience",
               "val_fraction", "balance", "freeze_epochs", "backbone_lr_scale")

#: What ``epochs=None`` / ``learning_rate=None`` / ``backbone_lr_scale=None`` mean per recipe
#: family (README, "Choosing the defaults").
RECIPE_DEFAULTS = {
    "cnn": {"epochs": 60, "learning_rate": 3e-3, "backbone_lr_scale": 0.1},
    "transfer": {"epochs": 15, "learning_rate": 1e-3, "backbone_lr_scale": 1.0},
}


def _resolve_device(device):
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ParameterError("device='cuda' was asked for, but torch sees no CUDA GPU; use "
                             "device='cpu' or 'auto'.")
    return device


def _make_augmentation(spec, seed=0, family="cnn"):
    if spec is None:
        return None
    from .augment import Augmentation

    if isinstance(spec, Augmentation):
        plan = spec
    elif isinstance(spec, dict):
        plan = Augmentation.from_config(spec)
    else:
        plan = Augmentation.from_spec(str(spec), seed=seed, family=family)
    return plan if len(plan) else None


#: Longest analysis window chosen automatically (s): longer clips are scored in several windows.
AUTO_WINDOW_MAX_S = 4.0


def _window_for(clips, feats, hop_s=None):
    """The analysis window earmark picks when ``window_s`` is not given: the shortest common
    length that holds the median clip (as ``earmark inspect`` suggests), at most
    ``AUTO_WINDOW_MAX_S``, with a hop of ``hop_s`` or half a window."""
    from .data.suggest import suggest_window

    suggestion = suggest_window([len(c) / feats.sample_rate for c in clips])
    if suggestion is None:
        return feats
    window = max(min(suggestion[0], AUTO_WINDOW_MAX_S), feats.n_fft / feats.sample_rate)
    return feats.replace(window_s=window, hop_s=window / 2 if hop_s is None else hop_s)


def _augment_cache():
    from .datasets import earmark_home
    return earmark_home() / "cache" / "augment"


def _embedding_cache():
    from .datasets import earmark_home
    return earmark_home() / "cache" / "embeddings"


class SoundClassifier:
    """Classify sounds: a CNN trained on log-mel analysis windows, or a scikit-learn head on the
    embeddings of a pretrained model.

    Parameters
    ----------
    recipe : str
        'cnn' (default): a CNN trained from scratch, chosen by ``model``.
        'embed:<embedder>+<head>', e.g. 'embed:yamnet+logreg': a head ('logreg', 'svm', 'rf',
        'mlp'; tuned by inner cross-validation, see :mod:`earmark.models.heads`) on the window
        embeddings of 'yamnet', 'birdnet', 'efficientnet', 'classic' or 'onnx:PATH' (see
        :mod:`earmark.models.embeddings`; pretrained ones are installed once with
        ``earmark models install NAME``). The embedder fixes the sample rate and the windows
        (``features`` must be None), and the epochs, learning rate, augmentation and
        validation settings below do not apply. The embedder's licence is stored in the model
        (BirdNET: non-commercial only).
        'transfer:efficientnet': EfficientNet-Lite0 with its ImageNet weights (installed once
        with ``earmark models install efficientnet``), fine-tuned on 128-band log-mel images by
        the same training loop as the CNNs, the backbone frozen for ``freeze_epochs`` and then
        trained at ``backbone_lr_scale`` x ``learning_rate`` (see
        :mod:`earmark.models.transfer`). ``features`` None uses its front end; a given one
        must be log-mel with ``normalize='none'``. ``model`` does not apply.
    model : {'sbcnn', 'cnn'}
        'sbcnn' — the SB-CNN (default: the best measured on the drums and instruments
        benchmarks, and the fastest); 'cnn' — a deeper modern small CNN.
    features : FeatureConfig or dict or None
        Front end and analysis windows. None uses ``FeatureConfig()`` with the analysis window
        chosen from the training clips: the shortest of 0.25, 0.5, 1, 2, 3 or 4 s that holds
        the median clip (up to 10 % longer than the window), hop half a window (``features_``
        holds what was used). A dict changes those fields of the default (of the transfer
        front end for 'transfer:...'); without 'window_s' the window is still chosen from the
        clips, and with 'window_s' but no 'hop_s' the hop is half the window. A FeatureConfig
        is used as it is. With an embedding recipe: the embedder's own.
    aggregation : {'mean', 'max', 'vote'}
        How window scores become a clip score: mean (probabilistic voting), max, majority vote.
    epochs, batch_size, learning_rate, weight_decay, patience, val_fraction, balance
        Training settings; see :class:`earmark.train.TrainConfig`. ``epochs`` and
        ``learning_rate`` None mean the recipe's default: 60 epochs at 3e-3 for 'cnn', 15 epochs
        at 1e-3 for 'transfer:...' (see :data:`RECIPE_DEFAULTS`). With ``val_fraction > 0``
        a validation split is carved out by group and training stops early on it; the default
        (0) trains on every clip for ``epochs`` epochs, which measured better on small data
        (README, "Choosing the defaults").
    freeze_epochs, backbone_lr_scale
        Transfer recipes only (see above); ``backbone_lr_scale`` None: 1.0 (the whole network
        at ``learning_rate`` once unfrozen, which measured better than 0.1 on drums).
    augment : str, dict, Augmentation or None
        Augmentations: 'default', 'none', or a list such as
        'shift,stretch,pitch,noise,mixup,specaugment' (see :mod:`earmark.augment`). 'default'
        is gain, the random equaliser, SpecAugment and mixup for the CNNs, and pitch-shift and
        gain for 'transfer:...' (:data:`earmark.augment.DEFAULT_SETS`; README, "Choosing the
        defaults").
    seed : int
        The same seed, data and settings give the same model.
    device : {'auto', 'cpu', 'cuda'}
    progress : bool
        Show progress bars.

    Attributes
    ----------
    classes_ : list of str
    history_ : list of dict
        Per-epoch training curves (empty for embedding recipes).
    train_info_ : dict
        Best epoch, early stop, Ctrl-C, wall time, data summary (embedding recipes: windows,
        the head's inner-CV score and parameters, embedding-cache hits).
    model_ : NeuralWindowModel or EmbeddingWindowModel
    licence_ : str or None
        Licence of the pretrained weights the model was built on (None for a CNN).

    Examples
    --------
    >>> import earmark
    >>> clf = earmark.SoundClassifier(epochs=20).fit("drums/")        # doctest: +SKIP
    >>> clf.predict(["kick.wav"])                                     # doctest: +SKIP
    array(['kick'], dtype=object)
    >>> clf.save("drums.earmark")                                     # doctest: +SKIP
    >>> earmark.load("drums.earmark").predict_proba(["kick.wav"])      # doctest: +SKIP
    >>> emb = earmark.SoundClassifier(recipe="embed:yamnet+logreg").fit("drums/")  # doctest: +SKIP
    """

    def __init__(self, *, recipe="cnn", model="sbcnn", features=None, aggregation="mean",
                 epochs=None, batch_size=32, learning_rate=None, weight_decay=1e-2, patience=10,
                 val_fraction=0.0, balance="loss", freeze_epochs=1, backbone_lr_scale=None,
                 augment="default", seed=0, device="auto", progress=True):
        self.recipe = recipe
        self.model = model
        self.features = features
        self.aggregation = aggregation
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.patience = patience
        self.val_fraction = val_fraction
        self.balance = balance
        self.freeze_epochs = freeze_epochs
        self.backbone_lr_scale = backbone_lr_scale
        self.augment = augment
        self.seed = seed
        self.device = device
        self.progress = progress

    # -- scikit-learn conventions ---------------------------------------------------------------
    def get_params(self, deep=False):
        return {k: getattr(self, k) for k in ("recipe", "model", "features", "aggregation",
                                              *_TRAIN_KEYS, "augment", "seed", "device",
                                              "progress")}

    def set_params(self, **params):
        valid = self.get_params()
        for k, v in params.items():
            if k not in valid:
                raise ParameterError(f"SoundClassifier has no parameter {k!r}; valid: "
                                     f"{sorted(valid)}")
            setattr(self, k, v)
        return self

    def __repr__(self):
        default = SoundClassifier().get_params()
        changed = {k: v for k, v in self.get_params().items() if v != default[k]}
        return "SoundClassifier(" + ", ".join(f"{k}={v!r}" for k, v in changed.items()) + ")"

    def _validate_params(self):
        feats, train, augmentation, _ = self._validate()
        return feats, train, augmentation

    def _validate(self):
        """(features, train config, augmentation, embedder or None); builds the embedder of an
        embedding recipe (raising ModelNotInstalledError with the install command early)."""
        from .models.embedded import parse_recipe

        o = "SoundClassifier"
        recipe = parse_recipe(self.recipe, owner=o)
        check_choice(self.model, "model", o, tuple(NETWORKS))
        check_choice(self.aggregation, "aggregation", o, AGGREGATIONS)
        check_choice(self.device, "device", o, ("auto", "cpu", "cuda"))
        check_number(self.seed, "seed", o, low=0, closed="left", integer=True)
        if recipe is not None:
            from .models.embedded import embedder_features
            from .models.embeddings import get_embedder

            if self.features is not None:
                raise ParameterError(
                    f"The 'features' parameter of {o} must be None with recipe="
                    f"{self.recipe!r}: the embedder fixes the sample rate and the windows. Got "
                    f"{self.features!r} instead.")
            embedder = get_embedder(recipe[0])
            train = self._train_config("cnn")
            return embedder_features(embedder), train, None, embedder
        transfer = self._transfer_network()
        base = FeatureConfig()
        if transfer is not None:
            from .models.transfer import FEATURES
            base = FEATURES
        if self.features is None:
            feats = base
        elif isinstance(self.features, dict):
            given = dict(self.features)
            if "window_s" in given and "hop_s" not in given:
                given["hop_s"] = given["window_s"] / 2
            try:
                feats = base.replace(**given)
            except ParameterError as e:
                raise ParameterError(f"The 'features' parameter of {o}: {e}") from None
        elif isinstance(self.features, FeatureConfig):
            feats = self.features
        else:
            raise ParameterError(f"The 'features' parameter of {o} must be a FeatureConfig, a "
                                 f"dict or None. Got {type(self.features).__name__} instead.")
        if transfer is not None:
            from .models.efficientnet import check_imagenet_weights
            from .models.transfer import check_transfer_features
            check_transfer_features(feats, owner=o)
            check_imagenet_weights()
        family = "cnn" if transfer is None else "transfer"
        return (feats, self._train_config(family),
                _make_augmentation(self.augment, self.seed, family), None)

    def _window_is_auto(self):
        """True when the analysis window is chosen from the training clips: ``features`` is
        None, or a dict without ``window_s``."""
        return self.features is None or (isinstance(self.features, dict) and
                                         "window_s" not in self.features)

    def _train_config(self, family):
        given = {k: getattr(self, k) for k in _TRAIN_KEYS}
        return TrainConfig(**{k: RECIPE_DEFAULTS[family][k] if v is None and
                              k in RECIPE_DEFAULTS[family] else v for k, v in given.items()})

    def _transfer_network(self):
        """'efficientnet' for recipe 'transfer:efficientnet', else None."""
        if isinstance(self.recipe, str) and self.recipe.startswith("transfer:"):
            return self.recipe[len("transfer:"):]
        return None

    def _check_fitted(self):
        if not hasattr(self, "model_"):
            raise NotFittedError("This SoundClassifier is not fitted yet: call fit(data) first, "
                                 "or earmark.load(path).")

    # -- training ---------------------------------------------------------------------------------
    def fit(self, data, *, group_column="group", clips=None, deadline=None):
        """Train on a dataset (a folder, a CSV manifest or a :class:`~earmark.data.Dataset`).

        The validation split for early stopping is carved out by ``group_column`` when the
        dataset has it (recordings of one group never straddle train and validation).
        ``clips`` (decoded audio, in dataset order) skips decoding; cross-validation uses it.
        ``deadline`` (a ``time.perf_counter()`` value) stops training of a torch recipe with
        :class:`~earmark.errors.BudgetExceededError` when an epoch would end after it.
        """
        feats, train_cfg, augmentation, embedder = self._validate()
        dataset = load_dataset(data)
        if clips is None:
            validate_dataset(dataset, progress=self.progress)
            clips = load_clips(dataset, sample_rate=feats.sample_rate, progress=self.progress)
        labels = dataset.labels
        y = np.array([labels.index(v) for v in dataset.table["label"]])
        groups = dataset.column(group_column) if dataset.has_column(group_column) else None
        if embedder is not None:
            return self._fit_embedding(embedder, dataset, clips, y, groups, group_column)
        if self._window_is_auto():
            given_hop = self.features.get("hop_s") if isinstance(self.features, dict) else None
            feats = _window_for(clips, feats, hop_s=given_hop)
        if feats.hop_s > feats.window_s:
            warnings.warn(f"{type(self).__name__}: the window hop ({feats.hop_s:g} s) is longer "
                          f"than the analysis window ({feats.window_s:g} s), so "
                          f"{1 - feats.window_s / feats.hop_s:.0%} of every clip longer than a "
                          "window is never seen in training; give a hop_s no longer than "
                          "window_s", EarmarkWarning, stacklevel=2)
        tr, va = validation_split(y, groups, fraction=train_cfg.val_fraction, seed=self.seed)
        device = _resolve_device(self.device)
        torch.manual_seed(self.seed)
        transfer = self._transfer_network()
        model = NeuralWindowModel(network=transfer or self.model, n_classes=len(labels),
                                  features=feats, device=device)
        if transfer is not None:
            model.net.load_imagenet_weights()
            model.to(device)
        history, info = train_window_model(
            model, train_clips=[clips[i] for i in tr], train_y=y[tr],
            val_clips=[clips[i] for i in va], val_y=y[va], config=train_cfg,
            augmentation=augmentation, seed=self.seed, aggregation=self.aggregation,
            progress=self.progress, cache_dir=_augment_cache(), deadline=deadline)
        self.classes_ = labels
        self.features_ = feats
        self.train_config_ = train_cfg
        self.augmentation_ = augmentation
        self.model_ = model.to("cpu").prepare_inference()
        self.licence_ = None
        if transfer is not None:
            from .models.embeddings.install import MODELS
            self.licence_ = MODELS["efficientnet"].licence
        self.history_ = history
        self.train_info_ = {**info, "n_train_clips": int(len(tr)), "n_val_clips": int(len(va)),
                            "class_counts": {c: int((y == i).sum()) for i, c in
                                             enumerate(labels)},
                            "dataset": dataset.source, "group_column":
                                group_column if groups is not None else None}
        return self

    def _fit_embedding(self, embedder, dataset, clips, y, groups, group_column):
        from .models.embedded import EmbeddingWindowModel, parse_recipe

        t0 = time.perf_counter()
        labels = dataset.labels
        model = EmbeddingWindowModel(embedder=embedder, head=parse_recipe(self.recipe)[1],
                                     n_classes=len(labels), cache_dir=_embedding_cache())
        model.fit(clips, y, groups=groups, seed=self.seed, progress=self.progress)
        head = model.head_.config
        self.classes_ = labels
        self.features_ = model.features
        self.train_config_ = None
        self.augmentation_ = None
        self.model_ = model
        self.licence_ = model.licence
        self.history_ = []
        self.train_info_ = {
            "best_epoch": None, "interrupted": False, "stopped_early": False,
            "wall_s": time.perf_counter() - t0, "n_train_clips": int(len(y)), "n_val_clips": 0,
            "n_train_windows": model.n_windows_,
            "head": {"kind": head["kind"], "best_params": head.get("best_params"),
                     "inner_cv_balanced_accuracy": head.get("inner_cv_score")},
            "embedding_cache": {"clips_reused": model.cache_hits_,
                                "clips_embedded": model.cache_misses_},
            "class_counts": {c: int((y == i).sum()) for i, c in enumerate(labels)},
            "dataset": dataset.source,
            "group_column": group_column if groups is not None else None}
        return self

    # -- prediction -------------------------------------------------------------------------------
    def predict_clips(self, clips):
        """Clip probabilities (n, n_classes) of decoded clips (1-D arrays at the model rate)."""
        self._check_fitted()
        if hasattr(self.model_, "score_clips"):      # embeddings: through the embedding cache
            return self.model_.score_clips(clips, aggregation=self.aggregation)
        return evaluate_clips(self.model_, clips, aggregation=self.aggregation)

    def predict_proba(self, sources):
        """Class probabilities (n_files, n_classes) for files, folders or CSV lists.

        Columns follow ``classes_``. Raises on the first file that cannot be read; use
        :meth:`predict_table` to get a row per file with its error instead.
        """
        self._check_fitted()
        out = [aggregate(score_source(self.model_, s)[1], method=self.aggregation)
               for s in expand_sources(sources)]
        return np.array(out).reshape(-1, len(self.classes_))

    def predict(self, sources):
        """Predicted class names for files, folders or CSV lists."""
        p = self.predict_proba(sources)
        return np.array(self.classes_, dtype=object)[p.argmax(axis=1)]

    def predict_table(self, sources, *, windows=False, progress=None):
        """A DataFrame: path, label, one probability column per class, error (one row per file,
        or per window with ``windows=True``, with start_s and end_s). Failing files get a row
        with their error; the rest go on."""
        self._check_fitted()
        return predict_table(self.model_, self.classes_, sources, windows=windows,
                             aggregation=self.aggregation,
                             progress=self.progress if progress is None else progress)

    def score_windows(self, windows):
        """Window probabilities (n, n_classes) of waveform windows at the model rate."""
        self._check_fitted()
        return self.model_.score_windows(windows)

    # -- persistence ------------------------------------------------------------------------------
    def save(self, path):
        """Write the fitted model to one file (see :mod:`earmark.bundle`); returns the path."""
        meta, arrays = self._bundle_state()
        return write_bundle(path, meta=meta, arrays=arrays)

    def _bundle_state(self):
        """(meta, arrays) of the fitted model, as :func:`earmark.bundle.write_bundle` takes them."""
        self._check_fitted()
        model_cfg, arrays = self.model_.get_state()
        params = {k: v for k, v in self.get_params().items()
                  if k not in ("features", "augment", "progress")}
        if params["recipe"] == "cnn":
            del params["recipe"]       # CNN model files keep the layout they always had
        meta = {
            "kind": "classifier",
            "labels": list(self.classes_),
            "features": self.features_.to_dict(),
            "aggregation": self.aggregation,
            "model": model_cfg,
            "params": params,
            "training": {"config": None if self.train_config_ is None
                         else self.train_config_.to_dict(), "history": self.history_,
                         "info": self.train_info_,
                         "augmentation": None if self.augmentation_ is None
                         else self.augmentation_.to_config()},
        }
        if self.licence_ is not None:
            meta["licence"] = self.licence_
        return meta, arrays

    @classmethod
    def _from_bundle(cls, meta, arrays, *, path=""):
        if meta.get("kind") != "classifier":
            raise ModelFileError(f"{path}: holds a {meta.get('kind')!r} model, not a classifier")
        feats = FeatureConfig.from_dict(meta["features"])
        params = dict(meta.get("params", {}))
        params["device"] = "cpu"
        family = meta["model"].get("family")
        if family == "neural":
            model = NeuralWindowModel.from_state(meta["model"], arrays, features=feats)
            licence = meta.get("licence")
        elif family == "embedding":
            from .models.embedded import EmbeddingWindowModel
            try:
                model = EmbeddingWindowModel.from_state(meta["model"], arrays, features=feats)
            except ModelFileError as exc:       # not installed, another version: name the file
                raise type(exc)(f"{path}: {exc}") from None
            licence = model.licence
        else:
            raise ModelFileError(f"{path}: model family {family!r} is not known to this "
                                 "earmark")
        clf = cls(**{k: v for k, v in params.items() if k in cls().get_params()},
                  features=feats if family == "neural" else None, progress=False)
        clf.model_ = model
        clf.licence_ = licence
        clf.classes_ = list(meta["labels"])
        clf.features_ = feats
        training = meta.get("training", {})
        config = training.get("config", {})
        clf.train_config_ = None if config is None else TrainConfig(**config)
        clf.history_ = training.get("history", [])
        clf.train_info_ = training.get("info", {})
        aug = training.get("augmentation")
        clf.augmentation_ = None if aug is None else _make_augmentation(aug)
        clf.augment = aug
        clf.metadata_ = {k: meta.get(k) for k in ("versions", "saved_at", "format_version")}
        return clf


def load(path):
    """Load a model file written by :meth:`SoundClassifier.save` or
    :meth:`~earmark.ensemble.EnsembleClassifier.save`. Never executes pickled code.

    Examples
    --------
    >>> clf = earmark.load("drums.earmark")      # doctest: +SKIP
    """
    meta, arrays = read_bundle(path)
    if meta.get("kind") == "ensemble":
        from .ensemble import EnsembleClassifier
        return EnsembleClassifier._from_bundle(meta, arrays, path=str(path))
    return SoundClassifier._from_bundle(meta, arrays, path=str(path))
