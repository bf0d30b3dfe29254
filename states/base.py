"""The shape every state behaviour has, and what all live states do alike.

A state behaviour owns what happens on entering and leaving its state and how each inbox
item is handled while the conversation is in it. Handlers are looked up by the item's
class in a plain dict, so a hot-path event (an audio delta) costs one lookup and one call,
not a machine dispatch. Handlers never block: they post work through the ports and return.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from controller.context import ConversationContext
from controller.events import (
    ErrorEvent,
    InputCommitted,
    InputTranscriptionCompleted,
    InputTranscriptionFailed,
    Malformed,
    Unrecognized,
)
from controller.inbox import StopRequested, TimerFired, TransportClosed, TransportFailed

Handler = Callable[[Any], object]

# Errors after which the conversation cannot go on (PROTOCOL.md §8).
FATAL_ERROR_CODES = frozenset({
    "invalid_api_key", "invalid_model", "missing_model", "beta_api_shape_disabled",
    "insufficient_quota", "billing_hard_limit_reached", "account_deactivated",
})
# Close codes the server uses for "do not come back like this" (bad key, bad model...).
FATAL_CLOSE_CODES = frozenset({3000, 4000})

WHAT_TO_DO = {
    "invalid_api_key": "check the API key (OPENAI_API_KEY / AZURE_OPENAI_API_KEY or --api-key)",
    "invalid_model": "check --model / --deployment",
    "missing_model": "pass --model (OpenAI) or --deployment (Azure)",
    "beta_api_shape_disabled": "the server no longer speaks the beta dialect: use --dialect ga",
    "insufficient_quota": "the account has no quota left: check billing",
}


def close_reason(ev: TransportClosed) -> str:
    detail = f"code {ev.code}" if ev.code is not None else "connection lost"
    if ev.reason:
        detail += f": {ev.reason}"
    return f"the server closed the connection ({detail})"


class StateBehaviour:
    """Base of every state's behaviour."""

    name: ClassVar[str]  # the machine's state id

    def __init__(self, ctx: ConversationContext) -> None:
        self.ctx = ctx
        self.handlers: dict[type, Handler] = self.handler_table()

    def handler_table(self) -> dict[type, Handler]:
        return {}

    def enter(self) -> None:
        """Entering the state."""

    def exit(self) -> None:
        """Leaving the state."""


class LiveState(StateBehaviour):
    """A state with an open conversation: errors, closes, transcription and bad frames
    are handled the same way in all of them."""

    def handler_table(self) -> dict[type, Handler]:
        return {
            ErrorEvent: self.on_error,
            TransportClosed: self.on_transport_closed,
            TransportFailed: self.on_transport_failed,
            StopRequested: self.on_stop,
            Unrecognized: self.on_unrecognized,
            Malformed: self.on_malformed,
            InputCommitted: self.on_input_committed,
            InputTranscriptionCompleted: self.on_user_transcribed,
            InputTranscriptionFailed: self.on_user_transcription_failed,
            TimerFired: self.on_timer,
        }

    # --- Errors and the end of the connection -------------------------------------------

    def on_error(self, ev: ErrorEvent) -> None:
        if ev.code in FATAL_ERROR_CODES:
            hint = WHAT_TO_DO.get(ev.code or "", "")
            self.ctx.fail(f"server error {ev.code}: {ev.message}" + (f" ({hint})" if hint else ""))
            return
        # Errors are non-fatal unless a close follows (PROTOCOL.md §8): log and go on.
        facts = self.ctx.facts
        facts.counters.nonfatal_errors += 1
        self.ctx.console.diagnostic(f"server error {ev.code or ev.error_type}: {ev.message}",
                                    level="warning")
        if (ev.code == "conversation_already_has_active_response" and not facts.finishing
                and ev.client_event_id is not None
                and ev.client_event_id == facts.last_create_event_id):
            # Our response.create lost a race with a response the server began itself:
            # ask again once that one is done (PROTOCOL.md §6.2).
            facts.awaiting_response = False
            self.ctx.ask_for_response_when_free()

    def on_transport_closed(self, ev: TransportClosed) -> None:
        facts = self.ctx.facts
        if self.is_fatal_close(ev):
            self.ctx.fail(facts.fatal_reason or close_reason(ev))
        elif facts.finishing and all(c.answered for c in facts.pending_calls.values()):
            # The goodbye was being said and the finish call is answered: nothing is left
            # to talk about on a new connection. Hang up.
            self.ctx.console.diagnostic(f"{close_reason(ev)} during the goodbye; hanging up")
            self.ctx.fire("hang_up")
        elif self.ctx.controller.reconnect_attempts > 0:
            # An unexpected close, a network error, an expired session: come back with
            # the conversation so far (states/connecting.py).
            self.ctx.console.diagnostic(f"{close_reason(ev)}; reconnecting", level="warning")
            self.ctx.fire("reconnect")
        else:
            self.ctx.fail(close_reason(ev))

    def is_fatal_close(self, ev: TransportClosed) -> bool:
        return ev.code in FATAL_CLOSE_CODES or self.ctx.facts.fatal_reason is not None

    def on_transport_failed(self, ev: TransportFailed) -> None:
        self.ctx.fail(f"could not connect: {ev.reason}")

    def on_stop(self, ev: StopRequested) -> None:
        self.ctx.facts.stop_reason = ev.reason
        self.ctx.facts.interrupted_by_user = ev.interrupted
        self.ctx.fire("hang_up")

    def on_unrecognized(self, ev: Unrecognized) -> None:
        self.ctx.facts.counters.unrecognized += 1
        self.ctx.console.diagnostic(f"ignored unknown server event {ev.type!r}", level="debug")

    def on_malformed(self, ev: Malformed) -> None:
        self.ctx.facts.counters.malformed += 1
        self.ctx.console.diagnostic(f"ignored malformed server frame: {ev.reason}",
                                    level="warning")

    # --- What the user said -------------------------------------------------------------

    def on_input_committed(self, ev: InputCommitted) -> None:
        # Server turn detection ended the user's turn; its response is still to come.
        # (In push-to-talk convctl committed it and asked for the response itself.)
        if self.ctx.session.turn_detection.mode != "none":
            self.ctx.facts.user_turn_committed()
        if self.ctx.session.transcription is not None:
            self.ctx.facts.transcript.user_committed(ev.item_id)

    def on_user_transcribed(self, ev: InputTranscriptionCompleted) -> None:
        transcript = self.ctx.facts.transcript
        transcript.user_transcribed(ev.item_id, ev.transcript)
        late = transcript.late_user_line(ev.item_id)
        if late is not None:
            self.ctx.console.transcript("user", late.text)
        self.ctx.release_transcript()

    def on_user_transcription_failed(self, ev: InputTranscriptionFailed) -> None:
        self.ctx.facts.transcript.user_failed(ev.item_id)
        self.ctx.console.diagnostic(f"transcription of the user's turn failed: {ev.message}",
                                    level="warning")
        self.ctx.release_transcript()

    # --- Timers -------------------------------------------------------------------------

    def on_timer(self, ev: TimerFired) -> None:
        if not self.ctx.timer_fired(ev.name):
            return
        if ev.name == "transcript_wait":
            self.ctx.release_transcript(give_up_waiting=True)
        elif ev.name == "server_watchdog":
            self.check_the_server_speaks()
        elif ev.name == "recycle":
            # The session expires soon: recycle it at the next quiet moment (Listening).
            self.ctx.facts.recycle_due = True
            self.recycle_if_quiet()
        else:
            self.on_state_timer(ev.name)

    def on_state_timer(self, name: str) -> None:
        """A timer this state set is due."""

    def check_the_server_speaks(self) -> None:
        """A response is due but the server has said nothing for a long time: the
        connection is dead even if the socket is open. Treat it as an unexpected close."""
        ctx, facts = self.ctx, self.ctx.facts
        if not facts.waiting_for_server:
            return
        limit = ctx.controller.server_silence_timeout
        silent = ctx.clock.now() - facts.last_server_event_at
        if silent < limit:
            ctx.set_timer("server_watchdog", limit - silent, daemon=True)
            return
        reason = f"the server sent nothing for {silent:.0f} s while a response was due"
        ctx.transport.close(1000, "the server stopped answering")
        self.on_transport_closed(TransportClosed(code=None, reason=reason))

    def recycle_if_quiet(self) -> None:
        """Recycling happens only between turns: Listening decides when."""
