"""Typed field readers for server events: one JSON value in, a checked Python value out.

This module owns what "the right type" means for a field on the wire (an integer is an
int and not a bool, an id is a string, an item is an object with a string ``type``) and
how the shared nested shapes (items, content parts, responses) become the dataclasses of
``controller.events``. A wrong field raises ``Bad`` naming the field by its dotted path;
``codec_parse`` turns that into a ``Malformed`` event. Nothing here does I/O or lets any
other exception escape on JSON input.

Every reader has the signature ``read(d, key, where)``: ``d`` is the enclosing object,
``key`` the field, ``where`` the dotted path of ``d`` ("" at the top, "item." inside).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controller.events import ContentPart, Item, Response

Reader = Callable[[dict[str, Any], str, str], Any]

_JSON_KINDS = {dict: "an object", list: "an array", str: "a string", int: "an integer",
               float: "a number", bool: "a boolean", type(None): "null"}

# Assistant content types differ between the dialects; the controller sees one kind.
_PART_KINDS = {"output_text": "text", "output_audio": "audio"}


class Bad(Exception):
    """A field of an otherwise well-formed event has the wrong shape (internal signal)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"field '{field}' {problem}")
        self.field = field


def json_kind(value: object) -> str:
    """What a JSON value is, in words: ``an object``, ``a string``, ``null``..."""
    return _JSON_KINDS.get(type(value), type(value).__name__)


def _wrong(where: str, key: str, value: object, expected: str) -> Bad:
    if value is None:
        return Bad(where + key, "is missing or null")
    return Bad(where + key, f"must be {expected}, got {json_kind(value)}")


# --- Scalars ----------------------------------------------------------------------------


def req_str(d: dict[str, Any], key: str, where: str) -> str:
    value = d.get(key)
    if type(value) is not str:
        raise _wrong(where, key, value, "a string")
    return value


def opt_str(d: dict[str, Any], key: str, where: str) -> str | None:
    value = d.get(key)
    if value is None or type(value) is str:
        return value
    raise _wrong(where, key, value, "a string or null")


def str_or_empty(d: dict[str, Any], key: str, where: str) -> str:
    value = d.get(key)
    if type(value) is str:
        return value
    if value is None:
        return ""
    raise _wrong(where, key, value, "a string")


def req_int(d: dict[str, Any], key: str, where: str) -> int:
    value = d.get(key)
    # type() rather than isinstance(): JSON true is not a millisecond count.
    if type(value) is not int:
        raise _wrong(where, key, value, "an integer")
    return value


def opt_int(d: dict[str, Any], key: str, where: str) -> int | None:
    value = d.get(key)
    if value is None or type(value) is int:
        return value
    raise _wrong(where, key, value, "an integer or null")


def zero_or_int(d: dict[str, Any], key: str, where: str) -> int:
    value = d.get(key)
    if type(value) is int:
        return value
    if value is None:
        return 0
    raise _wrong(where, key, value, "an integer")


def opt_num(d: dict[str, Any], key: str, where: str) -> float | None:
    value = d.get(key)
    if value is None or type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    raise _wrong(where, key, value, "a number or null")


def event_id_of(d: dict[str, Any]) -> str | None:
    return opt_str(d, "event_id", "")


# --- Objects ----------------------------------------------------------------------------


def obj(d: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = d.get(key)
    if type(value) is not dict:
        raise _wrong(where, key, value, "an object")
    return value


def opt_obj(d: dict[str, Any], key: str, where: str) -> dict[str, Any] | None:
    value = d.get(key)
    if value is None or type(value) is dict:
        return value
    raise _wrong(where, key, value, "an object or null")


def _opt_list(d: dict[str, Any], key: str, where: str) -> list[Any]:
    value = d.get(key)
    if value is None:
        return []
    if type(value) is not list:
        raise _wrong(where, key, value, "an array")
    return value


def obj_tuple(d: dict[str, Any], key: str, where: str) -> tuple[dict[str, Any], ...]:
    """An array of objects (e.g. ``rate_limits``); a missing array is empty."""
    values = _opt_list(d, key, where)
    for index, value in enumerate(values):
        if type(value) is not dict:
            raise _wrong(where, f"{key}[{index}]", value, "an object")
    return tuple(values)


# --- Shared nested shapes ---------------------------------------------------------------


def _content_part(value: object, path: str) -> ContentPart:
    if type(value) is not dict:
        raise _wrong("", path, value, "an object")
    where = path + "."
    kind = req_str(value, "type", where)
    return ContentPart(kind=_PART_KINDS.get(kind, kind),
                       text=opt_str(value, "text", where),
                       transcript=opt_str(value, "transcript", where))


def part(d: dict[str, Any], key: str, where: str) -> ContentPart:
    """The ``part`` of ``response.content_part.added/done``."""
    return _content_part(d.get(key), where + key)


def _item(value: object, path: str) -> Item:
    if type(value) is not dict:
        raise _wrong("", path, value, "an object")
    where = path + "."
    content = _opt_list(value, "content", where)
    return Item(
        id=opt_str(value, "id", where),
        type=req_str(value, "type", where),
        status=opt_str(value, "status", where),
        role=opt_str(value, "role", where),
        content=tuple(_content_part(entry, f"{where}content[{index}]")
                      for index, entry in enumerate(content)),
        call_id=opt_str(value, "call_id", where),
        name=opt_str(value, "name", where),
        arguments=opt_str(value, "arguments", where),
        output=opt_str(value, "output", where))


def item(d: dict[str, Any], key: str, where: str) -> Item:
    """A conversation item (message, function call, function call output, MCP item)."""
    return _item(d.get(key), where + key)


def response(d: dict[str, Any], key: str, where: str) -> Response:
    """The ``response`` object of ``response.created`` / ``response.done``."""
    value = obj(d, key, where)
    inner = f"{where}{key}."
    details = opt_obj(value, "status_details", inner)
    reason = None if details is None else opt_str(details, "reason", inner + "status_details.")
    output = _opt_list(value, "output", inner)
    return Response(
        id=opt_str(value, "id", inner),
        status=opt_str(value, "status", inner),
        status_reason=reason,
        output=tuple(_item(entry, f"{inner}output[{index}]")
                     for index, entry in enumerate(output)),
        usage=opt_obj(value, "usage", inner))
