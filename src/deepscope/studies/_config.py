"""Validated, frozen study configs and ``--set key=value`` parsing.

A study config is a frozen dataclass. Each field carries its help text and what it accepts
in ``field(metadata={"help": ..., "choices": ...})``; ``validate()`` in ``__post_init__``
raises the standard DeepscopeError message naming the field.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from deepscope.errors import DeepscopeValueError, param_error

__all__ = ["describe_fields", "from_sets", "option", "parse_value", "to_dict"]


def option(default: Any, help: str, *, choices: Iterable[Any] | None = None) -> Any:
    """A config field with help text and, optionally, the accepted choices."""
    meta: dict[str, Any] = {"help": help}
    if choices is not None:
        meta["choices"] = tuple(choices)
    if isinstance(default, (list, dict, set)):
        raise TypeError("mutable defaults are not allowed in study configs")
    return dataclasses.field(default=default, metadata=meta)


def _accepted(f: dataclasses.Field, tp: Any) -> str:
    choices = f.metadata.get("choices")
    if choices:
        return "one of {" + ", ".join(repr(c) for c in choices) + "}"
    origin = typing.get_origin(tp)
    if origin is tuple:
        inner = typing.get_args(tp)[0]
        if inner is int:
            return "a list of int separated by '-' or ',' (e.g. 12-10-7)"
        return f"a list of {inner.__name__} separated by ',' (e.g. a,b)"
    if tp is bool:
        return "true or false"
    if tp in (int, float, str):
        return {"int": "an int", "float": "a float", "str": "a string"}[tp.__name__]
    return str(tp)


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def _parse_scalar(text: str, tp: Any) -> Any:
    if tp is bool:
        low = text.strip().lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        raise ValueError(text)
    if tp is int:
        return int(text)
    if tp is float:
        return float(text)
    return text


def parse_value(cls: type, name: str, text: str) -> Any:
    """Parse the command-line text of field ``name`` of config class ``cls``."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    f = fields[name]
    hints = typing.get_type_hints(cls)
    tp, optional = _unwrap_optional(hints[name])
    if optional and text.strip().lower() in ("none", "null", ""):
        return None
    try:
        if typing.get_origin(tp) is tuple:
            inner = typing.get_args(tp)[0]
            # ints: "12-10-7" or "12,10,7"; floats: "-1,1" (a '-' may be a sign)
            sep_text = text.replace("-", ",") if inner is int else text
            parts = [p for p in sep_text.split(",") if p.strip()]
            return tuple(_parse_scalar(p.strip(), inner) for p in parts)
        return _parse_scalar(text, tp)
    except ValueError:
        raise param_error(name, cls.__name__, _accepted(f, tp), text) from None


def from_sets(cls: type, sets: Iterable[str] = (), base: Mapping[str, Any] | None = None) -> Any:
    """Build config ``cls`` from ``key=value`` strings over optional ``base`` values.

    Raises:
        DeepscopeValueError: malformed ``--set``, unknown field (the known ones are
            listed), or a value the field does not accept (named with what it accepts).
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = dict(base or {})
    for item in sets:
        if "=" not in item:
            raise DeepscopeValueError(
                f"Every --set must look like key=value (e.g. --set lr=0.001). Got {item!r}."
            )
        key, text = item.split("=", 1)
        key = key.strip().replace("-", "_")
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise DeepscopeValueError(
                f"{cls.__name__} has no field {key!r}. Fields: {known}."
            )
        values[key] = parse_value(cls, key, text)
    unknown = set(values) - set(fields)
    if unknown:
        raise DeepscopeValueError(
            f"{cls.__name__} has no field {sorted(unknown)[0]!r}. Fields: {', '.join(sorted(fields))}."
        )
    return cls(**values)


def validate_choices(config: Any) -> None:
    """Check every field that declares ``choices`` (call from ``__post_init__``)."""
    for f in dataclasses.fields(config):
        choices = f.metadata.get("choices")
        value = getattr(config, f.name)
        if choices and value not in choices:
            raise param_error(
                f.name, type(config).__name__,
                "one of {" + ", ".join(repr(c) for c in choices) + "}", value,
            )


def to_dict(config: Any) -> dict[str, Any]:
    """JSON-ready dict of a config (tuples become lists)."""
    out = {}
    for f in dataclasses.fields(config):
        v = getattr(config, f.name)
        out[f.name] = list(v) if isinstance(v, tuple) else v
    return out


def describe_fields(cls: type) -> list[tuple[str, str, str, str]]:
    """(name, default, accepted, help) for every field, for ``deepscope studies NAME``."""
    hints = typing.get_type_hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        tp, _ = _unwrap_optional(hints[f.name])
        default = f.default
        shown = "-".join(map(str, default)) if isinstance(default, tuple) else repr(default)
        rows.append((f.name, shown, _accepted(f, tp), f.metadata.get("help", "")))
    return rows
