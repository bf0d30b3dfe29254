"""Speech out: the assistant's words as 24 kHz mono pcm16, spoken by espeak-ng.

Owns ``synthesize``: it maps a realtime voice name (``marin``, ``alloy`` ...) to an
espeak-ng voice variant, runs espeak-ng, resamples its 22.05 kHz output to the realtime
rate, and estimates when each word ends so transcripts can be streamed alongside the audio
and trimmed on truncation. Results are cached: replies repeat. It never streams or sends.
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
import wave
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from controller.errors import AudioError
from controller.local_server.wire import SAMPLE_RATE

_WORDS_PER_MINUTE = 175
# Every realtime voice gets a distinct espeak-ng voice, so two voices sound different.
_ESPEAK_VOICES = {
    "alloy": "en-us", "ash": "en-us+m3", "ballad": "en-gb+m2", "coral": "en-us+f3",
    "echo": "en-us+m1", "sage": "en-us+f2", "shimmer": "en-us+f4", "verse": "en-gb",
    "marin": "en-us+f3", "cedar": "en-us+m3",
}


@dataclass(frozen=True)
class Speech:
    """Synthesized speech: pcm16 audio and (word, end millisecond) for each word."""

    audio: bytes
    word_ends_ms: tuple[tuple[str, int], ...]

    @property
    def duration_ms(self) -> int:
        return len(self.audio) // 2 * 1000 // SAMPLE_RATE


def espeak_voice(voice: str | Mapping[str, Any]) -> str:
    """The espeak-ng voice for a realtime voice; custom voices get the default one."""
    return _ESPEAK_VOICES.get(voice, "en-us") if isinstance(voice, str) else "en-us"


def synthesize(text: str, voice: str | Mapping[str, Any], speed: float = 1.0) -> Speech:
    """``text`` spoken in ``voice``; ``AudioError`` if espeak-ng is missing or fails."""
    return _synthesize(" ".join(text.split()), espeak_voice(voice), round(speed, 2))


@functools.lru_cache(maxsize=64)
def _synthesize(text: str, espeak: str, speed: float) -> Speech:
    if not text:
        return Speech(audio=b"", word_ends_ms=())
    program = shutil.which("espeak-ng")
    if program is None:
        raise AudioError("espeak-ng is not installed, so the local server cannot speak; "
                         "install it (apt-get install espeak-ng) or ask for text output")
    rate = str(max(80, round(_WORDS_PER_MINUTE * speed)))
    result = subprocess.run([program, "-v", espeak, "-s", rate, "--stdout", text],
                            capture_output=True, timeout=30, check=False)
    if result.returncode != 0 or not result.stdout:
        raise AudioError(f"espeak-ng failed ({result.returncode}): "
                         f"{result.stderr.decode(errors='replace').strip()}")
    audio = _to_realtime_rate(result.stdout)
    return Speech(audio=audio, word_ends_ms=_word_ends(text, len(audio) // 2 * 1000
                                                       // SAMPLE_RATE))


def _to_realtime_rate(wav_bytes: bytes) -> bytes:
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    if rate == SAMPLE_RATE:
        return samples.tobytes()
    count = len(samples) * SAMPLE_RATE // rate
    positions = np.arange(count) * (rate / SAMPLE_RATE)
    resampled = np.interp(positions, np.arange(len(samples)), samples.astype(np.float64))
    return np.clip(np.round(resampled), -32768, 32767).astype(np.int16).tobytes()


def _word_ends(text: str, duration_ms: int) -> tuple[tuple[str, int], ...]:
    """Where each word ends, assuming speech time proportional to characters spoken."""
    words = text.split()
    total = sum(len(word) + 1 for word in words)
    ends, spoken = [], 0
    for word in words:
        spoken += len(word) + 1
        ends.append((word, duration_ms * spoken // total))
    return tuple(ends)
