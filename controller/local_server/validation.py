"""Checks on client JSON that fail the way the real Realtime service fails.

Each check takes a value and its dotted ``param`` path (``session.audio.input.format.rate``)
and either returns the value or raises ``ClientError`` with the real service's error code
(``unknown_parameter``, ``invalid_type``, ``invalid_value``, ``missing_required_parameter``,
``integer_below_min_value`` ...) and a message in its style. Pure functions; no state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from controller.local_server.wire import ClientError, describe_json_type

_ARTICLE = {"string": "a string", "integer": "an integer", "decimal": "a decimal",
            "boolean": "a boolean", "array": "an array", "object": "an object"}


def _invalid_type(value: Any, expected: str, param: str) -> ClientError:
    got = _ARTICLE.get(describe_json_type(value), describe_json_type(value))
    return ClientError("invalid_type",
                       f"Invalid type for '{param}': expected {_ARTICLE[expected]}, "
                       f"but got {got} instead.", param=param)


def check_object(value: Any, param: str, allowed: Iterable[str]) -> Mapping[str, Any]:
    """An object whose keys are all in ``allowed``; the first stranger is reported."""
    if not isinstance(value, Mapping):
        raise _invalid_type(value, "object", param)
    known = set(allowed)
    for key in value:
        if key not in known:
            raise ClientError("unknown_parameter", f"Unknown parameter: '{param}.{key}'.",
                              param=f"{param}.{key}")
    return value


def require(obj: Mapping[str, Any], key: str, param: str) -> Any:
    """``obj[key]``; ``param`` is where ``obj`` sits (``""`` for the event itself)."""
    if key not in obj or obj[key] is None:
        where = f"{param}.{key}" if param else key
        raise ClientError("missing_required_parameter",
                          f"Missing required parameter: '{where}'.", param=where)
    return obj[key]


def check_string(value: Any, param: str) -> str:
    if not isinstance(value, str):
        raise _invalid_type(value, "string", param)
    return value


def check_bool(value: Any, param: str) -> bool:
    if not isinstance(value, bool):
        raise _invalid_type(value, "boolean", param)
    return value


def check_choice(value: Any, param: str, choices: Iterable[str]) -> str:
    options = tuple(choices)
    if value not in options:
        listed = ", ".join(f"'{c}'" for c in options)
        raise ClientError("invalid_value",
                          f"Invalid value: '{value}'. Supported values are: {listed}.",
                          param=param)
    return str(value)


def check_int(value: Any, param: str, *, minimum: int | None = None,
              maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid_type(value, "integer", param)
    _check_range(value, param, minimum, maximum, "integer")
    return value


def check_number(value: Any, param: str, *, minimum: float | None = None,
                 maximum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _invalid_type(value, "decimal", param)
    _check_range(value, param, minimum, maximum, "decimal")
    return float(value)


def _check_range(value: float, param: str, minimum: float | None, maximum: float | None,
                 kind: str) -> None:
    if minimum is not None and value < minimum:
        raise ClientError(f"{kind}_below_min_value",
                          f"Invalid '{param}': {kind} below minimum value. Expected a value "
                          f">= {minimum}, but got {value} instead.", param=param)
    if maximum is not None and value > maximum:
        raise ClientError(f"{kind}_above_max_value",
                          f"Invalid '{param}': {kind} above maximum value. Expected a value "
                          f"<= {maximum}, but got {value} instead.", param=param)


def check_list(value: Any, param: str) -> list[Any]:
    if not isinstance(value, list):
        raise _invalid_type(value, "array", param)
    return value


def check_token_limit(value: Any, param: str) -> int | str:
    """``max_output_tokens``: 1 to 4096, or the string ``inf``."""
    if value == "inf":
        return "inf"
    return check_int(value, param, minimum=1, maximum=4096)


def check_tools(value: Any, param: str) -> tuple[dict[str, Any], ...]:
    """Function tools in the flat realtime shape (not nested under ``function``)."""
    tools = []
    for index, tool in enumerate(check_list(value, param)):
        where = f"{param}[{index}]"
        check_object(tool, where, ("type", "name", "description", "parameters"))
        check_choice(tool.get("type", "function"), f"{where}.type", ("function",))
        name = check_string(require(tool, "name", where), f"{where}.name")
        description = check_string(tool.get("description", ""), f"{where}.description")
        parameters = tool.get("parameters", {"type": "object", "properties": {}})
        if not isinstance(parameters, Mapping):
            raise _invalid_type(parameters, "object", f"{where}.parameters")
        tools.append({"type": "function", "name": name, "description": description,
                      "parameters": dict(parameters)})
    return tuple(tools)


def check_tool_choice(value: Any, param: str, *, beta: bool = False) -> str | dict[str, Any]:
    """``auto``/``none``/``required`` or a forced function (GA and beta object shapes)."""
    if isinstance(value, str):
        return check_choice(value, param, ("auto", "none", "required"))
    if beta and isinstance(value, Mapping) and "function" in value:
        check_object(value, param, ("type", "function"))
        function = check_object(value["function"], f"{param}.function", ("name",))
        return {"type": "function",
                "name": check_string(require(function, "name", f"{param}.function"),
                                     f"{param}.function.name")}
    choice = check_object(value, param, ("type", "name"))
    check_choice(choice.get("type"), f"{param}.type", ("function",))
    return {"type": "function", "name": check_string(require(choice, "name", param),
                                                     f"{param}.name")}


def check_transcription(value: Any, param: str) -> dict[str, Any] | None:
    """Input transcription settings, or ``None`` for off."""
    if value is None:
        return None
    config = check_object(value, param, ("model", "language", "prompt"))
    result: dict[str, Any] = {"model": check_string(config.get("model", "whisper-1"),
                                                    f"{param}.model")}
    for key in ("language", "prompt"):
        if config.get(key) is not None:
            result[key] = check_string(config[key], f"{param}.{key}")
    return result
