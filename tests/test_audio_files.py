"""WAV microphone and WAV speaker: the same ports as the devices, clocked like them.

Most stories run on a hand-driven clock, so frame counts can be checked exactly against
the time that passed; two stories run on the real clock with generous bounds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from audio_helpers import (
    FrameCollector,
    ManualPacer,
    RecordingInbox,
    noise,
    pcm,
    read_wav_file,
    tone,
    write_wav,
)

from controller.audio import WavMicrophone, WavSpeaker
from controller.audio_convert import PERIOD_BYTES, PERIOD_FRAMES, SILENT_PERIOD, read_wav
from controller.errors import AudioError
from controller.inbox import InputExhausted, PlaybackDrained

SILENCE = SILENT_PERIOD


@pytest.fixture
def pacer() -> ManualPacer:
    return ManualPacer()


@pytest.fixture
def inbox() -> RecordingInbox:
    return RecordingInbox()


@pytest.fixture
def frames() -> FrameCollector:
    return FrameCollector()


@pytest.fixture
def speech_16k_stereo(tmp_path: Path) -> Path:
    """One second of 16 kHz stereo, each channel a different tone."""
    left, right = tone(440, 1.0, rate=16000), tone(660, 1.0, rate=16000)
    return write_wav(tmp_path / "speech.wav", np.stack([left, right], axis=1), rate=16000)


@pytest.fixture
def noise_file(tmp_path: Path) -> Path:
    """Half a second of 24 kHz mono noise: frame k of the file is easy to recognise."""
    return write_wav(tmp_path / "noise.wav", noise(12000), rate=24000)


@pytest.fixture
def microphone(noise_file: Path, frames: FrameCollector, inbox: RecordingInbox,
               pacer: ManualPacer) -> Iterator[WavMicrophone]:
    mic = WavMicrophone(noise_file, frames, inbox, pacer=pacer)
    yield mic
    mic.close()


def file_frames(path: Path) -> list[bytes]:
    audio = read_wav(path)
    return [audio[i: i + PERIOD_BYTES] for i in range(0, len(audio), PERIOD_BYTES)]


# --- WavMicrophone ---

def test_a_16k_stereo_file_is_heard_as_24k_mono_then_exhausted_once_then_silence(
        speech_16k_stereo: Path, frames: FrameCollector, inbox: RecordingInbox,
        pacer: ManualPacer) -> None:
    mic = WavMicrophone(speech_16k_stereo, frames, inbox, pacer=pacer)
    assert mic.duration_ms == 1000

    mic.open()
    pacer.run_for(1.0)
    heard = frames.take(50)
    assert b"".join(heard) == read_wav(speech_16k_stereo)
    assert inbox.next() == InputExhausted()

    pacer.run_for(0.2)
    assert frames.take(10) == [SILENCE] * 10
    assert inbox.drain() == []
    mic.close()
    assert frames.take_all() == []


def test_one_frame_per_20_ms_of_clock_time(microphone: WavMicrophone,
                                           frames: FrameCollector, pacer: ManualPacer) -> None:
    microphone.open()
    pacer.advance(0.1)
    pacer.wait_caught_up()
    assert frames.frames.qsize() == 5

    pacer.advance(0.05)  # 150 ms: the 8th frame is due only at 160 ms
    pacer.wait_caught_up()
    assert frames.frames.qsize() == 7


def test_a_gated_microphone_drops_frames_while_the_file_keeps_playing(
        microphone: WavMicrophone, noise_file: Path, frames: FrameCollector,
        pacer: ManualPacer) -> None:
    expected = file_frames(noise_file)
    microphone.open()
    pacer.run_for(0.1)
    assert frames.take(5) == expected[0:5]

    microphone.gate()
    pacer.run_for(0.1)
    assert frames.take_all() == []
    assert microphone.stats().frames_gated == 5

    microphone.open()
    pacer.run_for(0.1)
    assert frames.take(5) == expected[10:15]
    assert microphone.stats().frames_delivered == 10


def test_close_stops_the_thread_and_open_continues_where_it_stopped(
        microphone: WavMicrophone, noise_file: Path, frames: FrameCollector,
        pacer: ManualPacer) -> None:
    expected = file_frames(noise_file)
    microphone.open()
    pacer.run_for(0.1)
    microphone.close()
    assert not microphone.is_running()
    assert frames.take(5) == expected[0:5]

    microphone.open()
    pacer.run_for(0.04)
    assert frames.take(2) == expected[5:7]


def test_the_last_partial_frame_is_padded_with_silence(
        tmp_path: Path, frames: FrameCollector, inbox: RecordingInbox,
        pacer: ManualPacer) -> None:
    samples = noise(PERIOD_FRAMES + 100)
    mic = WavMicrophone(write_wav(tmp_path / "short.wav", samples, rate=24000), frames,
                        inbox, pacer=pacer)
    mic.open()
    pacer.run_for(0.04)
    first, second = frames.take(2)
    mic.close()

    assert first + second == samples.tobytes() + bytes(2 * (PERIOD_FRAMES - 100))
    assert inbox.next() == InputExhausted()


def test_the_microphone_keeps_real_time_pace(noise_file: Path, frames: FrameCollector,
                                             inbox: RecordingInbox) -> None:
    mic = WavMicrophone(noise_file, frames, inbox)  # the real monotonic clock
    started = time.monotonic()
    mic.open()
    assert inbox.next() == InputExhausted()
    elapsed = time.monotonic() - started
    mic.close()

    # 25 frames of 20 ms: never faster than real time; the upper bound is only a sanity
    # check on a shared, busy machine.
    assert len(frames.take_all()) >= 25
    assert 0.48 <= elapsed < 5.0


def test_a_file_that_is_not_a_wav_is_refused_before_anything_starts(
        tmp_path: Path, frames: FrameCollector, inbox: RecordingInbox) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")

    with pytest.raises(AudioError, match="not a WAV file"):
        WavMicrophone(path, frames, inbox)


def test_an_empty_wav_is_refused(tmp_path: Path, frames: FrameCollector,
                                 inbox: RecordingInbox) -> None:
    path = write_wav(tmp_path / "empty.wav", np.zeros(0), rate=16000)

    with pytest.raises(AudioError, match="contains no audio"):
        WavMicrophone(path, frames, inbox)


# --- WavSpeaker ---

@pytest.fixture
def speaker_path(tmp_path: Path) -> Path:
    return tmp_path / "speaker.wav"


@pytest.fixture
def speaker(speaker_path: Path, inbox: RecordingInbox,
            pacer: ManualPacer) -> Iterator[WavSpeaker]:
    spk = WavSpeaker(speaker_path, inbox, pacer=pacer)
    # The thread holds its first period (silence) and waits for it to be over.
    pacer.wait_caught_up()
    yield spk
    spk.close()


def test_an_idle_speaker_records_silence_for_as_long_as_it_runs(
        speaker: WavSpeaker, speaker_path: Path, pacer: ManualPacer) -> None:
    pacer.run_for(1.0)
    speaker.close()

    params, samples = read_wav_file(speaker_path)
    assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, 24000)
    # One second of periods, plus the one in hand when it closed.
    assert len(samples) == 24000 + PERIOD_FRAMES
    assert not samples.any()


def test_audio_is_recorded_when_it_played_and_played_ms_follow_the_clock(
        speaker: WavSpeaker, speaker_path: Path, inbox: RecordingInbox,
        pacer: ManualPacer) -> None:
    reply = noise(12000)  # 500 ms
    speaker.play("item_1", pcm(reply))

    pacer.run_for(0.2)
    assert speaker.played_ms("item_1") == 200
    assert not speaker.is_drained()
    pacer.run_for(0.4)
    assert speaker.played_bytes("item_1") == len(reply) * 2
    assert inbox.next() == PlaybackDrained()
    assert speaker.is_drained()
    speaker.close()

    _, samples = read_wav_file(speaker_path)
    assert not samples[:PERIOD_FRAMES].any()
    assert np.array_equal(samples[PERIOD_FRAMES: PERIOD_FRAMES + 12000], reply)
    assert not samples[PERIOD_FRAMES + 12000:].any()


def test_clear_silences_the_next_period_and_freezes_played_bytes(
        speaker: WavSpeaker, speaker_path: Path, inbox: RecordingInbox,
        pacer: ManualPacer) -> None:
    reply = noise(24000)
    speaker.play("item_1", pcm(reply))
    pacer.run_for(0.2)

    speaker.clear()
    heard = speaker.played_ms("item_1")
    assert speaker.is_drained()
    pacer.run_for(0.2)
    speaker.close()

    assert heard == 200
    assert speaker.played_ms("item_1") == heard
    assert inbox.drain() == []
    _, samples = read_wav_file(speaker_path)
    played = samples[PERIOD_FRAMES: PERIOD_FRAMES + heard * 24]
    assert np.array_equal(played, reply[: heard * 24])
    assert not samples[PERIOD_FRAMES + heard * 24:].any()


def test_played_bytes_are_counted_per_item(speaker: WavSpeaker, inbox: RecordingInbox,
                                           pacer: ManualPacer) -> None:
    speaker.play("item_1", pcm(noise(3000)))
    speaker.play("item_2", pcm(noise(5000, seed=2)))
    pacer.run_for(0.1)
    assert (speaker.played_bytes("item_1"), speaker.played_bytes("item_2")) == (4800, 0)

    pacer.run_for(0.3)
    assert (speaker.played_bytes("item_1"), speaker.played_bytes("item_2")) == (6000, 10000)
    assert inbox.drain() == [PlaybackDrained()]


def test_a_stalled_speaker_thread_counts_one_underrun_and_catches_up(
        speaker: WavSpeaker, pacer: ManualPacer) -> None:
    speaker.play("item_1", pcm(noise(24000)))
    pacer.advance(0.5)
    pacer.wait_caught_up()

    assert speaker.stats().underruns == 1
    assert speaker.played_ms("item_1") == 500


def test_the_recording_follows_real_time(speaker_path: Path, inbox: RecordingInbox) -> None:
    started = time.monotonic()
    speaker = WavSpeaker(speaker_path, inbox)  # the real monotonic clock
    speaker.play("item_1", pcm(tone(440, 0.3)))
    assert inbox.next() == PlaybackDrained()
    speaker.close()
    closed = time.monotonic()

    params, samples = read_wav_file(speaker_path)
    seconds = len(samples) / params.framerate
    # At least the 300 ms played, and never ahead of the clock: no more than the time it
    # ran. (Not a lower bound from the clock: after a stall of the thread, close() stops
    # it before it has caught up, which is right for a speaker that was told to stop.)
    assert 0.3 <= seconds <= closed - started + 0.05
    assert speaker.played_ms("item_1") == 300


def test_an_unwritable_output_path_is_an_audio_error(tmp_path: Path,
                                                     inbox: RecordingInbox) -> None:
    with pytest.raises(AudioError, match="cannot write the output WAV file"):
        WavSpeaker(tmp_path / "missing-dir" / "out.wav", inbox)
