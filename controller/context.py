"""What a state behaviour can reach: the ports, the settings, the facts, and the machine.

States act only through this object, so the same state code runs live (real ports) and in
replay (scripted ports on a virtual clock). Every method returns quickly; nothing here
blocks, sleeps or reads the wall clock.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from controller.inbox import TimerFired
from controller.ports import Clock, Console, Microphone, Recorder, Speaker, ToolRunner, Transport
from controller.protocol import ClientEvents
from controller.session import ConversationFacts
from controller.settings import ControllerSettings, SessionSettings


class InputBuffer(Protocol):
    """How much microphone audio the server holds uncommitted (the uplink counts it)."""

    def buffered_ms(self) -> int: ...

    def committed(self) -> None: ...


class InvariantViolation(AssertionError):
    """The controller broke one of its own promises (a bug, never the user's fault)."""


class ConversationContext:
    """The ports, settings and facts of one conversation, as the states see them."""

    def __init__(
        self, *, session: SessionSettings, controller: ControllerSettings,
        codec: ClientEvents, transport: Transport, microphone: Microphone, speaker: Speaker,
        tools: ToolRunner, tool_names: set[str], console: Console, clock: Clock,
        recorder: Recorder, uplink: InputBuffer,
    ) -> None:
        self.session = session
        self.controller = controller
        self.codec = codec
        self.transport = transport
        self.microphone = microphone
        self.speaker = speaker
        self.tools = tools
        self.tool_names = tool_names
        self.console = console
        self.clock = clock
        self.recorder = recorder
        self.uplink = uplink
        self.facts = ConversationFacts()
        self._timers: dict[str, object] = {}
        # Seeded, so a replay's backoff jitter is the same on every run.
        self._random = random.Random(0)
        self._answered_this_session: set[str] = set()
        self._fire: Callable[[str], None] = lambda trigger: None

    def bind(self, fire: Callable[[str], None]) -> None:
        """The engine hands in how to send a trigger to the machine."""
        self._fire = fire

    # --- The machine --------------------------------------------------------------------

    def fire(self, trigger: str) -> None:
        """Ask the machine to move (it may refuse if a guard says no)."""
        self._fire(trigger)

    def fail(self, reason: str) -> None:
        """End the conversation in Error with a reason a person can act on."""
        if self.facts.fatal_reason is None:
            self.facts.fatal_reason = reason
        self._fire("fail")

    # --- Sending ------------------------------------------------------------------------

    def send(self, event: Mapping[str, Any]) -> None:
        """Send a client event, recording it and checking the controller's own promises."""
        self._check_promises(event)
        self.recorder.client(self.clock.now(), event)
        self.transport.send(event)
        if event.get("type") == "response.create":
            self.facts.awaiting_response = True
            self.watch_the_server()

    def ask_for_response(self) -> None:
        """``response.create``, tagged: if the server rejects it because a response it began
        itself is active (a new user turn during a tool round), the error names it, and it
        is asked for again once that response is done (PROTOCOL.md §6.2)."""
        self.send(self.codec.response_create(event_id=self.facts.next_create_event_id()))

    def ask_for_response_when_free(self) -> None:
        """Ask now, or - while a response is active or asked for (the server takes one at
        a time) - once that response is done."""
        if self.facts.waiting_for_server:
            self.facts.owe_response_create = True
        else:
            self.ask_for_response()

    def watch_the_server(self) -> None:
        """While a response is due, check now and then that the server still speaks."""
        if "server_watchdog" not in self._timers:
            self.set_timer("server_watchdog", self.controller.server_silence_timeout,
                           daemon=True)

    def _check_promises(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type")
        if kind == "response.create" and self.facts.waiting_for_server:
            raise InvariantViolation(
                f"response.create while {self.facts.active_response_id or 'another'} "
                f"is active or asked for")
        if kind == "conversation.item.create":
            item = event.get("item") or {}
            if item.get("type") == "function_call_output":
                call_id = str(item.get("call_id"))
                if call_id in self._answered_this_session:
                    raise InvariantViolation(f"{call_id} answered twice in one session")
                self._answered_this_session.add(call_id)

    def play(self, item_id: str, pcm: bytes) -> None:
        """Hand assistant audio to the speaker - never audio of an item already truncated."""
        if item_id in self.facts.truncated_at:
            raise InvariantViolation(f"audio of {item_id} played after its truncation")
        self.speaker.play(item_id, pcm)

    def new_session(self) -> None:
        """A new server session began (its outputs are counted afresh)."""
        self._answered_this_session.clear()

    def jitter(self) -> float:
        """A factor in [0.5, 1) that spreads reconnect attempts of many clients."""
        return 0.5 + self._random.random() / 2

    # --- Timers -------------------------------------------------------------------------

    def set_timer(self, name: str, delay: float, *, daemon: bool = False) -> None:
        """(Re)start the timer ``name``; ``TimerFired(name)`` arrives when it is due."""
        self.cancel_timer(name)
        self._timers[name] = self.clock.call_later(delay, TimerFired(name=name),
                                                   daemon=daemon)

    def cancel_timer(self, name: str) -> None:
        handle = self._timers.pop(name, None)
        if handle is not None:
            self.clock.cancel(handle)

    def timer_fired(self, name: str) -> bool:
        """Forget a timer that fired; False if it was cancelled meanwhile (stale)."""
        return self._timers.pop(name, None) is not None

    def cancel_all_timers(self) -> None:
        for name in list(self._timers):
            self.cancel_timer(name)

    # --- Transcript ---------------------------------------------------------------------

    def release_transcript(self, *, give_up_waiting: bool = False) -> None:
        """Print the transcript lines that are ready, in conversation order."""
        transcript = self.facts.transcript
        for line in transcript.releasable(give_up_waiting=give_up_waiting):
            self.console.transcript(line.role, line.text, interrupted=line.interrupted)
        if transcript.waiting_for_user_text():
            if "transcript_wait" not in self._timers:
                self.set_timer("transcript_wait", self.controller.transcript_wait)
        else:
            self.cancel_timer("transcript_wait")

    def flush_transcript(self) -> None:
        for line in self.facts.transcript.flush():
            self.console.transcript(line.role, line.text, interrupted=line.interrupted)

    # --- Playback -----------------------------------------------------------------------

    def playback_drained(self) -> bool:
        return self.speaker.is_drained()

    def turn_settled(self) -> bool:
        """The response is done and everything it said has been played."""
        return not self.facts.response_active and self.speaker.is_drained()
