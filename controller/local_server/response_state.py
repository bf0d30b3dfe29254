"""The state of one model response while it is being produced.

Owns ``Response``: its id, status and reason, the output items produced so far, the
settings it was created with (modality, voice, tools), and the cancel signal the streamer
watches. The session creates and finishes responses; the streamer fills them. No I/O.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.local_server.conversation import Item
from controller.local_server.wire import new_id


@dataclass
class Response:
    """One response: ``in_progress`` until completed, cancelled, incomplete or failed."""

    output_modality: str
    voice: str | Mapping[str, Any]
    output_format: str
    speed: float
    tools: tuple[Mapping[str, Any], ...]
    tool_choice: str | Mapping[str, Any]
    max_output_tokens: int | str
    temperature: float
    instructions: str
    # None when the response is out of band (conversation "none").
    conversation_id: str | None
    metadata: Any = None
    id: str = field(default_factory=lambda: new_id("resp"))
    status: str = "in_progress"
    status_details: dict[str, Any] | None = None
    output: list[Item] = field(default_factory=list)
    usage: dict[str, Any] | None = None
    cancel_reason: str | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)

    @property
    def in_default_conversation(self) -> bool:
        return self.conversation_id is not None

    def request_cancel(self, reason: str) -> None:
        """Ask the streamer to stop; ``reason`` is ``turn_detected`` or ``client_cancelled``."""
        if self.cancel_reason is None:
            self.cancel_reason = reason
        self.cancelled.set()

    def tool_names(self) -> set[str]:
        return {str(tool["name"]) for tool in self.tools}
