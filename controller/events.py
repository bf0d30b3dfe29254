"""Typed server events of the Realtime API, one class per meaning, for both dialects.

GA and beta names of the same thing map to one class (``response.audio.delta`` and
``response.output_audio.delta`` are both an ``AudioDelta``). Every event keeps the wire
``type`` it arrived with and the ``raw`` dict, so nothing the server said is lost.
Events are frozen, keyword-only dataclasses: data, never behaviour, and no I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Raw = Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerEvent:
    """Base of every parsed server event."""

    type: str
    event_id: str | None = None
    raw: Raw = field(default_factory=dict, repr=False, compare=False)


# --- Content and items ------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ContentPart:
    """One part of an item's content. ``kind`` is normalised across dialects:
    ``text`` (text, output_text), ``audio`` (audio, output_audio), ``input_text``,
    ``input_audio``, or whatever else the server sent."""

    kind: str
    text: str | None = None
    transcript: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Item:
    """A conversation item: a message, a function call or a function call output."""

    id: str | None
    type: str
    status: str | None = None
    role: str | None = None
    content: tuple[ContentPart, ...] = ()
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    """The response object of ``response.created`` / ``response.done``."""

    id: str | None
    status: str | None = None
    status_reason: str | None = None
    output: tuple[Item, ...] = ()
    usage: Raw | None = None


# --- Session and errors -----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionCreated(ServerEvent):
    session: Raw
    session_id: str | None = None
    expires_at: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionUpdated(ServerEvent):
    """``session.updated`` and the beta ``transcription_session.updated``."""

    session: Raw


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorEvent(ServerEvent):
    message: str
    code: str | None = None
    error_type: str | None = None
    param: str | None = None
    client_event_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitsUpdated(ServerEvent):
    rate_limits: tuple[Raw, ...] = ()


# --- Conversation items -----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationCreated(ServerEvent):
    conversation_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemAdded(ServerEvent):
    """``conversation.item.added`` (GA) and ``conversation.item.created`` (beta, legacy)."""

    item: Item
    previous_item_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemDone(ServerEvent):
    item: Item
    previous_item_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemRetrieved(ServerEvent):
    item: Item


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemTruncated(ServerEvent):
    item_id: str
    content_index: int
    audio_end_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemDeleted(ServerEvent):
    item_id: str


# --- Input audio buffer and input transcription -----------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeechStarted(ServerEvent):
    """``input_audio_buffer.speech_started``: the barge-in trigger."""

    audio_start_ms: int
    item_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeechStopped(ServerEvent):
    audio_end_ms: int
    item_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InputCommitted(ServerEvent):
    item_id: str
    previous_item_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InputCleared(ServerEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class InputTimeoutTriggered(ServerEvent):
    audio_start_ms: int
    audio_end_ms: int
    item_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DtmfReceived(ServerEvent):
    digit: str
    received_at: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InputTranscriptionDelta(ServerEvent):
    item_id: str
    content_index: int = 0
    delta: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class InputTranscriptionCompleted(ServerEvent):
    item_id: str
    content_index: int = 0
    transcript: str = ""
    usage: Raw | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InputTranscriptionFailed(ServerEvent):
    item_id: str
    content_index: int = 0
    message: str = ""
    code: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InputTranscriptionSegment(ServerEvent):
    item_id: str
    content_index: int = 0
    text: str = ""
    speaker: str | None = None
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputAudioBufferEvent(ServerEvent):
    """``output_audio_buffer.started|stopped|cleared`` (WebRTC/SIP only; see ``type``)."""

    response_id: str | None = None


# --- Responses --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseCreated(ServerEvent):
    response: Response


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseDone(ServerEvent):
    response: Response


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputItemAdded(ServerEvent):
    response_id: str
    output_index: int
    item: Item


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputItemDone(ServerEvent):
    response_id: str
    output_index: int
    item: Item


@dataclass(frozen=True, slots=True, kw_only=True)
class ContentPartAdded(ServerEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    part: ContentPart


@dataclass(frozen=True, slots=True, kw_only=True)
class ContentPartDone(ServerEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    part: ContentPart


@dataclass(frozen=True, slots=True, kw_only=True)
class TextDelta(ServerEvent):
    """``response.output_text.delta`` (GA) and ``response.text.delta`` (beta)."""

    response_id: str
    item_id: str
    output_index: int
    content_index: int
    delta: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TextDone(ServerEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioDelta(ServerEvent):
    """``response.output_audio.delta`` (GA) and ``response.audio.delta`` (beta), with the
    base64 payload already decoded to pcm bytes."""

    response_id: str
    item_id: str
    output_index: int
    content_index: int
    audio: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioDone(ServerEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioTranscriptDelta(ServerEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    delta: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioTranscriptDone(ServerEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    transcript: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionCallArgumentsDelta(ServerEvent):
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    delta: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionCallArgumentsDone(ServerEvent):
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    name: str | None
    arguments: str


@dataclass(frozen=True, slots=True, kw_only=True)
class McpEvent(ServerEvent):
    """Server-side MCP tool events (``mcp_list_tools.*``, ``response.mcp_call*``): carried,
    not acted on."""

    item_id: str | None = None


# --- What the parser gives instead of raising -------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Unrecognized(ServerEvent):
    """A well-formed event of a type this codec does not know: counted and ignored."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Malformed(ServerEvent):
    """Input that is not a valid event (bad JSON, no ``type``, wrong field types, bad
    base64). ``type`` is the wire type when one could be read, else ``""``."""

    reason: str
    text: str = ""
