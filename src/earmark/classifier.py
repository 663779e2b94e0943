"""Old home of :class:`~earmark.SoundClassifier` and :func:`~earmark.load` (now in
:mod:`earmark.estimators`); kept so existing imports work."""

from .estimators.classifier import RECIPE_DEFAULTS, SoundClassifier
from .estimators.persistence import load

__all__ = ["SoundClassifier", "load", "RECIPE_DEFAULTS"]
