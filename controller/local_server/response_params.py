"""Reading ``response.create``: the per-response overrides of the session's settings.

Owns ``new_response``: it validates the optional ``response`` object of a
``response.create`` in either dialect (GA ``output_modalities``/``audio.output``; beta
``modalities``/``voice``/``output_audio_format``/``temperature``), rejecting unknown fields
like the real service, and returns a ``Response`` seeded from the session config. It also
extracts the response's own ``input`` items. Pure functions; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.local_server.response_state import Response
from controller.local_server.session_beta import parse_beta_modalities
from controller.local_server.session_config import BETA_VOICES, SessionConfig, parse_voice
from controller.local_server.session_ga import parse_ga_format, parse_output_modalities
from controller.local_server.validation import (
    check_choice,
    check_list,
    check_number,
    check_object,
    check_string,
    check_token_limit,
    check_tool_choice,
    check_tools,
)

_COMMON_KEYS = ("instructions", "tools", "tool_choice", "conversation", "metadata", "input")
_GA_KEYS = (*_COMMON_KEYS, "output_modalities", "audio", "max_output_tokens", "prompt",
            "reasoning", "parallel_tool_calls")
_BETA_KEYS = (*_COMMON_KEYS, "modalities", "voice", "output_audio_format", "temperature",
              "max_response_output_tokens")


def new_response(config: SessionConfig, raw: Any, *, beta: bool,
                 conversation_id: str) -> tuple[Response, list[Any] | None]:
    """A response for ``response.create``'s ``response`` object, and its ``input`` if any."""
    overrides = check_object(raw if raw is not None else {}, "response",
                             _BETA_KEYS if beta else _GA_KEYS)
    settings: dict[str, Any] = {
        "output_modality": config.output_modality, "voice": config.voice,
        "output_format": config.output_format, "speed": config.speed,
        "tools": config.tools, "tool_choice": config.tool_choice,
        "max_output_tokens": config.max_output_tokens, "temperature": config.temperature,
        "instructions": config.instructions, "conversation_id": conversation_id,
    }
    settings.update(_common(overrides, conversation_id))
    settings.update(_beta(overrides) if beta else _ga(overrides))
    input_items = None
    if overrides.get("input") is not None:
        input_items = check_list(overrides["input"], "response.input")
    return Response(**settings), input_items


def _common(overrides: Mapping[str, Any], conversation_id: str) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if "instructions" in overrides:
        settings["instructions"] = check_string(overrides["instructions"],
                                                "response.instructions")
    if "tools" in overrides:
        settings["tools"] = check_tools(overrides["tools"], "response.tools")
    if "tool_choice" in overrides:
        settings["tool_choice"] = check_tool_choice(overrides["tool_choice"],
                                                    "response.tool_choice")
    if "conversation" in overrides:
        target = check_choice(overrides["conversation"], "response.conversation",
                              ("auto", "none"))
        settings["conversation_id"] = conversation_id if target == "auto" else None
    if "metadata" in overrides:
        settings["metadata"] = overrides["metadata"]
    return settings


def _ga(overrides: Mapping[str, Any]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if "output_modalities" in overrides:
        settings["output_modality"] = parse_output_modalities(overrides["output_modalities"],
                                                              "response.output_modalities")
    if "max_output_tokens" in overrides:
        settings["max_output_tokens"] = check_token_limit(overrides["max_output_tokens"],
                                                          "response.max_output_tokens")
    if "audio" in overrides:
        audio = check_object(overrides["audio"], "response.audio", ("output",))
        output = check_object(audio.get("output", {}), "response.audio.output",
                              ("format", "voice"))
        if "format" in output:
            settings["output_format"] = parse_ga_format(output["format"],
                                                        "response.audio.output.format")
        if "voice" in output:
            settings["voice"] = parse_voice(output["voice"], "response.audio.output.voice")
    return settings


def _beta(overrides: Mapping[str, Any]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if "modalities" in overrides:
        settings["output_modality"] = parse_beta_modalities(overrides["modalities"],
                                                            "response.modalities")
    if "voice" in overrides:
        settings["voice"] = parse_voice(overrides["voice"], "response.voice", BETA_VOICES)
    if "output_audio_format" in overrides:
        settings["output_format"] = check_choice(overrides["output_audio_format"],
                                                 "response.output_audio_format",
                                                 ("pcm16", "g711_ulaw", "g711_alaw"))
    if "temperature" in overrides:
        settings["temperature"] = check_number(overrides["temperature"],
                                               "response.temperature", minimum=0.6, maximum=1.2)
    if "max_response_output_tokens" in overrides:
        settings["max_output_tokens"] = check_token_limit(
            overrides["max_response_output_tokens"], "response.max_response_output_tokens")
    return settings
