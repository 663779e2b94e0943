"""HTML reports: one self-contained page each, readable offline.

Reports
-------
write_evaluation_report
    Cross-validation results: metrics across folds, confusion matrix, per-class scores,
    calibration, training curves, the most confident mistakes with audio, configuration. A
    result with ``"task": "tagging"`` gets the tagging page (:mod:`.tagging`: AP, ROC-AUC, F1 at
    the tuned thresholds, tags added or missed with their audio); one with ``"task":
    "detection"`` the detection page (:mod:`.detection`: PSDS, collar and segment F1, PSD-ROC
    curves, per-class scores and tuned post-processing, and per fold a few recordings as
    spectrogram + reference and detected events + frame scores, with their audio); one with
    ``"task": "novelty"`` the novelty page (:mod:`.novelty`: ROC-AUC, pAUC, false-alarm rate
    and recall at the threshold, score histograms with the threshold, ROC curves, the
    highest-scoring clips with audio and spectrogram).
write_dataset_report
    A dataset inspection: class balance, durations, levels, formats, one example per class,
    duplicates and cross-fold leaks, silent and clipped files, suggestions.

Modules
-------
tagging, detection, novelty
    The evaluation pages of a tagger, a detector and a novelty detector.
plots, detection_plots
    The matplotlib figures (PNG ``data:`` URIs); the detection report's PSD-ROC curves and
    per-recording figures.
media
    Short compressed audio clips and their spectrograms.
html
    The page, its CSS and the atomic writer.
"""

from .dataset import write_dataset_report
from .evaluation import write_evaluation_report

__all__ = ["write_evaluation_report", "write_dataset_report"]
