"""Test helpers for the audio ports: a hand-driven clock, an inbox and a frame sink that
tests wait on (with timeouts, never sleeps), and WAV/signal makers."""

from __future__ import annotations

import queue
import struct
import threading
import wave
from pathlib import Path
from typing import Any

import numpy as np

from controller.inbox import InboxItem

WAIT = 5.0  # generous timeout for anything a thread should do "at once"


class ManualPacer:
    """A clock that moves only when the test says so; file devices wait on it.

    ``advance()`` moves time; ``wait_caught_up()`` returns once the device thread has done
    everything that was due and is blocked on a deadline still in the future.
    """

    def __init__(self) -> None:
        self._now = 0.0
        self._blocked = False
        self._cond = threading.Condition()

    def now(self) -> float:
        with self._cond:
            return self._now

    def wait_until(self, deadline: float, stop: threading.Event) -> bool:
        with self._cond:
            while self._now < deadline and not stop.is_set():
                self._blocked = True
                self._cond.notify_all()
                # The port's stop event cannot notify this condition: look at it often.
                self._cond.wait(0.05)
            self._blocked = False
            return not stop.is_set()

    def advance(self, seconds: float) -> None:
        with self._cond:
            self._now = round(self._now + seconds, 9)
            self._blocked = False
            self._cond.notify_all()

    def wait_caught_up(self, timeout: float = WAIT) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: self._blocked, timeout), "device thread stuck"

    def run_for(self, seconds: float, *, step: float = 0.02) -> None:
        """Let time pass in small steps, as a real clock does (no stall on the way)."""
        for _ in range(round(seconds / step)):
            self.advance(step)
            self.wait_caught_up()


class RecordingInbox:
    """The controller's inbox as a test sees it: everything posted, in order."""

    def __init__(self) -> None:
        self.items: queue.Queue[InboxItem] = queue.Queue()

    def post(self, item: InboxItem) -> None:
        self.items.put(item)

    def next(self, timeout: float = WAIT) -> InboxItem:
        return self.items.get(timeout=timeout)

    def drain(self) -> list[InboxItem]:
        found = []
        while not self.items.empty():
            found.append(self.items.get_nowait())
        return found


class FrameCollector:
    """A microphone sink: frames land in a queue the test takes them from."""

    def __init__(self) -> None:
        self.frames: queue.Queue[bytes] = queue.Queue()

    def __call__(self, pcm: bytes) -> None:
        self.frames.put(pcm)

    def take(self, count: int, timeout: float = WAIT) -> list[bytes]:
        return [self.frames.get(timeout=timeout) for _ in range(count)]

    def take_all(self) -> list[bytes]:
        found = []
        while not self.frames.empty():
            found.append(self.frames.get_nowait())
        return found


def noise(samples: int, *, seed: int = 7, level: int = 20000) -> np.ndarray:
    """Random int16 samples with no zero among them (so silence and signal never mix up)."""
    values = np.random.default_rng(seed).integers(-level, level, samples, dtype=np.int16)
    values[values == 0] = 1
    return values


def tone(frequency: float, seconds: float, *, rate: int = 24000,
         level: float = 12000.0) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return level * np.sin(2 * np.pi * frequency * t)


def pcm(samples: np.ndarray) -> bytes:
    return np.asarray(np.rint(samples), dtype="<i2").tobytes()


def samples_of(data: bytes) -> np.ndarray:
    return np.frombuffer(data, "<i2")


def write_wav(path: Path, frames: np.ndarray, *, rate: int, width: int = 2) -> Path:
    """Integer PCM WAV; ``frames`` is (n,) or (n, channels) on the int16 scale."""
    frames = frames.reshape(-1, 1) if frames.ndim == 1 else frames
    scaled = np.rint(frames * (1 << (8 * width - 16))) if width > 2 else np.rint(frames)
    if width == 1:
        raw = (np.rint(frames / 256) + 128).clip(0, 255).astype(np.uint8).tobytes()
    elif width == 3:
        as32 = scaled.astype("<i4").reshape(-1, 1).view(np.uint8)
        raw = as32[:, :3].tobytes()
    else:
        raw = scaled.astype(f"<i{width}").tobytes()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(frames.shape[1])
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(raw)
    return path


def write_float_wav(path: Path, frames: np.ndarray, *, rate: int) -> Path:
    """32-bit IEEE float WAV (format 3), which the stdlib wave module cannot write."""
    frames = frames.reshape(-1, 1) if frames.ndim == 1 else frames
    channels = frames.shape[1]
    data = (frames / 32768.0).astype("<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, channels, rate, rate * 4 * channels, 4 * channels, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def read_wav_file(path: Path) -> tuple[Any, np.ndarray]:
    """(params, samples) of a WAV file, read with the standard library."""
    with wave.open(str(path), "rb") as wav:
        return wav.getparams(), samples_of(wav.readframes(wav.getnframes()))
