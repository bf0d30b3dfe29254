"""Idle: nothing has happened yet; the only way on is to connect."""

from __future__ import annotations

from controller.inbox import StopRequested
from states.base import Handler, StateBehaviour


class Idle(StateBehaviour):
    name = "idle"

    def handler_table(self) -> dict[type, Handler]:
        return {StopRequested: lambda ev: self.ctx.fail(f"stopped before connecting: {ev.reason}")}
