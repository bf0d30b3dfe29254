"""The microphone's way to the server: frames become ``input_audio_buffer.append`` events.

Called from the microphone's own thread for every captured frame (it is the microphone's
``FrameSink``), so it must be cheap and never block for long: build the event, record it,
send it, count it. With push-to-talk it also runs the local turn detector and posts what it
hears to the inbox. Audio is not routed through the controller thread: the machine only
decides whether the microphone is open, gated or closed.
"""

from __future__ import annotations

import threading

from controller.ports import Clock, Inbox, Recorder, Transport
from controller.protocol import ClientEvents
from controller.session import BYTES_PER_MS
from controller.turn_detector import LocalTurnDetector


class Uplink:
    """Sends microphone frames and keeps count of what was sent since the last commit."""

    def __init__(self, *, codec: ClientEvents, transport: Transport, recorder: Recorder,
                 clock: Clock, inbox: Inbox, detector: LocalTurnDetector | None) -> None:
        self._codec = codec
        self._transport = transport
        self._recorder = recorder
        self._clock = clock
        self._inbox = inbox
        self._detector = detector
        self._lock = threading.Lock()
        self._appended_bytes = 0
        self._since_commit_bytes = 0

    def __call__(self, pcm: bytes) -> None:
        event = self._codec.input_audio_append(pcm)
        self._recorder.client(self._clock.now(), event)
        self._transport.send(event)
        with self._lock:
            self._appended_bytes += len(pcm)
            self._since_commit_bytes += len(pcm)
        if self._detector is not None:
            for signal in self._detector.feed(pcm):
                self._inbox.post(signal)

    @property
    def appended_ms(self) -> int:
        with self._lock:
            return self._appended_bytes // BYTES_PER_MS

    def buffered_ms(self) -> int:
        """Audio appended since the last commit (what a commit would send)."""
        with self._lock:
            return self._since_commit_bytes // BYTES_PER_MS

    def committed(self) -> None:
        with self._lock:
            self._since_commit_bytes = 0
