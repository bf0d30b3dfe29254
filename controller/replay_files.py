"""What ``convctl replay`` accepts: scenario files (.yaml) and recorded logs (.jsonl).

A recorded log becomes a scenario: its server events are replayed at their recorded times
(elided audio becomes real audio of the same length), its tool outputs are given back by
``call_id``, and the expectation is that the controller sends the same control events
(every client event but audio appends, compared on ``type`` and the ids and numbers in
them) and enters the same states - a regression test made from a real conversation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.engine import CLOSE_EVENT, MALFORMED_EVENT
from controller.errors import ConfigError, ScenarioError
from controller.inbox import SIGNAL_ITEMS, ToolFinished
from controller.log import read_log
from controller.replay import Replay, replay_scenario
from controller.scenario import Expectations, Scenario, ScriptedTool, Step, load_scenario
from controller.settings import FINISH_TOOL_NAME, settings_from_mapping
from controller.tool_outputs import error_output


@dataclass(frozen=True)
class RecordedLog:
    scenario: Scenario
    control_events: list[Any]  # projections of the recorded client control events
    tool_outputs: dict[str, str]  # call_id -> the output the recording sent


def load_replayable(path: str) -> Scenario | RecordedLog:
    if path.endswith(".jsonl"):
        return load_recorded_log(path)
    return load_scenario(path)


def run_replayable(item: Scenario | RecordedLog, *, realtime: bool = False) -> dict[str, Any]:
    if isinstance(item, Scenario):
        return replay_scenario(item, realtime=realtime)
    replay = Replay(item.scenario, realtime=realtime)
    replay.ctx.tools = _RecordedTools(replay, item.tool_outputs)
    report = replay.run()
    got = [control_projection(e["event"]) for e in report["client_events"]]
    difference = _first_difference(item.control_events, got)
    if difference is not None:
        report["failures"].append(difference)
        report["passed"] = False
    return report


def control_projection(value: Any, key: str = "") -> Any:
    """The part of a client event a regression compares: its type, ids and numbers."""
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            projected = control_projection(v, str(k))
            if projected is not None and projected != {} and projected != []:
                out[k] = projected
        return out
    if isinstance(value, list):
        return [control_projection(v, key) for v in value]
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str) and (key == "type" or key == "id" or key.endswith("_id")):
        return value
    return None


# A WAV speaker plays in 20 ms periods whose phase the log does not hold, and a sound
# card's heard count is an estimate good to a few ms, so what was heard at a barge-in is
# known to within one period: truncates compare within it.
AUDIO_END_TOLERANCE_MS = 20


def _same_control_event(expected: Any, got: Any) -> bool:
    if expected == got:
        return True
    if not (isinstance(expected, dict) and isinstance(got, dict)
            and expected.get("type") == got.get("type") == "conversation.item.truncate"):
        return False
    a, b = dict(expected), dict(got)
    end_a, end_b = a.pop("audio_end_ms", None), b.pop("audio_end_ms", None)
    return (a == b and isinstance(end_a, int) and isinstance(end_b, int)
            and abs(end_a - end_b) <= AUDIO_END_TOLERANCE_MS)


def _first_difference(expected: list[Any], got: list[Any]) -> str | None:
    for n, (e, g) in enumerate(zip(expected, got, strict=False), 1):
        if not _same_control_event(e, g):
            return (f"control event {n} differs from the recording: expected "
                    f"{json.dumps(e, sort_keys=True)}, sent {json.dumps(g, sort_keys=True)}")
    if len(expected) != len(got):
        return f"the recording has {len(expected)} control events, the replay sent {len(got)}"
    return None


def load_recorded_log(path: str) -> RecordedLog:
    header, entries = read_log(path)
    try:
        session, controller = settings_from_mapping(header.get("config") or {},
                                                    extra_keys=_RUN_KEYS)
    except ConfigError as exc:
        raise ScenarioError(path, str(exc), step=1, field="config") from None
    steps: list[Step] = []
    states = ["Idle"]
    control: list[Any] = []
    outputs: dict[str, str] = {}
    tools: tuple[ScriptedTool, ...] = ()
    for number, entry in enumerate(entries, 2):
        if entry["dir"] == "local":
            if "signal" in entry:
                steps.append(_signal_step(path, number, entry))
            else:
                states.append(entry["state"]["to"])
            continue
        event = entry["event"]
        if entry["dir"] == "client":
            if event["type"] == "input_audio_buffer.append":
                continue
            control.append(control_projection(event))
            if event["type"] == "session.update" and not tools:
                tools = _recorded_tools(event)
            item = event.get("item") or {}
            if event["type"] == "conversation.item.create" and item.get("type") == \
                    "function_call_output":
                outputs[str(item.get("call_id"))] = str(item.get("output", ""))
            continue
        steps.append(_server_step(number, event, float(entry["t"])))
    scenario = Scenario(
        name=Path(path).stem, path=path, dialect=str(header.get("dialect", "ga")),
        session=session.with_tools(tuple(t.spec() for t in tools)), controller=controller,
        tools=tools, steps=tuple(steps),
        expect=Expectations(states=states, final_state=states[-1]))
    return RecordedLog(scenario=scenario, control_events=control, tool_outputs=outputs)


def _server_step(number: int, event: Mapping[str, Any], t: float) -> Step:
    if event["type"] == CLOSE_EVENT:
        return Step(index=number, kind="close", at=t, payload={
            "code": int(event.get("code", 1000)), "reason": str(event.get("reason", ""))})
    if event["type"] == MALFORMED_EVENT:
        return Step(index=number, kind="raw", at=t, payload=str(event.get("raw", "")))
    return Step(index=number, kind="server", at=t, payload=event)


def _signal_step(path: str, number: int, entry: Mapping[str, Any]) -> Step:
    if entry["signal"] not in SIGNAL_ITEMS:
        raise ScenarioError(path, f"unknown local signal {entry['signal']!r}; known: "
                            f"{', '.join(SIGNAL_ITEMS)}", step=number, field="signal")
    return Step(index=number, kind="signal", at=float(entry["t"]), payload=entry["signal"])


def _recorded_tools(update: Mapping[str, Any]) -> tuple[ScriptedTool, ...]:
    """The user's tools as the recording declared them to the model (its session.update)."""
    session = update.get("session")
    declared = session.get("tools") if isinstance(session, Mapping) else None
    if not isinstance(declared, list):
        return ()
    return tuple(
        ScriptedTool(name=str(t["name"]), description=str(t.get("description") or ""),
                     parameters=t.get("parameters") or {})
        for t in declared
        if isinstance(t, Mapping) and t.get("name") and t["name"] != FINISH_TOOL_NAME)


class _RecordedTools:
    """Gives each call the output the recording gave it (by call_id), at once."""

    def __init__(self, replay: Replay, outputs: dict[str, str]) -> None:
        self._replay = replay
        self._outputs = outputs
        self._pending: list[object] = []

    def start(self, call_id: str, name: str, arguments: Mapping[str, Any]) -> None:
        output = self._outputs.get(call_id, error_output("this call is not in the recording"))
        self._pending.append(self._replay.clock.call_later(
            0.0, ToolFinished(call_id=call_id, output=output)))

    def close(self) -> None:
        for handle in self._pending:
            self._replay.clock.cancel(handle)


_RUN_KEYS = {"provider", "url", "model", "deployment", "dialect", "api_version", "input",
             "input_device", "output", "output_device", "record", "record_audio", "tools",
             "verbose", "max_duration", "api_key"}
