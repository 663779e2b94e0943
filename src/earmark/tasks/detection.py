"""Sound event detection: which classes sound *when* (onset, offset, class, score).

Detection is tagging at frame level: each class is decided on its own (sigmoid, binary
cross-entropy), over short frames instead of whole clips. A recording's frame scores become
events by post-processing (:mod:`earmark.inference.postprocess`: median filter, onset and
offset thresholds with hysteresis, minimum length, gap merging, all tuned on held-out
recordings), and events are judged with the DCASE metrics
(:mod:`earmark.evaluation.detection`: PSDS1 and PSDS2, collar-based event F1, 1-s segment F1
and error rate), ranked by PSDS1.

Training validation (early stopping) judges the clip scores the frames pool to (macro mAP of
the clips' tags): cheap, and it moves with the frame scores it summarises.
"""

from .tagging import TaggingTask

__all__ = ["DetectionTask"]


class DetectionTask(TaggingTask):
    """Frame-level multi-label detection; ranked by PSDS1.

    Examples
    --------
    >>> task = DetectionTask()
    >>> task.name, task.activation, task.primary_metric, task.validation_metric
    ('detection', 'sigmoid', 'psds1', 'map_macro')
    >>> task.encode([("dog",), ()], ["bird", "dog"]).tolist()
    [[0.0, 1.0], [0.0, 0.0]]
    """

    name = "detection"
    primary_metric = "psds1"
    metric_keys = ("psds1", "psds2", "collar_f1", "collar_f1_micro", "segment_f1",
                   "segment_f1_macro", "segment_er", "collar_precision", "collar_recall",
                   "segment_precision", "segment_recall")

    @property
    def validation_metric(self):
        """Epochs are ranked by the macro mAP of the validation clips' tags."""
        return "map_macro"

    def fold_means(self, folds):
        """Means over folds (and ``<key>_std``) of :attr:`metric_keys`."""
        return super().fold_means(folds)
