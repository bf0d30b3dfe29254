"""Typed server events of the Realtime API, one class per meaning, for both dialects.

GA and beta names of the same thing map to one class (``response.audio.delta`` and
``response.output_audio.delta`` are both an ``AudioDelta``). Every event keeps the wire
``type`` it arrived with and the ``raw`` dict, so nothing the server said is lost.
Events are frozen, keyword-only records (``controller.records``: dataclasses that cost
nothing to define): data, never behaviour, and no I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.records import field, record

Raw = Mapping[str, Any]


@record
class ServerEvent:
    """Base of every parsed server event."""

    type: str
    event_id: str | None = None
    raw: Raw = field(default_factory=dict, repr=False, compare=False)


# --- Content and items ------------------------------------------------------------------


@record
class ContentPart:
    """One part of an item's content. ``kind`` is normalised across dialects:
    ``text`` (text, output_text), ``audio`` (audio, output_audio), ``input_text``,
    ``input_audio``, or whatever else the server sent."""

    kind: str
    text: str | None = None
    transcript: str | None = None


@record
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


@record
class Response:
    """The response object of ``response.created`` / ``response.done``."""

    id: str | None
    status: str | None = None
    status_reason: str | None = None
    output: tuple[Item, ...] = ()
    usage: Raw | None = None


# --- Session and errors -----------------------------------------------------------------


@record
class SessionCreated(ServerEvent):
    session: Raw
    session_id: str | None = None
    expires_at: int | None = None


@record
class SessionUpdated(ServerEvent):
    """``session.updated`` and the beta ``transcription_session.updated``."""

    session: Raw


@record
class ErrorEvent(ServerEvent):
    message: str
    code: str | None = None
    error_type: str | None = None
    param: str | None = None
    client_event_id: str | None = None


@record
class RateLimitsUpdated(ServerEvent):
    rate_limits: tuple[Raw, ...] = ()


# --- Conversation items -----------------------------------------------------------------


@record
class ConversationCreated(ServerEvent):
    conversation_id: str | None = None


@record
class ItemAdded(ServerEvent):
    """``conversation.item.added`` (GA) and ``conversation.item.created`` (beta, legacy)."""

    item: Item
    previous_item_id: str | None = None


@record
class ItemDone(ServerEvent):
    item: Item
    previous_item_id: str | None = None


@record
class ItemRetrieved(ServerEvent):
    item: Item


@record
class ItemTruncated(ServerEvent):
    item_id: str
    content_index: int
    audio_end_ms: int


@record
class ItemDeleted(ServerEvent):
    item_id: str


# --- Input audio buffer and input transcription -----------------------------------------


@record
class SpeechStarted(ServerEvent):
    """``input_audio_buffer.speech_started``: the barge-in trigger."""

    audio_start_ms: int
    item_id: str | None = None


@record
class SpeechStopped(ServerEvent):
    audio_end_ms: int
    item_id: str | None = None


@record
class InputCommitted(ServerEvent):
    item_id: str
    previous_item_id: str | None = None


@record
class InputCleared(ServerEvent):
    pass


@record
class InputTimeoutTriggered(ServerEvent):
    audio_start_ms: int
    audio_end_ms: int
    item_id: str | None = None


@record
class DtmfReceived(ServerEvent):
    digit: str
    received_at: float | None = None


@record
class InputTranscriptionDelta(ServerEvent):
    item_id: str
    content_index: int = 0
    delta: str = ""


@record
class InputTranscriptionCompleted(ServerEvent):
    item_id: str
    content_index: int = 0
    transcript: str = ""
    usage: Raw | None = None


@record
class InputTranscriptionFailed(ServerEvent):
    item_id: str
    content_index: int = 0
    message: str = ""
    code: str | None = None


@record
class InputTranscriptionSegment(ServerEvent):
    item_id: str
    content_index: int = 0
    text: str = ""
    speaker: str | None = None
    start: float | None = None
    end: float | None = None


@record
class OutputAudioBufferEvent(ServerEvent):
    """``output_audio_buffer.started|stopped|cleared`` (WebRTC/SIP only; see ``type``)."""

    response_id: str | None = None


# --- Responses --------------------------------------------------------------------------


@record
class ResponseCreated(ServerEvent):
    response: Response


@record
class ResponseDone(ServerEvent):
    response: Response


@record
class OutputItemAdded(ServerEvent):
    response_id: str
    output_index: int
    item: Item


@record
class OutputItemDone(ServerEvent):
    response_id: str
    output_index: int
    item: Item


@record
class ContentPartAdded(ServerEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    part: ContentPart


@record
class ContentPartDone(ServerEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    part: ContentPart


@record
class TextDelta(ServerEvent):
    """``response.output_text.delta`` (GA) and ``response.text.delta`` (beta)."""

    response_id: str
    item_id: str
    output_index: int
    content_index: int
    delta: str


@record
class TextDone(ServerEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    text: str


@record
class AudioDelta(ServerEvent):
    """``response.output_audio.delta`` (GA) and ``response.audio.delta`` (beta), with the
    base64 payload already decoded to pcm bytes."""

    response_id: str
    item_id: str
    output_index: int
    content_index: int
    audio: bytes


@record
class AudioDone(ServerEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int


@record
class AudioTranscriptDelta(ServerEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    delta: str


@record
class AudioTranscriptDone(ServerEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    transcript: str


@record
class FunctionCallArgumentsDelta(ServerEvent):
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    delta: str


@record
class FunctionCallArgumentsDone(ServerEvent):
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    name: str | None
    arguments: str


@record
class McpEvent(ServerEvent):
    """Server-side MCP tool events (``mcp_list_tools.*``, ``response.mcp_call*``): carried,
    not acted on."""

    item_id: str | None = None


# --- What the parser gives instead of raising -------------------------------------------


@record
class Unrecognized(ServerEvent):
    """A well-formed event of a type this codec does not know: counted and ignored."""


@record
class Malformed(ServerEvent):
    """Input that is not a valid event (bad JSON, no ``type``, wrong field types, bad
    base64). ``type`` is the wire type when one could be read, else ``""``."""

    reason: str
    text: str = ""
