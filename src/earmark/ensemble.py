"""Old home of :class:`~earmark.EnsembleClassifier` (now :mod:`earmark.estimators.ensemble`)
and :func:`combine_cv_results` (now :mod:`earmark.evaluation.combine`); kept so existing imports
work."""

from .estimators.ensemble import EnsembleClassifier, member_seeds
from .evaluation.combine import combine_cv_results

__all__ = ["EnsembleClassifier", "combine_cv_results", "member_seeds"]
