"""The beta (Azure preview) dialect's session object: reading ``session.update`` and
rendering the session.

Beta keeps every setting flat (``voice``, ``input_audio_format``, ``turn_detection``),
names output ``modalities`` (``["text","audio"]`` or ``["text"]``; audio alone is refused
as on Azure), and knows no ``session.type``: GA field names are unknown parameters here.
Pure functions; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from controller.local_server.session_config import (
    AUDIO_FORMATS,
    BETA_VOICES,
    SessionConfig,
    check_voice_change,
    parse_noise_reduction,
    parse_turn_detection,
    parse_voice,
)
from controller.local_server.validation import (
    check_choice,
    check_list,
    check_number,
    check_object,
    check_string,
    check_token_limit,
    check_tool_choice,
    check_tools,
    check_transcription,
)
from controller.local_server.wire import ClientError

DEFAULT_BETA_VOICE = "alloy"
_SESSION_KEYS = ("model", "modalities", "instructions", "voice", "input_audio_format",
                 "output_audio_format", "input_audio_transcription",
                 "input_audio_noise_reduction", "turn_detection", "tools", "tool_choice",
                 "temperature", "max_response_output_tokens", "speed", "tracing")


def apply_beta_update(current: SessionConfig, raw: Any, *,
                      assistant_spoke: bool) -> SessionConfig:
    """``current`` with the beta ``session`` object ``raw`` applied, or ``ClientError``."""
    session = check_object(raw, "session", _SESSION_KEYS)
    changes: dict[str, Any] = {}
    simple = {
        "model": lambda v: check_string(v, "session.model"),
        "instructions": lambda v: check_string(v, "session.instructions"),
        "tools": lambda v: check_tools(v, "session.tools"),
        "tool_choice": lambda v: check_tool_choice(v, "session.tool_choice", beta=True),
        "temperature": lambda v: check_number(v, "session.temperature", minimum=0.6,
                                              maximum=1.2),
        "speed": lambda v: check_number(v, "session.speed", minimum=0.25, maximum=1.5),
        "tracing": lambda v: v,
    }
    for key, parse in simple.items():
        if key in session:
            changes[key] = parse(session[key])
    renamed = {
        "modalities": ("output_modality", parse_beta_modalities),
        "input_audio_format": ("input_format",
                               lambda v, p: check_choice(v, p, AUDIO_FORMATS)),
        "output_audio_format": ("output_format",
                                lambda v, p: check_choice(v, p, AUDIO_FORMATS)),
        "input_audio_transcription": ("transcription", check_transcription),
        "input_audio_noise_reduction": ("noise_reduction", parse_noise_reduction),
        "turn_detection": ("turn_detection", _parse_beta_turn_detection),
        "max_response_output_tokens": ("max_output_tokens", check_token_limit),
    }
    for key, (attribute, parse_at) in renamed.items():
        if key in session:
            changes[attribute] = parse_at(session[key], f"session.{key}")
    if "voice" in session:
        voice = parse_voice(session["voice"], "session.voice", BETA_VOICES)
        check_voice_change(current, voice, assistant_spoke, "session.voice")
        changes["voice"] = voice
    return replace(current, **changes)


def parse_beta_modalities(value: Any, param: str) -> str:
    """``["text"]`` means text only; ``["audio","text"]`` (any order) means audio."""
    modalities = check_list(value, param)
    for index, modality in enumerate(modalities):
        check_choice(modality, f"{param}[{index}]", ("audio", "text"))
    if set(modalities) == {"text"}:
        return "text"
    if set(modalities) == {"audio", "text"}:
        return "audio"
    raise ClientError("invalid_value",
                      f"Invalid modalities: {modalities}. Supported combinations are: "
                      "['text'] and ['audio', 'text'].", param=param)


def _parse_beta_turn_detection(value: Any, param: str) -> Any:
    return parse_turn_detection(value, param, idle_timeout=False)


def beta_modalities(output_modality: str) -> list[str]:
    return ["text"] if output_modality == "text" else ["audio", "text"]


def render_beta_session(config: SessionConfig) -> dict[str, Any]:
    """The full beta session object sent in ``session.created`` and ``session.updated``."""
    turn = (config.turn_detection.as_wire(with_idle_timeout=False)
            if config.turn_detection else None)
    return {
        "id": config.id, "object": "realtime.session", "model": config.model,
        "expires_at": config.expires_at, "modalities": beta_modalities(config.output_modality),
        "instructions": config.instructions, "voice": _plain(config.voice),
        "input_audio_format": config.input_format, "output_audio_format": config.output_format,
        "input_audio_transcription": _plain(config.transcription),
        "input_audio_noise_reduction": ({"type": config.noise_reduction}
                                        if config.noise_reduction else None),
        "turn_detection": turn, "tools": [dict(t) for t in config.tools],
        "tool_choice": _plain(config.tool_choice), "temperature": config.temperature,
        "max_response_output_tokens": config.max_output_tokens, "speed": config.speed,
        "tracing": config.tracing,
    }


def _plain(value: Any) -> Any:
    return dict(value) if isinstance(value, Mapping) else value
