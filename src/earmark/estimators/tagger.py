"""SoundTagger: any number of labels per clip (multi-label tagging).

``SoundTagger(...).fit(data)``, ``.predict(paths)`` (label sets), ``.predict_proba(paths)``
(one independent probability per class), ``thresholds_``, ``.save(path)`` and
:func:`earmark.load`.
"""

import numpy as np

from ..errors import ModelFileError, ParameterError
from ..tasks import get_task
from .base import WindowEstimator

__all__ = ["SoundTagger"]


class SoundTagger(WindowEstimator):
    """Tag sounds: which of the classes occur in each clip (none, one or several).

    The same recipes, front end and training loop as :class:`~earmark.SoundClassifier`, with
    the tagging task (:class:`~earmark.tasks.TaggingTask`): sigmoid outputs trained with binary
    cross-entropy (mixup mixes the multi-hot targets), one-vs-rest heads for embedding recipes,
    window scores aggregated without renormalising, and a decision threshold per class tuned to
    maximise that class's F1 on held-out predictions.

    Parameters
    ----------
    recipe, model, features, epochs, batch_size, learning_rate, weight_decay, patience,
    balance, freeze_epochs, backbone_lr_scale, augment, seed, device, progress
        As for :class:`~earmark.SoundClassifier`. ``balance='loss'`` weighs each class's
        positive clips by its negatives/positives ratio (at most 10). Without ``window_s``
        the analysis window is chosen to hold the median clip up to 10 s (a clip's tags
        belong to the whole clip).
    aggregation : {'mean', 'max', 'lse'} or None
        How window scores become clip scores: mean, max, or 'lse' (log-sum-exp, a smooth
        maximum; the default when None).
    val_fraction : float or None
        Fraction of the training clips held out by group (None: 0.2) to choose the epoch and
        tune the thresholds of a torch recipe. Embedding recipes tune the thresholds on the
        out-of-fold predictions of their heads' inner cross-validation instead.
    window_labels : {'clip', 'events'}
        What each analysis window is trained with. 'clip' (weak labels, the default): the
        clip's tags, wherever in the clip their sounds are. 'events' (strong labels): the tags
        of the events that overlap the window by at least half of the shorter of the two,
        from the dataset's annotation table (``annotations.csv``; an error without one); the
        window chosen automatically then holds the median event rather than the clip. Either
        way the model is judged, and decides, per clip. Augmentations that move events in
        time (shift, stretch) are refused with 'events'.

    Attributes
    ----------
    classes_ : list of str
    thresholds_ : np.ndarray (n_classes,)
        Decision threshold per class: the one that maximised the class's F1 on held-out
        predictions (validation clips, or out-of-fold predictions), 0.5 for a class with no
        held-out positive example (:func:`earmark.evaluation.tagging.tune_thresholds`).
    threshold_source_ : str
        Which held-out predictions the thresholds come from.
    history_, train_info_, model_, licence_, features_
        As for :class:`~earmark.SoundClassifier`.

    Examples
    --------
    >>> import earmark
    >>> tagger = earmark.SoundTagger().fit("scenes/")          # doctest: +SKIP
    >>> tagger.predict(["garden.wav"])                          # doctest: +SKIP
    [('bird', 'dog')]
    >>> tagger.predict_proba(["garden.wav"]).round(2)           # doctest: +SKIP
    array([[0.93, 0.08, 0.71]])
    >>> tagger.save("garden.earmark")                           # doctest: +SKIP
    """

    task = "tagging"
    kind = "tagger"
    task_defaults = {"val_fraction": 0.2}
    tunes_decision = True

    def __init__(self, *, window_labels="clip", **params):
        super().__init__(**params)
        self.window_labels = window_labels

    def get_params(self, deep=False):
        return {**super().get_params(deep=deep), "window_labels": self.window_labels}

    def check_params(self):
        from .._validation import check_choice
        check_choice(self.window_labels, "window_labels", "SoundTagger", ("clip", "events"))
        return super().check_params()

    def _training_events(self, dataset, labels, sample_rate):
        if self.window_labels == "clip":
            return None
        if dataset.annotations is None:
            raise ParameterError(f"{dataset.source}: window_labels='events' needs strong labels "
                                 "(an annotation table with filename, onset, offset, "
                                 "event_label), and this dataset has none")
        from ..data.annotations import clip_events
        return clip_events(dataset, labels, sample_rate=sample_rate)
    def _fit_decision(self, held_out, *, source):
        task = get_task(self.task)
        if held_out is None or not len(held_out[0]):
            self.thresholds_ = np.full(self.model_.n_classes, 0.5)
            self.threshold_source_ = "none held out: 0.5 for every class"
            return
        targets, scores = held_out
        usable = ~np.isnan(scores).any(axis=0)
        t = np.full(scores.shape[1], 0.5)
        if usable.any():
            t[usable] = task.tune_thresholds(targets[:, usable], scores[:, usable])
        self.thresholds_ = t
        self.threshold_source_ = source

    def set_thresholds(self, thresholds):
        """Use these decision thresholds (a float, or one per class in ``classes_`` order, or
        a dict class -> threshold); returns self."""
        self._check_fitted()
        if isinstance(thresholds, dict):
            unknown = sorted(set(thresholds) - set(self.classes_))
            if unknown:
                raise ParameterError(f"set_thresholds: unknown classes {unknown}; classes are "
                                     f"{self.classes_}")
            t = np.array([thresholds.get(c, self.thresholds_[i])
                          for i, c in enumerate(self.classes_)], float)
        else:
            t = np.broadcast_to(np.asarray(thresholds, float), (len(self.classes_),)).copy() \
                if np.ndim(thresholds) == 0 else np.asarray(thresholds, float)
        if t.shape != (len(self.classes_),) or not np.all((t >= 0) & (t <= 1)):
            raise ParameterError(f"The 'thresholds' parameter of set_thresholds must be one "
                                 f"value in [0, 1] per class ({len(self.classes_)}). Got "
                                 f"{thresholds!r} instead.")
        self.thresholds_ = t
        self.threshold_source_ = "set by the user"
        return self

    def tune_thresholds(self, data, *, group_column="group"):
        """Tune the thresholds on held-out labelled data (a dataset the model was not trained
        on), maximising each class's F1; returns self."""
        from ..data import load_clips, load_dataset, validate_dataset

        self._check_fitted()
        dataset = load_dataset(data)
        validate_dataset(dataset, progress=self.progress)
        unknown = sorted(set(dataset.labels) - set(self.classes_))
        if unknown:
            raise ParameterError(f"{dataset.source}: labels {unknown} are not classes of this "
                                 f"tagger ({self.classes_})")
        clips = load_clips(dataset, sample_rate=self.features_.sample_rate,
                           progress=self.progress)
        targets = get_task(self.task).encode(dataset.label_sets, self.classes_)
        self._fit_decision((targets, self.predict_clips(clips)),
                           source=f"held-out data {dataset.source}")
        return self

    def predict(self, sources, *, multi_hot=False):
        """The tags of files, folders or CSV lists: a list with one tuple of class names per
        file, or with ``multi_hot=True`` an int array (n_files, n_classes) in ``classes_``
        order (as scikit-learn's multi-label estimators return)."""
        p = self.predict_proba(sources)
        if multi_hot:
            return (p >= self.thresholds_).astype(np.int64)
        return self.decide(p)

    # -- persistence ------------------------------------------------------------------------------
    def _bundle_state(self):
        meta, arrays = super()._bundle_state()
        meta["thresholds"] = [float(t) for t in self.thresholds_]
        meta["threshold_source"] = self.threshold_source_
        return meta, arrays

    def _restore_decision(self, meta, arrays, *, path=""):
        t = meta.get("thresholds")
        if not isinstance(t, list) or len(t) != len(self.classes_):
            raise ModelFileError(f"{path}: damaged model file: field 'thresholds': a tagger "
                                 f"model file needs one threshold per class "
                                 f"({len(self.classes_)}); got "
                                 f"{len(t) if isinstance(t, list) else type(t).__name__}")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1
                   for v in t):          # NaN fails 0 <= v
            raise ModelFileError(f"{path}: damaged model file: field 'thresholds': must be "
                                 f"scores in [0, 1]; got {t[:10]}")
        source = meta.get("threshold_source", "")
        if not isinstance(source, str):
            raise ModelFileError(f"{path}: damaged model file: field 'threshold_source': must "
                                 f"be text; got {type(source).__name__}")
        self.thresholds_ = np.asarray(t, float)
        self.threshold_source_ = source
