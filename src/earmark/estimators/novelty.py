"""NoveltyDetector: learn what normal sounds like from normal audio only, and flag the rest.

``NoveltyDetector().fit(normal_data)`` embeds every analysis window of the normal clips and
fits a scorer on them (:mod:`earmark.models.novelty`); the decision threshold comes from a
false-alarm budget (``"1%"`` of normal windows, or ``"2/h"`` alarms per hour of normal audio)
on normal audio held out from fitting by group, and the held-out scores are stored, so a
score is also a tail probability and the budget changes without refitting
(:meth:`NoveltyDetector.set_false_alarms`). ``.score_files(paths)``, ``.predict(paths)``,
``.predict_table(paths, windows=True)`` and ``.detect(paths)`` (anomalous stretches of long
recordings as events) use it; ``.save(path)`` and :func:`earmark.load` keep it.
"""

import math
import re
import time

import numpy as np
import pandas as pd

from .._validation import check_choice, check_number
from ..errors import (AudioError, DatasetError, EarmarkError, ModelFileError, NotFittedError,
                      ParameterError)
from ..tasks.novelty import NORMAL_LABEL, NoveltyTask, aggregate_scores

__all__ = ["NoveltyDetector", "parse_false_alarms", "METHODS"]

#: The scorers ``method`` accepts (:mod:`earmark.models.novelty`).
METHODS = ("knn", "mahalanobis", "gmm", "iforest", "autoencoder")
#: The front end of the autoencoder: stacked log-mel frames, not an embedding model.
LOGMEL = "logmel"


def _get_embedder(name):
    """An embedder of :func:`earmark.models.embeddings.get_embedder`, or 'logmel' (the
    autoencoder's log-mel frames, :class:`earmark.models.novelty.LogMelFrames`)."""
    if name == LOGMEL:
        from ..models.novelty import LogMelFrames
        return LogMelFrames()
    from ..models.embeddings import get_embedder
    return get_embedder(name)
#: How window scores become a file score (:func:`earmark.tasks.novelty.aggregate_scores`).
AGGREGATIONS = NoveltyTask.aggregations
#: The label of the events :meth:`NoveltyDetector.detect` writes.
EVENT_LABEL = "anomaly"
#: Peak-to-peak amplitude below which a clip counts as silent.
SILENCE_PTP = 1e-6


def parse_false_alarms(value, *, owner="NoveltyDetector"):
    """``('fraction', f)`` or ``('per_hour', n)`` from a false-alarm budget.

    ``"1%"`` or a float in (0, 0.5]: that fraction of normal windows (and of normal files) may
    be flagged; ``"2/h"``: that many alarms per hour of normal audio.

    Examples
    --------
    >>> parse_false_alarms("1%"), parse_false_alarms("2/h"), parse_false_alarms(0.05)
    (('fraction', 0.01), ('per_hour', 2.0), ('fraction', 0.05))
    """
    expected = ("a budget such as '1%' (of normal windows), '2/h' (alarms per hour of "
                "normal audio) or a fraction in (0, 0.5]")
    bad = ParameterError(f"The 'false_alarms' parameter of {owner} must be {expected}. Got "
                         f"{value!r} instead.")
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        m = re.fullmatch(r"([0-9]*\.?[0-9]+(?:e-?[0-9]+)?)(%|/h)", text)
        if not m:
            raise bad
        number = float(m.group(1))
        if m.group(2) == "%":
            if not 0 < number <= 50:
                raise bad
            return "fraction", number / 100
        if not 0 < number <= 3600 * 100:
            raise bad
        return "per_hour", number
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or \
            not math.isfinite(value) or not 0 < value <= 0.5:
        raise bad
    return "fraction", float(value)


def _threshold(calibration, fraction):
    """The smallest calibration score t with at most ``fraction`` of the scores above t."""
    s = np.sort(np.asarray(calibration, np.float64))
    k = max(1, int(math.ceil(len(s) * (1.0 - fraction) - 1e-9)))
    return float(s[min(k, len(s)) - 1])


class _WindowScorer:
    """An embedder and a fitted scorer as a window model (``features``, ``score_windows``), so
    the streaming scorer of long files (:func:`earmark.predict.score_source`) can use it."""

    def __init__(self, embedder, scorer, features):
        self.embedder, self.scorer, self.features = embedder, scorer, features

    def score_windows(self, windows):
        windows = np.asarray(windows, np.float32)
        if not len(windows):
            return np.zeros((0, 1))
        return self.scorer.score(self.embedder.embed(windows))[:, None]


class NoveltyDetector:
    """Flag sounds unlike the normal ones it was fitted on (anomaly / novelty detection).

    Parameters
    ----------
    method : {'knn', 'mahalanobis', 'gmm', 'iforest', 'autoencoder'}
        The scorer of window embeddings (:mod:`earmark.models.novelty`): mean distance to the
        nearest normal windows, Mahalanobis distance with a shrunk covariance, Gaussian-mixture
        negative log-likelihood, an isolation forest, or the reconstruction error of a small
        autoencoder on stacked log-mel frames (with ``embedder='logmel'`` only). See
        docs/novelty.md for which to try.
    embedder : str
        Any embedder name of :func:`earmark.models.embeddings.get_embedder`: 'classic' (log-mel
        and MFCC statistics; fast, nothing to install), 'yamnet', ...; or 'logmel': each
        window's log-mel spectrogram itself (64 bands, 16 kHz), the autoencoder's input.
    false_alarms : str or float
        The false-alarm budget: '1%' of normal windows (and files), or '2/h' alarms per hour of
        normal audio (see :func:`parse_false_alarms`). Change it later with
        :meth:`set_false_alarms`.
    aggregation : {'max', 'top_k_mean', 'mean', 'contrast'}
        A file's score from its window scores: the largest ('max': one short fault is enough),
        the mean of the ``top_k`` largest, the mean, or the largest minus the median
        ('contrast': how far the worst window stands out from the file's own typical one).
    top_k : int
        Windows averaged by ``aggregation='top_k_mean'``.
    n_neighbors : int
        Neighbours of 'knn' (1: the best measured on the anomaly benchmark, ROC-AUC 0.82
        against 0.74 for 5; docs/novelty.md).
    l2_normalize : bool or None
        'knn': also scale each standardised embedding to unit length (cosine-like distances).
        None: for every embedder but 'classic' (measured on the anomaly benchmark: it helps
        YAMNet's embeddings and hurts the log-mel/MFCC statistics; docs/novelty.md).
    n_components : int
        Mixture components of 'gmm'.
    covariance : {'diag', 'full'}
        Covariance of each 'gmm' component.
    n_trees : int
        Trees of 'iforest'.
    epochs : int
        Training epochs of 'autoencoder'.
    calibration_splits : int
        The normal clips are split by group into this many parts (fewer when there are fewer
        groups); each part is scored by a scorer fitted on the others, and these held-out
        scores set the thresholds. The final scorer is fitted on all normal clips.
    normal_label : str
        Which label marks normal clips in a labelled dataset (clips with other labels are left
        out of fitting). A dataset with a single label is all normal, whatever the label.
    seed : int
    progress : bool

    Attributes
    ----------
    scorer_ : earmark.models.novelty.NoveltyScorer
    features_ : earmark.FeatureConfig
        The analysis windows (the embedder's).
    calibration_window_scores_, calibration_file_scores_ : np.ndarray
        Held-out normal scores (sorted), per window and per file.
    threshold_, file_threshold_ : float
        A window (a file) is flagged when its score is above this.
    false_alarm_fraction_ : tuple of float
        The budget as fractions of normal windows and of normal files.
    train_info_ : dict

    Examples
    --------
    >>> det = earmark.NoveltyDetector(false_alarms="1%").fit("pump_normal/")  # doctest: +SKIP
    >>> det.predict_table(["day.wav"], windows=True).head()                  # doctest: +SKIP
    >>> det.set_false_alarms("2/h").detect(["day.wav"])                      # doctest: +SKIP
    """

    task = "novelty"
    kind = "novelty"

    def __init__(self, *, method="knn", embedder="classic", false_alarms="1%",
                 aggregation="max", top_k=3, n_neighbors=1, l2_normalize=None, n_components=4,
                 covariance="diag", n_trees=100, epochs=30, calibration_splits=4,
                 normal_label=NORMAL_LABEL, seed=0, progress=True):
        self.method = method
        self.embedder = embedder
        self.false_alarms = false_alarms
        self.aggregation = aggregation
        self.top_k = top_k
        self.n_neighbors = n_neighbors
        self.l2_normalize = l2_normalize
        self.n_components = n_components
        self.covariance = covariance
        self.n_trees = n_trees
        self.epochs = epochs
        self.calibration_splits = calibration_splits
        self.normal_label = normal_label
        self.seed = seed
        self.progress = progress

    # -- scikit-learn conventions ---------------------------------------------------------------
    _PARAMS = ("method", "embedder", "false_alarms", "aggregation", "top_k", "n_neighbors",
               "l2_normalize", "n_components", "covariance", "n_trees", "epochs",
               "calibration_splits", "normal_label", "seed", "progress")

    def get_params(self, deep=False):
        return {k: getattr(self, k) for k in self._PARAMS}

    def set_params(self, **params):
        for k, v in params.items():
            if k not in self._PARAMS:
                raise ParameterError(f"NoveltyDetector has no parameter {k!r}; valid: "
                                     f"{sorted(self._PARAMS)}")
            setattr(self, k, v)
        return self

    def __repr__(self):
        default = type(self)().get_params()
        changed = {k: v for k, v in self.get_params().items() if v != default[k]}
        return "NoveltyDetector(" + ", ".join(f"{k}={v!r}" for k, v in changed.items()) + ")"

    def check_params(self):
        """Validate the parameters; returns the embedder (built, so a missing model is
        reported before any audio is read)."""
        self._check_values()
        return _get_embedder(self.embedder)

    def _check_values(self):
        o = "NoveltyDetector"
        check_choice(self.method, "method", o, METHODS)
        check_choice(self.aggregation, "aggregation", o, AGGREGATIONS)
        check_choice(self.covariance, "covariance", o, ("diag", "full"))
        for name, high in (("top_k", 1000), ("n_neighbors", 1000), ("n_components", 256),
                           ("n_trees", 10000), ("epochs", 10000), ("calibration_splits", 100)):
            check_number(getattr(self, name), name, o, low=2 if name == "calibration_splits"
                         else 1, high=high, closed="both", integer=True)
        check_number(self.seed, "seed", o, low=0, closed="left", integer=True)
        if self.l2_normalize is not None:
            check_choice(self.l2_normalize, "l2_normalize", o, (True, False))
        if not isinstance(self.normal_label, str) or not self.normal_label:
            raise ParameterError(f"The 'normal_label' parameter of {o} must be a non-empty str. "
                                 f"Got {self.normal_label!r} instead.")
        parse_false_alarms(self.false_alarms)
        if not isinstance(self.embedder, str):
            raise ParameterError(f"The 'embedder' parameter of {o} must be an embedder name. "
                                 f"Got {self.embedder!r} instead.")
        if (self.method == "autoencoder") != (self.embedder == LOGMEL):
            raise ParameterError(f"{o}: method='autoencoder' and embedder='{LOGMEL}' go together "
                                 "(the autoencoder reconstructs stacked log-mel frames; the other "
                                 f"methods score embeddings). Got method={self.method!r} with "
                                 f"embedder={self.embedder!r} instead.")

    def _check_fitted(self):
        if not hasattr(self, "scorer_"):
            raise NotFittedError("This NoveltyDetector is not fitted yet: call fit(data) first, "
                                 "or earmark.load(path).")

    def _make_scorer(self, embedder=None):
        from ..models.novelty import make_scorer
        l2 = self.l2_normalize
        if l2 is None:      # measured: helps learned embeddings, hurts classic statistics
            l2 = self.embedder != "classic"
        return make_scorer(self.method, n_neighbors=self.n_neighbors, l2_normalize=l2,
                           n_mels=getattr(embedder, "n_mels", 64), epochs=self.epochs,
                           n_components=self.n_components, covariance=self.covariance,
                           n_trees=self.n_trees)

    # -- data -------------------------------------------------------------------------------------
    def normal_dataset(self, data):
        """The normal clips of ``data``: a folder of audio files (no labels needed), a folder
        with one sub-folder per class or a manifest with one label (all normal), or a labelled
        dataset whose ``normal_label`` rows are kept.

        Raises
        ------
        DatasetError
            No audio, or several labels and none of them ``normal_label``.
        """
        from pathlib import Path

        from ..audio import AUDIO_EXTENSIONS
        from ..data import Dataset, load_dataset

        if isinstance(data, Dataset):
            dataset = data
        else:
            try:
                dataset = load_dataset(data)
            except DatasetError:
                root = Path(data)
                files = sorted(p for p in root.iterdir() if p.is_file() and
                               p.suffix.lower() in AUDIO_EXTENSIONS) if root.is_dir() else []
                if not files:
                    raise
                table = pd.DataFrame({"path": [str(p.resolve()) for p in files],
                                      "label": self.normal_label, "fold": None,
                                      "group": None, "start_s": np.nan, "end_s": np.nan})
                dataset = Dataset(table, root=str(root), source=str(root))
        labels = sorted(set(dataset.table["label"]))
        if len(labels) <= 1:
            return dataset
        keep = np.flatnonzero(dataset.table["label"].to_numpy() == self.normal_label)
        if not len(keep):
            raise DatasetError(f"{dataset.source}: novelty detection fits on normal clips "
                               f"only, and none is labelled {self.normal_label!r} (labels: "
                               f"{labels[:10]}); label them so, or give normal_label=",
                               [f"labels found: {labels[:20]}"])
        return dataset.subset(keep)

    @staticmethod
    def validate_files(dataset, *, progress=False):
        """Every unreadable, empty or too short file of ``dataset`` in one DatasetError (the
        class counts a classifier needs are not asked for)."""
        from ..data.validate import find_problems
        problems, _ = find_problems(dataset, min_per_class=1, progress=progress)
        problems = [p for p in problems if "a classifier needs at least 2" not in p]
        if problems:
            raise DatasetError(f"{dataset.source}: {len(problems)} problem(s) found", problems)

    def embed_clips(self, clips, *, embedder=None):
        """Embeddings of every analysis window of each decoded clip (a list of (n_i, dim)),
        through earmark's embedding cache."""
        from ..models.embedded import EmbeddingWindowModel
        from .base import _embedding_cache

        embedder = embedder or self.check_params()
        # the embedding recipe's window cutting and cache; its head is never fitted
        model = EmbeddingWindowModel(embedder=embedder, n_classes=2,
                                     cache_dir=_embedding_cache())
        return model.embed_clips(clips, progress=self.progress)

    # -- fitting ----------------------------------------------------------------------------------
    def fit(self, data, *, group_column="group", clips=None):
        """Fit on normal audio (see :meth:`normal_dataset`); returns self.

        The held-out normal scores that set the thresholds come from groups (``group_column``;
        each clip its own group without it) not used to fit the scorer that scored them.

        Raises
        ------
        DatasetError
            Fewer than 2 normal clips, unreadable files, or training audio that is all silent
            or constant (nothing to learn "normal" from).
        AudioError
            A clip with NaN or infinite samples.
        """
        from ..data import load_clips
        from ..models.embedded import embedder_features

        embedder = self.check_params()
        dataset = self.normal_dataset(data)
        if len(dataset) < 2:
            raise DatasetError(f"{dataset.source}: novelty detection needs at least 2 normal "
                               f"clips (some to fit, others to set the threshold on); got "
                               f"{len(dataset)}", [f"{len(dataset)} normal clip(s)"])
        sr = embedder_features(embedder).sample_rate
        if clips is None:
            self.validate_files(dataset, progress=self.progress)
            clips = load_clips(dataset, sample_rate=sr, progress=self.progress)
        for i, c in enumerate(clips):
            if not np.all(np.isfinite(c)):
                raise AudioError(dataset.table["path"].iloc[i], "audio contains NaN or "
                                 "infinite samples")
        silent = [i for i, c in enumerate(clips) if not len(c) or np.ptp(c) < SILENCE_PTP]
        if len(silent) == len(clips):
            raise DatasetError(f"{dataset.source}: every normal clip is silent or constant: "
                               "there is nothing to learn normal sound from",
                               [f"{p}: silent or constant" for p in dataset.paths[:5]])
        groups = dataset.column(group_column) if dataset.has_column(group_column) else None
        self.fit_embeddings(self.embed_clips(clips, embedder=embedder), groups=groups,
                            durations_s=[len(c) / sr for c in clips], embedder=embedder)
        self.train_info_.update({"dataset": dataset.source, "n_silent_clips": len(silent),
                                 "group_column": group_column if groups is not None else None})
        return self

    def fit_embeddings(self, embeddings, *, groups=None, durations_s=None, embedder=None):
        """Fit on the window embeddings of normal clips (a list of (n_i, dim) arrays, as
        :meth:`embed_clips` returns); ``groups`` per clip (None: each clip its own group);
        ``durations_s`` per clip (for budgets per hour; None: the windows' span). Returns
        self."""
        from sklearn.model_selection import GroupKFold  # slow import: lazy
        from ..models.embedded import embedder_features

        t0 = time.perf_counter()
        embedder = embedder or self.check_params()
        fc = embedder_features(embedder)
        n = len(embeddings)
        if n < 2:
            raise DatasetError(f"novelty detection needs at least 2 normal clips (some to fit, "
                               f"others to set the threshold on); got {n}",
                               [f"{n} normal clip(s)"])
        X = np.concatenate(embeddings).astype(np.float64)
        if not np.all(np.isfinite(X)):
            raise DatasetError("the normal clips' embeddings hold NaN or infinite values",
                               ["NaN embeddings"])
        if float(np.ptp(X, axis=0).max()) <= 1e-9 * max(1.0, float(np.abs(X).max())):
            raise DatasetError("every normal window has the same embedding (silent or constant "
                               "audio): there is nothing to learn normal sound from",
                               ["constant embeddings"])
        owner = np.repeat(np.arange(n), [len(e) for e in embeddings])
        g = np.arange(n).astype(str) if groups is None else np.asarray(groups).astype(str)
        n_splits = min(int(self.calibration_splits), len(set(g)))
        if n_splits < 2:
            raise DatasetError("the normal clips all belong to one group; holding normal audio "
                               "out of fitting to set the threshold needs at least 2 groups",
                               ["one group"])
        window_oof = np.empty(len(X))
        for tr, te in GroupKFold(n_splits=n_splits).split(np.zeros(n), groups=g):
            rows_tr, rows_te = np.isin(owner, tr), np.isin(owner, te)
            scorer = self._make_scorer(embedder).fit(X[rows_tr], seed=self.seed)
            window_oof[rows_te] = scorer.score(X[rows_te])
        self.scorer_ = self._make_scorer(embedder).fit(X, seed=self.seed)
        self.features_ = fc
        self.embedder_ = embedder
        file_oof = np.array([self._aggregate(window_oof[owner == i]) for i in range(n)])
        self.calibration_window_scores_ = np.sort(window_oof)
        self.calibration_file_scores_ = np.sort(file_oof)
        if durations_s is None:
            durations_s = [fc.window_s + (len(e) - 1) * fc.hop_s for e in embeddings]
        self.calibration_seconds_ = float(np.sum(durations_s))
        self.calibration_files_ = n
        self.set_false_alarms(self.false_alarms)
        self.train_info_ = {"n_clips": int(n), "n_windows": int(len(X)),
                            "n_groups": int(len(set(g))), "calibration_splits": n_splits,
                            "wall_s": time.perf_counter() - t0}
        return self

    def _aggregate(self, window_scores):
        return aggregate_scores(window_scores, method=self.aggregation, top_k=self.top_k)

    # -- the decision -----------------------------------------------------------------------------
    def set_false_alarms(self, false_alarms):
        """Use another false-alarm budget ('1%', '2/h', or a fraction): the thresholds move
        on the stored held-out normal scores, nothing is refitted. Returns self."""
        self._check_fitted()
        kind, value = parse_false_alarms(false_alarms, owner="set_false_alarms")
        if kind == "fraction":
            window_fraction = file_fraction = value
        else:
            # one alarm per flagged window (at most one per hop of audio), per flagged file
            window_fraction = value * self.features_.hop_s / 3600.0
            file_fraction = value * (self.calibration_seconds_ / self.calibration_files_) / 3600
        window_fraction, file_fraction = min(window_fraction, 0.5), min(file_fraction, 0.5)
        self.false_alarms = false_alarms
        self.false_alarm_fraction_ = (float(window_fraction), float(file_fraction))
        self.threshold_ = _threshold(self.calibration_window_scores_, window_fraction)
        self.file_threshold_ = _threshold(self.calibration_file_scores_, file_fraction)
        return self

    def tail_probability(self, scores, *, level="window"):
        """How often held-out normal audio scored at least this high: ``(1 + #{normal >=
        score}) / (n + 1)`` over the stored window (``level='window'``) or file
        (``level='file'``) scores. Small: unlike normal audio.

        Examples
        --------
        >>> det.tail_probability([0.1, 3.0])      # doctest: +SKIP
        array([0.62, 0.004])
        """
        self._check_fitted()
        check_choice(level, "level", "tail_probability", ("window", "file"))
        ref = self.calibration_window_scores_ if level == "window" else \
            self.calibration_file_scores_
        s = np.asarray(scores, np.float64)
        at_least = len(ref) - np.searchsorted(ref, s, side="left")
        return (1.0 + at_least) / (len(ref) + 1.0)

    # -- scoring ----------------------------------------------------------------------------------
    def _window_model(self):
        self._check_fitted()
        return _WindowScorer(self.embedder_, self.scorer_, self.features_)

    def score_embeddings(self, embeddings):
        """Per clip, the scores of its windows, from window embeddings (a list of arrays)."""
        self._check_fitted()
        if not len(embeddings):
            return []
        scores = self.scorer_.score(np.concatenate(embeddings))
        bounds = np.cumsum([0] + [len(e) for e in embeddings])
        return [scores[a:b] for a, b in zip(bounds[:-1], bounds[1:])]

    def window_scores_of_clips(self, clips):
        """Per decoded clip (model rate), the anomaly scores of its windows."""
        return self.score_embeddings(self.embed_clips(clips, embedder=self.embedder_))

    def score_clips(self, clips):
        """File scores (n,) of decoded clips at the model rate."""
        return np.array([self._aggregate(s) for s in self.window_scores_of_clips(clips)])

    def score_windows(self, source):
        """``(starts_s, scores)`` of the windows of one file (read in blocks, any length) or
        ``(path, start_s, end_s)`` region."""
        from ..data.sources import expand_sources
        from ..predict import score_source

        src = expand_sources([source])[0] if not isinstance(source, tuple) else source
        starts, scores = score_source(self._window_model(), src)
        return starts, scores[:, 0]

    def score_files(self, sources):
        """File scores (n_files,) of files, folders or CSV lists (raises on the first file
        that cannot be read; :meth:`predict_table` reports it per file instead)."""
        from ..data.sources import expand_sources
        return np.array([self._aggregate(self.score_windows(s)[1])
                         for s in expand_sources(sources)])

    def predict(self, sources):
        """Flags (bool, n_files): True for a file whose score is above ``file_threshold_``."""
        return self.score_files(sources) > self.file_threshold_

    def events(self, starts_s, scores):
        """Anomalous stretches ``(onset_s, offset_s, 'anomaly', score)`` from window scores:
        every flagged window's span, merged where they touch or overlap (on a grid of one
        window hop, by :func:`~earmark.inference.postprocess.decode_events`); ``score`` is
        one minus the smallest tail probability of the windows inside."""
        from ..inference.postprocess import decode_events

        self._check_fitted()
        starts_s, scores = np.asarray(starts_s, float), np.asarray(scores, float)
        if not len(scores):
            return []
        hop, win = self.features_.hop_s, self.features_.window_s
        origin = float(starts_s.min())
        n_frames = int(math.ceil((starts_s.max() - origin + win) / hop - 1e-9))
        flags = np.zeros(n_frames)
        level = np.zeros(n_frames)
        window_level = 1.0 - self.tail_probability(scores)
        for st, sc, lv in zip(starts_s, scores, window_level):
            a = int(math.floor((st - origin) / hop + 1e-9))
            b = min(n_frames, int(math.ceil((st - origin + win) / hop - 1e-9)))
            if sc > self.threshold_:
                flags[a:b] = 1.0
            level[a:b] = np.maximum(level[a:b], lv)
        out = []
        for on, off, _, _ in decode_events(flags[:, None], frame_step_s=hop,
                                           classes=[EVENT_LABEL], start_s=origin):
            a = int(round((on - origin) / hop))
            b = max(a + 1, int(round((off - origin) / hop)))
            out.append((on, off, EVENT_LABEL, round(float(level[a:b].max()), 6)))
        return out

    def detect(self, sources, *, progress=None):
        """The anomalous stretches of files, folders or CSV lists: a DataFrame ``filename,
        onset, offset, event_label, score, error`` (as :meth:`earmark.SoundDetector.detect`;
        write it with :func:`earmark.inference.write_events`, Audacity and Raven included)."""
        from tqdm.auto import tqdm
        from ..data.sources import expand_sources

        rows = []
        items = expand_sources(sources)
        show = self.progress if progress is None else progress
        for src in tqdm(items, desc="detecting", unit="file", disable=not show):
            try:
                starts, scores = self.score_windows(src)
            except (EarmarkError, OSError) as exc:
                rows.append((src.path, np.nan, np.nan, None, np.nan, str(exc)))
                continue
            rows.extend((src.path, on, off, lab, sc, None)
                        for on, off, lab, sc in self.events(starts, scores))
        return pd.DataFrame(rows, columns=["filename", "onset", "offset", "event_label",
                                           "score", "error"])

    def predict_table(self, sources, *, windows=False, progress=None):
        """A DataFrame, one row per file (or per window with ``windows=True``, with start_s
        and end_s): path, ``score`` (the anomaly score; a file's by ``aggregation``),
        ``tail_probability``, ``anomalous`` (the flag at the current budget), error. A file
        that cannot be read gets a row with its error; the rest go on."""
        from tqdm.auto import tqdm
        from ..data.sources import expand_sources

        self._check_fitted()
        rows = []
        items = expand_sources(sources)
        show = self.progress if progress is None else progress
        win = self.features_.window_s
        for src in tqdm(items, desc="predicting", unit="file", disable=not show):
            base = {"path": src.path}
            if windows or src.start_s is not None or src.end_s is not None:
                base.update(start_s=src.start_s, end_s=src.end_s)
            try:
                starts, scores = self.score_windows(src)
                if not np.all(np.isfinite(scores)):
                    raise EarmarkError(f"{src.path}: the scorer gave NaN or infinite scores")
            except (EarmarkError, OSError) as exc:
                rows.append({**base, "score": np.nan, "tail_probability": np.nan,
                             "anomalous": None, "error": str(exc)})
                continue
            if windows:
                p = self.tail_probability(scores)
                for st, sc, pv in zip(starts, scores, p):
                    rows.append({**base, "start_s": round(float(st), 6),
                                 "end_s": round(float(st) + win, 6), "score": float(sc),
                                 "tail_probability": float(pv),
                                 "anomalous": bool(sc > self.threshold_), "error": None})
            else:
                s = self._aggregate(scores)
                rows.append({**base, "score": s,
                             "tail_probability": float(self.tail_probability(
                                 [s], level="file")[0]),
                             "anomalous": bool(s > self.file_threshold_), "error": None})
        cols = ["path"] + (["start_s", "end_s"] if any("start_s" in r for r in rows) else []) \
            + ["score", "tail_probability", "anomalous", "error"]
        return pd.DataFrame(rows, columns=cols)

    # -- persistence ------------------------------------------------------------------------------
    def save(self, path):
        """Write the fitted detector to one model file (no pickle); returns the path."""
        from ..bundle import write_bundle
        from ..models.embedded import _jsonable, _spec

        self._check_fitted()
        cfg, arrays = self.scorer_.get_state()
        params = {k: v for k, v in self.get_params().items() if k != "progress"}
        meta = {
            "kind": self.kind, "task": self.task, "labels": [EVENT_LABEL],
            "features": self.features_.to_dict(), "aggregation": self.aggregation,
            "params": params,
            "model": {"family": "novelty", "embedder": _spec(self.embedder_),
                      "embedder_settings": _jsonable(self.embedder_.settings()),
                      "licence": getattr(self.embedder_, "licence", ""), "scorer": cfg},
            "calibration": {"seconds": self.calibration_seconds_,
                            "files": int(self.calibration_files_)},
            "training": {"info": self.train_info_}}
        arrays = {f"scorer.{k}": v for k, v in arrays.items()}
        arrays["calibration.window_scores"] = self.calibration_window_scores_
        arrays["calibration.file_scores"] = self.calibration_file_scores_
        return write_bundle(path, meta=meta, arrays=arrays)

    @classmethod
    def _check_model_file(cls, meta, specs, *, path, kinds=None):
        """Check a novelty model file's fields and array shapes before its arrays are read
        (:func:`earmark.load` calls it)."""
        from .._schema import MAX_EMBEDDING_SIZE, _fail, _features, reading_field

        if meta.get("task") != "novelty" or meta.get("labels") != [EVENT_LABEL]:
            raise _fail(path, "task", "a novelty model file holds task 'novelty' and labels "
                                      f"['{EVENT_LABEL}']")
        _features(meta.get("features"), path, "features")
        model = meta.get("model")
        if not isinstance(model, dict) or model.get("family") != "novelty" or \
                not isinstance(model.get("embedder"), str):
            raise _fail(path, "model", "must be a novelty model with an embedder name")
        scorer = model.get("scorer")
        with reading_field(path, "model.scorer"):
            method = scorer["method"]
            d = int(scorer["n_features"])
            params = dict(scorer.get("params", {}))
            cal = meta.get("calibration", {})
            if not (float(cal["seconds"]) > 0 and int(cal["files"]) >= 1):
                raise ValueError("calibration seconds and files must be positive")
        if method not in METHODS or not 1 <= d <= MAX_EMBEDDING_SIZE:
            raise _fail(path, "model.scorer", f"unknown method {method!r} or n_features {d}")
        expected = {"mean": (d,), "scale": (d,), **{
            "knn": {"reference": (None, d)},
            "mahalanobis": {"location": (d,), "precision": (d, d)},
            "gmm": {"weights": (None,), "means": (None, d),
                    "covariances": (None, d, d) if params.get("covariance") == "full"
                    else (None, d)},
            "iforest": {n: (None,) for n in ("offsets", "left", "right", "feature",
                                             "threshold", "leaf_depth", "max_samples")},
            "autoencoder": {**{f"w{i}": (None, None) for i in range(8)},
                            **{f"b{i}": (None,) for i in range(8)}},
        }[method]}
        expected = {f"scorer.{k}": v for k, v in expected.items()}
        expected["calibration.window_scores"] = (None,)
        expected["calibration.file_scores"] = (None,)
        if set(specs) != set(expected):
            raise ModelFileError(f"{path}: damaged model file: arrays {sorted(specs)[:8]} are "
                                 f"not those of a {method} novelty model "
                                 f"({sorted(expected)[:8]})")
        for name, want in expected.items():
            got = tuple(specs[name].shape)
            if len(got) != len(want) or any(w is not None and w != g for w, g in
                                             zip(want, got)) or specs[name].dtype.kind not in \
                    "fiu" or (want[0] is None and got[0] > 50_000_000):
                raise ModelFileError(f"{path}: damaged model file: array {name!r} has shape "
                                     f"{got}; the model's config implies {want}")

    @classmethod
    def _from_bundle(cls, meta, arrays, *, path=""):
        from .._schema import reading_field
        from ..config import FeatureConfig
        from ..models.novelty import scorer_from_state

        model = meta["model"]
        with reading_field(path, "params"):
            params = {k: v for k, v in dict(meta.get("params", {})).items()
                      if k in cls._PARAMS and k != "progress"}
            est = cls(**params, progress=False)
            est._check_values()
        with reading_field(path, "features"):
            est.features_ = FeatureConfig.from_dict(meta["features"])
        try:
            est.embedder_ = _get_embedder(model["embedder"])
        except ModelFileError as exc:
            raise ModelFileError(f"{path}: {exc}") from None
        except EarmarkError as exc:          # not installed: say which file needs it
            raise type(exc)(f"{path}: {exc}") from None
        saved = model.get("embedder_settings", {})
        now = est.embedder_.settings()
        for key in ("name", "sample_rate", "window_s", "hop_s", "dim"):
            if key in saved and saved[key] != now.get(key):
                raise ModelFileError(f"{path}: the model was fitted on embedder "
                                     f"{model['embedder']!r} with {key}={saved[key]!r}; the one "
                                     f"here has {now.get(key)!r}")
        try:
            est.scorer_ = scorer_from_state(model["scorer"], {
                k[len("scorer."):]: v for k, v in arrays.items() if k.startswith("scorer.")})
        except ModelFileError as exc:
            raise ModelFileError(f"{path}: {exc}") from None
        if est.scorer_.n_features_in_ != est.embedder_.dim:
            raise ModelFileError(f"{path}: the scorer takes {est.scorer_.n_features_in_}-D "
                                 f"embeddings; embedder {model['embedder']!r} gives "
                                 f"{est.embedder_.dim}")
        est.calibration_window_scores_ = np.sort(arrays["calibration.window_scores"]
                                                 .astype(np.float64))
        est.calibration_file_scores_ = np.sort(arrays["calibration.file_scores"]
                                               .astype(np.float64))
        if not len(est.calibration_window_scores_) or not len(est.calibration_file_scores_):
            raise ModelFileError(f"{path}: damaged model file: no calibration scores")
        est.calibration_seconds_ = float(meta["calibration"]["seconds"])
        est.calibration_files_ = int(meta["calibration"]["files"])
        est.train_info_ = dict(meta.get("training", {}).get("info", {}))
        est.metadata_ = {k: meta.get(k) for k in ("versions", "saved_at", "format_version")}
        with reading_field(path, "params.false_alarms"):
            est.set_false_alarms(est.false_alarms)
        return est
