"""Estimators: a task, a model family and a front end wired together with scikit-learn's
contract, and :func:`load` for any model file.

    SoundClassifier      one class per clip
    SoundTagger          any number of classes per clip (multi-label tagging)
    SoundDetector        every sound event with its onset, offset, class and score
    NoveltyDetector      flags sounds unlike the normal ones it was fitted on (anomalies)
    EnsembleClassifier   the mean of several fitted estimators' clip scores
    load                 read a model file as the estimator that wrote it
"""

from .base import WindowEstimator
from .classifier import SoundClassifier
from .detector import SoundDetector
from .ensemble import EnsembleClassifier, member_seeds
from .novelty import NoveltyDetector
from .persistence import load
from .tagger import SoundTagger

__all__ = ["WindowEstimator", "SoundClassifier", "SoundTagger", "SoundDetector", "NoveltyDetector", "EnsembleClassifier", "load",
           "member_seeds"]
