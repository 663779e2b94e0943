"""earmark: from a folder of labelled recordings to a sound model you can trust.

The flow: sources → audio blocks → analysis windows → features → model → window (or frame)
scores → the task (aggregation to clips, decision; events for detection) → outputs. The task
decides what a label means: one class per clip (classification), any number (tagging), or timed
events with onsets and offsets (detection).

Estimators and model files
    SoundClassifier      one class per clip: ``fit``, ``predict``, ``predict_proba``, ``save``
    SoundTagger          any number of classes per clip: label sets, per-class thresholds
    SoundDetector        sound events in recordings of any length: ``detect`` (onset, offset,
                         class, score), ``frame_scores``, post-processing tuned per class
    NoveltyDetector      fitted on normal audio only: anomaly scores per window and file,
                         flags at a false-alarm budget, anomalous stretches as events
    EnsembleClassifier   the mean of several estimators' clip scores, one model file
    load                 read any model file as the estimator that wrote it (never pickle)
    cross_validate       grouped / predefined-fold cross-validation of any estimator
    auto_select          cross-validate the recipes within a time budget (``--recipe auto``)

Configuration
    FeatureConfig        sample rate, STFT, mel bands, MFCC, windows, normalisation
    TrainConfig          epochs, AdamW, schedule, early stopping, class balancing

Data (:mod:`earmark.data`)
    load_dataset, inspect_dataset, validate_dataset, cv_splits
    read_strong_labels, check_dataset_events (Audacity labels, Raven tables, DCASE tables)

Metrics (:mod:`earmark.evaluation`)
    classification_metrics, tagging_metrics, tune_thresholds
    detection_metrics (PSDS1/PSDS2, collar-based event F1, segment F1 and error rate)

Packages and modules, in the order of the flow
    earmark.audio        decode, resample, mono, block iteration, content hashes
    earmark.data         datasets: folders, manifests, multi-label tags, strong labels
                         (annotation tables, Audacity label files, Raven selection tables),
                         validation, folds, inspection
    earmark.windows      window placement and window → clip aggregation
    earmark.features     log-mel (torch, equal to librosa), MFCC, normalisation
    earmark.augment      data augmentation, one transform per file
    earmark.models       CNNs, the CRNN (frame scores), ImageNet transfer, embedding models +
                         scikit-learn heads, the window- and frame-scoring interfaces
    earmark.tasks        classification, tagging and detection: targets, activation, loss,
                         aggregation, decision, metrics
    earmark.train        the one training loop
    earmark.estimators   SoundClassifier, SoundTagger, SoundDetector, ensembles, load
    earmark.evaluation   metrics per task, cross-validation, combining results
    earmark.auto         recipe selection by cross-validation within a budget
    earmark.predict      scoring files and long recordings
    earmark.inference    detection: frame scores of long recordings, post-processing to events,
                         event outputs (CSV, Parquet, Audacity, Raven), events cut into clips
    earmark.embed        pretrained embeddings of every analysis window, to Parquet/CSV/NPZ
    earmark.bundle       the model file format
    earmark.reports      HTML reports: datasets, and the evaluations of every task
    earmark.examples     real example data built from Debian packages (fetch_drums)
    earmark.cli          the command line, one module per command
    earmark.errors       the exception family (EarmarkError and subclasses)
"""

from importlib.metadata import PackageNotFoundError, version

from .auto import auto_select
from .config import FeatureConfig
from .data import inspect_dataset, load_dataset, validate_dataset
from .errors import (AudioError, BudgetExceededError, DatasetError, EarmarkError, EarmarkWarning,
                     ModelFileError, NotFittedError, ParameterError)
from .estimators import (EnsembleClassifier, NoveltyDetector, SoundClassifier, SoundDetector,
                         SoundTagger, load)
from .evaluation import (classification_metrics, cross_validate, tagging_metrics,
                         tune_thresholds)
from .train import TrainConfig

try:
    __version__ = version("earmark")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = ["SoundClassifier", "SoundTagger", "SoundDetector", "NoveltyDetector",
           "EnsembleClassifier", "load", "cross_validate",
           "auto_select", "classification_metrics", "tagging_metrics", "tune_thresholds",
           "FeatureConfig", "TrainConfig", "load_dataset", "inspect_dataset", "validate_dataset",
           "EarmarkError", "ParameterError", "AudioError", "DatasetError", "ModelFileError",
           "NotFittedError", "BudgetExceededError", "EarmarkWarning", "__version__"]
