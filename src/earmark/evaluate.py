"""Old home of the evaluation functions (now :mod:`earmark.evaluation`); kept so existing
imports work."""

from ._io import write_json
from .evaluation import (classification_metrics, cross_validate, fold_means,
                         write_confusion_png)

__all__ = ["classification_metrics", "cross_validate", "fold_means", "write_json",
           "write_confusion_png"]
