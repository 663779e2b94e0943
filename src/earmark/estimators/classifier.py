"""SoundClassifier: one class per clip, the estimator a scikit-learn user would guess.

``SoundClassifier(...).fit(data)``, ``.predict(paths)``, ``.predict_proba(paths)``, ``.save(path)``
and :func:`earmark.load`. With ``unknown='5%'`` it also answers 'unknown' for clips unlike every
class it knows (open-set classification, :mod:`earmark.models.rejection`).
"""

import numpy as np

from .._validation import check_choice
from ..errors import DatasetError, ModelFileError, NotFittedError
from ..models.rejection import REJECTION_SCORES, parse_unknown
from .base import RECIPE_DEFAULTS, WindowEstimator

__all__ = ["SoundClassifier", "RECIPE_DEFAULTS", "REJECTION_HOLDOUT", "DEFAULT_REJECTION"]

#: The share of the training clips held out (by group) to set the rejection threshold on.
REJECTION_HOLDOUT = 0.2
#: The rejection score ``rejection=None`` means (docs/novelty.md, "Open-set classification").
DEFAULT_REJECTION = "knn"


class SoundClassifier(WindowEstimator):
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
    aggregation : {'mean', 'max', 'vote'} or None
        How window scores become a clip score: mean (probabilistic voting), max, majority vote.
        None: 'mean'.
    epochs, batch_size, learning_rate, weight_decay, patience, val_fraction, balance
        (``val_fraction`` None: 0)
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
    unknown : str or float or None
        Open-set classification: answer 'unknown' for clips unlike every known class. The share
        of known-class clips that may be rejected, '5%' (a target known-class recall of 95 %)
        or a fraction in (0, 0.5]; None (default): always answer a class. ``fit`` then holds
        out about 20 % of the training clips by group (:data:`REJECTION_HOLDOUT`), trains on
        the rest and sets the threshold on the held-out clips' rejection scores; the model is
        not refitted on them, so the threshold belongs to the model that answers. Change it
        later with :meth:`set_unknown`.
    rejection : {'knn', 'energy', 'maxprob'} or None
        The rejection score (:mod:`earmark.models.rejection`): the distance of the window
        embeddings to the nearest training windows, the energy of the logits, or one minus the
        largest class probability. None: :data:`DEFAULT_REJECTION` ('knn': the best measured
        on drums with one class left out in turn, docs/novelty.md). 'energy' needs logits (a
        CNN, or an embedding recipe with a 'logreg' head).

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
    rejector_ : earmark.models.rejection.Rejector or None
        The rejection score and threshold (None without ``unknown``).

    Examples
    --------
    >>> import earmark
    >>> clf = earmark.SoundClassifier(epochs=20).fit("drums/")        # doctest: +SKIP
    >>> clf.predict(["kick.wav"])                                     # doctest: +SKIP
    array(['kick'], dtype=object)
    >>> clf.save("drums.earmark")                                     # doctest: +SKIP
    >>> earmark.load("drums.earmark").predict_proba(["kick.wav"])      # doctest: +SKIP
    >>> emb = earmark.SoundClassifier(recipe="embed:yamnet+logreg").fit("drums/")  # doctest: +SKIP
    >>> birds = earmark.SoundClassifier(unknown="5%").fit("birds/")   # doctest: +SKIP
    >>> birds.predict(["new.wav"])              # 'unknown' when unlike every class # doctest: +SKIP
    """

    task = "classification"
    kind = "classifier"
    task_defaults = {"val_fraction": 0.0}

    def __init__(self, *, unknown=None, rejection=None, **params):
        super().__init__(**params)
        self.unknown = unknown
        self.rejection = rejection

    def get_params(self, deep=False):
        return {**super().get_params(deep=deep), "unknown": self.unknown,
                "rejection": self.rejection}

    def check_params(self):
        if self.unknown is not None:
            parse_unknown(self.unknown)
        if self.rejection is not None:
            check_choice(self.rejection, "rejection", "SoundClassifier", REJECTION_SCORES)
        return super().check_params()

    @property
    def rejection_(self):
        """The rejection score in use: ``rejection``, or :data:`DEFAULT_REJECTION` when None."""
        return self.rejection or DEFAULT_REJECTION

    # -- training ---------------------------------------------------------------------------
    def fit(self, data, *, group_column="group", clips=None, deadline=None):
        """Train on a dataset (see :meth:`WindowEstimator.fit`); with ``unknown``, on the clips
        left after holding some out by group, whose rejection scores set the threshold.

        Raises
        ------
        DatasetError
            With ``unknown``: no clip can be held out (a single clip or group, or every
            group is the last of some class).
        """
        from ..data import load_clips, load_dataset, validate_dataset, validation_split
        from ..tasks import get_task

        if self.unknown is None:
            self.rejector_ = self.rejection_split_ = None
            return super().fit(data, group_column=group_column, clips=clips, deadline=deadline)
        settings = self.check_params()
        dataset = load_dataset(data)
        if clips is None:
            validate_dataset(dataset, progress=self.progress)
            clips = load_clips(dataset, sample_rate=settings.features.sample_rate,
                               progress=self.progress)
        targets = get_task(self.task).encode(dataset.label_sets, dataset.labels)
        groups = dataset.column(group_column) if dataset.has_column(group_column) else None
        tr, held = validation_split(targets, groups, fraction=REJECTION_HOLDOUT, seed=self.seed)
        if not len(held):
            n_groups = len(set(groups)) if groups is not None else len(dataset)
            unit = f"group ({group_column!r})" if groups is not None else "clip"
            raise DatasetError(
                f"{dataset.source}: unknown={self.unknown!r} sets the rejection threshold on "
                f"known-class clips held out from training, and no {unit} can be held out "
                f"without taking the last training clips of a class ({len(dataset)} clips); "
                "give more clips (or groups) per class, or train without unknown",
                [f"{len(dataset)} clip(s), {n_groups} group(s)"])
        super().fit(dataset.subset(tr), group_column=group_column,
                    clips=[clips[i] for i in tr], deadline=deadline)
        self.rejector_ = self.fit_rejector(self.rejection_, [clips[i] for i in tr],
                                           [clips[i] for i in held])
        # which clips trained the model and which set the threshold (open-set evaluation
        # builds its other scores' rejectors from the same split)
        self.rejection_split_ = (tr, held)
        self.train_info_["rejection"] = {
            "score": self.rejection_, "unknown": self.unknown,
            "n_held_out_clips": int(len(held)), "threshold": self.rejector_.threshold_}
        return self

    def fit_rejector(self, score, train_clips, held_clips):
        """A :class:`~earmark.models.rejection.Rejector` of ``score`` for this fitted model:
        its kNN reference from ``train_clips`` (the clips it was trained on) and its threshold
        from ``held_clips`` (known-class clips it never saw), at ``unknown`` (default '5%')."""
        from ..models.rejection import Rejector, clip_window_outputs

        self._check_fitted()
        rejector = Rejector(score=score, unknown=self.unknown or "5%")
        if rejector.score == "knn":
            outs = clip_window_outputs(self.model_, train_clips)
            # an embedder's dimensions have unrelated scales; a CNN's activations are one space
            rejector.fit_reference(np.concatenate([e for _, _, e in outs]), seed=self.seed,
                                   standardize=isinstance(self.model_, _embedding_model()))
        return rejector.set_calibration(self.clip_rejection_scores(held_clips, rejector))

    def clip_rejection_scores(self, clips, rejector=None):
        """Rejection scores (n,) of decoded clips (1-D, model rate) under ``rejector`` (None:
        ``rejector_``); higher: less like every known class."""
        from ..models.rejection import clip_rejection_scores, clip_window_outputs
        from ..tasks import get_task

        if rejector is None:
            self._check_rejector()
            rejector = self.rejector_
        task = get_task(self.task)
        out = []
        for p, z, e in clip_window_outputs(self.model_, clips):
            clip_p = task.aggregate(p, method=self.aggregation_)
            out.append(clip_rejection_scores(rejector.window_values(p, z, e), clip_p,
                                             score=rejector.score))
        return np.array(out)

    # -- the decision -------------------------------------------------------------------------
    def _check_rejector(self):
        self._check_fitted()
        if getattr(self, "rejector_", None) is None:
            raise NotFittedError("This SoundClassifier has no rejection: fit it with unknown= "
                                 "(e.g. SoundClassifier(unknown='5%')) to have it answer "
                                 "'unknown'.")

    def set_unknown(self, unknown):
        """Another share of known-class clips that may be rejected ('5%', or a fraction):
        the threshold moves on the stored held-out scores, nothing is refitted. Returns
        self."""
        self._check_rejector()
        parse_unknown(unknown)
        self.rejector_.set_unknown(unknown)
        self.unknown = unknown
        return self

    def _open_set(self):
        """(window model, task) of the rejecting prediction."""
        from ..models.rejection import RejectingWindowModel
        from ..tasks.classification import OpenSetClassificationTask

        return (RejectingWindowModel(self.model_, self.rejector_),
                OpenSetClassificationTask(score=self.rejector_.score,
                                          threshold=self.rejector_.threshold_))

    def rejection_scores(self, sources):
        """Rejection scores (n_files,) of files, folders or CSV lists (higher: less like every
        known class); a file is answered 'unknown' when its score is above
        ``rejector_.threshold_``."""
        from ..data.sources import expand_sources
        from ..predict import score_source

        self._check_rejector()
        model, task = self._open_set()
        return np.array([task.aggregate(score_source(model, s)[1], method=self.aggregation_)[-1]
                         for s in expand_sources(sources)])

    def predict(self, sources):
        """Predicted class names for files, folders or CSV lists ('unknown' for a rejected
        clip when the classifier was fitted with ``unknown``)."""
        if getattr(self, "rejector_", None) is None:
            p = self.predict_proba(sources)
            return np.array(self.classes_, dtype=object)[p.argmax(axis=1)]
        from ..data.sources import expand_sources
        from ..predict import score_source

        model, task = self._open_set()
        clip = [task.aggregate(score_source(model, s)[1], method=self.aggregation_)
                for s in expand_sources(sources)]
        if not clip:
            return np.array([], dtype=object)
        return task.decide(np.stack(clip), self.classes_)

    def predict_table(self, sources, *, windows=False, progress=None):
        """As :meth:`WindowEstimator.predict_table`; with a rejection, the ``label`` may be
        'unknown' and a ``rejection_score`` column follows the class columns."""
        if getattr(self, "rejector_", None) is None:
            return super().predict_table(sources, windows=windows, progress=progress)
        from ..predict import predict_table

        model, task = self._open_set()
        return predict_table(model, list(self.classes_) + [REJECTION_COLUMN], sources,
                             windows=windows, aggregation=self.aggregation_, task=task,
                             progress=self.progress if progress is None else progress)

    # -- the model file -------------------------------------------------------------------------
    def save(self, path):
        """Write the fitted model to one file (see :mod:`earmark.bundle`), its rejection
        included; returns the path. (An ensemble stores its members' state without their
        rejection: it answers from their mean probabilities.)"""
        from ..bundle import write_bundle

        meta, arrays = self._bundle_state()
        if getattr(self, "rejector_", None) is not None:
            config, extra = self.rejector_.get_state()
            meta["rejection"] = config
            arrays.update({f"rejection.{k}": v for k, v in extra.items()})
        return write_bundle(path, meta=meta, arrays=arrays)

    def _restore_decision(self, meta, arrays, *, path=""):
        from ..models.rejection import Rejector

        self.rejector_ = None
        config = meta.get("rejection")
        if config is None:            # model files from before open-set classification
            return
        if not isinstance(config, dict):
            raise ModelFileError(f"{path}: damaged model file: field 'rejection': must be an "
                                 f"object; got {type(config).__name__}")
        try:
            self.rejector_ = Rejector.from_state(config, {
                k[len("rejection."):]: v for k, v in arrays.items()
                if k.startswith("rejection.")})
        except ModelFileError as exc:
            raise ModelFileError(f"{path}: {exc}") from None
        if self.rejector_.score == "knn":
            dim = self.rejector_.reference_.shape[1]
            if not isinstance(self.model_, _embedding_model()) or dim == self.model_.embedder.dim:
                return
            raise ModelFileError(f"{path}: damaged model file: field 'rejection': the kNN "
                                 f"reference holds {dim}-D embeddings; the embedder gives "
                                 f"{self.model_.embedder.dim}")

    @classmethod
    def _check_model_file(cls, meta, specs, *, path, kinds=None):
        """:func:`earmark._schema.check_model_file`, and the rejection's arrays (float arrays
        whose shapes agree) when the file has them."""
        from .._schema import check_model_file

        own = {k: v for k, v in specs.items() if k.startswith("rejection.")}
        check_model_file(meta, {k: v for k, v in specs.items() if k not in own}, path=path,
                         kinds=kinds)
        config = meta.get("rejection")
        if config is None and not own:
            return
        if not isinstance(config, dict) or config.get("score") not in REJECTION_SCORES:
            raise ModelFileError(f"{path}: damaged model file: field 'rejection': must name a "
                                 f"score of {REJECTION_SCORES}")
        want = {"rejection.calibration_scores": 1}
        if config["score"] == "knn":
            want.update({"rejection.mean": 1, "rejection.scale": 1, "rejection.reference": 2})
        if set(own) != set(want):
            raise ModelFileError(f"{path}: damaged model file: rejection arrays "
                                 f"{sorted(own)} are not those of a {config['score']!r} "
                                 f"rejection ({sorted(want)})")
        for name, ndim in want.items():
            spec = own[name]
            if len(spec.shape) != ndim or spec.dtype.kind != "f" or not spec.shape[0] or \
                    spec.shape[0] > 50_000_000:
                raise ModelFileError(f"{path}: damaged model file: array {name!r} has shape "
                                     f"{tuple(spec.shape)} and dtype {spec.dtype}")


#: The column of the prediction table holding a rejecting classifier's score.
REJECTION_COLUMN = "rejection_score"


def _embedding_model():
    from ..models.embedded import EmbeddingWindowModel
    return EmbeddingWindowModel
