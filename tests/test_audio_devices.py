"""The PortAudio microphone and speaker on real (virtual PulseAudio) devices.

What goes into the virtual microphone must come out of ``DeviceMicrophone`` bit for bit;
what ``DeviceSpeaker`` plays must be recorded bit for bit from the speaker's monitor,
``played_bytes`` must be what reached the device, and a clear must silence it at once.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import time
from collections.abc import Iterator

import numpy as np
import pytest
from audio_helpers import FrameCollector, RecordingInbox, noise, samples_of
from pulse_devices import SpeakerRecording, VirtualAudio, virtual_audio  # noqa: F401

from controller.audio import (
    BYTES_PER_MS,
    DeviceMicrophone,
    DeviceSpeaker,
    describe_devices,
    list_devices,
    open_microphone,
)
from controller.errors import AudioError
from controller.inbox import PlaybackDrained
from controller.settings import MIC_BLOCK_MS

RATE = 24000


def first_sound(samples: np.ndarray) -> int:
    return int(np.flatnonzero(samples)[0])


def listen_until_quiet_after(frames: FrameCollector, signal_samples: int) -> np.ndarray:
    """Microphone samples until the whole signal and 200 ms after it have been heard."""
    heard = np.zeros(0, dtype=np.int16)
    while True:
        heard = np.concatenate([heard, samples_of(frames.frames.get(timeout=10))])
        if heard.any() and len(heard) >= first_sound(heard) + signal_samples + RATE // 5:
            return heard


@pytest.fixture
def recording(virtual_audio: VirtualAudio) -> Iterator[SpeakerRecording]:  # noqa: F811
    rec = virtual_audio.record_speaker()
    yield rec
    rec.stop()


@pytest.fixture
def inbox() -> RecordingInbox:
    return RecordingInbox()


@pytest.fixture
def speaker(recording: SpeakerRecording, inbox: RecordingInbox) -> Iterator[DeviceSpeaker]:
    spk = DeviceSpeaker(inbox)
    yield spk
    spk.close()
    assert spk.stats().error is None


def test_the_virtual_devices_are_listed_with_the_defaults_marked(
        virtual_audio: VirtualAudio) -> None:  # noqa: F811
    devices = list_devices()

    assert {"pulse", "default"} <= {d.name for d in devices}
    assert any(d.is_default_input and d.can_record for d in devices)
    assert any(d.is_default_output and d.can_play for d in devices)
    text = describe_devices(devices)
    assert "[default input]" in text and "[default output]" in text


def test_the_microphone_hears_what_is_played_into_it_bit_exact(
        virtual_audio: VirtualAudio) -> None:  # noqa: F811
    said = noise(RATE)
    frames = FrameCollector()
    mic = DeviceMicrophone(frames)
    mic.open()
    try:
        feeder = virtual_audio.feed_microphone(said.tobytes())
        heard = listen_until_quiet_after(frames, len(said))
        assert feeder.wait(timeout=10) == 0
    finally:
        mic.close()

    start = first_sound(heard)
    assert np.array_equal(heard[start: start + len(said)], said)
    assert not heard[start + len(said):].any()
    assert mic.stats().overflows == 0
    assert not mic.is_running()


def test_a_gated_microphone_keeps_its_device_running_but_delivers_nothing(
        virtual_audio: VirtualAudio) -> None:  # noqa: F811
    frames = FrameCollector()
    mic = DeviceMicrophone(frames)
    try:
        mic.open()
        frames.take(3)
        mic.gate()
        frames.take_all()  # a frame may have been on its way when the gate closed
        with pytest.raises(queue.Empty):
            frames.frames.get(timeout=0.3)
        assert mic.is_running()

        mic.open()
        assert len(frames.take(1)[0]) == 2 * 24 * MIC_BLOCK_MS
    finally:
        mic.close()
    assert mic.stats().frames_gated > 0


def test_the_speaker_plays_items_bit_exact_counts_them_and_posts_drained(
        speaker: DeviceSpeaker, recording: SpeakerRecording, inbox: RecordingInbox) -> None:
    # Lengths that are not whole periods: the items share a period on the device.
    first, second = noise(12100, seed=1), noise(6050, seed=2)
    speaker.play("item_1", first.tobytes())
    speaker.play("item_2", second.tobytes())

    assert inbox.next() == PlaybackDrained()
    assert speaker.is_drained()
    assert speaker.played_bytes("item_1") == len(first) * 2
    assert speaker.played_bytes("item_2") == len(second) * 2

    reply = np.concatenate([first, second])
    recording.wait_until(lambda s: s.any() and len(s) >= first_sound(s) + len(reply) + 2400)
    captured = recording.samples()
    start = first_sound(captured)
    assert np.array_equal(captured[start: start + len(reply)], reply)
    assert not captured[start + len(reply):].any()


def test_the_microphone_reads_the_block_size_it_is_given(
        virtual_audio: VirtualAudio) -> None:  # noqa: F811
    frames = FrameCollector()
    mic = open_microphone(frames, RecordingInbox(), block_ms=40)
    try:
        mic.open()
        assert [len(block) for block in frames.take(3)] == [40 * BYTES_PER_MS] * 3
    finally:
        mic.close()
    assert mic.stats().frames_delivered >= 6  # counted in 20 ms frames


def test_between_replies_the_speaker_rests_and_the_next_reply_plays_bit_exact(
        speaker: DeviceSpeaker, recording: SpeakerRecording, inbox: RecordingInbox) -> None:
    first, second = noise(4800, seed=3), noise(7200, seed=4)
    writes: list[bytes] = []
    write = speaker._write_period
    speaker._write_period = lambda period: (writes.append(period.pcm),  # type: ignore
                                            write(period))
    speaker.play("item_1", first.tobytes())
    assert inbox.next() == PlaybackDrained()  # posted once the device has played it all
    written = len(writes)
    time.sleep(0.3)
    assert len(writes) == written  # nothing is written while idle (no silence either)
    assert b"".join(writes) == first.tobytes()

    speaker.play("item_2", second.tobytes())
    assert inbox.next() == PlaybackDrained()
    recording.wait_until(lambda s: np.count_nonzero(s) >= len(first) + len(second) - 20)
    captured = recording.samples()
    sound = np.flatnonzero(captured)
    gap = np.flatnonzero(np.diff(sound) > 1)[0]  # the rest between the replies
    start_two = sound[gap + 1]
    assert np.array_equal(captured[sound[0]: sound[0] + len(first)], first)
    assert np.array_equal(captured[start_two: start_two + len(second)], second)
    assert speaker.stats().underruns == 0


def test_clear_silences_the_speaker_at_once_and_counts_what_was_heard(
        speaker: DeviceSpeaker, recording: SpeakerRecording, inbox: RecordingInbox) -> None:
    reply = noise(3 * RATE)
    speaker.play("item_1", reply.tobytes())
    recording.wait_until(lambda s: np.count_nonzero(s) >= 0.3 * RATE)

    speaker.clear()
    cleared_at = recording.sample_count()
    heard = speaker.played_bytes("item_1")
    dropped = speaker.stats().unplayed_bytes
    assert speaker.is_drained()
    recording.wait_for_samples(cleared_at + RATE // 2)

    assert speaker.played_bytes("item_1") == heard
    assert 0 < heard < len(reply) * 2
    captured = recording.samples()
    sound = np.count_nonzero(captured)
    # What was heard is the start of the reply, without a gap or a repeat...
    assert np.array_equal(captured[first_sound(captured):][:sound], reply[:sound])
    # ...and the device held audio when the clear came (its buffer is up to 180 ms), which
    # it dropped instead of playing: the speaker fell silent within a few milliseconds of
    # the clear, and played_bytes is what came out of it, within one 20 ms frame.
    tolerance = 20 * BYTES_PER_MS // 2  # one 20 ms frame, in samples
    assert dropped // 2 > 2 * tolerance  # so that playing it out could not pass below
    assert abs(sound - heard // 2) <= tolerance, (sound, heard // 2, dropped // 2)
    assert inbox.drain() == []


def test_a_clear_right_before_the_close_drops_the_buffer_instead_of_playing_it_out(
        recording: SpeakerRecording, inbox: RecordingInbox) -> None:
    # Ctrl-C or an error while the assistant speaks: clear, then close at once.
    speaker = DeviceSpeaker(inbox)
    reply = noise(3 * RATE)
    speaker.play("item_1", reply.tobytes())
    recording.wait_until(lambda s: np.count_nonzero(s) >= 0.3 * RATE)

    speaker.clear()
    speaker.close()
    heard, dropped = speaker.played_bytes("item_1"), speaker.stats().unplayed_bytes
    recording.wait_for_samples(recording.sample_count() + RATE // 2)

    tolerance = 20 * BYTES_PER_MS // 2
    assert dropped // 2 > 2 * tolerance
    assert abs(np.count_nonzero(recording.samples()) - heard // 2) <= tolerance
    assert speaker.stats().error is None


def test_a_device_chosen_by_index_is_the_one_used(recording: SpeakerRecording,
                                                  inbox: RecordingInbox) -> None:
    pulse = next(d for d in list_devices() if d.name == "pulse")
    speaker = DeviceSpeaker(inbox, device_index=pulse.index)
    try:
        assert speaker.device == pulse
        speaker.play("item_1", noise(2400).tobytes())
        assert inbox.next() == PlaybackDrained()
        recording.wait_until(lambda s: np.count_nonzero(s) >= 2400)
    finally:
        speaker.close()


def test_a_wrong_device_index_is_refused_with_the_valid_ones(
        virtual_audio: VirtualAudio) -> None:  # noqa: F811
    valid = {d.index for d in list_devices()}
    wrong = max(valid) + 10

    with pytest.raises(AudioError, match=rf"no audio input device with index {wrong};"
                                         r" input devices: .*\(pulse\)"):
        DeviceMicrophone(FrameCollector(), device_index=wrong)
    with pytest.raises(AudioError, match=rf"no audio output device with index {wrong}"):
        DeviceSpeaker(RecordingInbox(), device_index=wrong)


@pytest.mark.skipif(os.path.exists("/dev/snd"), reason="this machine has a real sound card")
def test_without_a_sound_server_there_are_no_devices_and_wav_files_are_suggested(
        tmp_path: object) -> None:
    program = (
        "from controller.audio import DeviceMicrophone, list_devices\n"
        "from controller.errors import AudioError\n"
        "print(len(list_devices()))\n"
        "try:\n    DeviceMicrophone(print)\n"
        "except AudioError as exc:\n    print(exc)\n")
    env = {**os.environ, "PULSE_SERVER": "unix:/nonexistent/native",
           "XDG_RUNTIME_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True,
                            text=True, timeout=60)

    count, message = result.stdout.splitlines()
    assert count == "0"
    assert "no audio input device found" in message and "--input FILE.wav" in message
    assert result.stderr == ""  # ALSA's and JACK's probing noise is silenced
