"""Errors raised by deepscope and the helpers that validate parameters.

Every user-facing error is a :class:`DeepscopeError`. Messages follow one shape, after
scikit-learn's parameter validation::

    The 'bins' parameter of mutual_information must be an int in [2, 100000]. Got 0.

Validate arguments with :func:`check_int`, :func:`check_float`, :func:`check_choice`, or
raise :func:`param_error` for anything else; never ``assert``. The CLI turns a
DeepscopeError into one red line and exit code 2.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

__all__ = [
    "Described",
    "DeepscopeError",
    "DeepscopeValueError",
    "DeepscopeTypeError",
    "check_int",
    "check_float",
    "check_choice",
    "param_error",
]


class DeepscopeError(Exception):
    """Base class of every error deepscope raises on purpose."""


class DeepscopeValueError(DeepscopeError, ValueError):
    """A parameter or data value is out of what deepscope accepts."""


class DeepscopeTypeError(DeepscopeError, TypeError):
    """A parameter has the wrong type."""


class Described(str):
    """A ``got`` written as it is, not as its repr: a description such as ``"list"`` or
    ``"a tensor containing NaN or inf"`` (see :func:`param_error`)."""


def _show(value: Any) -> str:
    text = str(value) if isinstance(value, Described) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def param_error(
    name: str, func: str, accepted: str, got: Any, *, type_error: bool = False
) -> DeepscopeError:
    """Build (not raise) the standard error for a bad parameter.

    Args:
        name: Parameter name, e.g. ``"bins"``.
        func: Function or component that owns it, e.g. ``"mutual_information"``.
        accepted: What is accepted, phrased to follow "must be", e.g. ``"an int in [2, 100000]"``.
        got: The value that was given (shown as its repr, or as it is when wrapped in
            :class:`Described`).
        type_error: Return a :class:`DeepscopeTypeError` instead of a value error.

    Returns:
        The error, ready to ``raise``.
    """
    cls = DeepscopeTypeError if type_error else DeepscopeValueError
    return cls(f"The {name!r} parameter of {func} must be {accepted}. Got {_show(got)}.")


def _interval(low: float | None, high: float | None, closed: str) -> str:
    lo = "-inf" if low is None else f"{low:g}" if isinstance(low, float) else str(low)
    hi = "inf" if high is None else f"{high:g}" if isinstance(high, float) else str(high)
    left = "[" if closed in ("both", "left") and low is not None else "("
    right = "]" if closed in ("both", "right") and high is not None else ")"
    return f"{left}{lo}, {hi}{right}"


def _in_interval(x: float, low: float | None, high: float | None, closed: str) -> bool:
    if low is not None and (x < low or (x == low and closed not in ("both", "left"))):
        return False
    if high is not None and (x > high or (x == high and closed not in ("both", "right"))):
        return False
    return True


def check_int(
    value: Any,
    name: str,
    func: str,
    *,
    low: int | None = None,
    high: int | None = None,
    closed: str = "both",
) -> int:
    """Check that ``value`` is an int (not a bool) inside an interval; return it as int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise param_error(
            name, func, f"an int in {_interval(low, high, closed)}", value, type_error=True
        )
    if not _in_interval(int(value), low, high, closed):
        raise param_error(name, func, f"an int in {_interval(low, high, closed)}", value)
    return int(value)


def check_float(
    value: Any,
    name: str,
    func: str,
    *,
    low: float | None = None,
    high: float | None = None,
    closed: str = "both",
) -> float:
    """Check that ``value`` is a finite real number inside an interval; return it as float."""
    accepted = f"a finite float in {_interval(low, high, closed)}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise param_error(name, func, accepted, value, type_error=True)
    x = float(value)
    if not math.isfinite(x) or not _in_interval(x, low, high, closed):
        raise param_error(name, func, accepted, value)
    return x


def check_choice(value: Any, name: str, func: str, choices: Iterable[Any]) -> Any:
    """Check that ``value`` is one of ``choices``."""
    options = list(choices)
    if value not in options:
        shown = ", ".join(repr(c) for c in options)
        raise param_error(name, func, f"one of {{{shown}}}", value)
    return value
