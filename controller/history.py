"""The conversation so far, as items a new session can be given after a reconnect.

A realtime session cannot be resumed: a new one knows nothing. So the transcript and the
tool calls are replayed as ``conversation.item.create`` events - user and assistant turns
as text (assistant audio cannot be recreated), tool calls with the outputs they got -
and the model continues instead of starting over. Pure data in, client events out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from controller.protocol import ClientEvents
from controller.session import PendingCall
from controller.transcript import Line


def context_events(codec: ClientEvents, history: Iterable[Any]) -> list[dict[str, Any]]:
    """Client events that rebuild ``history`` (lines and calls, in order) in a new session.

    A call that was not answered yet is replayed without its output: the output follows
    when the tool is done, as in the session it started in.
    """
    events: list[dict[str, Any]] = []
    for entry in history:
        if isinstance(entry, Line):
            if entry.role == "user":
                events.append(codec.user_text(entry.text))
            else:
                events.append(codec.assistant_text(entry.text))
        elif isinstance(entry, PendingCall):
            events.append(codec.function_call(entry.call_id, entry.name, entry.arguments_text))
            if entry.answered and entry.output is not None:
                events.append(codec.function_call_output(entry.call_id, entry.output))
    return events
