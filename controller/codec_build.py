"""Client events onto the wire: plain arguments in, JSON-ready dicts for one dialect out.

This module owns the shape of every client event convctl sends and every difference
between the GA and the beta dialect on the way out: GA's ``session.type`` and nested
``audio.input/output`` layout against beta's flat session fields, ``output_modalities``
against ``modalities`` (Azure's preview rejects ``["audio"]`` alone), the audio format
names, and the assistant content type used when replaying context. Callers never branch
on the dialect. Nothing here does I/O or keeps conversation state.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping
from typing import Any, Literal

from controller.errors import ConfigError
from controller.settings import SessionSettings, ToolSpec, Transcription, TurnDetection

Dialect = Literal["ga", "beta"]
Event = dict[str, Any]

__all__ = ["ClientEvents", "Dialect", "EncodedEvent", "encode_event"]


class EncodedEvent(dict[str, Any]):
    """A client event that also carries its JSON text, built without ``json.dumps``.

    Audio appends are nearly every event a client sends (ten a second from a microphone);
    base64 needs no escaping, so their text is three pieces joined. It is still a plain
    mapping for everything that reads events (the log, replays, tests), and read-only,
    so the text can never disagree with the fields.
    """

    __slots__ = ("encoded",)

    def __init__(self, fields: dict[str, Any], encoded: bytes) -> None:
        super().__init__(fields)
        self.encoded = encoded

    def _read_only(self, *_args: object, **_kwargs: object) -> Any:
        raise TypeError("an encoded client event is read-only (its JSON was built with it); "
                        "change a copy: dict(event)")

    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __reduce__(self) -> tuple[Any, ...]:  # copy and pickle build it whole
        return (EncodedEvent, (dict(self), self.encoded))


_APPEND_PREFIX = b'{"type":"input_audio_buffer.append","audio":"'


def encode_event(event: Mapping[str, Any]) -> bytes:
    """The UTF-8 JSON text of a client event, as it goes on the wire."""
    if isinstance(event, EncodedEvent):
        return event.encoded
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

_GA_FORMATS: dict[str, dict[str, Any]] = {
    "pcm16": {"type": "audio/pcm", "rate": 24000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
# Beta names the format with the same strings our settings use.
_BETA_FORMATS = {name: name for name in _GA_FORMATS}

_GA_MODALITIES = {"audio": ["audio"], "text": ["text"]}
# Beta (and Azure's preview) wants text alongside audio: ["audio"] alone is rejected.
_BETA_MODALITIES = {"audio": ["audio", "text"], "text": ["text"]}


class ClientEvents:
    """Builds the client events of one dialect. Every method returns a fresh plain dict."""

    def __init__(self, dialect: Dialect = "ga") -> None:
        if dialect not in ("ga", "beta"):
            raise ConfigError(f"dialect must be 'ga' or 'beta', got {dialect!r}")
        self.dialect: Dialect = dialect
        self._ga = dialect == "ga"

    def __repr__(self) -> str:
        return f"ClientEvents(dialect={self.dialect!r})"

    # --- Session ------------------------------------------------------------------------

    def session_update(self, settings: SessionSettings) -> Event:
        """``session.update`` carrying every setting, so the session matches ``settings``
        whatever it was before (features that are off are sent as null)."""
        session = self._ga_session(settings) if self._ga else self._beta_session(settings)
        session["tools"] = [_function_tool(tool) for tool in settings.tools]
        session["tool_choice"] = self._tool_choice(settings.tool_choice)
        if settings.max_output_tokens is not None:
            session[self._max_tokens_key] = settings.max_output_tokens
        return {"type": "session.update", "session": session}

    def _ga_session(self, s: SessionSettings) -> Event:
        audio_format = _GA_FORMATS[s.audio_format]
        audio_input: Event = {
            "format": dict(audio_format),
            "turn_detection": self._turn_detection(s.turn_detection),
            "transcription": _transcription(s.transcription),
            "noise_reduction": _noise_reduction(s.noise_reduction),
        }
        audio_output: Event = {"format": dict(audio_format)}
        if s.voice is not None:
            audio_output["voice"] = s.voice
        return {"type": "realtime", "instructions": s.instructions,
                "output_modalities": list(_GA_MODALITIES[s.output_modality]),
                "audio": {"input": audio_input, "output": audio_output}}

    def _beta_session(self, s: SessionSettings) -> Event:
        session: Event = {
            "modalities": list(_BETA_MODALITIES[s.output_modality]),
            "instructions": s.instructions,
            "input_audio_format": _BETA_FORMATS[s.audio_format],
            "output_audio_format": _BETA_FORMATS[s.audio_format],
            "turn_detection": self._turn_detection(s.turn_detection),
            "input_audio_transcription": _transcription(s.transcription),
        }
        # Older beta servers (Azure 2024-10-01-preview) predate noise reduction and reject
        # unknown fields; off is the beta default, so "off" is said by leaving it out.
        if s.noise_reduction is not None:
            session["input_audio_noise_reduction"] = _noise_reduction(s.noise_reduction)
        if s.voice is not None:
            session["voice"] = s.voice
        return session

    def _turn_detection(self, turn: TurnDetection) -> Event | None:
        """Only the parameters the chosen mode takes; ``none`` is null (push-to-talk)."""
        if turn.mode == "none":
            return None
        detection: Event = {"type": turn.mode}
        if turn.mode == "server_vad":
            optional: dict[str, Any] = {
                "threshold": turn.threshold, "prefix_padding_ms": turn.prefix_padding_ms,
                "silence_duration_ms": turn.silence_duration_ms}
            # idle_timeout_ms exists only in GA.
            if self._ga:
                optional["idle_timeout_ms"] = turn.idle_timeout_ms
        else:
            optional = {"eagerness": turn.eagerness}
        detection.update((key, value) for key, value in optional.items() if value is not None)
        detection["create_response"] = turn.create_response
        detection["interrupt_response"] = turn.interrupt_response
        return detection

    def _tool_choice(self, choice: str | Mapping[str, Any]) -> str | Event:
        if isinstance(choice, str):
            return choice
        if self._ga:
            return _plain(choice)
        raise ConfigError(
            f"tool_choice {dict(choice)!r} forces one function, which the beta dialect "
            "cannot express (its tool_choice is auto, none or required); use "
            "tool_choice: required, or connect with the GA dialect")

    @property
    def _max_tokens_key(self) -> str:
        return "max_output_tokens" if self._ga else "max_response_output_tokens"

    # --- Input audio --------------------------------------------------------------------

    def input_audio_append(self, pcm: bytes) -> EncodedEvent:
        """``input_audio_buffer.append`` with the audio as base64 (never acknowledged)."""
        audio = binascii.b2a_base64(pcm, newline=False)
        return EncodedEvent({"type": "input_audio_buffer.append", "audio": audio.decode("ascii")},
                            _APPEND_PREFIX + audio + b'"}')

    def input_audio_commit(self) -> Event:
        return {"type": "input_audio_buffer.commit"}

    def input_audio_clear(self) -> Event:
        return {"type": "input_audio_buffer.clear"}

    # --- Conversation items -------------------------------------------------------------

    def user_text(self, text: str) -> Event:
        """A user message typed rather than spoken."""
        return _create_item({"type": "message", "role": "user",
                             "content": [{"type": "input_text", "text": text}]})

    def assistant_text(self, text: str) -> Event:
        """An assistant message as text: how an earlier spoken answer is replayed into a
        new session (assistant audio items cannot be recreated)."""
        kind = "output_text" if self._ga else "text"
        return _create_item({"type": "message", "role": "assistant",
                             "content": [{"type": kind, "text": text}]})

    def function_call(self, call_id: str, name: str, arguments: str) -> Event:
        """A function call the model made earlier, replayed into a new session."""
        return _create_item({"type": "function_call", "call_id": call_id, "name": name,
                             "arguments": arguments})

    def function_call_output(self, call_id: str, output: str) -> Event:
        """The answer to the model's call ``call_id``."""
        return _create_item({"type": "function_call_output", "call_id": call_id,
                             "output": output})

    def truncate(self, item_id: str, content_index: int, audio_end_ms: int) -> Event:
        """Cut an assistant audio item to what the user heard (whole milliseconds)."""
        return {"type": "conversation.item.truncate", "item_id": item_id,
                "content_index": content_index, "audio_end_ms": int(audio_end_ms)}

    # --- Responses ----------------------------------------------------------------------

    def response_create(
        self, *, event_id: str | None = None, instructions: str | None = None,
        output_modality: Literal["audio", "text"] | None = None,
        max_output_tokens: int | Literal["inf"] | None = None,
    ) -> Event:
        """``response.create``; the keywords override the session for this response only.
        ``event_id`` tags it, so an ``error`` about it names it (``error.event_id``)."""
        event: Event = {"type": "response.create"}
        if event_id is not None:
            event["event_id"] = event_id
        overrides: Event = {}
        if instructions is not None:
            overrides["instructions"] = instructions
        if output_modality is not None:
            modalities = _GA_MODALITIES if self._ga else _BETA_MODALITIES
            key = "output_modalities" if self._ga else "modalities"
            overrides[key] = list(modalities[output_modality])
        if max_output_tokens is not None:
            overrides[self._max_tokens_key] = max_output_tokens
        if overrides:
            event["response"] = overrides
        return event

    def response_cancel(self, response_id: str | None = None) -> Event:
        """``response.cancel``; without an id the server cancels the active response."""
        if response_id is None:
            return {"type": "response.cancel"}
        return {"type": "response.cancel", "response_id": response_id}


# --- Shapes shared by both dialects -----------------------------------------------------


def _create_item(item: Event) -> Event:
    return {"type": "conversation.item.create", "item": item}


def _function_tool(tool: ToolSpec) -> Event:
    # The realtime tool shape is flat, not nested under "function" as in Chat Completions.
    return {"type": "function", "name": tool.name, "description": tool.description,
            "parameters": _plain(tool.parameters)}


def _transcription(transcription: Transcription | None) -> Event | None:
    if transcription is None:
        return None
    config: Event = {"model": transcription.model}
    if transcription.language is not None:
        config["language"] = transcription.language
    if transcription.prompt is not None:
        config["prompt"] = transcription.prompt
    return config


def _noise_reduction(kind: str | None) -> Event | None:
    return None if kind is None else {"type": kind}


def _plain(value: Any) -> Any:
    """A deep copy made of dicts and lists only, so the event is JSON-ready and owned."""
    if isinstance(value, Mapping):
        return {str(key): _plain(inner) for key, inner in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(inner) for inner in value]
    return value
