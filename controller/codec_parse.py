"""Server events off the wire: JSON text in, one typed event from ``controller.events`` out.

This module owns reading server events of both dialects (GA and beta), mapping the two
names of one thing to one event class, checking the types of the fields the controller
relies on, and decoding the base64 audio of audio deltas. It must never raise on wire
input: unknown types become ``Unrecognized``, anything else wrong becomes ``Malformed``
with a reason that names the field. It must never do I/O, keep state between calls, or
import websocket, pyaudio or threading.

The hot path is the audio delta (about 50 per second of speech): one pass of the C JSON
scanner, one dict lookup on ``type``, a few ``type(...) is`` checks, one C base64 decode.
"""

from __future__ import annotations

import binascii
import json
import json.scanner
import sys
from collections.abc import Callable
from typing import Any

from controller.codec_fields import (
    Bad,
    Reader,
    event_id_of,
    item,
    json_kind,
    obj,
    obj_tuple,
    opt_int,
    opt_num,
    opt_obj,
    opt_str,
    part,
    req_int,
    req_str,
    response,
    str_or_empty,
    zero_or_int,
)
from controller.events import (
    AudioDelta,
    AudioDone,
    AudioTranscriptDelta,
    AudioTranscriptDone,
    ContentPartAdded,
    ContentPartDone,
    ConversationCreated,
    DtmfReceived,
    ErrorEvent,
    FunctionCallArgumentsDelta,
    FunctionCallArgumentsDone,
    InputCleared,
    InputCommitted,
    InputTimeoutTriggered,
    InputTranscriptionCompleted,
    InputTranscriptionDelta,
    InputTranscriptionFailed,
    InputTranscriptionSegment,
    ItemAdded,
    ItemDeleted,
    ItemDone,
    ItemRetrieved,
    ItemTruncated,
    Malformed,
    McpEvent,
    OutputAudioBufferEvent,
    OutputItemAdded,
    OutputItemDone,
    RateLimitsUpdated,
    ResponseCreated,
    ResponseDone,
    ServerEvent,
    SessionCreated,
    SessionUpdated,
    SpeechStarted,
    SpeechStopped,
    TextDelta,
    TextDone,
    Unrecognized,
)

Builder = Callable[[str, dict[str, Any]], ServerEvent]

__all__ = ["SERVER_EVENT_TYPES", "parse_server_event"]


# --- The hot path: audio and the deltas streaming with it -----------------------------------------

if sys.version_info >= (3, 11):

    def _b64_strict(data: str) -> bytes:
        return binascii.a2b_base64(data, strict_mode=True)

else:  # pragma: no cover - Python 3.10 has no strict_mode; b64decode checks the alphabet

    import base64

    def _b64_strict(data: str) -> bytes:
        return base64.b64decode(data, validate=True)


def decode_audio(data: str) -> bytes:
    """Decode the base64 ``delta`` of an audio delta; unpadded base64 (RFC 4648 section
    3.2) is accepted too."""
    try:
        return _b64_strict(data)
    except (binascii.Error, ValueError) as exc:
        # Padding is redundant information; a sender that drops it still sent the audio.
        if len(data) % 4 in (2, 3):
            try:
                return _b64_strict(data + "=" * (-len(data) % 4))
            except (binascii.Error, ValueError):
                pass
        raise Bad("delta", f"is not valid base64 ({exc})") from None


def _streamed(cls: Callable[..., ServerEvent], field: str, *, attr: str | None = None,
              decode: Callable[[str], Any] | None = None) -> Builder:
    """A builder for the events that stream within one content part (audio, transcript
    and text deltas): the part's four ids plus one required string ``field``, passed to
    ``cls`` as ``attr`` after ``decode``. These dominate the stream, so the common case
    is one combined check of the field types; the readers run only to name a bad field."""
    attr = attr or field

    def build(wire_type: str, d: dict[str, Any]) -> ServerEvent:
        response_id = d.get("response_id")
        item_id = d.get("item_id")
        output_index = d.get("output_index")
        content_index = d.get("content_index")
        text = d.get(field)
        event_id = d.get("event_id")
        if not (type(response_id) is str and type(item_id) is str
                and type(output_index) is int and type(content_index) is int
                and type(text) is str and (event_id is None or type(event_id) is str)):
            event_id = event_id_of(d)
            response_id, item_id = req_str(d, "response_id", ""), req_str(d, "item_id", "")
            output_index = req_int(d, "output_index", "")
            content_index = req_int(d, "content_index", "")
            text = req_str(d, field, "")
        return cls(type=wire_type, event_id=event_id, raw=d, response_id=response_id,
                   item_id=item_id, output_index=output_index, content_index=content_index,
                   **{attr: text if decode is None else decode(text)})

    build.__name__ = f"build_{getattr(cls, '__name__', attr)}"
    return build


# --- Builders that are just a list of typed fields --------------------------------------

Fields = tuple[tuple[str, Reader], ...]


def _flat(cls: type[ServerEvent], fields: Fields) -> Builder:
    """A builder that reads each field of ``cls`` from the key of the same name."""

    def build(wire_type: str, d: dict[str, Any]) -> ServerEvent:
        values = {name: read(d, name, "") for name, read in fields}
        return cls(type=wire_type, event_id=event_id_of(d), raw=d, **values)

    build.__name__ = f"build_{cls.__name__}"
    return build


_STREAM_IDS: Fields = (
    ("response_id", req_str), ("item_id", req_str),
    ("output_index", req_int), ("content_index", req_int),
)
_CALL_IDS: Fields = (
    ("response_id", req_str), ("item_id", req_str),
    ("output_index", req_int), ("call_id", req_str),
)
_INPUT_IDS: Fields = (("item_id", req_str), ("content_index", zero_or_int))


# --- Builders that read nested objects --------------------------------------------------


def _error(wire_type: str, d: dict[str, Any]) -> ServerEvent:
    error = obj(d, "error", "")
    return ErrorEvent(
        type=wire_type, event_id=event_id_of(d), raw=d,
        message=req_str(error, "message", "error."),
        code=opt_str(error, "code", "error."),
        error_type=opt_str(error, "type", "error."),
        param=opt_str(error, "param", "error."),
        client_event_id=opt_str(error, "event_id", "error."))


def _session_created(wire_type: str, d: dict[str, Any]) -> ServerEvent:
    session = obj(d, "session", "")
    return SessionCreated(
        type=wire_type, event_id=event_id_of(d), raw=d, session=session,
        session_id=opt_str(session, "id", "session."),
        expires_at=opt_int(session, "expires_at", "session."))


def _conversation_created(wire_type: str, d: dict[str, Any]) -> ServerEvent:
    conversation = opt_obj(d, "conversation", "")
    conversation_id = None if conversation is None else opt_str(
        conversation, "id", "conversation.")
    return ConversationCreated(type=wire_type, event_id=event_id_of(d), raw=d,
                               conversation_id=conversation_id)


def _dtmf(wire_type: str, d: dict[str, Any]) -> ServerEvent:
    return DtmfReceived(type=wire_type, event_id=event_id_of(d), raw=d,
                        digit=req_str(d, "event", ""),
                        received_at=opt_num(d, "received_at", ""))


def _transcription_failed(wire_type: str, d: dict[str, Any]) -> ServerEvent:
    error = opt_obj(d, "error", "") or {}
    return InputTranscriptionFailed(
        type=wire_type, event_id=event_id_of(d), raw=d,
        item_id=req_str(d, "item_id", ""),
        content_index=zero_or_int(d, "content_index", ""),
        message=str_or_empty(error, "message", "error."),
        code=opt_str(error, "code", "error."))


# --- The dispatch table: every wire name of both dialects -------------------------------

_ITEM_EVENT: Fields = (("item", item), ("previous_item_id", opt_str))
_OUTPUT_ITEM: Fields = (("response_id", req_str), ("output_index", req_int), ("item", item))
_PART: Fields = (*_STREAM_IDS[:2], ("output_index", req_int), ("content_index", req_int),
                 ("part", part))
_MCP = _flat(McpEvent, (("item_id", opt_str),))
_OUTPUT_AUDIO_BUFFER = _flat(OutputAudioBufferEvent, (("response_id", opt_str),))
_SESSION_UPDATED = _flat(SessionUpdated, (("session", obj),))

_BUILDERS: dict[str, Builder] = {
    "error": _error,
    "session.created": _session_created,
    "session.updated": _SESSION_UPDATED,
    "transcription_session.created": _session_created,
    "transcription_session.updated": _SESSION_UPDATED,
    "rate_limits.updated": _flat(RateLimitsUpdated, (("rate_limits", obj_tuple),)),
    "conversation.created": _conversation_created,
    "conversation.item.added": _flat(ItemAdded, _ITEM_EVENT),
    "conversation.item.created": _flat(ItemAdded, _ITEM_EVENT),
    "conversation.item.done": _flat(ItemDone, _ITEM_EVENT),
    "conversation.item.retrieved": _flat(ItemRetrieved, (("item", item),)),
    "conversation.item.truncated": _flat(ItemTruncated, (
        ("item_id", req_str), ("content_index", req_int), ("audio_end_ms", req_int))),
    "conversation.item.deleted": _flat(ItemDeleted, (("item_id", req_str),)),
    "conversation.item.input_audio_transcription.delta": _flat(
        InputTranscriptionDelta, (*_INPUT_IDS, ("delta", str_or_empty))),
    "conversation.item.input_audio_transcription.completed": _flat(
        InputTranscriptionCompleted, (*_INPUT_IDS, ("transcript", str_or_empty),
                                      ("usage", opt_obj))),
    "conversation.item.input_audio_transcription.failed": _transcription_failed,
    "conversation.item.input_audio_transcription.segment": _flat(
        InputTranscriptionSegment, (*_INPUT_IDS, ("text", str_or_empty),
                                    ("speaker", opt_str), ("start", opt_num),
                                    ("end", opt_num))),
    "input_audio_buffer.committed": _flat(InputCommitted, (
        ("item_id", req_str), ("previous_item_id", opt_str))),
    "input_audio_buffer.cleared": _flat(InputCleared, ()),
    "input_audio_buffer.speech_started": _flat(SpeechStarted, (
        ("audio_start_ms", req_int), ("item_id", opt_str))),
    "input_audio_buffer.speech_stopped": _flat(SpeechStopped, (
        ("audio_end_ms", req_int), ("item_id", opt_str))),
    "input_audio_buffer.timeout_triggered": _flat(InputTimeoutTriggered, (
        ("audio_start_ms", req_int), ("audio_end_ms", req_int), ("item_id", opt_str))),
    "input_audio_buffer.dtmf_event_received": _dtmf,
    "output_audio_buffer.started": _OUTPUT_AUDIO_BUFFER,
    "output_audio_buffer.stopped": _OUTPUT_AUDIO_BUFFER,
    "output_audio_buffer.cleared": _OUTPUT_AUDIO_BUFFER,
    "response.created": _flat(ResponseCreated, (("response", response),)),
    "response.done": _flat(ResponseDone, (("response", response),)),
    "response.output_item.added": _flat(OutputItemAdded, _OUTPUT_ITEM),
    "response.output_item.done": _flat(OutputItemDone, _OUTPUT_ITEM),
    "response.content_part.added": _flat(ContentPartAdded, _PART),
    "response.content_part.done": _flat(ContentPartDone, _PART),
    "response.function_call_arguments.delta": _flat(
        FunctionCallArgumentsDelta, (*_CALL_IDS, ("delta", req_str))),
    "response.function_call_arguments.done": _flat(
        FunctionCallArgumentsDone, (*_CALL_IDS, ("name", opt_str), ("arguments", req_str))),
}

# GA name, beta name: the same event class, the same fields.
_ALIASED: tuple[tuple[str, str, Builder], ...] = (
    ("response.output_audio.delta", "response.audio.delta",
     _streamed(AudioDelta, "delta", attr="audio", decode=decode_audio)),
    ("response.output_audio.done", "response.audio.done", _flat(AudioDone, _STREAM_IDS)),
    ("response.output_text.delta", "response.text.delta", _streamed(TextDelta, "delta")),
    ("response.output_text.done", "response.text.done", _streamed(TextDone, "text")),
    ("response.output_audio_transcript.delta", "response.audio_transcript.delta",
     _streamed(AudioTranscriptDelta, "delta")),
    ("response.output_audio_transcript.done", "response.audio_transcript.done",
     _streamed(AudioTranscriptDone, "transcript")),
)
for _ga, _beta, _build in _ALIASED:
    _BUILDERS[_ga] = _BUILDERS[_beta] = _build

for _mcp_type in ("mcp_list_tools.in_progress", "mcp_list_tools.completed",
                  "mcp_list_tools.failed", "response.mcp_call_arguments.delta",
                  "response.mcp_call_arguments.done", "response.mcp_call.in_progress",
                  "response.mcp_call.completed", "response.mcp_call.failed"):
    _BUILDERS[_mcp_type] = _MCP

#: Every wire ``type`` this codec turns into a typed event (both dialects).
SERVER_EVENT_TYPES: frozenset[str] = frozenset(_BUILDERS)


# --- The entry point --------------------------------------------------------------------

# json.loads wraps the C scanner in two whitespace regex matches per call. A server frame
# is one object, "{" to "}", so the scanner alone reads it; anything else (bytes, leading
# or trailing whitespace, bad JSON) takes json.loads, which also words the error.
# (typeshed types make_scanner's argument as another scanner; CPython takes the decoder)
_scan_json: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(
    json.JSONDecoder())  # type: ignore[arg-type]


def _load_json(text: str | bytes) -> Any:
    if type(text) is str and text.startswith("{"):
        try:
            value, end = _scan_json(text, 0)
        except (StopIteration, ValueError, RecursionError):
            pass
        else:
            if end == len(text):
                return value
    return json.loads(text)



def parse_server_event(text: str | bytes) -> ServerEvent:
    """Turn one websocket text frame into a typed event; never raises on wire input."""
    try:
        d = _load_json(text)
    except (ValueError, RecursionError, TypeError) as exc:
        # ValueError covers bad JSON and invalid UTF-8 in bytes; RecursionError very deep
        # nesting; TypeError a frame of neither str nor bytes.
        return Malformed(type="", reason=f"not valid JSON: {exc}", text=_as_text(text))
    if type(d) is not dict:
        return Malformed(type="", reason=f"not a JSON object but {json_kind(d)}",
                         text=_as_text(text))
    wire_type = d.get("type")
    if type(wire_type) is not str:
        problem = ("is missing" if wire_type is None
                   else f"must be a string, got {json_kind(wire_type)}")
        return Malformed(type="", raw=d, reason=f"field 'type' {problem}", text=_as_text(text))
    build = _BUILDERS.get(wire_type)
    if build is None:
        return Unrecognized(type=wire_type, event_id=_loose_event_id(d), raw=d)
    try:
        return build(wire_type, d)
    except Bad as bad:
        return Malformed(type=wire_type, event_id=_loose_event_id(d), raw=d,
                         reason=str(bad), text=_as_text(text))
    except Exception as exc:
        # A defect in a builder must not end the conversation: it is reported as a
        # Malformed event whose reason says so, and the tests assert it never happens.
        return Malformed(type=wire_type, event_id=_loose_event_id(d), raw=d,
                         reason=f"parser defect on {wire_type}: {exc!r}", text=_as_text(text))


def _loose_event_id(d: dict[str, Any]) -> str | None:
    event_id = d.get("event_id")
    return event_id if type(event_id) is str else None


def _as_text(text: object) -> str:
    if isinstance(text, str):
        return text
    if isinstance(text, (bytes, bytearray, memoryview)):
        return bytes(text).decode("utf-8", errors="replace")
    return repr(text)
