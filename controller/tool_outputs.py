"""The text a tool call is answered with: a tool's return value, or what went wrong.

Every place that answers a ``function_call`` (the threaded runner of ``convctl run``, the
scripted tools of ``convctl replay``) builds its ``output`` here, so the model always reads
the same shapes: the JSON of the value on success, ``{"error": ..., "tell_user": ...}`` on
failure. Pure functions: no I/O, no threads, and never an exception for a bad value.
"""

from __future__ import annotations

import json
from typing import Any

# What the model is asked to do when a tool fails: say so, rather than invent an answer.
TELL_USER = ("The tool failed. Tell the user briefly that this did not work and why; "
             "do not make up a result.")


def error_output(message: str) -> str:
    """The output for a failed tool call: ``{"error": message, "tell_user": ...}``.

    ``error`` is exactly ``message`` (so checks can match it); ``tell_user`` asks the model
    to pass the failure on to the user instead of guessing.
    """
    return json.dumps({"error": message, "tell_user": TELL_USER}, ensure_ascii=False)


def result_output(value: Any) -> tuple[str, bool]:
    """The output for a tool's return value, and whether the call succeeded.

    A ``str`` is sent as it is (the tool chose its own text); anything else is sent as JSON.
    A value that JSON cannot carry (a set, an object, a NaN, a cycle) is answered with an
    error output naming the type that got in the way, and ``ok`` is False.
    """
    if isinstance(value, str):
        return value, True
    offending: list[str] = []

    def refuse(obj: Any) -> Any:
        offending.append(type(obj).__name__)
        raise TypeError(type(obj).__name__)

    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, default=refuse), True
    except (TypeError, ValueError, RecursionError) as exc:
        what = offending[0] if offending else _why_not_json(value, exc)
        return error_output(f"tool returned a value that is not JSON-serialisable: {what}"), False


def _why_not_json(value: Any, exc: Exception) -> str:
    # json.dumps raises ValueError for NaN/Infinity and for cycles, TypeError for bad keys.
    text = str(exc)
    if isinstance(exc, RecursionError):
        return f"{type(value).__name__} (nested too deeply)"
    if "Circular reference" in text:
        return f"{type(value).__name__} (it contains itself)"
    if "Out of range float" in text:
        return "float (NaN or infinity)"
    if "keys must be" in text:
        return f"{type(value).__name__} (with keys that are not strings or numbers)"
    return type(value).__name__
