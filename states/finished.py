"""Finished: the conversation ended as it should (finish tool, end of input, Ctrl-C).

Everything is let go: microphone, speaker, tools, socket, timers; the transcript's last
lines are printed and the usage totals reported.
"""

from __future__ import annotations

from controller.context import ConversationContext
from states.base import StateBehaviour


def release_everything(ctx: ConversationContext) -> None:
    """Close every port; shared by Finished and Error."""
    ctx.cancel_all_timers()
    ctx.microphone.close()
    ctx.speaker.clear()
    ctx.speaker.close()
    ctx.tools.close()
    ctx.transport.close(1000, "conversation over")
    ctx.flush_transcript()
    ctx.console.diagnostic(ctx.facts.usage.summary())


class Finished(StateBehaviour):
    name = "finished"

    def enter(self) -> None:
        release_everything(self.ctx)
