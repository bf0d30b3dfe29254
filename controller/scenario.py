"""Scenario files (CONTRACT §2): read, validate, and turn into plain data for the replay.

Every mistake in a scenario file is reported with the file, the step and the field, and
what would be right, so a person can fix it without reading this code. No replaying here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from controller.errors import ConfigError, ScenarioError
from controller.settings import (
    FINISH_TOOL_NAME,
    ControllerSettings,
    SessionSettings,
    ToolSpec,
    settings_from_mapping,
    unknown_key_message,
)

TOP_KEYS = {"name", "description", "dialect", "config", "tools", "mic", "steps", "expect"}
STEP_KINDS = ("server", "client", "close", "raw")
STEP_KEYS = {*STEP_KINDS, "at", "after", "within"}
TOOL_KEYS = {"name", "description", "parameters", "result", "delay", "raises", "builtin"}
EXPECT_KEYS = {"states", "final_state", "transcript", "tool_calls", "client_events",
               "no_client_events"}
STATE_NAMES = ("Idle", "Connecting", "Listening", "Responding", "ToolCall", "Finished", "Error")
DEFAULT_WITHIN = 5.0


@dataclass(frozen=True, kw_only=True)
class ScriptedTool:
    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)
    result: Any = None
    delay: float = 0.0
    raises: str | None = None
    builtin: str | None = None

    def spec(self) -> ToolSpec:
        params = self.parameters or {"type": "object", "properties": {}}
        return ToolSpec(name=self.name, description=self.description, parameters=params)


@dataclass(frozen=True, kw_only=True)
class Step:
    index: int  # 1-based, as people count steps in the file
    kind: str  # server | client | close | raw
    payload: Any
    at: float | None = None
    after: float | None = None
    within: float = DEFAULT_WITHIN


@dataclass(frozen=True, kw_only=True)
class Expectations:
    states: list[str] | None = None
    final_state: str | None = None
    transcript: list[Mapping[str, Any]] | None = None
    tool_calls: list[Mapping[str, Any]] | None = None
    client_events: list[Mapping[str, Any]] = field(default_factory=list)
    no_client_events: list[Mapping[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Scenario:
    name: str
    path: str
    description: str = ""
    dialect: str = "ga"
    session: SessionSettings = field(default_factory=SessionSettings)
    controller: ControllerSettings = field(default_factory=ControllerSettings)
    tools: tuple[ScriptedTool, ...] = ()
    mic_wav: Path | None = None
    steps: tuple[Step, ...] = ()
    expect: Expectations = field(default_factory=Expectations)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    p = Path(path)
    where = str(path)
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(where, f"cannot read the file: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise ScenarioError(where, f"not valid YAML{line}: {getattr(exc, 'problem', exc)}"
                            ) from None
    return scenario_from_mapping(doc, where, base_dir=p.parent)


def scenario_from_mapping(doc: Any, where: str, *, base_dir: Path) -> Scenario:
    if not isinstance(doc, Mapping):
        raise ScenarioError(where, "a scenario must be a YAML mapping with name, steps, expect")
    for key in doc:
        if key not in TOP_KEYS:
            raise ScenarioError(where, unknown_key_message(str(key), TOP_KEYS, "the scenario"))
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ScenarioError(where, "every scenario needs a 'name' (text)", field="name")
    dialect = doc.get("dialect", "ga")
    if dialect not in ("ga", "beta"):
        raise ScenarioError(where, f"must be ga or beta, got {dialect!r}", field="dialect")
    tools = _tools(doc.get("tools") or [], where)
    try:
        session, controller = settings_from_mapping(doc.get("config") or {})
    except ConfigError as exc:
        raise ScenarioError(where, str(exc), field="config") from None
    session = session.with_tools(tuple(t.spec() for t in tools if t.builtin is None))
    return Scenario(
        name=name, path=where, description=str(doc.get("description") or ""),
        dialect=dialect, session=session, controller=controller, tools=tools,
        mic_wav=_mic(doc.get("mic", "silence"), where, base_dir),
        steps=tuple(_step(i, raw, where) for i, raw in enumerate(_list(doc, "steps", where), 1)),
        expect=_expect(doc.get("expect") or {}, where),
    )


def _list(doc: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = doc.get(key)
    if value is None:
        raise ScenarioError(where, f"'{key}' is required (a list)", field=key)
    if not isinstance(value, list):
        raise ScenarioError(where, f"must be a list, got {type(value).__name__}", field=key)
    return value


def _number(value: Any, where: str, step: int | None, fld: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ScenarioError(where, f"must be a number of seconds >= 0, got {value!r}",
                            step=step, field=fld)
    return float(value)


def _tools(raw: Any, where: str) -> tuple[ScriptedTool, ...]:
    if not isinstance(raw, list):
        raise ScenarioError(where, "must be a list of tools", field="tools")
    tools = []
    for i, t in enumerate(raw, 1):
        fld = f"tools[{i}]"
        if not isinstance(t, Mapping) or not isinstance(t.get("name"), str):
            raise ScenarioError(where, "each tool needs a 'name'", field=fld)
        for key in t:
            if key not in TOOL_KEYS:
                raise ScenarioError(where, unknown_key_message(str(key), TOOL_KEYS, "a tool"),
                                    field=fld)
        builtin = t.get("builtin")
        if builtin is not None and (builtin != "finish" or t["name"] != FINISH_TOOL_NAME):
            raise ScenarioError(where, f"the only builtin is 'finish', named "
                                f"{FINISH_TOOL_NAME}", field=f"{fld}.builtin")
        if t.get("raises") is not None and not isinstance(t["raises"], str):
            raise ScenarioError(where, "must be the error message (text)",
                                field=f"{fld}.raises")
        params = t.get("parameters") or {}
        if not isinstance(params, Mapping):
            raise ScenarioError(where, "must be a JSON schema object",
                                field=f"{fld}.parameters")
        tools.append(ScriptedTool(
            name=t["name"], description=str(t.get("description") or ""), parameters=params,
            result=t.get("result"), raises=t.get("raises"), builtin=builtin,
            delay=_number(t.get("delay", 0), where, None, f"{fld}.delay")))
    return tuple(tools)


def _mic(raw: Any, where: str, base_dir: Path) -> Path | None:
    if raw in (None, "silence"):
        return None
    if isinstance(raw, Mapping) and set(raw) == {"wav"} and isinstance(raw["wav"], str):
        wav = (base_dir / raw["wav"]).resolve()
        if not wav.is_file():
            raise ScenarioError(where, f"no such WAV file: {wav}", field="mic.wav")
        return wav
    raise ScenarioError(where, f"must be 'silence' or {{wav: path}}, got {raw!r}", field="mic")


def _step(index: int, raw: Any, where: str) -> Step:
    if not isinstance(raw, Mapping):
        raise ScenarioError(where, "a step must be a mapping", step=index)
    for key in raw:
        if key not in STEP_KEYS:
            raise ScenarioError(where, unknown_key_message(str(key), STEP_KEYS, "a step"),
                                step=index, field=str(key))
    kinds = [k for k in STEP_KINDS if k in raw]
    if len(kinds) != 1:
        raise ScenarioError(where, f"a step needs exactly one of {', '.join(STEP_KINDS)}",
                            step=index)
    kind = kinds[0]
    payload = raw[kind]
    if kind in ("server", "client") and not (
            isinstance(payload, Mapping) and isinstance(payload.get("type"), str)):
        raise ScenarioError(where, "must be an event mapping with a 'type'", step=index,
                            field=kind)
    if kind == "raw" and not isinstance(payload, str):
        raise ScenarioError(where, "must be the frame's text", step=index, field="raw")
    if kind == "close":
        payload = _close(payload, where, index)
    if "at" in raw and "after" in raw:
        raise ScenarioError(where, "give 'at' or 'after', not both", step=index, field="at")
    if "within" in raw and kind != "client":
        raise ScenarioError(where, "'within' belongs to client steps", step=index,
                            field="within")
    return Step(
        index=index, kind=kind, payload=payload,
        at=_number(raw["at"], where, index, "at") if "at" in raw else None,
        after=_number(raw["after"], where, index, "after") if "after" in raw else None,
        within=_number(raw.get("within", DEFAULT_WITHIN), where, index, "within"))


def _close(raw: Any, where: str, index: int) -> dict[str, Any]:
    raw = raw or {}
    code = raw.get("code", 1000) if isinstance(raw, Mapping) else None
    if isinstance(code, bool) or not isinstance(code, int):
        raise ScenarioError(where, f"must be a close code (integer), got {code!r}",
                            step=index, field="close.code")
    return {"code": code, "reason": str(raw.get("reason", ""))}


def _expect(raw: Any, where: str) -> Expectations:
    if not isinstance(raw, Mapping):
        raise ScenarioError(where, "must be a mapping", field="expect")
    for key in raw:
        if key not in EXPECT_KEYS:
            raise ScenarioError(where, unknown_key_message(str(key), EXPECT_KEYS, "expect"),
                                field=f"expect.{key}")
    states = raw.get("states")
    for s in [*(states or []), *([raw["final_state"]] if "final_state" in raw else [])]:
        if s not in STATE_NAMES:
            raise ScenarioError(where, f"unknown state {s!r}; states are "
                                f"{', '.join(STATE_NAMES)}", field="expect.states")
    lists = {}
    for key in ("transcript", "tool_calls", "client_events", "no_client_events"):
        value = raw.get(key)
        if value is not None and not (isinstance(value, list)
                                      and all(isinstance(v, Mapping) for v in value)):
            raise ScenarioError(where, "must be a list of mappings", field=f"expect.{key}")
        lists[key] = value
    return Expectations(
        states=states, final_state=raw.get("final_state"),
        transcript=lists["transcript"], tool_calls=lists["tool_calls"],
        client_events=lists["client_events"] or [],
        no_client_events=lists["no_client_events"] or [])
