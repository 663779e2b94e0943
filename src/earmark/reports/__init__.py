"""HTML reports: one self-contained page each, readable offline.

Reports
-------
write_evaluation_report
    Cross-validation results: metrics across folds, confusion matrix, per-class scores,
    calibration, training curves, the most confident mistakes with audio, configuration.
write_dataset_report
    A dataset inspection: class balance, durations, levels, formats, one example per class,
    duplicates and cross-fold leaks, silent and clipped files, suggestions.

Modules
-------
plots
    The matplotlib figures (PNG ``data:`` URIs).
media
    Short compressed audio clips and their spectrograms.
html
    The page, its CSS and the atomic writer.
"""

from .dataset import write_dataset_report
from .evaluation import write_evaluation_report

__all__ = ["write_evaluation_report", "write_dataset_report"]
