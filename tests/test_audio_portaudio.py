"""What the device ports do when PortAudio misbehaves, on a scripted stand-in for PyAudio:
PyAudio missing, no devices, an unusable format, an input overflow, a starved output
device, a device that fails mid-conversation. (Real devices: test_audio_devices.py.)"""

from __future__ import annotations

import queue
import sys
import threading
import types
from collections.abc import Iterator
from typing import Any

import pytest
from audio_helpers import WAIT, FrameCollector, RecordingInbox
from waiting import eventually

from controller.audio import (
    INSTALL_HINT,
    DeviceMicrophone,
    DeviceSpeaker,
    describe_devices,
    list_devices,
)
from controller.audio_convert import BYTES_PER_MS, PERIOD_BYTES
from controller.audio_devices import SPEAKER_BLOCK_MS
from controller.errors import AudioError
from controller.inbox import PlaybackDrained, StopRequested
from controller.settings import MIC_BLOCK_MS

INPUT_OVERFLOWED = -9981
SPEAKER_BLOCK_BYTES = SPEAKER_BLOCK_MS * BYTES_PER_MS
DEVICE_BUFFER_FRAMES = 3 * SPEAKER_BLOCK_BYTES // 2  # three blocks, as on PulseAudio
BLOCK_FRAMES = 24 * MIC_BLOCK_MS
SILENT_BLOCK = bytes(2 * BLOCK_FRAMES)


class FakeInputStream:
    """Reads come from the system's scripted queue (bytes, or an OSError to raise);
    with nothing scripted the device hands out a silent block every 20 ms, as a quiet
    room would (only faster)."""

    def __init__(self, system: FakeSystem) -> None:
        self.system = system
        self.closed = False

    def read(self, frames: int, exception_on_overflow: bool = True) -> bytes:
        assert frames == BLOCK_FRAMES and exception_on_overflow
        try:
            item = self.system.reads.get(timeout=0.02)
        except queue.Empty:
            return SILENT_BLOCK
        if isinstance(item, OSError):
            self.closed = True  # PyAudio closes the stream before raising
            raise item
        return item

    def stop_stream(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class FakeOutputStream:
    """Each write() is announced in ``calls`` and then waits for the test to ``allow`` it,
    so the test decides when the device takes a period; ``free`` is the free space the
    device reports (its whole buffer when it has run dry)."""

    def __init__(self, system: FakeSystem) -> None:
        self.system = system
        self._stream = self  # what PyAudio's extension module is handed
        self.free = system.output_buffer_frames
        self.calls: queue.Queue[bytes] = queue.Queue()
        self._permits = threading.Semaphore(0)
        self.closed = False

    def get_write_available(self) -> int:
        return self.free

    def write(self, pcm: bytes, frames: int, exception_on_underflow: bool = False) -> None:
        self.calls.put(pcm)
        if not self._permits.acquire(timeout=WAIT):
            raise OSError(-9999, "the test never let this write through")
        if self.system.write_error is not None:
            raise self.system.write_error

    def allow(self, count: int = 1) -> None:
        for _ in range(count):
            self._permits.release()

    def stop_stream(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class FakeSystem:
    """The sound system the fake PyAudio reports."""

    def __init__(self, device_names: list[str]) -> None:
        self.devices = device_names
        self.supported = True
        self.reads: queue.Queue[bytes | OSError] = queue.Queue()
        self.write_error: OSError | None = None
        self.inputs: list[FakeInputStream] = []
        self.outputs: list[FakeOutputStream] = []
        self.native_calls: list[tuple[str, Any]] = []
        self.output_buffer_frames = DEVICE_BUFFER_FRAMES

    def module(self) -> types.ModuleType:
        system = self

        class PyAudio:
            def terminate(self) -> None:
                pass

            def get_device_count(self) -> int:
                return len(system.devices)

            def get_device_info_by_index(self, index: int) -> dict[str, Any]:
                return {"index": index, "name": system.devices[index], "hostApi": 0,
                        "maxInputChannels": 2, "maxOutputChannels": 2,
                        "defaultSampleRate": 48000.0}

            def get_host_api_info_by_index(self, index: int) -> dict[str, Any]:
                return {"name": "ALSA"}

            def _default(self) -> dict[str, Any]:
                if not system.devices:
                    raise OSError(-9996, "No Default Device Available")
                return {"index": 0}

            get_default_input_device_info = _default
            get_default_output_device_info = _default

            def is_format_supported(self, rate: int, **spec: Any) -> bool:
                if not system.supported:
                    raise ValueError("Invalid sample rate")
                return True

            def open(self, **options: Any) -> Any:
                if options.get("input"):
                    system.inputs.append(FakeInputStream(system))
                    return system.inputs[-1]
                system.outputs.append(FakeOutputStream(system))
                return system.outputs[-1]

        native = types.SimpleNamespace(  # PyAudio's extension module: abort and restart
            abort_stream=lambda stream: system.native_calls.append(("abort", stream)),
            start_stream=lambda stream: system.native_calls.append(("start", stream)))
        module = types.ModuleType("pyaudio")
        module.PyAudio = PyAudio  # type: ignore[attr-defined]
        module.pa = native  # type: ignore[attr-defined]
        module.paInt16 = 8  # type: ignore[attr-defined]
        module.paInputOverflowed = INPUT_OVERFLOWED  # type: ignore[attr-defined]
        return module


@pytest.fixture
def system(monkeypatch: pytest.MonkeyPatch) -> FakeSystem:
    fake = FakeSystem(["USB headset", "default"])
    monkeypatch.setitem(sys.modules, "pyaudio", fake.module())
    return fake


@pytest.fixture
def inbox() -> RecordingInbox:
    return RecordingInbox()


@pytest.fixture
def speaker(system: FakeSystem, inbox: RecordingInbox) -> Iterator[DeviceSpeaker]:
    spk = DeviceSpeaker(inbox)
    yield spk
    system.outputs[0].allow(1000)
    spk.close()


def test_without_pyaudio_the_error_says_exactly_how_to_install_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyaudio", None)  # import now fails

    with pytest.raises(AudioError) as raised:
        DeviceSpeaker(RecordingInbox())
    assert INSTALL_HINT in str(raised.value)
    assert INSTALL_HINT == "apt-get install portaudio19-dev && pip install 'convctl-voice[audio]'"
    with pytest.raises(AudioError, match="PyAudio is not installed"):
        list_devices()


def test_with_no_devices_the_error_suggests_wav_files(system: FakeSystem) -> None:
    system.devices = []

    assert list_devices() == []
    assert "--input FILE.wav" in describe_devices([])
    with pytest.raises(AudioError, match=r"no audio input device found.*--input FILE\.wav"):
        DeviceMicrophone(FrameCollector())
    with pytest.raises(AudioError, match=r"no audio output device found.*--output FILE\.wav"):
        DeviceSpeaker(RecordingInbox())


def test_a_device_that_cannot_do_24k_mono_16bit_is_refused_with_advice(
        system: FakeSystem) -> None:
    system.supported = False

    with pytest.raises(AudioError, match=r"input device 1 \(default\) cannot handle 24000 Hz"
                                         r".*--input-device"):
        DeviceMicrophone(FrameCollector(), device_index=1)


def test_an_input_overflow_becomes_a_counted_silent_frame_and_the_stream_reopens(
        system: FakeSystem) -> None:
    before, after = b"\x01\x00" * BLOCK_FRAMES, b"\x02\x00" * BLOCK_FRAMES
    for item in (before, OSError(INPUT_OVERFLOWED, "Input overflowed"), after):
        system.reads.put(item)
    frames = FrameCollector()
    mic = DeviceMicrophone(frames)
    mic.open()
    try:
        heard = frames.take(3)
    finally:
        mic.close()

    assert heard == [before, SILENT_BLOCK, after]
    assert mic.stats().overflows == 1
    assert len(system.inputs) == 2 and all(s.closed for s in system.inputs)


def test_an_idle_speaker_rests_and_a_device_starved_while_audio_plays_counts_an_underrun(
        speaker: DeviceSpeaker, system: FakeSystem) -> None:
    device = system.outputs[0]
    with pytest.raises(queue.Empty):
        device.calls.get(timeout=0.2)  # nothing to play: nothing is written

    reply = b"\x05\x00" * (5 * SPEAKER_BLOCK_BYTES // 2 - 100)  # a short last block
    blocks = [reply[n * SPEAKER_BLOCK_BYTES: (n + 1) * SPEAKER_BLOCK_BYTES] for n in range(5)]
    speaker.play("item_1", reply)
    # The device ran dry while the speaker rested: it is filled (three blocks of room),
    # and that is not an underrun.
    for block in blocks[:3]:
        assert device.calls.get(timeout=WAIT) == block
        assert speaker.stats().underruns == 0  # read while the speaker waits in write()
        device.allow()

    # Asked again, the device says it is empty while the reply plays: it starved.
    assert device.calls.get(timeout=WAIT) == blocks[3]
    assert speaker.stats().underruns == 1
    device.allow()
    assert device.calls.get(timeout=WAIT) == blocks[4]  # as it is: no silence padding
    device.allow()
    with pytest.raises(queue.Empty):
        device.calls.get(timeout=0.2)  # the queue is empty: rest, writing nothing
    assert speaker.stats().underruns == 1
    assert speaker.stats().silent_periods == 0
    assert system.native_calls == []


def fill_the_device(speaker: DeviceSpeaker, system: FakeSystem) -> FakeOutputStream:
    """A long reply of item_1 has filled the device (three blocks); the speaker waits for
    room."""
    device = system.outputs[0]
    speaker.play("item_1", b"\x05\x00" * (10 * SPEAKER_BLOCK_BYTES // 2))
    for n in range(3):
        device.calls.get(timeout=WAIT)
        if n == 2:
            device.free = 0  # full after this one: the speaker will wait for room
        device.allow()
    eventually(lambda: speaker.played_bytes("item_1") == 3 * SPEAKER_BLOCK_BYTES,
               "three blocks handed to the device")
    return device


def test_clear_drops_what_the_device_holds_and_counts_only_what_was_heard(
        speaker: DeviceSpeaker, system: FakeSystem) -> None:
    device = fill_the_device(speaker, system)

    speaker.clear()
    heard = speaker.played_bytes("item_1")
    # Only what the device could have played since it was filled counts as heard.
    unplayed = speaker.stats().unplayed_bytes
    assert unplayed > 0 and heard + unplayed == 3 * SPEAKER_BLOCK_BYTES
    # The speaker thread, woken by the clear, drops the device's buffer and keeps it running.
    eventually(lambda: len(system.native_calls) == 2, "the device's audio dropped")
    assert system.native_calls == [("abort", device), ("start", device)]
    with pytest.raises(queue.Empty):
        device.calls.get(timeout=0.2)  # nothing left to play
    assert speaker.played_bytes("item_1") == heard
    assert speaker.stats().underruns == 0


def test_the_reply_after_a_drop_starts_on_an_empty_device_which_is_not_an_underrun(
        speaker: DeviceSpeaker, system: FakeSystem) -> None:
    device = fill_the_device(speaker, system)

    speaker.clear()
    device.free = DEVICE_BUFFER_FRAMES  # the drop empties the device
    speaker.play("item_2", b"\x07\x00" * (SPEAKER_BLOCK_BYTES // 2))
    assert device.calls.get(timeout=WAIT) == b"\x07\x00" * (SPEAKER_BLOCK_BYTES // 2)
    assert system.native_calls == [("abort", device), ("start", device)]  # dropped first
    assert speaker.stats().underruns == 0
    device.allow()


def test_a_pyaudio_without_its_native_abort_drops_by_reopening_the_stream(
        speaker: DeviceSpeaker, system: FakeSystem, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(sys.modules["pyaudio"], "pa")
    device = fill_the_device(speaker, system)

    speaker.clear()
    eventually(lambda: len(system.outputs) == 2, "a new output stream opened")
    assert device.closed  # closing a running stream discards what it holds
    reply = b"\x07\x00" * (SPEAKER_BLOCK_BYTES // 2)
    speaker.play("item_2", reply)
    fresh = system.outputs[1]
    assert fresh.calls.get(timeout=WAIT) == reply
    fresh.allow(1000)
    assert speaker.stats().error is None and speaker.stats().underruns == 0


def test_a_device_with_a_buffer_smaller_than_a_block_is_written_a_buffer_at_a_time(
        system: FakeSystem, inbox: RecordingInbox) -> None:
    system.output_buffer_frames = 480  # one 20 ms period
    speaker = DeviceSpeaker(inbox)
    device = system.outputs[0]
    try:
        speaker.play("item_1", b"\x05\x00" * 1000)
        assert len(device.calls.get(timeout=WAIT)) == 960
        device.allow()
        assert len(device.calls.get(timeout=WAIT)) == 960
        device.allow()
        assert len(device.calls.get(timeout=WAIT)) == 80
        device.allow()
        assert inbox.next() == PlaybackDrained()  # once the device has played it all
    finally:
        device.allow(1000)
        speaker.close()


def test_a_speaker_whose_device_fails_stops_the_conversation_and_says_why(
        speaker: DeviceSpeaker, system: FakeSystem, inbox: RecordingInbox) -> None:
    system.write_error = OSError(-9999, "Unanticipated host error")
    speaker.play("item_1", bytes(PERIOD_BYTES))
    system.outputs[0].allow()

    stop = inbox.next()
    assert isinstance(stop, StopRequested)
    assert "the speaker failed" in stop.reason and "Unanticipated host error" in stop.reason
    assert "Unanticipated host error" in (speaker.stats().error or "")


def test_a_sink_that_raises_stops_the_microphone_and_says_why(
        system: FakeSystem, inbox: RecordingInbox) -> None:
    def broken_sink(pcm: bytes) -> None:
        raise RuntimeError("sink bug")

    mic = DeviceMicrophone(broken_sink, inbox=inbox)
    mic.open()
    stop = inbox.next()
    mic.close()

    assert isinstance(stop, StopRequested) and "sink bug" in stop.reason
    assert mic.stats().error == "RuntimeError: sink bug"
