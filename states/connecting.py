"""Connecting: open the socket and configure the session before anyone speaks - the first
time, and again after the connection was lost.

On ``session.created`` the session is configured with one ``session.update`` built from the
settings, the user's tools and the built-in finish tool. ``session.updated`` means the
server took it: on to Listening (or to ToolCall, when tool calls of the lost session still
wait for their answers). An ``error`` whose ``param`` starts with ``session.`` means the
whole update was rejected, so there is no point going on: Error, with the server's words.

Reconnecting (after an unexpected close, an expired session, or a recycle before expiry):
the dead session's playback is cleared, the next attempt waits an exponential backoff with
jitter (up to ``reconnect_attempts`` attempts), and the new session is given the
conversation so far (controller/history.py) right after its ``session.update``. Nothing is
re-asked: a response that was cut off stays cut off until the user speaks again.
The microphone stays closed until the session is ready.
"""

from __future__ import annotations

from controller.events import ErrorEvent, SessionCreated, SessionUpdated
from controller.history import context_events
from controller.inbox import InputExhausted, ToolFinished, TransportClosed, TransportFailed
from controller.settings import FINISH_TOOL, FINISH_TOOL_NAME
from states.base import Handler, LiveState, close_reason
from states.responding import note_tool_finished, stop_playback

# How many lines and calls of the conversation a new session is given.
CONTEXT_ENTRIES = 100


class Connecting(LiveState):
    name = "connecting"

    def handler_table(self) -> dict[type, Handler]:
        return {
            **super().handler_table(),
            SessionCreated: self.on_session_created,
            SessionUpdated: self.on_session_updated,
            # A tool may finish while the connection is being remade: keep its answer
            # for the new session (ToolCall sends it once the session is ready).
            ToolFinished: lambda ev: note_tool_finished(self.ctx, ev),
            # Likewise the end of a file input: Listening hangs up once all is said.
            InputExhausted: lambda ev: setattr(self.ctx.facts, "input_exhausted", True),
        }

    def enter(self) -> None:
        self.opened = False
        self.ctx.microphone.close()
        if self.ctx.facts.sessions == 0 and self.ctx.facts.session_id is None:
            self.open_connection()
            return
        self.forget_dead_session()
        self.schedule_attempt()

    def exit(self) -> None:
        self.ctx.cancel_timer("connect_timeout")
        self.ctx.cancel_timer("reconnect")

    # --- Opening ------------------------------------------------------------------------

    def open_connection(self) -> None:
        self.opened = True
        self.ctx.set_timer("connect_timeout", self.ctx.controller.connect_timeout)
        self.ctx.transport.open()

    def forget_dead_session(self) -> None:
        """What was playing belonged to the dead session: stop it, mark it cut (there is
        no server left to tell)."""
        stop_playback(self.ctx, tell_server=False)
        self.ctx.cancel_timer("server_watchdog")
        self.ctx.facts.session_lost()

    def schedule_attempt(self) -> None:
        ctx, facts = self.ctx, self.ctx.facts
        facts.reconnect_attempt += 1
        if facts.recycle_due:
            delay = 0.0  # a planned recycle: the old session is fine until now
        else:
            backoff = ctx.controller.reconnect_backoff * 2 ** (facts.reconnect_attempt - 1)
            delay = min(ctx.controller.reconnect_ceiling, backoff) * ctx.jitter()
            ctx.console.diagnostic(
                f"reconnecting in {delay:.1f} s (attempt {facts.reconnect_attempt} of "
                f"{ctx.controller.reconnect_attempts})", level="warning")
        ctx.set_timer("reconnect", delay)

    def retry_or_fail(self, reason: str, *, connected: bool = False) -> None:
        """Another attempt, if attempts are left and the server was ever reached (a URL
        that never answered is a mistake to report, not to retry for a minute)."""
        facts = self.ctx.facts
        reached = connected or facts.sessions > 0 or facts.session_id is not None
        if reached and facts.reconnect_attempt < self.ctx.controller.reconnect_attempts:
            self.opened = False
            self.ctx.cancel_timer("connect_timeout")
            self.schedule_attempt()
        else:
            attempts = facts.reconnect_attempt
            suffix = f" (after {attempts} reconnect attempts)" if attempts else ""
            self.ctx.fail(reason + suffix)

    # --- The server's answers -----------------------------------------------------------

    def on_session_created(self, ev: SessionCreated) -> None:
        # A new server session: its answers are counted from here, before the replay of
        # the conversation (which repeats earlier outputs into this session).
        self.ctx.new_session()
        facts = self.ctx.facts
        facts.session_id = ev.session_id
        facts.expires_at = ev.expires_at
        settings = self.ctx.session
        if all(tool.name != FINISH_TOOL_NAME for tool in settings.tools):
            settings = settings.with_tools((*settings.tools, FINISH_TOOL))
        self.ctx.send(self.ctx.codec.session_update(settings))
        if facts.restore_context:
            for event in context_events(self.ctx.codec, facts.history(CONTEXT_ENTRIES)):
                self.ctx.send(event)
            facts.restore_context = False

    def on_session_updated(self, ev: SessionUpdated) -> None:
        facts = self.ctx.facts
        facts.session_configured = True
        facts.sessions += 1
        facts.reconnect_attempt = 0
        facts.recycle_due = False
        self.arm_recycle()
        ask_again, facts.ask_again_after_reconnect = facts.ask_again_after_reconnect, False
        if ask_again and not any(not c.answered for c in facts.pending_calls.values()):
            # The dead session never began the response it was asked for (a tool's
            # result waiting to be spoken): ask the new one. A response that had begun
            # and was cut off is not asked for again. (Calls still unanswered are
            # answered from ToolCall, which asks for the response itself.)
            self.ctx.ask_for_response()
        self.ctx.fire("session_ready")

    def arm_recycle(self) -> None:
        """Plan to recycle the session, between turns, before the server expires it."""
        ctx, expires_at = self.ctx, self.ctx.facts.expires_at
        epoch = ctx.clock.epoch()
        if expires_at is None or epoch is None:
            return
        remaining = expires_at - (epoch + ctx.clock.now())
        if remaining <= 0:
            return  # a stale expires_at (an old log): nothing sensible to plan
        ctx.set_timer("recycle", max(0.0, remaining - ctx.controller.recycle_margin),
                      daemon=True)

    def on_error(self, ev: ErrorEvent) -> None:
        if ev.param and ev.param.startswith("session."):
            self.ctx.fail(f"the server rejected the session configuration ({ev.param}): "
                          f"{ev.message} - fix that setting and try again")
            return
        super().on_error(ev)

    def on_transport_closed(self, ev: TransportClosed) -> None:
        if not self.opened:
            return  # the end of the connection we already gave up on
        if self.is_fatal_close(ev):
            super().on_transport_closed(ev)
            return
        self.retry_or_fail(close_reason(ev), connected=True)

    def on_transport_failed(self, ev: TransportFailed) -> None:
        reason = ev.reason if ev.reason.startswith("could not connect") else \
            f"could not connect: {ev.reason}"
        self.retry_or_fail(reason)

    def on_state_timer(self, name: str) -> None:
        if name == "reconnect":
            self.open_connection()
        elif name == "connect_timeout":
            self.ctx.transport.close(1000, "no session in time")
            self.retry_or_fail(f"the server did not configure the session within "
                               f"{self.ctx.controller.connect_timeout:g} s")

