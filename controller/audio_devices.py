"""The microphone and speaker ports on real sound devices (PortAudio blocking I/O).

Each port owns one PortAudio stream and one thread, and the device's own clock paces
everything:
- the microphone thread reads blocks of ``block_ms`` (the ``mic_block_ms`` setting;
  100 ms by default, five 20 ms frames: NAudio's default capture buffer) and hands each
  block to the sink, which sends it as one append. Every wake-up of a PortAudio stream
  costs CPU in the sound server's client library: reading 100 ms at a time instead of
  20 ms more than halves the microphone's cost (benchmarks/bench_live.py). The price is
  up to 80 ms more before the server hears the start or end of speech, small beside its
  voice activity detection (a 500 ms silence ends a turn).
- the speaker thread sleeps until the device has room for a block (``SPEAKER_BLOCK_MS``,
  60 ms), then takes up to a block of queued audio and writes it (the write does not
  block), counting what it wrote per item. While there is nothing to play it rests (no
  writes, no wake-ups); queued audio wakes it at once, so a response's first audio
  reaches the device within about a millisecond.

Trouble is counted, never silent:
- input overflow: PortAudio reports it on a read (PyAudio then closes the stream), so the
  lost block becomes silence, the stream is reopened, and ``overflows`` counts it;
- output underrun: before each write the device buffer is checked; a completely empty
  buffer while audio is playing means the device starved, and ``underruns`` counts it
  (a device that ran dry because the speaker rested or dropped its audio is not starved).

``clear()`` makes the speaker silent at once: nothing more is taken from the queue, and
the speaker thread, woken by the clear, drops what the device still holds (up to three
blocks) - about a millisecond on PulseAudio. ``played_bytes`` then counts what was
heard: the device's unplayed part is taken back when ``clear`` returns, estimated from
how full the device was when last asked, what was written since, and the time since
(within a few ms on the virtual devices). A clear just before ``close`` (Ctrl-C, an
error) drops the buffer too; otherwise ``close`` lets the device play out the end of
the goodbye. What a sound server holds beyond PortAudio's buffer (a Bluetooth sink's
latency, say) is neither seen nor dropped by PortAudio: it still plays after the clear,
and counts as heard.

No conversation logic here, and no reads or writes outside the ports' own threads.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from controller.audio_capture import CaptureLoop
from controller.audio_convert import PERIOD_FRAMES, PERIOD_MS, SAMPLE_RATE
from controller.audio_playback import DEFAULT_CAPACITY_MS, Period, PlaybackLoop
from controller.audio_portaudio import DeviceInfo, PortAudio
from controller.ports import FrameSink, Inbox
from controller.settings import MIC_BLOCK_MS

# The speaker hands the device 60 ms at a time (its PortAudio buffer holds three blocks).
# Every block costs a wake-up of the speaker thread and of the sound server's client
# thread: 60 ms blocks cost ~0.4 % of a core while playing, 20 ms periods ~1 %
# (benchmarks/bench_live.py). A clear drops the device's buffer, so the block size does
# not delay barge-in; writes are never padded, so it does not delay audio either.
SPEAKER_BLOCK_MS = 60


def _portaudio_error_code(exc: OSError) -> int | None:
    """PyAudio raises OSError(code, text); the code is the PortAudio PaErrorCode."""
    return next((arg for arg in exc.args if isinstance(arg, int)), None)


class DeviceMicrophone(CaptureLoop):
    """Microphone port on a PortAudio input device (default device when no index),
    delivering ``block_ms`` of audio (a whole number of 20 ms frames) per read."""

    def __init__(self, sink: FrameSink, *, device_index: int | None = None,
                 inbox: Inbox | None = None, block_ms: int = MIC_BLOCK_MS) -> None:
        if block_ms <= 0 or block_ms % PERIOD_MS:
            raise ValueError(f"block_ms must be a positive multiple of {PERIOD_MS}, "
                             f"got {block_ms}")
        super().__init__(sink, name="microphone", inbox=inbox)
        self._block_frames = PERIOD_FRAMES * block_ms // PERIOD_MS
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
        self._stream = self._portaudio.open_input(self.device, self._block_frames)

    def _capture_frame(self, stop: threading.Event) -> bytes | None:
        try:
            return bytes(self._stream.read(self._block_frames, exception_on_overflow=True))
        except OSError as exc:
            if _portaudio_error_code(exc) != self._pyaudio.paInputOverflowed:
                raise
        self._note_overflow()
        assert self._portaudio is not None
        self._stream = self._portaudio.open_input(self.device, self._block_frames)
        return bytes(2 * self._block_frames)

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
    """Speaker port on a PortAudio output device; rests until there is audio to play,
    writes it in blocks of ``block_ms``, and drops what the device holds on ``clear``."""

    rests_when_idle = True
    drops_on_clear = True

    def __init__(self, inbox: Inbox, *, device_index: int | None = None,
                 capacity_ms: int = DEFAULT_CAPACITY_MS,
                 block_ms: int = SPEAKER_BLOCK_MS) -> None:
        if block_ms <= 0 or block_ms % PERIOD_MS:
            raise ValueError(f"block_ms must be a positive multiple of {PERIOD_MS}, "
                             f"got {block_ms}")
        super().__init__(inbox, name="speaker", capacity_ms=capacity_ms)
        self._block_frames = PERIOD_FRAMES * block_ms // PERIOD_MS
        self._portaudio = PortAudio()
        try:
            self.device: DeviceInfo = self._portaudio.output_device(device_index)
            self._stream = self._portaudio.open_output(self.device, self._block_frames)
        except BaseException:
            self._portaudio.terminate()
            raise
        # Free space equal to the whole buffer means the device has nothing left to play.
        # A device whose buffer is smaller than a block is written a buffer at a time.
        self._device_buffer_frames = max(PERIOD_FRAMES, self._stream.get_write_available())
        self._block_frames = min(self._block_frames, self._device_buffer_frames)
        self._free_frames = self._device_buffer_frames  # room known, as of _free_at
        self._free_at = time.monotonic()
        self._start_thread()

    def _wait_for_room(self) -> bool:
        """Sleep until the device has room for a block, so the block is chosen at the
        last moment: a ``clear`` while waiting leaves nothing of the old audio to hand
        over, and wakes this wait to drop what the device holds. The device is asked
        only when the room known so far is too small (after a write it has at least the
        room it had minus that block) or when the speaker has rested."""
        if self._resumed:
            self._ask_for_room()
        while not self._stop.is_set():
            self._drop_if_asked()
            if self._free_frames >= self._block_frames:
                return True
            self._buffer.wait_for_attention(
                self._stop, (self._block_frames - self._free_frames) / SAMPLE_RATE)
            self._ask_for_room()
        return False

    def _ask_for_room(self) -> None:
        self._free_frames = self._stream.get_write_available()
        self._free_at = time.monotonic()

    def _take_period(self) -> Period:
        # Only the audio there is: a block is not padded with silence, so audio queued a
        # moment later is not held back behind it.
        return self._buffer.take_period(2 * self._block_frames, pad=False)

    def _write_period(self, period: Period) -> None:
        if self._free_frames >= self._device_buffer_frames:
            self._note_underrun(period)
        frames = len(period.pcm) // 2
        self._stream.write(period.pcm, frames, exception_on_underflow=False)
        self._free_frames -= frames  # at least this much room is left

    def _device_fill(self) -> tuple[int, float]:
        # As of the last time the device was asked: what it held then plus what was
        # written since (it plays on meanwhile, which the clock accounts for).
        return 2 * (self._device_buffer_frames - self._free_frames), self._free_at

    def _drop_device_audio(self) -> None:
        self._stream = self._portaudio.drop_output(self._stream, self.device,
                                                   self._block_frames)
        self._free_frames = self._device_buffer_frames
        self._free_at = time.monotonic()

    def _close_output(self) -> None:
        try:
            # A clear just before the close (Ctrl-C, an error) wanted the buffer dropped:
            # closing does that. Otherwise the end of the goodbye is still playing.
            if not self._buffer.take_drop_request():
                self._let_the_device_finish()
            # Closing a running stream discards its buffer, which is empty by now (a
            # drain after the device ran dry could replay stale samples on PulseAudio).
            with contextlib.suppress(OSError):
                self._stream.close()
        finally:
            self._portaudio.terminate()

    def _let_the_device_finish(self, limit: float = 0.5) -> None:
        """What was handed to the device is still in its buffer (up to three blocks) and
        closing the stream would drop it - the end of the goodbye. Wait (bounded) until
        it has played."""
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
