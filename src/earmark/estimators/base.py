"""WindowEstimator: what every earmark estimator shares, whatever its task.

A front end (analysis windows, log-mel features), a window model (a CNN from scratch, an ImageNet
network fine-tuned, or a pretrained embedder with a scikit-learn head) and a task
(:mod:`earmark.tasks`) wired together with scikit-learn's contract: ``__init__`` stores,
``fit`` learns, fitted state ends in ``_``, ``get_params`` / ``set_params``, so
:func:`earmark.cross_validate`, ensembles and ``auto`` work for every estimator. The public
classes (:class:`~earmark.SoundClassifier`, :class:`~earmark.SoundTagger`) set the task, the
model file's kind and what ``predict`` returns.
"""

import time
import warnings
from collections import namedtuple

import numpy as np
import torch

from .._home import earmark_home
from .._validation import check_choice, check_number
from ..bundle import write_bundle
from ..config import FeatureConfig
from ..data import load_clips, load_dataset, validate_dataset, validation_split
from ..data.sources import expand_sources
from ..errors import EarmarkWarning, ModelFileError, NotFittedError, ParameterError
from ..models.cnn import NETWORKS
from ..models.neural import NeuralWindowModel
from ..predict import predict_table, score_source
from ..tasks import get_task
from ..train import TrainConfig, evaluate_clips, train_window_model

__all__ = ["WindowEstimator", "Settings", "RECIPE_DEFAULTS", "AUTO_WINDOW_MAX_S"]

_TRAIN_KEYS = ("epochs", "batch_size", "learning_rate", "weight_decay", "patience",
               "val_fraction", "balance", "freeze_epochs", "backbone_lr_scale")

#: What ``epochs=None`` / ``learning_rate=None`` / ``backbone_lr_scale=None`` mean per recipe
#: family (docs/models.md, "Choosing the defaults").
RECIPE_DEFAULTS = {
    "cnn": {"epochs": 60, "learning_rate": 3e-3, "backbone_lr_scale": 0.1},
    "transfer": {"epochs": 15, "learning_rate": 1e-3, "backbone_lr_scale": 1.0},
}

#: Longest analysis window chosen automatically (s) per task: longer clips are scored in several
#: windows. Tagging labels a whole clip, so its window holds as much of the clip as it can.
AUTO_WINDOW_MAX_S = {"classification": 4.0, "tagging": 10.0}


#: What an estimator's parameters resolve to (:meth:`WindowEstimator.check_params`); ``embedder``
#: is None for the torch recipes.
Settings = namedtuple("Settings", "features train augmentation embedder")


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
    from ..augment import Augmentation

    if isinstance(spec, Augmentation):
        plan = spec
    elif isinstance(spec, dict):
        plan = Augmentation.from_config(spec)
    else:
        plan = Augmentation.from_spec(str(spec), seed=seed, family=family)
    return plan if len(plan) else None


def _window_for(durations_s, feats, hop_s=None, max_s=4.0):
    """The analysis window earmark picks when ``window_s`` is not given: the shortest common
    length that holds the median clip (or event) of ``durations_s`` (as ``earmark inspect``
    suggests), at most ``max_s``, with a hop of ``hop_s`` or half a window."""
    from ..data.suggest import suggest_window

    suggestion = suggest_window(list(durations_s))
    if suggestion is None:
        return feats
    window = max(min(suggestion[0], max_s), feats.n_fft / feats.sample_rate)
    return feats.replace(window_s=window, hop_s=window / 2 if hop_s is None else hop_s)


def _augment_cache():
    return earmark_home() / "cache" / "augment"


def _embedding_cache():
    return earmark_home() / "cache" / "embeddings"


class WindowEstimator:
    """The shared body of :class:`~earmark.SoundClassifier` and :class:`~earmark.SoundTagger`;
    their docstrings describe the parameters."""

    #: The task's name (:mod:`earmark.tasks`).
    task = "classification"
    #: The model file's ``kind``.
    kind = "classifier"
    #: Parameter defaults that differ by task (``None`` in the signature means these).
    task_defaults = {}
    #: True when the decision rule learns from held-out predictions (:meth:`_fit_decision`).
    tunes_decision = False

    def __init__(self, *, recipe="cnn", model="sbcnn", features=None, aggregation=None,
                 epochs=None, batch_size=32, learning_rate=None, weight_decay=1e-2, patience=10,
                 val_fraction=None, balance="loss", freeze_epochs=1, backbone_lr_scale=None,
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
                raise ParameterError(f"{type(self).__name__} has no parameter {k!r}; valid: "
                                     f"{sorted(valid)}")
            setattr(self, k, v)
        return self

    def __repr__(self):
        default = type(self)().get_params()
        changed = {k: v for k, v in self.get_params().items() if v != default[k]}
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in changed.items()) \
            + ")"

    def _param(self, name):
        """A parameter, with ``None`` resolved to the task's default where it has one."""
        value = getattr(self, name)
        if value is None and name in self.task_defaults:
            return self.task_defaults[name]
        return value

    @property
    def aggregation_(self):
        """The aggregation in use: ``aggregation``, or the task's default when None."""
        return self.aggregation if self.aggregation is not None else \
            get_task(self.task).default_aggregation

    def check_params(self):
        """Validate the parameters and resolve what they mean: a :class:`Settings` of the
        front end, training settings, augmentation and embedder (None for torch recipes).

        Builds the embedder of an embedding recipe, raising
        :class:`~earmark.models.embeddings.ModelNotInstalledError` with the install command
        early. Cross-validation calls it to learn the sample rate to decode at.
        """
        from ..models.embedded import parse_recipe

        o = type(self).__name__
        task = get_task(self.task)
        recipe = parse_recipe(self.recipe, owner=o)
        check_choice(self.model, "model", o, tuple(NETWORKS))
        task.check_aggregation(self.aggregation_, o)
        check_choice(self.device, "device", o, ("auto", "cpu", "cuda"))
        check_number(self.seed, "seed", o, low=0, closed="left", integer=True)
        if recipe is not None:
            from ..models.embedded import embedder_features
            from ..models.embeddings import get_embedder

            if self.features is not None:
                raise ParameterError(
                    f"The 'features' parameter of {o} must be None with recipe="
                    f"{self.recipe!r}: the embedder fixes the sample rate and the windows. Got "
                    f"{self.features!r} instead.")
            embedder = get_embedder(recipe[0])
            return Settings(embedder_features(embedder), self._train_config("cnn"), None,
                            embedder)
        transfer = self._transfer_network()
        base = FeatureConfig()
        if transfer is not None:
            from ..models.transfer import FEATURES
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
            from ..models.efficientnet import check_imagenet_weights
            from ..models.transfer import check_transfer_features
            check_transfer_features(feats, owner=o)
            check_imagenet_weights()
        family = "cnn" if transfer is None else "transfer"
        return Settings(feats, self._train_config(family),
                        _make_augmentation(self.augment, self.seed, family), None)

    @property
    def chooses_window(self):
        """True when the analysis window is chosen from the training clips: ``features`` is
        None, or a dict without ``window_s`` (torch recipes only)."""
        return self.features is None or (isinstance(self.features, dict) and
                                         "window_s" not in self.features)

    def _train_config(self, family):
        given = {k: self._param(k) for k in _TRAIN_KEYS}
        return TrainConfig(**{k: RECIPE_DEFAULTS[family][k] if v is None and
                              k in RECIPE_DEFAULTS[family] else v for k, v in given.items()
                              if v is not None or k in RECIPE_DEFAULTS[family]})

    def _transfer_network(self):
        """'efficientnet' for recipe 'transfer:efficientnet', else None."""
        if isinstance(self.recipe, str) and self.recipe.startswith("transfer:"):
            return self.recipe[len("transfer:"):]
        return None

    def _check_fitted(self):
        if not hasattr(self, "model_"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet: call fit(data) "
                                 "first, or earmark.load(path).")

    # -- training ---------------------------------------------------------------------------------
    def fit(self, data, *, group_column="group", clips=None, deadline=None):
        """Train on a dataset (a folder, a CSV manifest or a :class:`~earmark.data.Dataset`).

        The validation split (early stopping; for tagging also the decision thresholds) is
        carved out by ``group_column`` when the dataset has it (recordings of one group never
        straddle train and validation). ``clips`` (decoded audio, in dataset order) skips
        decoding; cross-validation uses it. ``deadline`` (a ``time.perf_counter()`` value)
        stops training of a torch recipe with :class:`~earmark.errors.BudgetExceededError`
        when an epoch would end after it.
        """
        feats, train_cfg, augmentation, embedder = self.check_params()
        task = get_task(self.task)
        dataset = load_dataset(data)
        if clips is None:
            validate_dataset(dataset, progress=self.progress)
            clips = load_clips(dataset, sample_rate=feats.sample_rate, progress=self.progress)
        labels = dataset.labels
        targets = task.encode(dataset.label_sets, labels)
        groups = dataset.column(group_column) if dataset.has_column(group_column) else None
        events = self._training_events(dataset, labels, feats.sample_rate)
        if embedder is not None:
            self._fit_embedding(embedder, dataset, clips, targets, groups, events)
        else:
            self._fit_torch(feats, train_cfg, augmentation, clips, targets, groups, deadline,
                            events)
        self.classes_ = labels
        self.train_info_.update({
            "class_counts": {c: int(targets[:, i].sum()) for i, c in enumerate(labels)},
            "dataset": dataset.source,
            "group_column": group_column if groups is not None else None})
        return self

    def _training_events(self, dataset, labels, sample_rate):
        """Per clip, its timed events as (onset sample, offset sample, class index) rows, when
        the estimator trains on strong labels; else None (the clip's targets label every
        window)."""
        return None

    def _fit_torch(self, feats, train_cfg, augmentation, clips, targets, groups, deadline,
                   events=None):
        task = get_task(self.task)
        if self.chooses_window:
            given_hop = self.features.get("hop_s") if isinstance(self.features, dict) else None
            sr = feats.sample_rate
            if events is None:
                feats = _window_for([len(c) / sr for c in clips], feats, hop_s=given_hop,
                                    max_s=AUTO_WINDOW_MAX_S.get(self.task, 4.0))
            else:      # strong labels: a window that holds the median event
                feats = _window_for([(b - a) / sr for ev in events for a, b, _ in ev] or
                                    [len(c) / sr for c in clips], feats, hop_s=given_hop,
                                    max_s=AUTO_WINDOW_MAX_S["classification"])
        if feats.hop_s > feats.window_s:
            warnings.warn(f"{type(self).__name__}: the window hop ({feats.hop_s:g} s) is longer "
                          f"than the analysis window ({feats.window_s:g} s), so "
                          f"{1 - feats.window_s / feats.hop_s:.0%} of every clip longer than a "
                          "window is never seen in training; give a hop_s no longer than "
                          "window_s", EarmarkWarning, stacklevel=3)
        tr, va = validation_split(targets, groups,
                                  fraction=train_cfg.val_fraction, seed=self.seed)
        device = _resolve_device(self.device)
        torch.manual_seed(self.seed)
        transfer = self._transfer_network()
        model = NeuralWindowModel(network=transfer or self.model, n_classes=targets.shape[1],
                                  features=feats, device=device, activation=task.activation)
        if transfer is not None:
            model.net.load_imagenet_weights()
            model.to(device)
        history, info = train_window_model(
            model, train_clips=[clips[i] for i in tr], train_y=targets[tr],
            val_clips=[clips[i] for i in va], val_y=targets[va], config=train_cfg,
            augmentation=augmentation, seed=self.seed, aggregation=self.aggregation_,
            progress=self.progress, cache_dir=_augment_cache(), deadline=deadline, task=task,
            train_events=None if events is None else [events[i] for i in tr])
        self.features_ = feats
        self.train_config_ = train_cfg
        self.augmentation_ = augmentation
        self.model_ = model.to("cpu").prepare_inference()
        self.licence_ = None
        if transfer is not None:
            from ..models.embeddings.install import MODELS
            self.licence_ = MODELS["efficientnet"].licence
        self.history_ = history
        self.train_info_ = {**info, "n_train_clips": int(len(tr)), "n_val_clips": int(len(va))}
        held_out = None
        if len(va) and self.tunes_decision:
            held_out = (targets[va], self.predict_clips([clips[i] for i in va]))
        self._fit_decision(held_out, source="validation clips")

    def _fit_embedding(self, embedder, dataset, clips, targets, groups, events=None):
        from ..models.embedded import EmbeddingWindowModel, parse_recipe

        t0 = time.perf_counter()
        task = get_task(self.task)
        model = EmbeddingWindowModel(embedder=embedder, head=parse_recipe(self.recipe)[1],
                                     n_classes=targets.shape[1], cache_dir=_embedding_cache(),
                                     task=task.name)
        y = targets.argmax(axis=1) if task.activation == "softmax" else targets
        model.fit(clips, y, groups=groups, seed=self.seed, progress=self.progress,
                  aggregation=self.aggregation_, events=events)
        head = model.head_config_
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
                     "inner_cv_score": head.get("inner_cv_score"),
                     # the old name, for classification
                     "inner_cv_balanced_accuracy": head.get("inner_cv_score")},
            "embedding_cache": {"clips_reused": model.cache_hits_,
                                "clips_embedded": model.cache_misses_}}
        self._fit_decision(model.oof_clip_scores_, source="out-of-fold predictions of the "
                           "head's inner cross-validation")

    def _fit_decision(self, held_out, *, source):
        """Learn the decision rule's parameters from held-out ``(targets, clip scores)`` (or
        None). Classification has none; the tagger tunes its thresholds here."""

    # -- prediction -------------------------------------------------------------------------------
    def predict_clips(self, clips):
        """Clip scores (n, n_classes) of decoded clips (1-D arrays at the model rate)."""
        self._check_fitted()
        if hasattr(self.model_, "score_clips"):      # embeddings: through the embedding cache
            return self.model_.score_clips(clips, aggregation=self.aggregation_)
        return evaluate_clips(self.model_, clips, aggregation=self.aggregation_, task=self.task)

    def predict_proba(self, sources):
        """Clip scores (n_files, n_classes) for files, folders or CSV lists; columns follow
        ``classes_``.

        Raises on the first file that cannot be read; use :meth:`predict_table` to get a row
        per file with its error instead.
        """
        self._check_fitted()
        task = get_task(self.task)
        out = [task.aggregate(score_source(self.model_, s)[1], method=self.aggregation_)
               for s in expand_sources(sources)]
        return np.array(out).reshape(-1, len(self.classes_))

    def decide(self, scores):
        """The answers for clip scores (n, n_classes): the task's decision rule."""
        self._check_fitted()
        return get_task(self.task).decide(scores, self.classes_,
                                          thresholds=getattr(self, "thresholds_", None))

    def predict_table(self, sources, *, windows=False, progress=None):
        """A DataFrame: path, the answer ('label' for a classifier, 'labels' for a tagger),
        one score column per class, error (one row per file, or per window with
        ``windows=True``, with start_s and end_s). Failing files get a row with their error;
        the rest go on."""
        self._check_fitted()
        return predict_table(self.model_, self.classes_, sources, windows=windows,
                             aggregation=self.aggregation_, task=self.task,
                             thresholds=getattr(self, "thresholds_", None),
                             progress=self.progress if progress is None else progress)

    def score_windows(self, windows):
        """Window scores (n, n_classes) of waveform windows at the model rate."""
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
            "kind": self.kind,
            "labels": list(self.classes_),
            "features": self.features_.to_dict(),
            "aggregation": self.aggregation_,
            "model": model_cfg,
            "params": params,
            "training": {"config": None if self.train_config_ is None
                         else self.train_config_.to_dict(), "history": self.history_,
                         "info": self.train_info_,
                         "augmentation": None if self.augmentation_ is None
                         else self.augmentation_.to_config()},
        }
        if self.task != "classification":     # classifier files keep their layout
            meta["task"] = self.task
        if self.licence_ is not None:
            meta["licence"] = self.licence_
        return meta, arrays

    @classmethod
    def _from_bundle(cls, meta, arrays, *, path=""):
        if meta.get("kind") != cls.kind:
            raise ModelFileError(f"{path}: holds a {meta.get('kind')!r} model, not a {cls.kind}")
        from .._schema import reading_field     # earmark.load checked the fields; name the rest

        with reading_field(path, "features"):
            feats = FeatureConfig.from_dict(meta["features"])
        # features and progress are given below
        params = {k: v for k, v in dict(meta.get("params", {})).items()
                  if k not in ("features", "progress")}
        params["device"] = "cpu"
        family = meta["model"].get("family")
        if family == "neural":
            try:
                model_cls = NeuralWindowModel
                if meta["model"].get("outputs") == "frames":      # a detector's CRNN
                    from ..models.frames import NeuralFrameModel
                    model_cls = NeuralFrameModel
                model = model_cls.from_state(meta["model"], arrays, features=feats)
            except ModelFileError as exc:
                raise ModelFileError(f"{path}: {exc}") from None
            licence = meta.get("licence")
        elif family == "embedding":
            from ..models.embedded import EmbeddingWindowModel
            try:
                model = EmbeddingWindowModel.from_state(meta["model"], arrays, features=feats)
            except ModelFileError as exc:       # not installed, another version: name the file
                raise type(exc)(f"{path}: {exc}") from None
            licence = model.licence
        else:
            raise ModelFileError(f"{path}: model family {family!r} is not known to this "
                                 "earmark")
        with reading_field(path, "params"):
            est = cls(**{k: v for k, v in params.items() if k in cls().get_params()},
                      features=feats if family == "neural" else None, progress=False)
        est.model_ = model
        est.licence_ = licence
        est.classes_ = list(meta["labels"])
        est.features_ = feats
        training = meta.get("training", {})
        config = training.get("config", {})
        with reading_field(path, "training.config"):
            est.train_config_ = None if config is None else TrainConfig(**config)
        est.history_ = training.get("history", [])
        est.train_info_ = training.get("info", {})
        aug = training.get("augmentation")
        with reading_field(path, "training.augmentation"):
            est.augmentation_ = None if aug is None else _make_augmentation(aug)
        est.augment = aug
        est.metadata_ = {k: meta.get(k) for k in ("versions", "saved_at", "format_version")}
        est._restore_decision(meta, arrays, path=path)
        return est

    def _restore_decision(self, meta, arrays, *, path=""):
        """Read back what :meth:`_fit_decision` learned (nothing for classification)."""
