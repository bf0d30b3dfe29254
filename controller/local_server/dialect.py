"""GA versus beta: how the same server behaviour is spelled on the wire.

Owns the two ``Dialect`` objects: the server event names (GA ``response.output_audio.delta``
is beta ``response.audio.delta``; GA ``conversation.item.added``/``.done`` is beta
``conversation.item.created`` alone), the JSON of items, responses and sessions, and which
``session.update`` reader applies. The session builds events with GA names and passes them
through ``Dialect.rename`` on the way out. Pure functions; no I/O.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from controller.local_server.conversation import Content, Item
from controller.local_server.response_state import Response
from controller.local_server.session_beta import (
    apply_beta_update,
    beta_modalities,
    render_beta_session,
)
from controller.local_server.session_config import SessionConfig
from controller.local_server.session_ga import apply_ga_update, ga_format, render_ga_session

_BETA_NAMES: dict[str, str | None] = {
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
    "conversation.item.added": "conversation.item.created",
    "conversation.item.done": None,
}
# Fields GA added to an event that beta's (the SDK's beta models') event does not have.
_BETA_LACKS = {"response.function_call_arguments.done": ("name",)}
_BETA_CONTENT = {"output_audio": "audio", "output_text": "text"}

UpdateReader = Callable[..., SessionConfig]


@dataclass(frozen=True)
class Dialect:
    """One wire dialect: ``ga`` (``/v1/realtime``) or ``beta`` (Azure preview path)."""

    name: str
    renames: Mapping[str, str | None]
    lacks: Mapping[str, tuple[str, ...]]
    content_names: Mapping[str, str]
    apply_update: UpdateReader
    render_session: Callable[[SessionConfig], dict[str, Any]]

    def rename(self, event_type: str) -> str | None:
        """The event name in this dialect; ``None`` if this dialect does not send it."""
        return self.renames.get(event_type, event_type)

    def spell(self, event: Mapping[str, Any]) -> dict[str, Any] | None:
        """A GA-named event as this dialect sends it; ``None`` if it does not send it."""
        event_type = self.rename(event["type"])
        if event_type is None:
            return None
        missing = self.lacks.get(event["type"], ())
        return {"type": event_type,
                **{k: v for k, v in event.items() if k != "type" and k not in missing}}

    def item_json(self, item: Item, *, with_audio: bool = False) -> dict[str, Any]:
        base: dict[str, Any] = {"id": item.id, "object": "realtime.item", "type": item.type,
                                "status": item.status}
        if item.type == "function_call":
            return {**base, "call_id": item.call_id, "name": item.name,
                    "arguments": item.arguments}
        if item.type == "function_call_output":
            return {**base, "call_id": item.call_id, "output": item.output}
        return {**base, "role": item.role,
                "content": [self._content_json(part, with_audio) for part in item.content]}

    def _content_json(self, part: Content, with_audio: bool) -> dict[str, Any]:
        kind = self.content_names.get(part.type, part.type)
        if part.type in ("input_text", "output_text"):
            return {"type": kind, "text": part.text}
        result: dict[str, Any] = {"type": kind, "transcript": part.transcript}
        if with_audio:
            result["audio"] = base64.b64encode(bytes(part.audio)).decode("ascii")
        return result

    def response_json(self, response: Response) -> dict[str, Any]:
        base = {"object": "realtime.response", "id": response.id, "status": response.status,
                "status_details": response.status_details,
                "output": [self.item_json(item) for item in response.output],
                "conversation_id": response.conversation_id,
                "max_output_tokens": response.max_output_tokens,
                "usage": response.usage, "metadata": response.metadata}
        voice = dict(response.voice) if isinstance(response.voice, Mapping) else response.voice
        if self.name == "beta":
            return {**base, "modalities": beta_modalities(response.output_modality),
                    "voice": voice, "output_audio_format": response.output_format,
                    "temperature": response.temperature}
        return {**base, "output_modalities": [response.output_modality],
                "audio": {"output": {"format": ga_format(response.output_format),
                                     "voice": voice}}}


GA = Dialect(name="ga", renames={}, lacks={}, content_names={}, apply_update=apply_ga_update,
             render_session=render_ga_session)
BETA = Dialect(name="beta", renames=_BETA_NAMES, lacks=_BETA_LACKS,
               content_names=_BETA_CONTENT, apply_update=apply_beta_update,
               render_session=render_beta_session)
