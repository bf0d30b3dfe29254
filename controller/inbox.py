"""What can arrive in the controller's inbox besides parsed server events.

Every I/O thread reports through the one inbox; the controller thread feeds each item to
the machine, one at a time. These are plain data: no behaviour and no I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.events import ServerEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportClosed:
    """The websocket ended: closed by the server (``code``) or broken (``code`` None)."""

    code: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportFailed:
    """The websocket could not be opened at all."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackDrained:
    """The speaker has played everything it was given."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolFinished:
    """A tool has an answer for ``call_id`` (``output`` is what the model will read)."""

    call_id: str
    output: str
    ok: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalSpeechStarted:
    """Push-to-talk: the local turn detector heard the user start speaking."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalTurnEnded:
    """Push-to-talk: the user's turn ended (silence after speech, key release)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InputExhausted:
    """The WAV file feeding the microphone has no more audio."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerFired:
    """A timer set through the clock port is due."""

    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StopRequested:
    """Ctrl-C, SIGTERM or --max-duration: end the conversation now, cleanly."""

    reason: str
    interrupted: bool = False


InboxItem = (ServerEvent | TransportClosed | TransportFailed | PlaybackDrained | ToolFinished
             | LocalSpeechStarted | LocalTurnEnded | InputExhausted | TimerFired
             | StopRequested)


# Local happenings a log records, so that replaying it gives them back at the same time.
LOCAL_SIGNALS: dict[type, str] = {
    InputExhausted: "input_exhausted",
    LocalSpeechStarted: "local_speech_started",
    LocalTurnEnded: "local_turn_ended",
}
SIGNAL_ITEMS: dict[str, InboxItem] = {
    "input_exhausted": InputExhausted(),
    "local_speech_started": LocalSpeechStarted(),
    "local_turn_ended": LocalTurnEnded(),
}
