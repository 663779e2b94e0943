"""SoundDetector: every sound event in a recording, with its onset, offset, class and score.

``SoundDetector().fit(data)`` learns from recordings with strong labels (onset/offset per
event) or, with ``weak=True``, from clip tags alone; ``.detect(paths)`` returns the events of
recordings of any length, ``.frame_scores(path)`` the scores over time they come from.
"""

import time

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .._validation import check_choice, check_number
from ..config import FeatureConfig
from ..data import load_clips, load_dataset, validate_dataset, validation_split
from ..data.sources import expand_sources
from ..errors import EarmarkError, ModelFileError, ParameterError
from ..tasks import get_task
from ..train import train_window_model
from .base import Settings, WindowEstimator, _augment_cache, _make_augmentation, _resolve_device

__all__ = ["SoundDetector", "DETECTION_FEATURES"]

#: The front end of the CRNN recipe: 5-s windows (the GRU's context), scored at a 3.75-s hop
#: (a quarter of each window overlaps the next, where edge frames are down-weighted).
DETECTION_FEATURES = FeatureConfig(window_s=5.0, hop_s=3.75)
#: Frames per window of a window classifier used for detection (its window hop at detection).
WINDOW_CLASSIFIER_FRAMES = 4


class SoundDetector(WindowEstimator):
    """Detect sound events: when each class sounds, in recordings of any length.

    Parameters
    ----------
    recipe : str
        'crnn' (default): a convolutional recurrent network with frame outputs
        (:class:`~earmark.models.crnn.CRNN`) trained on frame targets; or any window-classifier
        recipe ('cnn', 'transfer:efficientnet', 'embed:yamnet+logreg', ...): a tagger trained
        on the events inside each window (or the clip tags with ``weak=True``), whose scores on
        overlapping windows become frame scores (each frame: the mean of the windows over it).
    weak : bool
        Train from clip tags only (weak labels; the dataset needs no onsets and offsets). The
        CRNN then learns through attention pooling of its frames to the clip (multi-instance
        learning) and still outputs frames.
    hop_s : float or None
        Hop between analysis windows when scoring recordings (rounded to whole frames). None:
        3/4 of the window for the CRNN, a quarter of the window for a window classifier.
    tune : bool
        Tune the post-processing (median filter, onset/offset thresholds, minimum length, gap
        merging; per class) on the validation recordings (``val_fraction`` of the training
        data, held out by group) to maximise collar-based event F1. Needs strong labels on
        those recordings; without them (or with ``tune=False``) the defaults of
        :class:`~earmark.inference.postprocess.PostProcessing` are kept.
    model, features, epochs, batch_size, learning_rate, weight_decay, patience, val_fraction,
    balance, freeze_epochs, backbone_lr_scale, augment, seed, device, progress
        As for :class:`~earmark.SoundClassifier` (``model`` names the network of the 'cnn'
        recipe). ``features`` of the CRNN default to :data:`DETECTION_FEATURES`. Augmentations
        that move sound in time inside a window (time-shift, time-stretch) are refused with
        strong labels: the random crop of each training window already moves audio and frame
        targets together.

    Attributes
    ----------
    classes_ : list of str
    postprocessing_ : earmark.inference.postprocess.PostProcessing
    postprocessing_source_ : str
    tuning_ : dict
        Per class, the best collar F1 reached on the validation recordings.
    frame_step_s_ : float
        Length of one output frame in seconds.
    model_, features_, history_, train_info_, licence_
        As for :class:`~earmark.SoundClassifier`.

    Examples
    --------
    >>> det = earmark.SoundDetector().fit("scenes/")          # doctest: +SKIP
    >>> det.detect(["dawn.wav"]).head()                        # doctest: +SKIP
       filename  onset  offset event_label  score
    0  dawn.wav   1.21    2.04   footsteps   0.91
    """

    task = "detection"
    kind = "detector"
    task_defaults = {"val_fraction": 0.2}
    tunes_decision = True

    def __init__(self, *, recipe="crnn", weak=False, hop_s=None, tune=True, **params):
        super().__init__(recipe=recipe, **params)
        self.weak = weak
        self.hop_s = hop_s
        self.tune = tune

    def get_params(self, deep=False):
        return {**super().get_params(deep=deep), "weak": self.weak, "hop_s": self.hop_s,
                "tune": self.tune}

    # -- parameters -------------------------------------------------------------------------------
    def check_params(self):
        o = type(self).__name__
        check_choice(self.weak, "weak", o, (True, False))
        check_choice(self.tune, "tune", o, (True, False))
        if self.hop_s is not None:
            check_number(self.hop_s, "hop_s", o, low=0, high=600)
        if self.recipe != "crnn":
            return super().check_params()
        task = get_task(self.task)
        task.check_aggregation(self.aggregation_, o)
        check_choice(self.device, "device", o, ("auto", "cpu", "cuda"))
        check_number(self.seed, "seed", o, low=0, closed="left", integer=True)
        if self.features is None:
            feats = DETECTION_FEATURES
        elif isinstance(self.features, FeatureConfig):
            feats = self.features
        elif isinstance(self.features, dict):
            given = dict(self.features)
            if "window_s" in given and "hop_s" not in given:
                given["hop_s"] = 0.75 * given["window_s"]
            try:
                feats = DETECTION_FEATURES.replace(**given)
            except ParameterError as e:
                raise ParameterError(f"The 'features' parameter of {o}: {e}") from None
        else:
            raise ParameterError(f"The 'features' parameter of {o} must be a FeatureConfig, a "
                                 f"dict or None. Got {type(self.features).__name__} instead.")
        augmentation = _make_augmentation(self.augment, self.seed, "cnn")
        if augmentation is not None and augmentation.moves_events and not self.weak:
            raise ParameterError(
                f"{o}: augmentations that move sound in time inside a window (shift, stretch) "
                "would leave the frame targets behind; with strong labels each training window "
                "is already a random crop that moves audio and targets together. Drop them "
                "from augment.")
        return Settings(feats, self._train_config("cnn"), augmentation, None)

    @property
    def chooses_window(self):
        return False

    def _window_hop_s(self, model):
        if self.hop_s is not None:
            return float(self.hop_s)
        fc = model.features
        if self.recipe == "crnn":
            return 0.75 * fc.window_s
        return fc.window_s / WINDOW_CLASSIFIER_FRAMES

    # -- training ---------------------------------------------------------------------------------
    def fit(self, data, *, group_column="group", clips=None, deadline=None):
        """Train on a dataset with strong labels (an annotation table; recordings without
        events are negatives) or, with ``weak=True``, with clip tags; then tune the
        post-processing on the validation recordings. ``clips`` and ``deadline`` as for
        :meth:`earmark.SoundClassifier.fit`."""
        settings = self.check_params()
        task = get_task(self.task)
        dataset = load_dataset(data)
        if not self.weak and dataset.annotations is None:
            raise ParameterError(
                f"{dataset.source}: detection from strong labels needs an annotation table "
                "(filename, onset, offset, event_label: annotations.csv beside the manifest, "
                "--annotations FILE, or Audacity/Raven label files); to learn from clip tags "
                "alone, use weak=True (--weak)")
        sr = settings.features.sample_rate
        if clips is None:
            validate_dataset(dataset, progress=self.progress)
            if dataset.annotations is not None:       # every event problem at once, by line
                from ..data import check_dataset_events
                check_dataset_events(dataset)
            clips = load_clips(dataset, sample_rate=sr, progress=self.progress)
        classes = dataset.labels
        targets = task.encode(dataset.label_sets, classes)
        groups = dataset.column(group_column) if dataset.has_column(group_column) else None
        events = None
        if dataset.annotations is not None:
            from ..data.annotations import clip_events
            events = clip_events(dataset, classes, sample_rate=sr)
        tr, va = validation_split(targets, groups, fraction=self._param("val_fraction"),
                                  seed=self.seed)
        t0 = time.perf_counter()
        if self.recipe == "crnn":
            self._fit_crnn(settings, clips, targets, events, tr, va, deadline)
        else:
            self._fit_window_classifier(dataset, clips, tr, group_column, deadline)
        self.classes_ = classes
        self.train_info_.update({
            "class_counts": {c: int(targets[:, i].sum()) for i, c in enumerate(classes)},
            "dataset": dataset.source, "labels": "weak" if self.weak else "strong",
            "group_column": group_column if groups is not None else None,
            "n_train_clips": int(len(tr)), "n_val_clips": int(len(va)),
            "wall_s": time.perf_counter() - t0})
        self._tune(clips, events, va, sr)
        return self

    def _fit_crnn(self, settings, clips, targets, events, tr, va, deadline):
        from ..models.frames import NeuralFrameModel

        feats, train_cfg, augmentation, _ = settings
        task = get_task(self.task)
        import torch
        torch.manual_seed(self.seed)
        model = NeuralFrameModel(n_classes=targets.shape[1], features=feats,
                                 device=_resolve_device(self.device),
                                 clip_pooling="attention" if self.weak else "max")
        model.net.output = "clip" if self.weak else "frames"
        history, info = train_window_model(
            model, train_clips=[clips[i] for i in tr], train_y=targets[tr],
            val_clips=[clips[i] for i in va], val_y=targets[va], config=train_cfg,
            augmentation=augmentation, seed=self.seed, aggregation=self.aggregation_,
            progress=self.progress, cache_dir=_augment_cache(), deadline=deadline, task=task,
            train_events=None if self.weak else [events[i] for i in tr],
            event_targets=None if self.weak else model.event_targets)
        model.net.output = "frames"
        self.model_ = model.to("cpu").prepare_inference()
        self.features_ = feats
        self.train_config_ = train_cfg
        self.augmentation_ = augmentation
        self.licence_ = None
        self.history_ = history
        self.train_info_ = dict(info)
        self.frame_step_s_ = model.frame_step_samples / feats.sample_rate

    def _fit_window_classifier(self, dataset, clips, tr, group_column, deadline):
        from .tagger import SoundTagger

        keep = set(SoundTagger().get_params()) - {"window_labels", "val_fraction"}
        tagger = SoundTagger(**{k: v for k, v in self.get_params().items() if k in keep},
                             window_labels="clip" if self.weak else "events",
                             val_fraction=self._param("val_fraction"))
        tagger.fit(dataset.subset(tr), clips=[clips[i] for i in tr], group_column=group_column,
                   deadline=deadline)
        for name in ("model_", "features_", "train_config_", "augmentation_", "licence_",
                     "history_"):
            setattr(self, name, getattr(tagger, name))
        self.train_info_ = dict(tagger.train_info_)
        fc = tagger.features_
        self.frame_step_s_ = self._window_hop_s(tagger.model_)
        self.frame_step_s_ = max(1, round(self.frame_step_s_ * fc.sample_rate)) / fc.sample_rate

    # -- post-processing --------------------------------------------------------------------------
    def _tune(self, clips, events, va, sample_rate):
        from ..inference.postprocess import PostProcessing, tune_postprocessing

        n = len(self.classes_)
        self.tuning_ = {}
        if not self.tune or events is None or not len(va):
            self.postprocessing_ = PostProcessing.default(n)
            self.postprocessing_source_ = (
                "defaults: " + ("tune=False" if not self.tune else "no strong labels" if events
                                is None else "no validation recordings"))
            return
        frames = self.frame_scores_of_clips([clips[i] for i in va])
        scores = {str(i): f.scores for i, f in zip(va, frames)}
        truth = {str(i): [(a / sample_rate, b / sample_rate, self.classes_[c])
                          for a, b, c in events[i]] for i in va}
        durations = {str(i): len(clips[i]) / sample_rate for i in va}
        self.postprocessing_, self.tuning_ = tune_postprocessing(
            scores, truth, frame_step_s=self.frame_step_s_, classes=list(self.classes_),
            durations=durations)
        self.postprocessing_source_ = f"tuned on {len(va)} validation recordings"

    def set_postprocessing(self, postprocessing):
        """Use these post-processing settings (a
        :class:`~earmark.inference.postprocess.PostProcessing` or its dict); returns self."""
        from ..inference.postprocess import PostProcessing
        self._check_fitted()
        if isinstance(postprocessing, dict):
            postprocessing = PostProcessing.from_dict(postprocessing, n_classes=len(self.classes_))
        if not isinstance(postprocessing, PostProcessing):
            raise ParameterError("set_postprocessing takes a PostProcessing or its dict; got "
                                 f"{type(postprocessing).__name__}")
        self.postprocessing_ = postprocessing
        self.postprocessing_source_ = "set by the user"
        return self

    # -- prediction -------------------------------------------------------------------------------
    def _frame_model(self):
        from ..models.frames import WindowFrames
        if hasattr(self.model_, "score_frames"):
            return self.model_
        return WindowFrames(self.model_, frame_step_s=self.frame_step_s_)

    def frame_scores_of_clips(self, clips):
        """:class:`~earmark.inference.frames.FrameScores` of decoded clips (model rate)."""
        from ..inference.frames import score_frames
        self._check_fitted()
        fm = self._frame_model()
        hop = self._window_hop_s(fm)
        return [score_frames(fm, c, hop_s=hop) for c in clips]

    def frame_scores(self, source, *, block_s=60.0):
        """:class:`~earmark.inference.frames.FrameScores` of one file (read in blocks) or a
        ``(path, start_s, end_s)`` region."""
        from ..inference.frames import score_file_frames
        self._check_fitted()
        src = expand_sources([source])[0] if not isinstance(source, tuple) else source
        path, start_s, end_s = src[0], src[1], src[2]
        fm = self._frame_model()
        return score_file_frames(fm, path, hop_s=self._window_hop_s(fm), block_s=block_s,
                                 start_s=start_s, end_s=end_s)

    def events(self, frame_scores, *, start_s=0.0):
        """Events ``(onset_s, offset_s, label, score)`` of frame scores, by the
        post-processing."""
        from ..inference.postprocess import decode_events
        self._check_fitted()
        return decode_events(frame_scores.scores, frame_step_s=frame_scores.frame_step_s,
                             classes=list(self.classes_), postprocessing=self.postprocessing_,
                             start_s=start_s)

    def iter_detect(self, sources, *, block_s=60.0):
        """Per file: ``(path, FrameScores or None, events, error or None)``; a file that fails
        gives its error and the rest go on."""
        self._check_fitted()
        for src in expand_sources(sources):
            try:
                fs = self.frame_scores(src, block_s=block_s)
            except (EarmarkError, OSError) as exc:
                yield src.path, None, [], str(exc)
                continue
            yield src.path, fs, self.events(fs, start_s=src.start_s or 0.0), None

    def detect(self, sources, *, progress=None):
        """The events of files, folders or CSV lists: a DataFrame ``filename, onset, offset,
        event_label, score, error`` (one row per event; a file that could not be read gets one
        row with its error)."""
        rows = []
        items = expand_sources(sources)
        show = self.progress if progress is None else progress
        for path, _, events, error in tqdm(self.iter_detect(items), total=len(items),
                                           desc="detecting", unit="file", disable=not show):
            if error is not None:
                rows.append((path, np.nan, np.nan, None, np.nan, error))
            rows.extend((path, on, off, lab, sc, None) for on, off, lab, sc in events)
        return pd.DataFrame(rows, columns=["filename", "onset", "offset", "event_label",
                                           "score", "error"])

    # -- persistence ------------------------------------------------------------------------------
    def _bundle_state(self):
        meta, arrays = super()._bundle_state()
        meta["params"]["recipe"] = self.recipe
        meta["detection"] = {
            "weak": bool(self.weak), "frame_step_s": float(self.frame_step_s_),
            "hop_s": self._window_hop_s(self._frame_model()),
            "postprocessing": self.postprocessing_.to_dict(),
            "postprocessing_source": self.postprocessing_source_,
            "tuning": self.tuning_}
        return meta, arrays

    @classmethod
    def _from_bundle(cls, meta, arrays, *, path=""):
        if meta.get("kind") != cls.kind:
            raise ModelFileError(f"{path}: holds a {meta.get('kind')!r} model, not a {cls.kind}")
        det = meta.get("detection")
        if not isinstance(det, dict) or "postprocessing" not in det:
            raise ModelFileError(f"{path}: detector model file without its 'detection' settings")
        est = super()._from_bundle(meta, arrays, path=path)
        est._restore_detection(det, path=path)
        return est

    def _restore_detection(self, det, *, path=""):
        from ..inference.postprocess import PostProcessing
        try:
            self.postprocessing_ = PostProcessing.from_dict(det["postprocessing"],
                                                            n_classes=len(self.classes_))
            self.frame_step_s_ = float(det["frame_step_s"])
            self.hop_s = float(det["hop_s"]) if self.hop_s is None else self.hop_s
            self.weak = bool(det.get("weak", False))
        except (EarmarkError, KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{path}: damaged detection settings ({exc})") from None
        self.postprocessing_source_ = str(det.get("postprocessing_source", ""))
        self.tuning_ = det.get("tuning", {})
