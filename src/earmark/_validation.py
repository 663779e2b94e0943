"""Parameter checks with one message shape (as scikit-learn does).

"The 'window_s' parameter of SoundClassifier must be a float in (0, inf). Got -1 instead."
"""

import math
import numbers

from .errors import ParameterError


def _fail(name, owner, expected, value):
    raise ParameterError(
        f"The {name!r} parameter of {owner} must be {expected}. Got {value!r} instead."
    )


def check_number(value, name, owner, *, low=None, high=None, closed="neither", integer=False,
                 allow_none=False):
    """Check that ``value`` is a number in the interval (``low``, ``high``).

    ``closed`` is one of 'neither', 'left', 'right', 'both'.
    """
    if value is None and allow_none:
        return value
    lo_s = "-inf" if low is None else str(low)
    hi_s = "inf" if high is None else str(high)
    left = "[" if closed in ("left", "both") and low is not None else "("
    right = "]" if closed in ("right", "both") and high is not None else ")"
    kind = "an int" if integer else "a float"
    expected = f"{kind} in {left}{lo_s}, {hi_s}{right}" + (" or None" if allow_none else "")
    ok_type = isinstance(value, numbers.Integral) if integer else isinstance(value, numbers.Real)
    if isinstance(value, bool) or not ok_type or (not integer and not math.isfinite(value)):
        _fail(name, owner, expected, value)
    if low is not None and (value < low or (value == low and left == "(")):
        _fail(name, owner, expected, value)
    if high is not None and (value > high or (value == high and right == ")")):
        _fail(name, owner, expected, value)
    return value


def check_choice(value, name, owner, choices):
    """Check that ``value`` is one of ``choices``."""
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        _fail(name, owner, f"one of {{{listed}}}", value)
    return value


def check_range(low, high, low_name, high_name, owner):
    """Check that a paired range is ordered: ``low <= high``."""
    if low > high:
        raise ParameterError(
            f"{owner}: {low_name} ({low!r}) cannot be greater than {high_name} ({high!r})."
        )
