"""earmark: from a folder of labelled recordings to a sound classifier you can trust.

The flow: sources → audio blocks → analysis windows → features → model → window scores →
clip scores (aggregation) → outputs.

Estimators and model files
    SoundClassifier      train (``fit``), ``predict``, ``predict_proba``, ``save``
    EnsembleClassifier   the mean of several classifiers' clip probabilities, one model file
    load                 read a model file (never executes pickled code)
    cross_validate       grouped / predefined-fold cross-validation with full metrics
    auto_select          cross-validate the recipes within a time budget (``--recipe auto``)

Configuration
    FeatureConfig        sample rate, STFT, mel bands, MFCC, windows, normalisation
    TrainConfig          epochs, AdamW, schedule, early stopping, class balancing

Data (:mod:`earmark.data`)
    load_dataset, inspect_dataset, validate_dataset, cv_splits

Topic modules
    earmark.audio        decode, resample, mono, block iteration, content hashes
    earmark.windows      window placement and window → clip aggregation
    earmark.features     log-mel (torch, equal to librosa), MFCC, normalisation
    earmark.models       CNNs, ImageNet transfer, embedding models + scikit-learn heads, the
                         window-scoring interface
    earmark.auto         recipe selection by cross-validation within a budget
    earmark.ensemble     ensembles of classifiers, and their score from the members' folds
    earmark.embed        pretrained embeddings of every analysis window, to Parquet/CSV/NPZ
    earmark.augment      data augmentation, one transform per file
    earmark.train        the one training loop
    earmark.evaluate     metrics and cross-validation
    earmark.predict      scoring files and long recordings
    earmark.bundle       the model file format
    earmark.datasets     example data from Debian packages
    earmark.reports      HTML reports
    earmark.errors       the exception family (EarmarkError and subclasses)
"""

from importlib.metadata import PackageNotFoundError, version

from .auto import auto_select
from .classifier import SoundClassifier, load
from .config import FeatureConfig
from .ensemble import EnsembleClassifier
from .data import inspect_dataset, load_dataset, validate_dataset
from .errors import (AudioError, BudgetExceededError, DatasetError, EarmarkError, EarmarkWarning,
                     ModelFileError, NotFittedError, ParameterError)
from .evaluate import classification_metrics, cross_validate
from .train import TrainConfig

try:
    __version__ = version("earmark")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = ["SoundClassifier", "EnsembleClassifier", "load", "cross_validate", "auto_select", "classification_metrics",
           "FeatureConfig", "TrainConfig", "load_dataset", "inspect_dataset", "validate_dataset",
           "EarmarkError", "ParameterError", "AudioError", "DatasetError", "ModelFileError",
           "NotFittedError", "BudgetExceededError", "EarmarkWarning", "__version__"]
