"""Connecting: open the socket and configure the session before anyone speaks.

On ``session.created`` the session is configured with one ``session.update`` built from the
settings, the user's tools and the built-in finish tool. ``session.updated`` means the
server took it: on to Listening. An ``error`` whose ``param`` starts with ``session.`` means
the whole update was rejected (the server discards all of it), so there is no point going
on: Error, with the server's words. The microphone stays closed until the session is ready.
"""

from __future__ import annotations

from controller.events import ErrorEvent, SessionCreated, SessionUpdated
from controller.settings import FINISH_TOOL, FINISH_TOOL_NAME
from states.base import Handler, LiveState


class Connecting(LiveState):
    name = "connecting"

    def handler_table(self) -> dict[type, Handler]:
        return {
            **super().handler_table(),
            SessionCreated: self.on_session_created,
            SessionUpdated: self.on_session_updated,
        }

    def enter(self) -> None:
        self.ctx.microphone.close()
        self.ctx.set_timer("connect_timeout", self.ctx.controller.connect_timeout)
        self.ctx.transport.open()

    def exit(self) -> None:
        self.ctx.cancel_timer("connect_timeout")

    def on_session_created(self, ev: SessionCreated) -> None:
        facts = self.ctx.facts
        facts.session_id = ev.session_id
        facts.expires_at = ev.expires_at
        settings = self.ctx.session
        if all(tool.name != FINISH_TOOL_NAME for tool in settings.tools):
            settings = settings.with_tools((*settings.tools, FINISH_TOOL))
        self.ctx.send(self.ctx.codec.session_update(settings))

    def on_session_updated(self, ev: SessionUpdated) -> None:
        self.ctx.facts.session_configured = True
        self.ctx.fire("session_ready")

    def on_error(self, ev: ErrorEvent) -> None:
        if ev.param and ev.param.startswith("session."):
            self.ctx.fail(f"the server rejected the session configuration ({ev.param}): "
                          f"{ev.message} - fix that setting and try again")
            return
        super().on_error(ev)

    def on_state_timer(self, name: str) -> None:
        if name == "connect_timeout":
            self.ctx.fail(f"the server did not configure the session within "
                          f"{self.ctx.controller.connect_timeout:g} s")
