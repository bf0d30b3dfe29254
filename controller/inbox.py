"""What can arrive in the controller's inbox besides parsed server events.

Every I/O thread reports through the one inbox; the controller thread feeds each item to
the machine, one at a time. These are plain data: no behaviour and no I/O here.
"""

from __future__ import annotations

from controller.events import ServerEvent
from controller.records import record


@record
class TransportClosed:
    """The websocket ended: closed by the server (``code``) or broken (``code`` None)."""

    code: int | None = None
    reason: str = ""


@record
class TransportFailed:
    """The websocket could not be opened at all."""

    reason: str


@record
class PlaybackDrained:
    """The speaker has played everything it was given."""


@record
class ToolFinished:
    """A tool has an answer for ``call_id`` (``output`` is what the model will read)."""

    call_id: str
    output: str
    ok: bool = True


@record
class LocalSpeechStarted:
    """Push-to-talk: the local turn detector heard the user start speaking."""


@record
class LocalTurnEnded:
    """Push-to-talk: the user's turn ended (silence after speech, key release)."""


@record
class InputExhausted:
    """The WAV file feeding the microphone has no more audio."""


@record
class TimerFired:
    """A timer set through the clock port is due."""

    name: str


@record
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
