"""Selecting layers or parameters by name, the same way in every lens: ``None`` (all), a
name, or a sequence of names and glob patterns (``"fc*"``, ``"layers.*.weight"``)."""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import Any

from deepscope.errors import param_error

__all__ = ["select_names"]


def select_names(names: Sequence[str], wanted: Any, func: str, param: str = "layers"
                 ) -> list[str]:
    """The ``names`` that ``wanted`` selects, in the order of ``wanted``, without repeats.

    Each entry is an exact name or a glob pattern and must match at least one name.

    Raises:
        DeepscopeValueError: an entry matching nothing, or an empty selection.

    Example:
        >>> select_names(["fc1", "fc2", "out"], ["fc*"], "f")
        ['fc1', 'fc2']
    """
    if wanted is None:
        return list(names)
    entries = [wanted] if isinstance(wanted, str) else wanted
    known = ", ".join(repr(n) for n in names)
    expected = f"names or glob patterns matching ({known}), or None"
    if not isinstance(entries, Sequence) or not entries:
        raise param_error(param, func, expected, wanted)
    chosen: list[str] = []
    for entry in entries:
        hits = ([entry] if entry in names else [n for n in names if fnmatchcase(n, entry)]
                ) if isinstance(entry, str) else []
        if not hits:
            raise param_error(param, func, expected, entry)
        chosen += [n for n in hits if n not in chosen]
    return chosen
