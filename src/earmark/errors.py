"""One exception family for earmark.

Every error earmark raises on purpose derives from :class:`EarmarkError`, so a caller can catch
them all at once; the subclasses say which stage failed.
"""

__all__ = [
    "EarmarkError",
    "ParameterError",
    "AudioError",
    "DatasetError",
    "ModelFileError",
    "NotFittedError",
    "BudgetExceededError",
    "EarmarkWarning",
]


class EarmarkError(Exception):
    """Base class of every error earmark raises on purpose."""


class ParameterError(EarmarkError, ValueError):
    """A parameter has a value earmark cannot use."""


class AudioError(EarmarkError):
    """An audio file is missing, unreadable, empty or otherwise unusable.

    The message always names the file.
    """

    def __init__(self, path, problem):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class DatasetError(EarmarkError):
    """A dataset (folder or manifest) has problems; ``problems`` lists every one of them."""

    def __init__(self, message, problems=()):
        self.problems = list(problems)
        if self.problems:
            shown = "\n".join(f"  - {p}" for p in self.problems[:50])
            more = len(self.problems) - 50
            tail = f"\n  ... and {more} more" if more > 0 else ""
            message = f"{message}\n{shown}{tail}"
        super().__init__(message)


class ModelFileError(EarmarkError):
    """A model file cannot be read: wrong format, another format version, or damaged."""


class NotFittedError(EarmarkError, AttributeError):
    """A model was used before ``fit`` was called."""


class BudgetExceededError(EarmarkError):
    """Work stopped because it would not finish within its time limit.

    ``completed`` holds what was finished (e.g. the per-fold results of a cross-validation).
    """

    def __init__(self, message, completed=None):
        self.completed = completed
        super().__init__(message)


class EarmarkWarning(UserWarning):
    """Something earmark can go on with but the user should know: training skips audio, for
    example."""
