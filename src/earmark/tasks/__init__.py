"""Tasks: what a label means, and everything that follows from it.

A task decides only how targets are encoded, the output activation and the loss, how window
scores become a clip answer (aggregation), the decision rule, and the metrics. The training
loop, the window models, prediction, ensembles, cross-validation, reports and the model file take
a task and do not know which one it is.

=================  =========================================================================
task               targets / activation / loss / aggregation / decision / primary metric
=================  =========================================================================
classification     one-hot / softmax / cross-entropy / mean, max (renormalised), vote /
                   argmax / balanced accuracy
tagging            multi-hot / sigmoid / binary cross-entropy / mean, max, lse (smooth max) /
                   per-class thresholds (tuned to maximise F1) / macro mAP
detection          multi-hot per frame (from onset/offset) or per clip (weak labels) / sigmoid /
                   binary cross-entropy / frame scores stitched over windows / median filter +
                   hysteresis thresholds -> events / PSDS1
novelty            anomalous = any label but 'normal' / anomaly scores from a scorer fitted on
                   normal windows only / max, top-k mean, mean / score above a threshold set
                   from a false-alarm budget / ROC-AUC
=================  =========================================================================

Examples
--------
>>> from earmark.tasks import get_task
>>> task = get_task("tagging")
>>> task.encode([("dog",), ("bird", "dog"), ()], ["bird", "dog"]).tolist()
[[0.0, 1.0], [1.0, 1.0], [0.0, 0.0]]
"""

from .base import Task
from .classification import ClassificationTask
from .detection import DetectionTask
from .novelty import NoveltyTask
from .tagging import TaggingTask

__all__ = ["Task", "ClassificationTask", "TaggingTask", "DetectionTask", "NoveltyTask", "TASKS",
           "get_task"]

#: The tasks by name.
TASKS = {"classification": ClassificationTask(), "tagging": TaggingTask(),
         "detection": DetectionTask(), "novelty": NoveltyTask()}


def get_task(task):
    """The :class:`Task` named ``task`` (a Task is returned as it is).

    Raises
    ------
    ParameterError
        Not a known task.
    """
    from .._validation import check_choice

    if isinstance(task, Task):
        return task
    check_choice(task, "task", "get_task", tuple(TASKS))
    return TASKS[task]
