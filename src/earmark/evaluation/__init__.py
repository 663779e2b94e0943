"""Evaluation: metrics per task, cross-validation, combining cross-validation results.

    cross_validate          grouped / predefined-fold cross-validation of any estimator
    combine_cv_results      the cross-validation of an ensemble, from its members' results
    classification_metrics  balanced accuracy, accuracy, macro-F1, per class, confusion matrix
    tagging_metrics         macro / micro mAP, per-class AP, ROC-AUC, F1, LRAP
    tune_thresholds         per-class thresholds that maximise F1 on held-out predictions
    detection_metrics       PSDS1/PSDS2, collar-based event F1, 1-s segment F1 and error rate
                            (the DCASE reference libraries sed_scores_eval and sed_eval)
    novelty_metrics         ROC-AUC, pAUC (FPR 0.1), false-alarm rate and recall, per family

Evaluation only consumes predictions and truth; the metrics equal scikit-learn's (DCASE's
reference libraries for detection).
"""

from .classification import classification_metrics, fold_means
from .combine import combine_cv_results
from .cross_validation import clone, cross_validate, write_confusion_png
from .detection import collar_metrics, detection_metrics, psds, segment_metrics
from .novelty import novelty_metrics
from .tagging import tagging_fold_means, tagging_metrics, tune_thresholds

__all__ = ["cross_validate", "combine_cv_results", "classification_metrics", "fold_means",
           "tagging_metrics", "tagging_fold_means", "tune_thresholds", "clone",
           "write_confusion_png", "detection_metrics", "psds", "collar_metrics",
           "segment_metrics", "novelty_metrics"]
