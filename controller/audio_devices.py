"""The microphone and speaker ports on real sound devices (PortAudio blocking I/O).

Each port owns one PortAudio stream and one thread that blocks on it, so the device's
own clock paces everything: the microphone thread reads 20 ms frames and hands them to
the sink; the speaker thread writes 20 ms periods (silence when idle, so the stream
never stops) and counts what it wrote per item.

Trouble is counted, never silent:
- input overflow: PortAudio reports it on a read (PyAudio then closes the stream), so the
  lost frame becomes 20 ms of silence, the stream is reopened, and ``overflows`` counts it;
- output underrun: before each write the device buffer is checked; a completely empty
  buffer while audio is playing means the device starved, and ``underruns`` counts it.

``clear()`` stops handing audio to the device within one period; what the device has
already buffered (its output latency, 40 ms on PulseAudio) still plays, and
``played_bytes`` includes it, since it was written.

No conversation logic here, and no reads or writes outside the ports' own threads.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from controller.audio_capture import CaptureLoop
from controller.audio_convert import PERIOD_FRAMES, SILENT_PERIOD
from controller.audio_playback import DEFAULT_CAPACITY_MS, Period, PlaybackLoop
from controller.audio_portaudio import DeviceInfo, PortAudio
from controller.ports import FrameSink, Inbox


def _portaudio_error_code(exc: OSError) -> int | None:
    """PyAudio raises OSError(code, text); the code is the PortAudio PaErrorCode."""
    return next((arg for arg in exc.args if isinstance(arg, int)), None)


class DeviceMicrophone(CaptureLoop):
    """Microphone port on a PortAudio input device (default device when no index)."""

    def __init__(self, sink: FrameSink, *, device_index: int | None = None,
                 inbox: Inbox | None = None) -> None:
        super().__init__(sink, name="microphone", inbox=inbox)
        self._portaudio: PortAudio | None = PortAudio()
        try:
            self.device: DeviceInfo = self._portaudio.input_device(device_index)
        except BaseException:
            self._release_portaudio()
            raise
        self._stream: Any = None

    def close(self) -> None:
        super().close()
        if not self.is_running():
            self._release_portaudio()

    def _start_source(self) -> None:
        if self._portaudio is None:
            self._portaudio = PortAudio()
        self._stream = self._portaudio.open_input(self.device)

    def _capture_frame(self, stop: threading.Event) -> bytes | None:
        try:
            return bytes(self._stream.read(PERIOD_FRAMES, exception_on_overflow=True))
        except OSError as exc:
            if _portaudio_error_code(exc) != self._pyaudio.paInputOverflowed:
                raise
        self._note_overflow()
        assert self._portaudio is not None
        self._stream = self._portaudio.open_input(self.device)
        return SILENT_PERIOD

    def _stop_source(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            _close_stream(stream)

    @property
    def _pyaudio(self) -> Any:
        assert self._portaudio is not None
        return self._portaudio.pyaudio

    def _release_portaudio(self) -> None:
        portaudio, self._portaudio = self._portaudio, None
        if portaudio is not None:
            portaudio.terminate()


class DeviceSpeaker(PlaybackLoop):
    """Speaker port on a PortAudio output device; starts playing silence at once."""

    def __init__(self, inbox: Inbox, *, device_index: int | None = None,
                 capacity_ms: int = DEFAULT_CAPACITY_MS) -> None:
        super().__init__(inbox, name="speaker", capacity_ms=capacity_ms)
        self._portaudio = PortAudio()
        try:
            self.device: DeviceInfo = self._portaudio.output_device(device_index)
            self._stream = self._portaudio.open_output(self.device)
        except BaseException:
            self._portaudio.terminate()
            raise
        # Free space equal to the whole buffer means the device has nothing left to play.
        self._device_buffer_frames = max(PERIOD_FRAMES, self._stream.get_write_available())
        self._start_thread()

    def _write_period(self, period: Period) -> None:
        if self._stream.get_write_available() >= self._device_buffer_frames:
            self._note_underrun(period)
        self._stream.write(period.pcm, PERIOD_FRAMES, exception_on_underflow=False)

    def _close_output(self) -> None:
        try:
            self._let_the_device_finish()
            _close_stream(self._stream)
        finally:
            self._portaudio.terminate()

    def _let_the_device_finish(self, limit: float = 0.3) -> None:
        """What was handed to the device is still in its buffer (~40 ms) and stopping the
        stream would drop it - the end of the goodbye. Wait (bounded) until it has played."""
        deadline = time.monotonic() + limit
        with contextlib.suppress(OSError):
            while (self._stream.get_write_available() < self._device_buffer_frames
                   and time.monotonic() < deadline):
                time.sleep(0.005)


def _close_stream(stream: Any) -> None:
    """Stop (letting buffered audio play out) and close; a stream PyAudio already closed
    after an error raises here, which is fine."""
    with contextlib.suppress(OSError):
        stream.stop_stream()
    with contextlib.suppress(OSError):
        stream.close()
