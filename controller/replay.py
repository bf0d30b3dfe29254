"""Deterministic replay: a scenario's scripted server against the real machine.

The same engine, states and codec as a live run, with scripted ports on a virtual clock:
server steps are turned into real wire JSON (audio shorthand ``{ms: N}`` becomes real
pcm16, base64) and parsed by the codec; the controller's client events are matched
against ``client`` steps; the result is the report of CONTRACT §4.
"""

from __future__ import annotations

import base64
import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from controller.context import ConversationContext
from controller.engine import ConversationEngine
from controller.expectations import check, subset_match
from controller.inbox import SIGNAL_ITEMS, TransportClosed
from controller.log import NullRecorder
from controller.protocol import ClientEvents, parse_server_event
from controller.replay_ports import (
    TICKS_PER_SECOND,
    ReplayInbox,
    ScriptedTools,
    ScriptedTransport,
    VirtualClock,
    VirtualMicrophone,
    VirtualSpeaker,
    ticks,
)
from controller.scenario import Scenario, Step
from controller.turn_detector import LocalTurnDetector
from controller.uplink import Uplink

AUDIO_FIELDS = ("delta", "audio")


@lru_cache(maxsize=64)
def tone_base64(ms: int) -> str:
    """``ms`` milliseconds of a quiet 440 Hz tone, pcm16 24 kHz mono, base64."""
    samples = ms * 24
    pcm = bytearray()
    for n in range(samples):
        value = int(1000 * math.sin(2 * math.pi * 440 * n / 24000))
        pcm += value.to_bytes(2, "little", signed=True)
    return base64.b64encode(bytes(pcm)).decode("ascii")


def expand_audio(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """Replace ``{ms: N}`` (scenario shorthand) and ``{elided_bytes: N}`` (recorded logs)
    with real base64 audio, so the codec always parses real wire JSON."""
    for key in AUDIO_FIELDS:
        value = event.get(key)
        if isinstance(value, Mapping):
            if "ms" in value:
                return {**event, key: tone_base64(int(value["ms"]))}
            if "elided_bytes" in value:
                ms, rest = divmod(int(value["elided_bytes"]), 48)
                audio = base64.b64encode(base64.b64decode(tone_base64(ms)) + bytes(rest))
                return {**event, key: audio.decode("ascii")}
    return event


class RecordingConsole:
    """Keeps what a person would have seen, for the report and for -v."""

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock
        self.lines: list[str] = []
        self.diagnostics: list[tuple[float, str, str]] = []

    def transcript(self, role: str, text: str, *, interrupted: bool = False) -> None:
        self.lines.append(f"{role}: {text}" + (" [interrupted]" if interrupted else ""))

    def tool(self, name: str, arguments: Any, output: str) -> None:
        self.lines.append(f"tool: {name}({json.dumps(arguments)}) -> {output}")

    def state(self, source: str, target: str, event: str) -> None:
        pass

    def diagnostic(self, message: str, *, level: str = "info") -> None:
        self.diagnostics.append((self._clock.now(), level, message))


@dataclass
class _Progress:
    next_step: int = 0
    last_completed: int = 0  # tick at which the previous step completed
    matched_upto: int = 0  # client events before this index are used up
    waiting_client: Step | None = None
    client_deadline: object | None = None
    paused_for_connection: bool = False
    scheduled: bool = False
    failures: list[str] = field(default_factory=list)


class Replay:
    """One scenario, replayed once."""

    def __init__(self, scenario: Scenario, *, realtime: bool = False,
                 mic_pcm: bytes | None = None) -> None:
        self.scenario = scenario
        self.realtime = realtime
        self.inbox = ReplayInbox()
        self.clock = VirtualClock(self.inbox)
        self.client_events: list[dict[str, Any]] = []
        self.progress = _Progress()
        self._last_payload: Mapping[str, Any] | None = None
        self._last_text = ""
        self.console = RecordingConsole(self.clock)
        self.transport = ScriptedTransport(self.clock, self._connection_opened, self._sent,
                                           self._connection_closed)
        codec = ClientEvents(scenario.dialect)  # type: ignore[arg-type]
        session = scenario.session
        detector = (LocalTurnDetector(silence_ms=scenario.controller.ptt_silence_ms)
                    if session.turn_detection.mode == "none" else None)
        self.uplink = Uplink(codec=codec, transport=self.transport, recorder=NullRecorder(),
                             clock=self.clock, inbox=self.inbox, detector=detector)
        self.speaker = VirtualSpeaker(self.clock, self.inbox)
        self.microphone = VirtualMicrophone(self.clock, self.inbox, self.uplink, mic_pcm)
        tools = ScriptedTools(self.clock, scenario.tools, scenario.controller.tool_timeout)
        self.ctx = ConversationContext(
            session=session, controller=scenario.controller, codec=codec,
            transport=self.transport, microphone=self.microphone, speaker=self.speaker,
            tools=tools, tool_names={t.name for t in scenario.tools if t.builtin is None},
            console=self.console, clock=self.clock, recorder=NullRecorder(),
            uplink=self.uplink)
        self.engine = ConversationEngine(self.ctx, check_invariants=True)

    # --- Running ------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        self.engine.start()
        self._drain()
        while not self.engine.is_final and not self.progress.failures:
            if self._all_steps_done() and not self.clock.has_live_entries:
                break
            before = self.clock.tick
            if not self.clock.run_next():
                break
            if self.realtime and self.clock.tick > before:
                wait = started + self.clock.tick / TICKS_PER_SECOND - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            self._drain()
        if not self._all_steps_done() and not self.progress.failures:
            step = self.scenario.steps[self.progress.next_step]
            if self.progress.waiting_client is not None:
                self.progress.failures.append(self._client_timeout_message(step))
            elif not self.engine.is_final:
                self.progress.failures.append(
                    f"step {step.index}: never reached (the controller did not reconnect)")
        return self.report()

    def _drain(self) -> None:
        items = self.inbox.items
        step = self.engine.step
        while items:
            step(items.popleft())

    def _all_steps_done(self) -> bool:
        return self.progress.next_step >= len(self.scenario.steps)

    # --- Steps --------------------------------------------------------------------------

    def _connection_opened(self) -> None:
        self.progress.paused_for_connection = False
        self._schedule_steps()

    def _connection_closed(self) -> None:
        # The controller hung up (a recycle, the end): later steps await its next open.
        self.progress.paused_for_connection = True

    def _schedule_steps(self) -> None:
        # Steps run from the clock, never from inside a machine callback.
        if not self.progress.scheduled:
            self.progress.scheduled = True
            self.clock.schedule(self.clock.tick, self._advance)

    def _advance(self) -> None:
        """Run every step that is due now; schedule the next one that is not."""
        p = self.progress
        p.scheduled = False
        steps = self.scenario.steps
        while (p.next_step < len(steps) and p.waiting_client is None
               and not p.paused_for_connection and not self.engine.is_final):
            step = steps[p.next_step]
            due = self._due(step)
            if due > self.clock.tick:
                p.scheduled = True
                self.clock.schedule(due, self._advance)
                return
            self._run_step(step)
            self._drain()

    def _due(self, step: Step) -> int:
        if step.kind == "client":
            return self.clock.tick
        if step.at is not None:
            return ticks(step.at)
        if step.after is not None:
            return self.progress.last_completed + ticks(step.after)
        return self.clock.tick

    def _run_step(self, step: Step) -> None:
        p = self.progress
        if step.kind == "client":
            p.waiting_client = step
            p.client_deadline = self.clock.schedule(
                self.clock.tick + ticks(step.within), lambda: self._client_timed_out(step))
            self._match_client()
            return
        if step.kind == "server":
            self.inbox.post(parse_server_event(self._wire_text(step.payload)))
        elif step.kind == "raw":
            self.inbox.post(parse_server_event(step.payload))
        elif step.kind == "signal":
            self.inbox.post(SIGNAL_ITEMS[step.payload])
        elif step.kind == "close":
            self.transport.close(step.payload["code"], step.payload["reason"])
            self.inbox.post(TransportClosed(code=step.payload["code"],
                                            reason=step.payload["reason"]))
            p.paused_for_connection = True
        self._completed()

    def _wire_text(self, payload: Mapping[str, Any]) -> str:
        # Consecutive steps often share one payload (a long run of audio deltas): the
        # wire text is the same, so it is encoded once.
        if payload is not self._last_payload:
            self._last_payload = payload
            self._last_text = json.dumps(expand_audio(payload))
        return self._last_text

    def _completed(self) -> None:
        self.progress.last_completed = self.clock.tick
        self.progress.next_step += 1

    def _sent(self, t: float, event: Mapping[str, Any]) -> None:
        if event.get("type") == "input_audio_buffer.append":
            return
        self.client_events.append({"t": round(t, 6), "event": dict(event)})
        if self.progress.waiting_client is not None:
            self._match_client()

    def _match_client(self) -> None:
        p = self.progress
        step = p.waiting_client
        assert step is not None
        for n in range(p.matched_upto, len(self.client_events)):
            if subset_match(step.payload, self.client_events[n]["event"]):
                p.matched_upto = n + 1
                p.waiting_client = None
                self.clock.cancel(p.client_deadline)
                self._completed()
                self._schedule_steps()
                return

    def _client_timed_out(self, step: Step) -> None:
        if self.progress.waiting_client is step:
            self.progress.failures.append(self._client_timeout_message(step))

    def _client_timeout_message(self, step: Step) -> str:
        return (f"step {step.index}: the controller did not send an event matching "
                f"{json.dumps(step.payload, sort_keys=True)} within {step.within:g} s "
                f"(state {self.engine.state})")

    # --- Report -------------------------------------------------------------------------

    def report(self) -> dict[str, Any]:
        facts = self.ctx.facts
        report: dict[str, Any] = {
            "scenario": self.scenario.name,
            "path": self.scenario.path,
            "passed": False,
            "final_state": self.engine.state,
            "states": list(self.engine.states_entered),
            "transitions": [{"t": round(tr.t, 6), "source": tr.source, "target": tr.target,
                             "event": tr.event} for tr in self.engine.transitions],
            "client_events": self.client_events,
            "appended_audio_ms": self.uplink.appended_ms,
            "transcript": facts.transcript.entries(),
            "tool_calls": [{"name": c.name, "call_id": c.call_id, "arguments": c.arguments,
                            "output": _json_or_text(c.output)} for c in facts.tool_log],
            "failures": [],
        }
        if facts.fatal_reason and self.engine.state == "Error":
            report["error"] = facts.fatal_reason
        failures = self.progress.failures + check(self.scenario.expect, report)
        report["failures"] = failures
        report["passed"] = not failures
        return report


def _json_or_text(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def replay_scenario(scenario: Scenario, *, realtime: bool = False) -> dict[str, Any]:
    mic_pcm = None
    if scenario.mic_wav is not None:
        from controller.audio_convert import read_wav

        mic_pcm = read_wav(scenario.mic_wav)
    return Replay(scenario, realtime=realtime, mic_pcm=mic_pcm).run()
