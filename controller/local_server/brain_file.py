"""Reading a brain file: the YAML that says what the offline assistant understands.

Owns the brain's data model (``BrainSpec``, ``IntentSpec``, ``CallSpec``) and its loading
from ``--brain FILE`` or the built-in ``default_brain.yaml``, with ``ConfigError`` messages
that name the file and the key to fix. It does not match transcripts or build replies
(``brain`` does) and never touches the network or audio.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from controller.errors import ConfigError
from controller.settings import unknown_key_message

DEFAULT_BRAIN_PATH = Path(__file__).with_name("default_brain.yaml")
_TOP_KEYS = {"greeting", "fallback", "idle_prompt", "tool_reply", "tool_error", "slots",
             "intents"}
_INTENT_KEYS = {"name", "phrases", "patterns", "say", "call", "calls", "after_call",
                "without_tool"}
_CALL_KEYS = {"name", "arguments"}


@dataclass(frozen=True)
class CallSpec:
    """A tool call an intent makes; argument values are templates over the slots."""

    name: str
    arguments: Mapping[str, str]


@dataclass(frozen=True)
class IntentSpec:
    name: str
    phrases: tuple[str, ...]
    patterns: tuple[str, ...]
    say: str
    calls: tuple[CallSpec, ...]
    after_call: tuple[str, ...]
    without_tool: str | None


@dataclass(frozen=True)
class BrainSpec:
    greeting: str
    fallback: str
    idle_prompt: str
    tool_reply: str
    tool_error: str
    slots: Mapping[str, tuple[str, ...]]
    intents: tuple[IntentSpec, ...]


def load_brain_spec(path: str | Path | None = None) -> BrainSpec:
    """The brain in ``path``, or the built-in one; ``ConfigError`` says what is wrong."""
    source = Path(path) if path is not None else DEFAULT_BRAIN_PATH
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read brain file {source}: {error.strerror}; "
                          "pass an existing YAML file to --brain") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"brain file {source} is not valid YAML: {error}") from error
    return _brain_from_mapping(data, str(source))


def _brain_from_mapping(data: Any, where: str) -> BrainSpec:
    top = _mapping(data, _TOP_KEYS, where)
    intents = _list(top.get("intents", []), f"{where}: intents")
    slots = _mapping(top.get("slots", {}), None, f"{where}: slots")
    return BrainSpec(
        greeting=_text(top.get("greeting", "Hello! How can I help?"), f"{where}: greeting"),
        fallback=_text(top.get("fallback", "Sorry, I did not understand."),
                       f"{where}: fallback"),
        idle_prompt=_text(top.get("idle_prompt", "Are you still there?"),
                          f"{where}: idle_prompt"),
        tool_reply=_text(top.get("tool_reply", "Here is the result: {output}."),
                         f"{where}: tool_reply"),
        tool_error=_text(top.get("tool_error", "Sorry, that did not work: {output.error}."),
                         f"{where}: tool_error"),
        slots={str(name): tuple(_text(v, f"{where}: slots.{name}")
                                for v in _list(values, f"{where}: slots.{name}"))
               for name, values in slots.items()},
        intents=tuple(_intent(raw, f"{where}: intents[{index}]", index)
                      for index, raw in enumerate(intents)),
    )


def _intent(raw: Any, where: str, index: int) -> IntentSpec:
    intent = _mapping(raw, _INTENT_KEYS, where)
    name = _text(intent.get("name", ""), f"{where}.name")
    where = f"{where} ({name})" if name else where
    phrases = tuple(_text(p, f"{where}.phrases") for p in _list(intent.get("phrases", []),
                                                                 f"{where}.phrases"))
    patterns = tuple(_text(p, f"{where}.patterns") for p in _list(intent.get("patterns", []),
                                                                   f"{where}.patterns"))
    if not phrases and not patterns:
        raise ConfigError(f"{where}: an intent needs 'phrases' or 'patterns' to be matched")
    raw_calls = intent.get("calls", [intent["call"]] if "call" in intent else [])
    after = intent.get("after_call", [])
    return IntentSpec(
        name=name or f"intent {index + 1}", phrases=phrases, patterns=patterns,
        say=_text(intent.get("say", ""), f"{where}.say"),
        calls=tuple(_call(c, f"{where}.call") for c in _list(raw_calls, f"{where}.calls")),
        after_call=tuple(_text(a, f"{where}.after_call")
                         for a in (after if isinstance(after, list) else [after])),
        without_tool=(_text(intent["without_tool"], f"{where}.without_tool")
                      if intent.get("without_tool") is not None else None),
    )


def _call(raw: Any, where: str) -> CallSpec:
    if isinstance(raw, str):
        return CallSpec(name=raw, arguments={})
    call = _mapping(raw, _CALL_KEYS, where)
    arguments = _mapping(call.get("arguments") or {}, None, f"{where}.arguments")
    return CallSpec(name=_text(call.get("name"), f"{where}.name"),
                    arguments={str(k): _text(v, f"{where}.arguments.{k}")
                               for k, v in arguments.items()})


def _mapping(value: Any, known: set[str] | None, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping of keys to values, got {value!r}")
    if known is not None:
        for key in value:
            if key not in known:
                raise ConfigError(unknown_key_message(str(key), known, where))
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list, got {value!r}")
    return value


def _text(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ConfigError(f"{where}: expected text, got {value!r}")
    return str(value)
