"""How a Python parameter is declared to the model, and how the model's value is checked.

For each supported type hint this module gives one ``Shape``: the JSON schema the model
sees, and a ``convert`` that checks a value from the model's arguments against the same
hint (turning it into what the function expects: an ``Enum`` member, a ``float``). One
description serves both, so what the model is told and what is accepted never drift apart.
It also reads parameter descriptions from a docstring's ``Args:`` section.

Pure: no imports of user code, no I/O. Unsupported hints raise ``UnsupportedHint``; the
decorator in ``controller.tools`` turns that into a ``ToolError`` naming the function.
"""

from __future__ import annotations

import enum
import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Convert = Callable[[Any], Any]


class UnsupportedHint(Exception):
    """A type hint this module cannot describe to the model; the text says which."""


@dataclass(frozen=True)
class Shape:
    """One parameter type: its JSON schema and the check of a value against it."""

    schema: Mapping[str, Any]
    convert: Convert
    optional: bool = False  # ``X | None``: the model may leave it out
    description: str | None = field(default=None)  # from ``Annotated[X, "..."]``


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check(ok: Callable[[Any], bool], what: str) -> Convert:
    def convert(value: Any) -> Any:
        if not ok(value):
            raise ValueError(f"must be {what}, got {_show(value)}")
        return value
    return convert


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _to_int(value: Any) -> int:
    # JSON has one number type: a model may write 3.0 where 3 is meant.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not _is_int(value):
        raise ValueError(f"must be a whole number, got {_show(value)}")
    return int(value)


def _to_float(value: Any) -> float:
    if not (_is_int(value) or isinstance(value, float)):
        raise ValueError(f"must be a number, got {_show(value)}")
    return float(value)


_SIMPLE: dict[Any, Shape] = {
    str: Shape({"type": "string"}, _check(lambda v: isinstance(v, str), "a string")),
    int: Shape({"type": "integer"}, _to_int),
    float: Shape({"type": "number"}, _to_float),
    bool: Shape({"type": "boolean"}, _check(lambda v: isinstance(v, bool), "true or false")),
    list: Shape({"type": "array"}, _check(lambda v: isinstance(v, list), "a list")),
    dict: Shape({"type": "object"}, _check(lambda v: isinstance(v, dict), "an object")),
    Any: Shape({}, lambda v: v),
}


def _json_type(values: list[Any]) -> dict[str, Any]:
    kinds = {type(v) for v in values}
    names = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if len(kinds) == 1 and (kind := kinds.pop()) in names:
        return {"type": names[kind]}
    return {}


def _literal(values: tuple[Any, ...]) -> Shape:
    if not all(isinstance(v, (str, int, float, bool)) for v in values):
        raise UnsupportedHint("Literal values must be strings, numbers or booleans")
    choices = ", ".join(_show(v) for v in values)

    def convert(value: Any) -> Any:
        # True == 1 in Python, but not for the model: compare the type too.
        if any(value == v and type(value) is type(v) for v in values):
            return value
        raise ValueError(f"must be one of {choices}, got {_show(value)}")
    return Shape({**_json_type(list(values)), "enum": list(values)}, convert)


def _enum(cls: type[enum.Enum]) -> Shape:
    values = [member.value for member in cls]
    if not all(isinstance(v, (str, int, float)) for v in values):
        raise UnsupportedHint(f"the values of enum {cls.__name__} must be strings or numbers")
    choices = ", ".join(_show(v) for v in values)

    def convert(value: Any) -> Any:
        if isinstance(value, bool) or value not in values:
            raise ValueError(f"must be one of {choices}, got {_show(value)}")
        return cls(value)
    return Shape({**_json_type(values), "enum": values}, convert)


def _list_of(item: Shape) -> Shape:
    def convert(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise ValueError(f"must be a list, got {_show(value)}")
        converted = []
        for index, element in enumerate(value):
            try:
                converted.append(item.convert(element))
            except ValueError as exc:
                raise ValueError(f"item {index} {exc}") from None
        return converted
    return Shape({"type": "array", "items": dict(item.schema)}, convert)


def _dict_of(key: Any, value_shape: Shape) -> Shape:
    if key is not str:
        raise UnsupportedHint("dict keys must be str (JSON object keys are strings)")

    def convert(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ValueError(f"must be an object, got {_show(value)}")
        converted = {}
        for name, element in value.items():
            try:
                converted[name] = value_shape.convert(element)
            except ValueError as exc:
                raise ValueError(f"entry {name!r} {exc}") from None
        return converted
    return Shape({"type": "object", "additionalProperties": dict(value_shape.schema)}, convert)


def _optional(inner: Shape) -> Shape:
    def convert(value: Any) -> Any:
        return None if value is None else inner.convert(value)
    return Shape(inner.schema, convert, optional=True, description=inner.description)


def shape_of(hint: Any) -> Shape:
    """The shape of a resolved type hint; ``UnsupportedHint`` says why one cannot be used."""
    simple = _simple(hint)
    if simple is not None:
        return simple
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        notes = [note for note in hint.__metadata__ if isinstance(note, str)]
        inner = shape_of(args[0])
        return Shape(inner.schema, inner.convert, inner.optional,
                     notes[0] if notes else inner.description)
    if origin is typing.Literal:
        return _literal(args)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _enum(hint)
    if origin in (typing.Union, types.UnionType):
        others = [arg for arg in args if arg is not type(None)]
        if len(others) == 1 and len(others) < len(args):
            return _optional(shape_of(others[0]))
        raise UnsupportedHint(f"{_name(hint)} (a union; only X | None is supported)")
    if origin in (list, dict) and not args:  # typing.List, typing.Dict
        return _SIMPLE[origin]
    if origin is list and len(args) == 1:
        return _list_of(shape_of(args[0]))
    if origin is dict and len(args) == 2:
        return _dict_of(args[0], shape_of(args[1]))
    raise UnsupportedHint(
        f"{_name(hint)} (use str, int, float, bool, list[X], dict[str, X], Literal[...], "
        "an Enum, or X | None)")


def _simple(hint: Any) -> Shape | None:
    try:
        return _SIMPLE.get(hint)
    except TypeError:  # an unhashable hint, such as Annotated[...] with a dict in it
        return None


def _name(hint: Any) -> str:
    if isinstance(hint, type) and typing.get_origin(hint) is None:
        return hint.__name__
    return str(hint).replace("typing.", "")


# --- Docstrings --------------------------------------------------------------------------

_ARGS_HEADER = re.compile(r"^(Args|Arguments|Parameters|Params)\s*:\s*$")
_ARG_LINE = re.compile(r"^\*{0,2}(?P<name>\w+)\s*(\([^)]*\))?\s*:\s*(?P<text>.*)$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """The description (first paragraph, one line) and the ``Args:`` descriptions."""
    lines = inspect.cleandoc(doc or "").splitlines()
    summary: list[str] = []
    for line in lines:
        if not line.strip() or _ARGS_HEADER.match(line.strip()):
            break
        summary.append(line.strip())
    return " ".join(summary), _args_section(lines)


def _args_section(lines: list[str]) -> dict[str, str]:
    start = next((i for i, line in enumerate(lines) if _ARGS_HEADER.match(line.strip())), None)
    if start is None:
        return {}
    header_indent = _indent(lines[start])
    described: dict[str, list[str]] = {}
    current: list[str] | None = None
    entry_indent: int | None = None
    for line in lines[start + 1:]:
        if not line.strip():
            continue
        indent = _indent(line)
        if indent <= header_indent:
            break  # the next section (Returns:, Raises:, ...) or plain text
        match = _ARG_LINE.match(line.strip())
        if match and (entry_indent is None or indent <= entry_indent):
            entry_indent = indent
            current = described.setdefault(match["name"], [])
            current.append(match["text"].strip())
        elif current is not None:
            current.append(line.strip())
    return {name: " ".join(part for part in text if part) for name, text in described.items()}
