"""What a conversation is configured with, independent of the wire dialect.

``SessionSettings`` is what the model is told (``session.update``); ``ControllerSettings``
is how convctl itself behaves (duplex, tool timeout, bounded waits). ``settings_from_mapping``
reads both from the flat mapping used by ``--config`` files and scenario ``config:`` blocks,
and rejects bad input with a message that says what to fix. No I/O here.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from controller.errors import ConfigError

TurnMode = Literal["server_vad", "semantic_vad", "none"]
Duplex = Literal["full", "half"]

FINISH_TOOL_NAME = "end_conversation"

# How much audio a microphone device delivers per read (see ControllerSettings).
MIC_BLOCK_MS = 100

DEFAULT_INSTRUCTIONS = (
    "You are a helpful voice assistant. Keep answers short and spoken-friendly. "
    f"When the user says goodbye or wants to stop, say a short goodbye and call "
    f"{FINISH_TOOL_NAME}."
)


@dataclass(frozen=True, kw_only=True)
class TurnDetection:
    """How the end of the user's turn is found: by the server (``server_vad``,
    ``semantic_vad``) or by convctl itself (``none``: push-to-talk / local VAD)."""

    mode: TurnMode = "server_vad"
    threshold: float | None = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None
    idle_timeout_ms: int | None = None
    eagerness: Literal["low", "medium", "high", "auto"] | None = None
    create_response: bool = True
    interrupt_response: bool = True

    @property
    def server_cancels_on_speech(self) -> bool:
        """Whether the server cancels an active response by itself when speech starts."""
        return self.mode != "none" and self.interrupt_response


@dataclass(frozen=True, kw_only=True)
class Transcription:
    """Input audio transcription (on Azure ``model`` is a transcription deployment name)."""

    model: str = "gpt-4o-mini-transcribe"
    language: str | None = None
    prompt: str | None = None


@dataclass(frozen=True, kw_only=True)
class ToolSpec:
    """A function the model may call, as it is declared to the model."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}})


FINISH_TOOL = ToolSpec(
    name=FINISH_TOOL_NAME,
    description=(
        "End the conversation. Call this when the user says goodbye, thanks you and is "
        "done, or asks to stop. Say a short goodbye first; the call hangs up after it plays."
    ),
    parameters={"type": "object", "properties": {}},
)


@dataclass(frozen=True, kw_only=True)
class SessionSettings:
    """Everything ``session.update`` carries, in one dialect-neutral shape."""

    instructions: str = DEFAULT_INSTRUCTIONS
    voice: str | None = None
    output_modality: Literal["audio", "text"] = "audio"
    audio_format: Literal["pcm16", "g711_ulaw", "g711_alaw"] = "pcm16"
    turn_detection: TurnDetection = field(default_factory=TurnDetection)
    transcription: Transcription | None = field(default_factory=Transcription)
    noise_reduction: Literal["near_field", "far_field"] | None = None
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str | Mapping[str, Any] = "auto"
    max_output_tokens: int | Literal["inf"] | None = None

    def with_tools(self, tools: tuple[ToolSpec, ...]) -> SessionSettings:
        return replace(self, tools=tools)


@dataclass(frozen=True, kw_only=True)
class ControllerSettings:
    """How convctl behaves around the model."""

    duplex: Duplex = "full"
    tool_timeout: float = 10.0
    # The finish tool lets the goodbye that is already streaming finish, but not forever.
    goodbye_timeout: float = 8.0
    # A user line waits this long for its transcription before later lines are printed.
    transcript_wait: float = 3.0
    connect_timeout: float = 15.0
    # Push-to-talk: the local turn detector ends a turn after this much silence.
    ptt_silence_ms: int = 600
    # A microphone device is read (and its audio sent) this much at a time: larger blocks
    # cost less CPU, smaller ones let the server hear speech sooner. WAV input is always
    # sent in 20 ms frames.
    mic_block_ms: int = MIC_BLOCK_MS
    # When the input (a WAV file) has run out, hang up once the conversation has been
    # settled in Listening this long (time for the server to hear the last turn's end).
    input_done_grace: float = 2.0
    # Reconnect after an unexpected close: attempts, first backoff and its ceiling (s).
    reconnect_attempts: int = 5
    reconnect_backoff: float = 0.5
    reconnect_ceiling: float = 10.0
    # Recycle the session this long before it expires, between turns.
    recycle_margin: float = 300.0
    # While a response is due (active, or asked for), this long without a word from the
    # server means the connection is dead even if the socket is open: reconnect.
    server_silence_timeout: float = 20.0
    # Check the controller's promises after every event (always on in replay and tests).
    check_invariants: bool = False


# --- Reading the flat config mapping ----------------------------------------------------

SESSION_KEYS = {
    "instructions", "voice", "output_modality", "audio_format", "turn_detection",
    "transcription", "noise_reduction", "tool_choice", "max_output_tokens",
}
CONTROLLER_KEYS = {"duplex", "tool_timeout", "goodbye_timeout", "transcript_wait",
                   "connect_timeout", "ptt_silence_ms", "mic_block_ms", "input_done_grace",
                   "reconnect_attempts", "reconnect_backoff", "reconnect_ceiling",
                   "recycle_margin", "server_silence_timeout"}
TURN_KEYS = {"type", "threshold", "prefix_padding_ms", "silence_duration_ms",
             "idle_timeout_ms", "eagerness", "create_response", "interrupt_response"}


def unknown_key_message(key: str, known: set[str], where: str) -> str:
    """``unknown key 'voise' in config; did you mean 'voice'?``"""
    close = difflib.get_close_matches(key, sorted(known), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(sorted(known))}"
    return f"unknown key '{key}' in {where}{hint}"


def _expect(value: Any, types: type | tuple[type, ...], key: str, what: str) -> Any:
    # bool is an int in Python; a YAML `true` where a number is expected is a mistake.
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise ConfigError(f"'{key}' must be {what}, got {value!r}")
    if not isinstance(value, types):
        raise ConfigError(f"'{key}' must be {what}, got {value!r}")
    return value


def _choice(value: Any, choices: tuple[str, ...], key: str) -> Any:
    if value not in choices:
        raise ConfigError(f"'{key}' must be one of {', '.join(choices)}; got {value!r}")
    return value


def _turn_detection(value: Any) -> TurnDetection:
    if value is None:
        return TurnDetection(mode="none")
    if isinstance(value, str):
        return TurnDetection(mode=_choice(value, ("server_vad", "semantic_vad", "none"),
                                          "turn_detection"))
    if not isinstance(value, Mapping):
        raise ConfigError("'turn_detection' must be server_vad, semantic_vad, none, or a "
                          f"mapping with a 'type'; got {value!r}")
    for key in value:
        if key not in TURN_KEYS:
            raise ConfigError(unknown_key_message(str(key), TURN_KEYS, "turn_detection"))
    mode = _choice(value.get("type", "server_vad"), ("server_vad", "semantic_vad", "none"),
                   "turn_detection.type")
    num = (int, float)
    kwargs: dict[str, Any] = {"mode": mode}
    for key, types, what in (
        ("threshold", num, "a number from 0 to 1"),
        ("prefix_padding_ms", int, "whole milliseconds"),
        ("silence_duration_ms", int, "whole milliseconds"),
        ("idle_timeout_ms", int, "whole milliseconds"),
        ("create_response", bool, "true or false"),
        ("interrupt_response", bool, "true or false"),
    ):
        if value.get(key) is not None:
            kwargs[key] = _expect(value[key], types, f"turn_detection.{key}", what)
    if value.get("eagerness") is not None:
        kwargs["eagerness"] = _choice(value["eagerness"], ("low", "medium", "high", "auto"),
                                      "turn_detection.eagerness")
    return TurnDetection(**kwargs)


def _transcription(value: Any) -> Transcription | None:
    if value is None or value is False:
        return None
    if isinstance(value, str):
        return Transcription(model=value)
    if not isinstance(value, Mapping):
        raise ConfigError("'transcription' must be a model name, a mapping with 'model', "
                          f"or null; got {value!r}")
    known = {"model", "language", "prompt"}
    for key in value:
        if key not in known:
            raise ConfigError(unknown_key_message(str(key), known, "transcription"))
    return Transcription(
        model=_expect(value.get("model", Transcription.model), str, "transcription.model",
                      "a string"),
        language=value.get("language"), prompt=value.get("prompt"))


def settings_from_mapping(
    config: Mapping[str, Any], *, extra_keys: set[str] = frozenset(),  # type: ignore[assignment]
    base: tuple[SessionSettings, ControllerSettings] | None = None,
) -> tuple[SessionSettings, ControllerSettings]:
    """Read session and controller settings from a flat mapping.

    ``extra_keys`` are keys another layer owns (the run options of a ``--config`` file);
    they are accepted and ignored here. Anything else unknown is an error that suggests
    the closest known key.
    """
    if not isinstance(config, Mapping):
        raise ConfigError(f"config must be a mapping of keys to values, got {config!r}")
    known = SESSION_KEYS | CONTROLLER_KEYS | set(extra_keys)
    for key in config:
        if key not in known:
            raise ConfigError(unknown_key_message(str(key), known, "config"))
    session, controller = base or (SessionSettings(), ControllerSettings())
    s: dict[str, Any] = {}
    if "instructions" in config:
        s["instructions"] = _expect(config["instructions"], str, "instructions", "text")
    if "voice" in config:
        s["voice"] = _expect(config["voice"], str, "voice", "a voice name such as marin")
    if "output_modality" in config:
        s["output_modality"] = _choice(config["output_modality"], ("audio", "text"),
                                       "output_modality")
    if "audio_format" in config:
        s["audio_format"] = _choice(config["audio_format"], ("pcm16", "g711_ulaw", "g711_alaw"),
                                    "audio_format")
    if "turn_detection" in config:
        s["turn_detection"] = _turn_detection(config["turn_detection"])
    if "transcription" in config:
        s["transcription"] = _transcription(config["transcription"])
    if "noise_reduction" in config:
        nr = config["noise_reduction"]
        s["noise_reduction"] = None if nr is None else _choice(
            nr, ("near_field", "far_field"), "noise_reduction")
    if "tool_choice" in config:
        s["tool_choice"] = _expect(config["tool_choice"], (str, Mapping), "tool_choice",
                                   "auto, none, required or {type: function, name: ...}")
    if "max_output_tokens" in config:
        mot = config["max_output_tokens"]
        if mot != "inf":
            _expect(mot, int, "max_output_tokens", "a whole number or inf")
        s["max_output_tokens"] = mot
    c: dict[str, Any] = {}
    if "duplex" in config:
        c["duplex"] = _choice(config["duplex"], ("full", "half"), "duplex")
    for key in ("tool_timeout", "goodbye_timeout", "transcript_wait", "connect_timeout",
                "input_done_grace", "reconnect_backoff", "reconnect_ceiling",
                "recycle_margin", "server_silence_timeout"):
        if key in config:
            seconds = _expect(config[key], (int, float), key, "seconds (a number)")
            if seconds <= 0:
                raise ConfigError(f"'{key}' must be more than 0 seconds, got {seconds}")
            c[key] = float(seconds)
    if "reconnect_attempts" in config:
        attempts = _expect(config["reconnect_attempts"], int, "reconnect_attempts",
                           "a whole number (0 turns reconnecting off)")
        if attempts < 0:
            raise ConfigError(f"'reconnect_attempts' must be 0 or more, got {attempts}")
        c["reconnect_attempts"] = attempts
    if "ptt_silence_ms" in config:
        c["ptt_silence_ms"] = _expect(config["ptt_silence_ms"], int, "ptt_silence_ms",
                                      "whole milliseconds")
    if "mic_block_ms" in config:
        block = _expect(config["mic_block_ms"], int, "mic_block_ms", "whole milliseconds")
        if not 20 <= block <= 1000 or block % 20:
            raise ConfigError(f"'mic_block_ms' must be a multiple of 20 from 20 to 1000 "
                              f"(the microphone is read in 20 ms frames), got {block}")
        c["mic_block_ms"] = block
    return replace(session, **s), replace(controller, **c)
