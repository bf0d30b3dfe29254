"""The speaker timeline, period by period, as the speaker thread sees it (no threads but
the resting speaker's waiter)."""

from __future__ import annotations

import threading

import pytest
from audio_helpers import WAIT, RecordingInbox
from waiting import eventually

from controller.audio_convert import BYTES_PER_MS, PERIOD_BYTES
from controller.audio_playback import PlaybackBuffer
from controller.inbox import PlaybackDrained


def audio(ms: int, value: int = 1) -> bytes:
    return bytes([value, 0]) * (ms * BYTES_PER_MS // 2)


def play_periods(buffer: PlaybackBuffer, count: int) -> list[bytes]:
    written = []
    for _ in range(count):
        period = buffer.take_period()
        written.append(period.pcm)
        buffer.finish_period(period)
    return written


def test_an_idle_speaker_plays_silence_and_posts_nothing() -> None:
    inbox = RecordingInbox()
    buffer = PlaybackBuffer(inbox)

    assert play_periods(buffer, 3) == [bytes(PERIOD_BYTES)] * 3
    assert buffer.is_drained()
    assert inbox.drain() == []


def test_played_bytes_count_per_item_across_a_shared_period() -> None:
    inbox = RecordingInbox()
    buffer = PlaybackBuffer(inbox)
    buffer.add("a", audio(30, 1))  # 1.5 periods
    buffer.add("b", audio(25, 2))

    first, second, third = play_periods(buffer, 3)

    assert first == audio(20, 1)
    assert second == audio(10, 1) + audio(10, 2)  # the period where a ends and b begins
    assert third == audio(15, 2) + bytes(5 * BYTES_PER_MS)  # b's tail, then silence
    assert buffer.played_bytes("a") == 30 * BYTES_PER_MS
    assert buffer.played_bytes("b") == 25 * BYTES_PER_MS
    assert buffer.played_bytes("never-played") == 0


def test_played_bytes_grow_only_as_periods_are_taken() -> None:
    buffer = PlaybackBuffer(RecordingInbox())
    buffer.add("a", audio(100))

    assert buffer.played_bytes("a") == 0
    play_periods(buffer, 2)
    assert buffer.played_bytes("a") == 40 * BYTES_PER_MS


def test_drained_is_posted_once_when_the_queue_runs_dry_after_audio() -> None:
    inbox = RecordingInbox()
    buffer = PlaybackBuffer(inbox)
    buffer.add("a", audio(40))

    play_periods(buffer, 1)
    assert inbox.drain() == []
    assert not buffer.is_drained()
    play_periods(buffer, 4)

    assert inbox.drain() == [PlaybackDrained()]
    assert buffer.is_drained()


def test_drained_is_posted_again_for_the_next_burst_of_audio() -> None:
    inbox = RecordingInbox()
    buffer = PlaybackBuffer(inbox)
    for item in ("a", "b"):
        buffer.add(item, audio(20))
        play_periods(buffer, 2)

    assert inbox.drain() == [PlaybackDrained(), PlaybackDrained()]


def test_the_period_in_flight_is_not_drained_until_the_device_took_it() -> None:
    buffer = PlaybackBuffer(RecordingInbox())
    buffer.add("a", audio(20))

    period = buffer.take_period()
    assert not buffer.is_drained()
    buffer.finish_period(period)
    assert buffer.is_drained()


def test_clear_drops_the_queue_freezes_played_bytes_and_posts_no_drain() -> None:
    inbox = RecordingInbox()
    buffer = PlaybackBuffer(inbox)
    buffer.add("a", audio(1000))
    play_periods(buffer, 5)
    in_flight = buffer.take_period()  # the device is writing this one during clear()

    assert buffer.clear() == (1000 - 120) * BYTES_PER_MS
    heard = buffer.played_bytes("a")
    assert buffer.is_drained()
    buffer.finish_period(in_flight)

    assert heard == 120 * BYTES_PER_MS
    assert play_periods(buffer, 3) == [bytes(PERIOD_BYTES)] * 3
    assert buffer.played_bytes("a") == heard
    assert inbox.drain() == []
    assert buffer.counters()["cleared_bytes"] == (1000 - 120) * BYTES_PER_MS


def test_audio_after_a_clear_plays_and_drains_normally() -> None:
    inbox = RecordingInbox()
    buffer = PlaybackBuffer(inbox)
    buffer.add("a", audio(100))
    play_periods(buffer, 1)
    buffer.clear()
    buffer.add("b", audio(20, 3))

    assert play_periods(buffer, 2) == [audio(20, 3), bytes(PERIOD_BYTES)]
    assert inbox.drain() == [PlaybackDrained()]


def test_a_full_queue_drops_the_excess_and_counts_it(caplog: pytest.LogCaptureFixture) -> None:
    buffer = PlaybackBuffer(RecordingInbox(), capacity_ms=100)
    buffer.add("a", audio(80))
    buffer.add("a", audio(50))

    assert buffer.counters()["dropped_bytes"] == 30 * BYTES_PER_MS
    play_periods(buffer, 10)
    assert buffer.played_bytes("a") == 100 * BYTES_PER_MS
    assert "speaker queue full" in caplog.text


def test_half_samples_are_refused() -> None:
    with pytest.raises(ValueError, match="whole samples"):
        PlaybackBuffer(RecordingInbox()).add("a", b"\x01\x02\x03")


def test_a_resting_speaker_waits_for_audio_and_learns_it_rested() -> None:
    buffer = PlaybackBuffer(RecordingInbox())
    buffer.add("a", audio(20))
    assert buffer.wait_for_audio(threading.Event()) is False  # audio was waiting: no rest
    play_periods(buffer, 1)

    woke: list[bool] = []
    waiter = threading.Thread(target=lambda: woke.append(buffer.wait_for_audio(
        threading.Event())))
    waiter.start()
    # Nothing queued: the speaker thread goes to sleep on the buffer's condition.
    eventually(lambda: len(buffer._audio_queued._waiters) == 1, "the waiter sleeps")
    assert waiter.is_alive()
    buffer.add("b", audio(20))
    waiter.join(WAIT)
    assert woke == [True]


def test_a_resting_speaker_is_woken_to_stop() -> None:
    buffer = PlaybackBuffer(RecordingInbox())
    stop = threading.Event()
    waiter = threading.Thread(target=buffer.wait_for_audio, args=(stop,))
    waiter.start()
    stop.set()
    buffer.interrupt()
    waiter.join(WAIT)
    assert not waiter.is_alive()


# --- A sound card that drops what it holds on clear ------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now


def device_buffer(clock: Clock, inbox: RecordingInbox | None = None) -> PlaybackBuffer:
    return PlaybackBuffer(inbox or RecordingInbox(), drops_on_clear=True, clock=clock)


def hand_block(buffer: PlaybackBuffer, clock: Clock, ms: int, device_fill_ms: int) -> None:
    """The speaker thread takes ``ms`` of audio and writes it; the device then holds
    ``device_fill_ms`` unplayed."""
    period = buffer.take_period(ms * BYTES_PER_MS, pad=False)
    buffer.finish_period(period, device_fill=(device_fill_ms * BYTES_PER_MS, clock.now))


def test_a_device_block_is_only_the_audio_there_is() -> None:
    buffer = device_buffer(Clock())
    buffer.add("a", audio(25))

    block = buffer.take_period(60 * BYTES_PER_MS, pad=False)
    assert block.pcm == audio(25)  # no silence: audio queued next is not held back
    assert buffer.take_period(60 * BYTES_PER_MS, pad=False).has_audio is False
    assert buffer.counters()["silent_periods"] == 0


def test_clear_takes_back_what_the_device_had_not_played_and_asks_for_a_drop() -> None:
    clock = Clock()
    buffer = device_buffer(clock)
    buffer.add("a", audio(100, 1))
    buffer.add("b", audio(500, 2))
    hand_block(buffer, clock, 60, device_fill_ms=60)    # a 0-60 in the device
    hand_block(buffer, clock, 60, device_fill_ms=120)   # a 60-100, b 0-20
    hand_block(buffer, clock, 60, device_fill_ms=180)   # b 20-80
    assert buffer.played_bytes("b") == 80 * BYTES_PER_MS

    clock.now += 0.050  # 50 ms played since the device was last filled: 130 ms are left
    buffer.clear()

    # Heard: 180 - 130 = 50 ms, all of item a; b was never heard.
    assert buffer.played_bytes("a") == 50 * BYTES_PER_MS
    assert buffer.played_bytes("b") == 0
    assert buffer.counters()["unplayed_bytes"] == 130 * BYTES_PER_MS
    assert buffer.take_drop_request() is True
    assert buffer.take_drop_request() is False  # once


def test_a_device_that_played_everything_needs_no_drop() -> None:
    clock = Clock()
    buffer = device_buffer(clock)
    buffer.add("a", audio(40))
    hand_block(buffer, clock, 40, device_fill_ms=40)

    clock.now += 0.2
    buffer.clear()
    assert buffer.played_bytes("a") == 40 * BYTES_PER_MS
    assert buffer.take_drop_request() is False


def test_the_block_being_written_during_a_clear_is_taken_back_too() -> None:
    clock = Clock()
    buffer = device_buffer(clock)
    buffer.add("a", audio(200))
    hand_block(buffer, clock, 60, device_fill_ms=60)
    in_flight = buffer.take_period(60 * BYTES_PER_MS, pad=False)

    clock.now += 0.020
    buffer.clear()  # the speaker thread is inside write() with the second block
    assert buffer.played_bytes("a") == 20 * BYTES_PER_MS
    buffer.finish_period(in_flight, device_fill=120 * BYTES_PER_MS)
    assert buffer.played_bytes("a") == 20 * BYTES_PER_MS  # the write's report is stale
    assert buffer.take_drop_request() is True


def test_after_a_drop_the_next_reply_is_counted_from_an_empty_device() -> None:
    clock = Clock()
    buffer = device_buffer(clock)
    buffer.add("a", audio(120))
    hand_block(buffer, clock, 60, device_fill_ms=60)
    hand_block(buffer, clock, 60, device_fill_ms=120)
    buffer.clear()
    assert buffer.take_drop_request() is True

    buffer.add("b", audio(60))
    hand_block(buffer, clock, 60, device_fill_ms=60)
    clock.now += 0.010
    buffer.clear()
    assert buffer.played_bytes("a") == 0
    assert buffer.played_bytes("b") == 10 * BYTES_PER_MS


def test_a_clear_wakes_a_speaker_waiting_for_room() -> None:
    clock = Clock()
    buffer = device_buffer(clock)
    buffer.add("a", audio(200))
    hand_block(buffer, clock, 60, device_fill_ms=60)
    stop = threading.Event()
    waiter = threading.Thread(target=buffer.wait_for_attention, args=(stop, 60.0))
    waiter.start()
    eventually(lambda: len(buffer._attention._waiters) == 1, "the waiter sleeps")

    buffer.clear()
    waiter.join(WAIT)
    assert not waiter.is_alive()


def test_a_clear_wakes_a_resting_speaker_whose_device_still_plays() -> None:
    clock = Clock()
    buffer = device_buffer(clock)
    buffer.add("a", audio(60))
    # The queue is empty: the speaker rests, waking when the device has played its 10 s.
    hand_block(buffer, clock, 60, device_fill_ms=10_000)
    woke: list[bool] = []
    waiter = threading.Thread(target=lambda: woke.append(buffer.wait_for_audio(
        threading.Event())))
    waiter.start()
    eventually(lambda: len(buffer._audio_queued._waiters) == 1, "the waiter sleeps")

    buffer.clear()
    waiter.join(WAIT)
    assert woke == [True] and buffer.take_drop_request() is True


def test_a_file_speaker_never_takes_back_what_it_wrote() -> None:
    buffer = PlaybackBuffer(RecordingInbox())  # a WAV file: its timeline is the record
    buffer.add("a", audio(100))
    play_periods(buffer, 2)
    in_flight = buffer.take_period()
    buffer.clear()
    buffer.finish_period(in_flight)
    assert buffer.played_bytes("a") == 60 * BYTES_PER_MS
    assert buffer.take_drop_request() is False


def test_a_device_still_playing_its_buffer_is_drained_only_once_it_has_played_it() -> None:
    clock = Clock()
    inbox = RecordingInbox()
    buffer = device_buffer(clock, inbox)
    buffer.add("a", audio(60))
    hand_block(buffer, clock, 60, device_fill_ms=60)  # the queue ran dry; the device plays on

    assert inbox.drain() == []
    assert not buffer.is_drained()  # a barge-in now still has something to cut
    waiter = threading.Thread(target=buffer.wait_for_audio, args=(threading.Event(),))
    waiter.start()  # the resting speaker
    eventually(lambda: len(buffer._audio_queued._waiters) == 1, "the waiter sleeps")
    clock.now += 0.030
    reads = clock.reads
    buffer.interrupt()
    # The waiter has looked at the clock since it moved, and gone back to sleep.
    eventually(lambda: clock.reads > reads and len(buffer._audio_queued._waiters) == 1,
               "the waiter looked at the clock and sleeps again")
    assert inbox.drain() == [] and not buffer.is_drained()

    clock.now += 0.030  # the device has played its last sample
    buffer.interrupt()
    assert inbox.next() == PlaybackDrained()
    assert buffer.is_drained()
    buffer.add("b", audio(20))  # wakes the waiter for good
    waiter.join(WAIT)
    assert not waiter.is_alive() and inbox.drain() == []


def test_a_second_clear_during_the_same_write_takes_nothing_back_twice() -> None:
    clock = Clock()
    buffer = device_buffer(clock)
    buffer.add("a", audio(200))
    hand_block(buffer, clock, 60, device_fill_ms=60)
    in_flight = buffer.take_period(60 * BYTES_PER_MS, pad=False)
    clock.now += 0.030

    buffer.clear()  # a barge-in...
    buffer.clear()  # ...and, before the write returns, the session is lost
    assert buffer.played_bytes("a") == 30 * BYTES_PER_MS
    assert buffer.counters()["played_bytes"] == 30 * BYTES_PER_MS
    buffer.finish_period(in_flight, device_fill=(120 * BYTES_PER_MS, clock.now))
    assert buffer.played_bytes("a") == 30 * BYTES_PER_MS


def test_nothing_is_taken_while_a_drop_is_pending() -> None:
    clock = Clock()
    buffer = device_buffer(clock)
    buffer.add("a", audio(200))
    hand_block(buffer, clock, 60, device_fill_ms=60)
    buffer.clear()
    buffer.add("b", audio(100))  # the next reply, before the speaker thread has run

    # Taken now, b's first block would go to the device behind a's audio and be dropped
    # with it, counted as played but never heard.
    assert buffer.take_period(60 * BYTES_PER_MS, pad=False).has_audio is False
    assert buffer.take_drop_request() is True
    block = buffer.take_period(60 * BYTES_PER_MS, pad=False)
    assert block.pcm == audio(60) and buffer.played_bytes("b") == 60 * BYTES_PER_MS
