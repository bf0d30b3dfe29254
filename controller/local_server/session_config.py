"""The effective configuration of one local realtime session, independent of dialect.

Owns ``SessionConfig`` (what ``session.created``/``session.updated`` report), its defaults
(the real service's, e.g. server VAD with threshold 0.5, 300 ms prefix padding and 200 ms
silence), and the parts of ``session.update`` validation both dialects share (turn
detection, noise reduction, voice). The GA and beta field layouts live in
``session_ga`` and ``session_beta``. Pure data and checks; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.local_server.validation import (
    check_bool,
    check_choice,
    check_int,
    check_number,
    check_object,
    check_string,
)
from controller.local_server.wire import ClientError

DEFAULT_MODEL = "gpt-realtime"
DEFAULT_INSTRUCTIONS = (
    "You are the convctl offline assistant. You answer from a small set of intents, "
    "call the session's tools when an intent needs them, and say goodbye when asked."
)
BETA_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse")
GA_VOICES = (*BETA_VOICES, "marin", "cedar")
AUDIO_FORMATS = ("pcm16", "g711_ulaw", "g711_alaw")
# Longest wait for the end of a turn per semantic_vad eagerness (the service's maxima).
SEMANTIC_SILENCE_MS = {"low": 1200, "medium": 700, "auto": 700, "high": 400}


@dataclass(frozen=True, kw_only=True)
class TurnDetectionConfig:
    """Server-side turn detection (``server_vad`` or ``semantic_vad``)."""

    type: str = "server_vad"
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 200
    idle_timeout_ms: int | None = None
    create_response: bool = True
    interrupt_response: bool = True
    eagerness: str = "auto"

    @property
    def end_of_turn_silence_ms(self) -> int:
        """How long the speaker must be silent before the turn is taken as ended."""
        if self.type == "semantic_vad":
            return SEMANTIC_SILENCE_MS[self.eagerness]
        return self.silence_duration_ms

    def as_wire(self, *, with_idle_timeout: bool = True) -> dict[str, Any]:
        """The wire object; beta has no ``idle_timeout_ms`` (it came with GA)."""
        common = {"type": self.type, "create_response": self.create_response,
                  "interrupt_response": self.interrupt_response}
        if self.type == "semantic_vad":
            return {**common, "eagerness": self.eagerness}
        wire = {"type": self.type, "threshold": self.threshold,
                "prefix_padding_ms": self.prefix_padding_ms,
                "silence_duration_ms": self.silence_duration_ms,
                "idle_timeout_ms": self.idle_timeout_ms,
                "create_response": self.create_response,
                "interrupt_response": self.interrupt_response}
        if not with_idle_timeout:
            del wire["idle_timeout_ms"]
        return wire


@dataclass(frozen=True, kw_only=True)
class SessionConfig:
    """Everything a session is configured with; both dialects render from this."""

    id: str
    expires_at: int
    model: str = DEFAULT_MODEL
    instructions: str = DEFAULT_INSTRUCTIONS
    # "audio" means audio plus its transcript; "text" means text only.
    output_modality: str = "audio"
    input_format: str = "pcm16"
    output_format: str = "pcm16"
    voice: str | Mapping[str, Any] = "marin"
    speed: float = 1.0
    turn_detection: TurnDetectionConfig | None = field(default_factory=TurnDetectionConfig)
    transcription: Mapping[str, Any] | None = None
    noise_reduction: str | None = None
    tools: tuple[Mapping[str, Any], ...] = ()
    tool_choice: str | Mapping[str, Any] = "auto"
    max_output_tokens: int | str = "inf"
    temperature: float = 0.8
    tracing: Any = None
    prompt: Any = None
    include: tuple[str, ...] | None = None
    truncation: Any = "auto"

    def tool_names(self) -> set[str]:
        return {str(tool["name"]) for tool in self.tools}


_SERVER_VAD_KEYS = ("type", "threshold", "prefix_padding_ms", "silence_duration_ms",
                    "idle_timeout_ms", "create_response", "interrupt_response")
_SEMANTIC_VAD_KEYS = ("type", "eagerness", "create_response", "interrupt_response")


def parse_turn_detection(value: Any, param: str, *, idle_timeout: bool = True,
                         ) -> TurnDetectionConfig | None:
    """A whole turn-detection object (missing fields take defaults), or ``None`` for off.

    ``idle_timeout=False`` (beta) makes ``idle_timeout_ms`` an unknown parameter.
    """
    if value is None:
        return None
    if not isinstance(value, Mapping):
        check_object(value, param, ())
    kind = check_choice(value.get("type", "server_vad"), f"{param}.type",
                        ("server_vad", "semantic_vad", "none"))
    if kind == "none":
        return None
    allowed: tuple[str, ...] = _SEMANTIC_VAD_KEYS if kind == "semantic_vad" else _SERVER_VAD_KEYS
    if not idle_timeout:
        allowed = tuple(key for key in allowed if key != "idle_timeout_ms")
    check_object(value, param, allowed)
    fields: dict[str, Any] = {"type": kind}
    if value.get("threshold") is not None:
        fields["threshold"] = check_number(value["threshold"], f"{param}.threshold",
                                           minimum=0.0, maximum=1.0)
    for key in ("prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms"):
        if value.get(key) is not None:
            fields[key] = check_int(value[key], f"{param}.{key}", minimum=0)
    for key in ("create_response", "interrupt_response"):
        if value.get(key) is not None:
            fields[key] = check_bool(value[key], f"{param}.{key}")
    if value.get("eagerness") is not None:
        fields["eagerness"] = check_choice(value["eagerness"], f"{param}.eagerness",
                                           tuple(SEMANTIC_SILENCE_MS))
    return TurnDetectionConfig(**fields)


def parse_noise_reduction(value: Any, param: str) -> str | None:
    if value is None:
        return None
    config = check_object(value, param, ("type",))
    return check_choice(config.get("type"), f"{param}.type", ("near_field", "far_field"))


def parse_voice(value: Any, param: str, voices: tuple[str, ...] = GA_VOICES,
                ) -> str | Mapping[str, Any]:
    """A built-in voice name or (GA) a custom ``{"id": "voice_..."}``."""
    if isinstance(value, Mapping) and voices == GA_VOICES:
        custom = check_object(value, param, ("id",))
        return {"id": check_string(custom.get("id"), f"{param}.id")}
    return check_choice(value, param, voices)


def check_voice_change(current: SessionConfig, voice: Any, assistant_spoke: bool,
                       param: str) -> None:
    """The voice is fixed once the assistant has produced audio in this session."""
    if assistant_spoke and voice != current.voice:
        raise ClientError("cannot_update_voice",
                          "Cannot update a conversation's voice if assistant audio is "
                          "present.", param=param)
