"""The GA dialect's session object: reading ``session.update`` and rendering the session.

GA nests audio settings (``audio.input.turn_detection``, ``audio.output.voice``), requires
``session.type``, and allows exactly one output modality. ``apply_ga_update`` validates a
whole update and returns the new ``SessionConfig`` or raises ``ClientError`` for the first
problem, so a bad field rejects the update whole. Pure functions; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from controller.local_server.session_config import (
    SessionConfig,
    check_voice_change,
    parse_noise_reduction,
    parse_turn_detection,
    parse_voice,
)
from controller.local_server.validation import (
    check_choice,
    check_int,
    check_list,
    check_number,
    check_object,
    check_string,
    check_token_limit,
    check_tool_choice,
    check_tools,
    check_transcription,
    require,
)
from controller.local_server.wire import SAMPLE_RATE, ClientError

_SESSION_KEYS = ("type", "model", "instructions", "output_modalities", "audio", "tools",
                 "tool_choice", "max_output_tokens", "tracing", "prompt", "include",
                 "truncation")
_GA_FORMATS = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}
_INCLUDABLE = ("item.input_audio_transcription.logprobs",)


def apply_ga_update(current: SessionConfig, raw: Any, *, assistant_spoke: bool) -> SessionConfig:
    """``current`` with the GA ``session`` object ``raw`` applied, or ``ClientError``."""
    session = check_object(raw, "session", _SESSION_KEYS)
    kind = check_string(require(session, "type", "session"), "session.type")
    if kind == "transcription":
        raise ClientError("invalid_value", "The convctl local server serves realtime "
                          "sessions only; set session.type to 'realtime'.",
                          param="session.type")
    check_choice(kind, "session.type", ("realtime", "transcription"))
    changes: dict[str, Any] = {}
    if "model" in session:
        changes["model"] = check_string(session["model"], "session.model")
    if "instructions" in session:
        changes["instructions"] = check_string(session["instructions"], "session.instructions")
    if "output_modalities" in session:
        changes["output_modality"] = parse_output_modalities(
            session["output_modalities"], "session.output_modalities")
    if "tools" in session:
        changes["tools"] = check_tools(session["tools"], "session.tools")
    if "tool_choice" in session:
        changes["tool_choice"] = check_tool_choice(session["tool_choice"], "session.tool_choice")
    if "max_output_tokens" in session:
        changes["max_output_tokens"] = check_token_limit(session["max_output_tokens"],
                                                         "session.max_output_tokens")
    if "include" in session:
        changes["include"] = _parse_include(session["include"])
    for key in ("tracing", "prompt", "truncation"):
        if key in session:
            changes[key] = session[key]
    if "audio" in session:
        changes.update(_parse_audio(current, session["audio"], assistant_spoke))
    return replace(current, **changes)


def parse_output_modalities(value: Any, param: str) -> str:
    """GA allows ``["audio"]`` (audio plus transcript) or ``["text"]``, never both."""
    modalities = check_list(value, param)
    for index, modality in enumerate(modalities):
        check_choice(modality, f"{param}[{index}]", ("audio", "text"))
    if len(set(modalities)) != 1:
        raise ClientError("invalid_value",
                          f"Invalid modalities: {modalities}. Supported combinations are: "
                          "['text'] and ['audio'].", param=param)
    return str(modalities[0])


def parse_ga_format(value: Any, param: str) -> str:
    fmt = check_object(value, param, ("type", "rate"))
    kind = check_choice(fmt.get("type"), f"{param}.type", tuple(_GA_FORMATS))
    if kind == "audio/pcm" and "rate" in fmt:
        check_int(fmt["rate"], f"{param}.rate", minimum=SAMPLE_RATE, maximum=SAMPLE_RATE)
    return _GA_FORMATS[kind]


def _parse_include(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = check_list(value, "session.include")
    return tuple(check_choice(item, f"session.include[{i}]", _INCLUDABLE)
                 for i, item in enumerate(items))


def _parse_audio(current: SessionConfig, value: Any, assistant_spoke: bool) -> dict[str, Any]:
    audio = check_object(value, "session.audio", ("input", "output"))
    changes: dict[str, Any] = {}
    if "input" in audio:
        where = "session.audio.input"
        audio_in = check_object(audio["input"], where,
                                ("format", "transcription", "noise_reduction", "turn_detection"))
        if "format" in audio_in:
            changes["input_format"] = parse_ga_format(audio_in["format"], f"{where}.format")
        if "transcription" in audio_in:
            changes["transcription"] = check_transcription(audio_in["transcription"],
                                                           f"{where}.transcription")
        if "noise_reduction" in audio_in:
            changes["noise_reduction"] = parse_noise_reduction(audio_in["noise_reduction"],
                                                               f"{where}.noise_reduction")
        if "turn_detection" in audio_in:
            changes["turn_detection"] = parse_turn_detection(audio_in["turn_detection"],
                                                             f"{where}.turn_detection")
    if "output" in audio:
        changes.update(_parse_audio_output(current, audio["output"], assistant_spoke))
    return changes


def _parse_audio_output(current: SessionConfig, value: Any,
                        assistant_spoke: bool) -> dict[str, Any]:
    where = "session.audio.output"
    audio_out = check_object(value, where, ("format", "voice", "speed"))
    changes: dict[str, Any] = {}
    if "format" in audio_out:
        changes["output_format"] = parse_ga_format(audio_out["format"], f"{where}.format")
    if "voice" in audio_out:
        voice = parse_voice(audio_out["voice"], f"{where}.voice")
        check_voice_change(current, voice, assistant_spoke, f"{where}.voice")
        changes["voice"] = voice
    if "speed" in audio_out:
        changes["speed"] = check_number(audio_out["speed"], f"{where}.speed",
                                        minimum=0.25, maximum=1.5)
    return changes


def ga_format(name: str) -> dict[str, Any]:
    """The GA format object for an internal format name (``pcm16`` ...)."""
    if name == "pcm16":
        return {"type": "audio/pcm", "rate": SAMPLE_RATE}
    return {"type": "audio/pcmu" if name == "g711_ulaw" else "audio/pcma"}


def render_ga_session(config: SessionConfig) -> dict[str, Any]:
    """The full GA session object sent in ``session.created`` and ``session.updated``."""
    turn = config.turn_detection.as_wire() if config.turn_detection else None
    return {
        "type": "realtime", "object": "realtime.session", "id": config.id,
        "model": config.model, "output_modalities": [config.output_modality],
        "instructions": config.instructions, "tools": [dict(t) for t in config.tools],
        "tool_choice": _plain(config.tool_choice), "max_output_tokens": config.max_output_tokens,
        "tracing": config.tracing, "truncation": config.truncation, "prompt": config.prompt,
        "expires_at": config.expires_at,
        "audio": {
            "input": {"format": ga_format(config.input_format),
                      "transcription": _plain(config.transcription),
                      "noise_reduction": ({"type": config.noise_reduction}
                                          if config.noise_reduction else None),
                      "turn_detection": turn},
            "output": {"format": ga_format(config.output_format),
                       "voice": _plain(config.voice), "speed": config.speed},
        },
        "include": list(config.include) if config.include is not None else None,
    }


def _plain(value: Any) -> Any:
    return dict(value) if isinstance(value, Mapping) else value
