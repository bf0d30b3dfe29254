"""The microphone and speaker ports on WAV files, clocked like sound devices.

Both are the same ports as the devices (``CaptureLoop`` / ``PlaybackLoop``), so every
state behaves exactly as it does on a sound card:

- ``WavMicrophone`` converts the file to 24 kHz mono s16 up front, then its thread hands
  one 20 ms frame to the sink per 20 ms of real time. Deadlines are computed from the
  start time and the frame count, so pacing never drifts. When the file's audio is used
  up it posts ``InputExhausted`` (once) and goes on delivering digital silence, like a
  microphone in a quiet room, so server VAD can end the last turn.
- ``WavSpeaker`` consumes 20 ms of queued audio per 20 ms of real time and writes every
  period (silence when idle) to a 24 kHz mono s16 WAV, so the file is a faithful
  recording of the speaker's timeline and played-ms accounting is exact. The header is
  kept valid while writing and finalised on ``close()``.

Time comes from a ``Pacer`` (the monotonic clock by default); tests inject a manual one.
No conversation logic here.
"""

from __future__ import annotations

import threading
import time
import wave
from pathlib import Path
from typing import BinaryIO, Protocol

from controller.audio_capture import CaptureLoop
from controller.audio_convert import (
    CHANNELS,
    PERIOD_BYTES,
    PERIOD_MS,
    SAMPLE_RATE,
    SAMPLE_WIDTH,
    SILENT_PERIOD,
    read_wav,
)
from controller.audio_playback import DEFAULT_CAPACITY_MS, Period, PlaybackLoop
from controller.errors import AudioError
from controller.inbox import InputExhausted
from controller.ports import FrameSink, Inbox

# A sound card buffers a few periods; a file device further behind than this has starved.
LATE_LIMIT_SECONDS = 0.1


class Pacer(Protocol):
    """The clock a file device keeps time by."""

    def now(self) -> float:
        """Monotonic seconds."""
        ...

    def wait_until(self, deadline: float, stop: threading.Event) -> bool:
        """Block until ``now() >= deadline`` (True) or ``stop`` is set (False)."""
        ...


class RealTimePacer:
    """The monotonic clock; waits on the stop event so closing never waits a period."""

    def now(self) -> float:
        return time.monotonic()

    def wait_until(self, deadline: float, stop: threading.Event) -> bool:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            if stop.wait(remaining):
                return False


def _period_deadline(start: float, periods: int) -> float:
    """When ``periods`` whole periods have elapsed since ``start`` (integer ms: no drift)."""
    return start + periods * PERIOD_MS / 1000


class WavMicrophone(CaptureLoop):
    """Microphone port reading a WAV file (any rate, channels, sample format) in real time."""

    def __init__(self, path: str | Path, sink: FrameSink, inbox: Inbox, *,
                 pacer: Pacer | None = None) -> None:
        super().__init__(sink, name="wav-microphone", inbox=inbox)
        self.path = Path(path)
        self._pcm = read_wav(self.path)
        self._exhausted_inbox = inbox
        self._pacer = pacer or RealTimePacer()
        self._position = 0
        self._exhausted_posted = False
        self._started_at = 0.0
        self._frames_since_start = 0

    @property
    def duration_ms(self) -> int:
        """Length of the converted audio."""
        return len(self._pcm) * 1000 // (SAMPLE_RATE * SAMPLE_WIDTH)

    def _start_source(self) -> None:
        self._started_at = self._pacer.now()
        self._frames_since_start = 0

    def _capture_frame(self, stop: threading.Event) -> bytes | None:
        self._frames_since_start += 1
        deadline = _period_deadline(self._started_at, self._frames_since_start)
        if not self._pacer.wait_until(deadline, stop):
            return None
        if self._position >= len(self._pcm):
            return SILENT_PERIOD
        frame = self._pcm[self._position: self._position + PERIOD_BYTES]
        self._position += len(frame)
        return frame + bytes(PERIOD_BYTES - len(frame))

    def _deliver(self, frame: bytes) -> None:
        super()._deliver(frame)
        # Posted after the last frame went to the sink, so whoever reacts to it has all
        # of the file's audio already.
        if self._position >= len(self._pcm) and not self._exhausted_posted:
            self._exhausted_posted = True
            self._exhausted_inbox.post(InputExhausted())

    def _stop_source(self) -> None:
        pass  # the file stays in memory; the position is kept for the next open()


class WavSpeaker(PlaybackLoop):
    """Speaker port recording its timeline to a WAV file, clocked in real time."""

    def __init__(self, path: str | Path, inbox: Inbox, *, pacer: Pacer | None = None,
                 capacity_ms: int = DEFAULT_CAPACITY_MS) -> None:
        super().__init__(inbox, name="wav-speaker", capacity_ms=capacity_ms)
        self.path = Path(path)
        self._pacer = pacer or RealTimePacer()
        self._file, self._wav = _open_wav_for_writing(self.path)
        self._started_at = self._pacer.now()
        self._periods_written = 0
        self._stall_counted = False
        self._start_thread()

    def _write_period(self, period: Period) -> None:
        # The period plays during its 20 ms slot; it is on record once the slot is over.
        # On close the slot in hand is still written, so the file holds all played audio.
        deadline = _period_deadline(self._started_at, self._periods_written + 1)
        self._pacer.wait_until(deadline, self._stop)
        # A stall makes every period behind it late: count the stall once.
        if self._pacer.now() - deadline <= LATE_LIMIT_SECONDS:
            self._stall_counted = False
        elif not self._stall_counted:
            self._stall_counted = self._note_underrun(period)
        self._wav.writeframes(period.pcm)
        self._periods_written += 1

    def _close_output(self) -> None:
        try:
            self._wav.close()  # writes the final header
        finally:
            self._file.close()


def _open_wav_for_writing(path: Path) -> tuple[BinaryIO, wave.Wave_write]:
    """The file and its WAV writer (the header is patched after every write)."""
    try:
        file = path.open("wb")
    except OSError as exc:
        raise AudioError(f"cannot write the output WAV file {path}: "
                         f"{exc.strerror or exc}") from exc
    wav = wave.open(file, "wb")  # noqa: SIM115 - the speaker thread owns and closes it
    wav.setnchannels(CHANNELS)
    wav.setsampwidth(SAMPLE_WIDTH)
    wav.setframerate(SAMPLE_RATE)
    return file, wav
