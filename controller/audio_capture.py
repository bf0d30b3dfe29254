"""The microphone's thread and its three positions: open, gated, closed.

``CaptureLoop`` is shared by every microphone (sound device or WAV file). It owns the
capture thread and the open/gate/close rules of the Microphone port; a subclass only says
how the source starts, how one block of audio is captured (a whole number of 20 ms
frames: one for a WAV file, five for a sound device), and how the source stops.

- ``open()``: the source runs and every frame goes to the sink (called from this thread;
  the sink must not block).
- ``gate()``: the source keeps running (a device keeps its clock, a file keeps its pace)
  but frames are dropped and counted. A frame already being handed to the sink when
  ``gate()`` is called still arrives: gating takes no lock the sink could hold up (the
  sink sends on the network), so the controller thread never waits for it.
- ``close()``: the thread stops and the source is released, within a deadline. ``open()``
  or ``gate()`` afterwards starts it again.

Nothing here blocks the caller beyond starting or joining the thread; trouble in the
thread is counted, logged and, when an inbox was given, posted as ``StopRequested``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from controller.audio_convert import PERIOD_BYTES
from controller.inbox import StopRequested
from controller.ports import FrameSink, Inbox

log = logging.getLogger("convctl.audio")

CLOSE_DEADLINE_SECONDS = 2.0


@dataclass(frozen=True, slots=True, kw_only=True)
class MicrophoneStats:
    """Counters of one microphone, in 20 ms frames; ``overflows`` (reads that lost
    audio) means audio was lost."""

    frames_delivered: int = 0
    frames_gated: int = 0
    overflows: int = 0
    error: str | None = None


class CaptureLoop:
    """A microphone: one thread capturing blocks of 20 ms frames and handing each block
    to the sink."""

    def __init__(self, sink: FrameSink, *, name: str, inbox: Inbox | None = None) -> None:
        self._sink = sink
        self._name = name
        self._inbox = inbox
        self._delivering = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()
        self._frames_delivered = 0
        self._frames_gated = 0
        self._overflows = 0
        self._error: str | None = None

    # --- Microphone port ---

    def open(self) -> None:
        """Deliver frames to the sink from now on (starting the source if needed)."""
        self._delivering.set()
        self._ensure_running()

    def gate(self) -> None:
        """Keep the source running but drop what it hears (half duplex)."""
        self._delivering.clear()
        self._ensure_running()

    def close(self) -> None:
        """Stop delivering, stop the thread and release the source."""
        self._delivering.clear()
        with self._lifecycle:
            thread, self._thread = self._thread, None
            if thread is None:
                return
            self._stop.set()
            if thread is threading.current_thread():
                return  # closed from the sink: the loop ends after this frame
            thread.join(CLOSE_DEADLINE_SECONDS)
        if thread.is_alive():
            log.warning("%s did not stop within %.1f s", self._name, CLOSE_DEADLINE_SECONDS)

    def is_running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def stats(self) -> MicrophoneStats:
        return MicrophoneStats(frames_delivered=self._frames_delivered,
                               frames_gated=self._frames_gated,
                               overflows=self._overflows, error=self._error)

    def __enter__(self) -> CaptureLoop:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- For subclasses ---

    def _start_source(self) -> None:
        """Open the device or file position; raise AudioError (in the caller's thread)."""
        raise NotImplementedError

    def _capture_frame(self, stop: threading.Event) -> bytes | None:
        """Block until the next block of audio is due and return it; None once ``stop``
        is set."""
        raise NotImplementedError

    def _stop_source(self) -> None:
        raise NotImplementedError

    def _note_overflow(self) -> None:
        """The source lost audio because this thread fell behind."""
        self._overflows += 1
        if self._overflows & (self._overflows - 1) == 0:
            log.warning("%s overflow: audio was lost (%d so far)", self._name,
                        self._overflows)

    # --- The capture thread ---

    def _ensure_running(self) -> None:
        with self._lifecycle:
            if self._thread is not None:
                return
            self._start_source()
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, args=(self._stop,),
                                            name=self._name, daemon=True)
            self._thread.start()

    def _run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                block = self._capture_frame(stop)
                if block is None:
                    break
                self._deliver(block)
        except Exception as exc:  # the thread's safety net: report, never die silently
            self._fail(exc)
        finally:
            try:
                self._stop_source()
            except Exception as exc:
                log.warning("%s: closing the source failed: %s", self._name, exc)

    def _deliver(self, block: bytes) -> None:
        frames = max(1, len(block) // PERIOD_BYTES)
        if self._delivering.is_set():
            self._frames_delivered += frames
            self._sink(block)
        else:
            self._frames_gated += frames

    def _fail(self, exc: Exception) -> None:
        self._error = f"{type(exc).__name__}: {exc}"
        log.error("%s stopped: %s", self._name, self._error, exc_info=exc)
        if self._inbox is not None:
            self._inbox.post(StopRequested(reason=f"the microphone failed: {exc}"))
