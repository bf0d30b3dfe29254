"""Local end-of-turn detection for push-to-talk (``turn_detection: none``).

When the server does not detect turns, convctl must: a small energy detector hears the
user start (speech above a level for a few frames) and end (silence for
``silence_ms`` after speech). Sans-I/O: pcm frames in, signals out.
"""

from __future__ import annotations

from controller.inbox import LocalSpeechStarted, LocalTurnEnded

SPEECH_RMS = 400.0  # about -38 dBFS: well above a quiet room, well below speech
ONSET_MS = 60


class LocalTurnDetector:
    """Hears where the user's turn starts and ends in a stream of pcm16 frames."""

    def __init__(self, *, silence_ms: int = 600, speech_rms: float = SPEECH_RMS) -> None:
        self.silence_ms = silence_ms
        self.speech_rms = speech_rms
        self.speaking = False
        self._loud_ms = 0
        self._quiet_ms = 0

    def feed(self, pcm: bytes) -> list[LocalSpeechStarted | LocalTurnEnded]:
        import numpy as np  # here, not at the top: most conversations never load it
        samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2")
        if samples.size == 0:
            return []
        frame_ms = samples.size // 24
        rms = float(np.sqrt(np.mean(samples.astype(np.float32) ** 2)))
        if rms >= self.speech_rms:
            self._loud_ms += frame_ms
            self._quiet_ms = 0
            if not self.speaking and self._loud_ms >= ONSET_MS:
                self.speaking = True
                return [LocalSpeechStarted()]
            return []
        self._loud_ms = 0
        if not self.speaking:
            return []
        self._quiet_ms += frame_ms
        if self._quiet_ms >= self.silence_ms:
            self.speaking = False
            self._quiet_ms = 0
            return [LocalTurnEnded()]
        return []
