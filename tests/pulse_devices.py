"""Real sound devices for tests on a machine without a sound card.

``virtual_audio`` (session-scoped, started only by the tests that ask for it) runs
``scripts/virtual-audio.sh`` to start a private headless PulseAudio with a virtual
microphone (fed through ``vmic_feed``) and a virtual speaker (recorded from
``vspeaker.monitor``), points this process's PortAudio at it through ``PULSE_SERVER``,
and stops and removes it all at the end. Tests play into the microphone with ``pacat``
and record the speaker with ``parec``, through the helpers below.

Use it with ``from pulse_devices import virtual_audio`` in a test module.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "virtual-audio.sh"
RAW_FORMAT = ["--raw", "--rate=24000", "--channels=1", "--format=s16le"]
BYTES_PER_SECOND = 48000


class SpeakerRecording:
    """``parec`` on the virtual speaker's monitor, read by a thread into one buffer."""

    def __init__(self, env: dict[str, str]) -> None:
        self._process = subprocess.Popen(
            ["parec", "-d", "vspeaker.monitor", "--latency-msec=20", *RAW_FORMAT],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._data = bytearray()
        self._grew = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="parec-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        while chunk := self._process.stdout.read1(4800):
            with self._grew:
                self._data += chunk
                self._grew.notify_all()

    def sample_count(self) -> int:
        with self._grew:
            return len(self._data) // 2

    def samples(self) -> np.ndarray:
        with self._grew:
            usable = len(self._data) - len(self._data) % 2
            return np.frombuffer(bytes(self._data[:usable]), "<i2")

    def wait_until(self, condition: Callable[[np.ndarray], bool], timeout: float = 10.0) -> None:
        """Block until ``condition(samples so far)`` holds (checked as audio arrives)."""
        def holds() -> bool:
            usable = len(self._data) - len(self._data) % 2
            return condition(np.frombuffer(bytes(self._data[:usable]), "<i2"))
        with self._grew:
            assert self._grew.wait_for(holds, timeout), "the speaker recording never got there"

    def wait_for_samples(self, count: int, timeout: float = 10.0) -> None:
        self.wait_until(lambda samples: len(samples) >= count, timeout)

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=5)
        self._reader.join(timeout=5)


class VirtualAudio:
    """The running virtual devices and what a test does with them."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def feed_microphone(self, pcm: bytes) -> subprocess.Popen[bytes]:
        """Start playing ``pcm`` (24 kHz mono s16) into the virtual microphone."""
        process = subprocess.Popen(["pacat", "-d", "vmic_feed", "--latency-msec=200",
                                    *RAW_FORMAT], env=self.env, stdin=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL)
        assert process.stdin is not None
        process.stdin.write(pcm)
        process.stdin.close()
        return process

    def record_speaker(self) -> SpeakerRecording:
        return SpeakerRecording(self.env)


def _exports(text: str) -> dict[str, str]:
    """``export A=1 B=2`` lines as printed by virtual-audio.sh."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        words = shlex.split(line)
        if words[:1] == ["export"]:
            found.update(word.split("=", 1) for word in words[1:])  # type: ignore[misc]
    return found


@pytest.fixture(scope="session")
def virtual_audio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtualAudio]:
    state = tmp_path_factory.mktemp("pulse")
    started = subprocess.run(["bash", str(SCRIPT), "start", str(state)], capture_output=True,
                             text=True, timeout=30)
    if started.returncode != 0:
        subprocess.run(["bash", str(SCRIPT), "stop", str(state)], timeout=30)
        pytest.fail(f"virtual audio devices did not start: {started.stderr.strip()}")
    exports = _exports(started.stdout)
    previous = os.environ.get("PULSE_SERVER")
    # PortAudio (through ALSA's pulse plugin) finds the server by this variable.
    os.environ["PULSE_SERVER"] = exports["PULSE_SERVER"]
    try:
        yield VirtualAudio({**os.environ, **exports})
    finally:
        if previous is None:
            os.environ.pop("PULSE_SERVER", None)
        else:
            os.environ["PULSE_SERVER"] = previous
        subprocess.run(["bash", str(SCRIPT), "stop", str(state)], timeout=30)
