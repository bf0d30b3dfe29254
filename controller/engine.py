"""The engine: feeds inbox items to the current state's behaviour, one at a time.

This is the body of the one controller thread in a live run and the stepper of a replay.
Events that do not change state (audio and transcript deltas) go straight to the current
state's handler - one dict lookup - instead of through a full machine dispatch; handlers
that want to move the conversation ask the machine with a trigger, and the machine runs
the states' enter and exit behaviour. Nothing here blocks.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass

from controller.context import ConversationContext
from controller.events import Malformed, ServerEvent
from controller.inbox import LOCAL_SIGNALS, InboxItem, TransportClosed
from controller.invariants import InvariantChecker
from controller.machine import STATE_NAMES, ConversationChart
from states.base import StateBehaviour
from states.connecting import Connecting
from states.error import Error
from states.finished import Finished
from states.idle import Idle
from states.listening import Listening
from states.responding import Responding
from states.tool_call import ToolCall

ALL_STATES: tuple[type[StateBehaviour], ...] = (
    Idle, Connecting, Listening, Responding, ToolCall, Finished, Error)
FINAL_STATES = frozenset({"finished", "error"})
# Pseudo-events the log records for what is on the wire but is not a Realtime event.
CLOSE_EVENT = "websocket.close"
MALFORMED_EVENT = "websocket.malformed_frame"


@dataclass(frozen=True, slots=True)
class Transition:
    t: float
    source: str
    target: str
    event: str


class ConversationEngine:
    """One conversation's machine and state behaviours, driven one inbox item at a time."""

    def __init__(self, ctx: ConversationContext, *, check_invariants: bool = False) -> None:
        self.ctx = ctx
        debug = check_invariants or ctx.controller.check_invariants or \
            os.environ.get("CONVCTL_DEBUG") == "1"
        self.invariants = InvariantChecker(ctx) if debug else None
        self.behaviours = {cls.name: cls(ctx) for cls in ALL_STATES}
        self.current: StateBehaviour = self.behaviours["idle"]
        self.transitions: list[Transition] = []
        self.states_entered: list[str] = []
        ctx.bind(self._fire)
        self.chart = ConversationChart(self)

    # --- Driving ------------------------------------------------------------------------

    def start(self) -> None:
        self._fire("connect")

    def step(self, item: InboxItem) -> None:
        """Handle one inbox item in the current state."""
        if isinstance(item, ServerEvent):
            self.ctx.facts.last_server_event_at = self.ctx.clock.now()
            self.ctx.recorder.server(self.ctx.clock.now(),
                                     {"type": MALFORMED_EVENT, "raw": item.text}
                                     if isinstance(item, Malformed) else item.raw)
        elif isinstance(item, TransportClosed):
            self.ctx.recorder.server(self.ctx.clock.now(), {
                "type": CLOSE_EVENT, "code": item.code, "reason": item.reason})
        elif (signal := LOCAL_SIGNALS.get(type(item))) is not None:
            self.ctx.recorder.signal(self.ctx.clock.now(), signal)
        handler = self.current.handlers.get(type(item))
        if handler is None:
            return
        try:
            handler(item)
            if self.invariants is not None:
                self.invariants.after_step(self.state)
        except Exception as exc:  # a bug: never swallowed, always visible
            self.machine_failed(exc)

    @property
    def state(self) -> str:
        """The current state's display name (Idle, Connecting, ..., ToolCall, ...)."""
        return STATE_NAMES[self.current.name]

    @property
    def is_final(self) -> bool:
        return self.current.name in FINAL_STATES

    def _fire(self, trigger: str) -> None:
        self.chart.send(trigger)

    # --- What the machine reports (StateHost) -------------------------------------------

    def state_entered(self, target: str, source: str | None, trigger: str) -> None:
        self.current = self.behaviours[target]
        name = STATE_NAMES[target]
        self.states_entered.append(name)
        if source is not None:
            t = self.ctx.clock.now()
            self.transitions.append(Transition(t, STATE_NAMES[source], name, trigger))
            self.ctx.console.state(STATE_NAMES[source], name, trigger)
            self.ctx.recorder.state(t, STATE_NAMES[source], name, trigger)
        self.current.enter()

    def state_exited(self, source: str) -> None:
        self.behaviours[source].exit()

    def machine_failed(self, error: BaseException) -> None:
        detail = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        self.ctx.console.diagnostic(f"internal error (a bug in convctl):\n{detail}",
                                    level="error")
        self.ctx.fail(f"internal error: {type(error).__name__}: {error}")

    def is_turn_settled(self) -> bool:
        return self.ctx.turn_settled()

    def has_answerable_calls(self) -> bool:
        return any(not call.answered for call in self.ctx.facts.pending_calls.values())
