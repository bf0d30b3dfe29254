"""The shape of a fault-injection case, and the microphones and faults cases are built of.

A ``Case`` is one conversation through the fault proxy with one planned fault (or a small
plan, such as a drop followed by a stalled reconnect): its kind, the point it fires at,
the dialect, the microphone, how the ``get_weather`` tool behaves (``ToolPlan``: it may
set a fault off while it runs), and what must come of it:

- ``survive``: the conversation goes on and ends Finished (and, where the fault ends the
  connection, on a new connection);
- ``error``: it ends in Error, and the reason holds the given words (fatal close codes, a
  first connection that never gets a session, a server that never configures one).

Microphones are lists of bundled WAVs of ``scenarios/audio`` and seconds of silence. The
catalogue itself is ``fault_catalogue.py``. Pure data: nothing here runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from fault_plan import Fault

Mic = tuple[str | float, ...]

# Every microphone ends in a few seconds of silence and leaves room between turns, so a
# local server slowed down by a busy machine still answers each turn before the next one
# starts and before the file runs out.
# The weather question, 4 s of silence (the tool round), then goodbye.
WEATHER_THEN_GOODBYE: Mic = ("weather_paris.wav", 4.0, "goodbye.wav", 3.0)
# The same with a long tail, for faults on the goodbye's own frames: the goodbye must be
# answered before the input runs out, however busy the machine.
WEATHER_THEN_SLOW_GOODBYE: Mic = ("weather_paris.wav", 4.0, "goodbye.wav", 8.0)
# Goodbye while the story plays, after it has streamed / while it streams.
STORY_THEN_GOODBYE: Mic = ("tell_me_a_story.wav", 3.0, "goodbye.wav", 3.0)
STORY_INTO_GOODBYE: Mic = ("tell_me_a_story.wav", "goodbye.wav", 3.0)
JUST_GOODBYE: Mic = ("goodbye.wav", 3.0)
# The weather question and nothing after it: nothing else can end a stuck tool round.
WEATHER_ONLY: Mic = ("weather_paris.wav", 3.0)

SESSION_EXPIRED: Mapping[str, Any] = {
    "type": "error", "event_id": "event_fault_expired",
    "error": {"type": "invalid_request_error", "code": "session_expired",
              "message": "Your session hit the maximum duration of 60 minutes."}}


@dataclass(frozen=True)
class ToolPlan:
    """How ``get_weather`` behaves: its work time, and a fault it sets off while it runs."""

    seconds: float = 0.2
    fault: Fault | None = None
    until_reconnected: bool = False  # hold the result until a new session is ready


@dataclass(frozen=True)
class Case:
    kind: str
    variant: str
    plan: tuple[Fault, ...] = ()
    dialect: Literal["ga", "beta"] = "ga"
    mic: Mic = WEATHER_THEN_GOODBYE
    tool: ToolPlan = ToolPlan()
    expect: Literal["survive", "error"] = "survive"
    reason: str = ""  # words an Error's reason must hold
    reconnects: bool = True  # the fault must make the controller open a new connection
    settings: tuple[tuple[str, Any], ...] = ()
    deadline: float = 45.0

    @property
    def id(self) -> str:
        return f"{self.kind}-{self.variant}-{self.dialect}"

    @property
    def faults(self) -> int:
        """How many faults the case injects."""
        return len(self.plan) + (self.tool.fault is not None)




# --- Dialects -------------------------------------------------------------------------

# The beta names of the GA server events a fault may be keyed on.
BETA_NAMES = {
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
    "conversation.item.added": "conversation.item.created",
}


def _beta(case: Case) -> Case:
    plan = tuple(replace(f, on=BETA_NAMES.get(f.on, f.on)) for f in case.plan)
    return replace(case, dialect="beta", plan=plan)


def both_dialects(*cases: Case) -> list[Case]:
    return [c for case in cases for c in (case, _beta(case))]


def at(on: str, nth: int = 1, **kw: Any) -> Fault:
    """A drop at the ``nth`` server event ``on`` (instead of forwarding it)."""
    return Fault(kw.pop("action", "drop"), on=on, nth=nth, **kw)


def client_at(on: str, nth: int = 1, **kw: Any) -> Fault:
    """A drop at the ``nth`` client event ``on`` (instead of forwarding it)."""
    return Fault(kw.pop("action", "drop"), on=on, nth=nth, direction="client", **kw)
