"""The speaker's timeline: audio waiting to be played, what was played per item, drain.

``PlaybackBuffer`` is shared by every speaker (sound device or WAV file). The controller
thread adds audio (``play``) and drops it (``clear``); the speaker's own thread takes a
period at a time (20 ms for a WAV file; up to a device block for a sound card), writes it
to the device, and reports the period finished. Played bytes are counted per item by the
speaker thread when it hands a period to the device, so ``played_bytes`` is what barge-in
truncation needs, and it stops growing the moment ``clear`` returns.

A sound card holds what it was handed in its own buffer (up to three blocks) before that
is heard. Such a device ``drops_on_clear``: ``clear()`` takes back from the played
counts what the device has not played yet (estimated from how full the device was when
last asked, what was written since, and the time since: within a few ms on the virtual
devices) and asks the
speaker thread to drop it (``take_drop_request``), so the speaker falls silent within a
millisecond or two instead of playing its buffer out, and the model is told what was
heard.

``PlaybackLoop`` is the speaker thread around a buffer; a subclass only says how one
period reaches its device, and whether the device may rest: a sound card rests (no writes,
no wake-ups) while there is nothing to play and wakes the moment audio is queued; a WAV
file never rests, since silence is part of its timeline. Nothing here blocks the caller:
``play`` and ``clear`` take a lock for microseconds, and the loop reports back only
through the inbox.

Drain rule: ``PlaybackDrained`` is posted each time the queue runs empty after audio was
played (a gap between deltas that arrive slower than real time posts it too, so confirm
with ``is_drained()`` when it is handled). ``clear()`` does not post it: the caller that
cleared knows the speaker is silent, and a late post would be mistaken for the end of
the next response's audio.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from controller.audio_convert import BYTES_PER_MS, PERIOD_BYTES
from controller.inbox import PlaybackDrained, StopRequested
from controller.ports import Inbox

log = logging.getLogger("convctl.audio")

BYTES_PER_SECOND = 1000 * BYTES_PER_MS
# Five minutes of audio: far more than the server runs ahead of real time in practice.
DEFAULT_CAPACITY_MS = 300_000
CLOSE_DEADLINE_SECONDS = 2.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeakerStats:
    """Counters of one speaker; ``underruns`` and ``dropped_bytes`` mean audible trouble."""

    played_bytes: int = 0
    silent_periods: int = 0
    underruns: int = 0
    dropped_bytes: int = 0
    cleared_bytes: int = 0
    drained_posts: int = 0
    unplayed_bytes: int = 0  # handed to the device, then dropped by a clear unheard
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Period:
    """Audio as handed to the device in one write (a WAV file's 20 ms period is padded
    with silence; a sound card's block is not), with how many of its bytes belong to
    which item."""

    pcm: bytes
    parts: tuple[tuple[str, int], ...]
    generation: int

    @property
    def has_audio(self) -> bool:
        return bool(self.parts)


class _Chunk:
    __slots__ = ("item_id", "offset", "pcm")

    def __init__(self, item_id: str, pcm: bytes) -> None:
        self.item_id = item_id
        self.pcm = pcm
        self.offset = 0

    def take(self, limit: int) -> bytes:
        piece = self.pcm[self.offset: self.offset + limit]
        self.offset += len(piece)
        return piece

    @property
    def remaining(self) -> int:
        return len(self.pcm) - self.offset


class PlaybackBuffer:
    """Bounded queue of item audio plus per-item played counters (thread-safe).

    With ``drops_on_clear`` the device can drop what it holds: the speaker thread reports
    how full the device is with each write, and as of when
    (``finish_period(..., device_fill=...)``), and
    ``clear()`` takes the unplayed part back (see the module docstring)."""

    def __init__(self, inbox: Inbox, *, capacity_ms: int = DEFAULT_CAPACITY_MS,
                 drops_on_clear: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._inbox = inbox
        self._capacity = capacity_ms * BYTES_PER_MS
        self._drops_on_clear = drops_on_clear
        self._clock = clock
        self._lock = threading.Lock()
        self._audio_queued = threading.Condition(self._lock)
        self._attention = threading.Condition(self._lock)  # a drop to do, or stop
        self._queue: deque[_Chunk] = deque()
        self._queued = 0
        self._played: dict[str, int] = {}
        self._generation = 0
        self._in_flight: Period | None = None
        self._owes_drained = False
        self._device = _DeviceFill()
        self._drop_wanted = False
        self._counts = {"played_bytes": 0, "silent_periods": 0, "dropped_bytes": 0,
                        "cleared_bytes": 0, "drained_posts": 0, "unplayed_bytes": 0}

    # --- Controller side ---

    def add(self, item_id: str, pcm: bytes) -> None:
        """Queue audio of ``item_id``; what does not fit is dropped, counted and logged."""
        if len(pcm) % 2:
            raise ValueError(f"pcm16 audio must be whole samples, got {len(pcm)} bytes")
        with self._lock:
            room = max(0, self._capacity - self._queued) & ~1
            accepted = pcm[:room]
            if accepted:
                self._queue.append(_Chunk(item_id, accepted))
                self._queued += len(accepted)
                self._audio_queued.notify_all()
            self._played.setdefault(item_id, 0)
            dropped = len(pcm) - len(accepted)
            self._counts["dropped_bytes"] += dropped
        if dropped:
            log.warning("speaker queue full (%d ms): dropped %d ms of item %s",
                        self._capacity // BYTES_PER_MS, dropped // BYTES_PER_MS, item_id)

    def clear(self) -> int:
        """Drop everything queued, and what a ``drops_on_clear`` device still holds;
        returns the queued bytes dropped. ``played_bytes`` is final when this returns."""
        with self._lock:
            dropped = self._queued
            self._queue.clear()
            self._queued = 0
            self._generation += 1
            self._owes_drained = False
            self._counts["cleared_bytes"] += dropped
            if self._drops_on_clear:
                self._take_back_unplayed()
        return dropped

    def played_bytes(self, item_id: str) -> int:
        with self._lock:
            return self._played.get(item_id, 0)

    def is_drained(self) -> bool:
        """Nothing queued, no audio of the current generation being written, and nothing
        left unplayed in a sound card's buffer."""
        with self._lock:
            in_flight = self._in_flight
            return not self._queue and (
                in_flight is None or in_flight.generation != self._generation
            ) and not self._device.unplayed(self._clock())

    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def _take_back_unplayed(self) -> None:
        """Under the lock: uncount what the device will drop - the period being written
        (it is dropped right after) and the estimated unplayed rest of its buffer."""
        unplayed = self._device.unplayed(self._clock())
        parts = self._device.newest(unplayed)
        in_flight = self._in_flight
        if in_flight is not None and in_flight.generation == self._generation - 1:
            parts.extend(in_flight.parts)  # (taken back once: a second clear skips it)
        for item_id, count in parts:
            self._played[item_id] -= count
            self._counts["played_bytes"] -= count
            self._counts["unplayed_bytes"] += count
        self._device = _DeviceFill()
        if parts:
            self._drop_wanted = True
            self._audio_queued.notify_all()
            self._attention.notify_all()

    # --- Speaker thread side ---

    def wait_for_audio(self, stop: threading.Event) -> bool:
        """Block until audio is queued, a drop is wanted, or ``stop`` is set (then call
        ``interrupt``). True if the queue was empty when called: the device has been
        resting. While a sound card still plays what it holds, wake when it has played
        it all, and post the PlaybackDrained owed since the queue ran empty."""
        rested: bool | None = None
        while True:
            with self._lock:
                if rested is None:
                    rested = not self._queue
                if self._queue or self._drop_wanted or stop.is_set():
                    return rested
                busy = self._device.unplayed(self._clock())
                if busy or not self._owes_drained:
                    self._audio_queued.wait(busy / BYTES_PER_SECOND if busy else None)
                    continue
                self._owes_drained = False
                self._counts["drained_posts"] += 1
            self._inbox.post(PlaybackDrained())

    def wait_for_attention(self, stop: threading.Event, seconds: float) -> None:
        """Sleep up to ``seconds``, less if a drop is wanted or ``stop`` is set."""
        with self._lock:
            if not self._drop_wanted and not stop.is_set():
                self._attention.wait(seconds)

    def take_drop_request(self) -> bool:
        """True once after a ``clear`` left audio in the device: drop it now."""
        with self._lock:
            wanted, self._drop_wanted = self._drop_wanted, False
            return wanted

    def interrupt(self) -> None:
        """Wake ``wait_for_audio`` / ``wait_for_attention`` so they can see their stop
        event."""
        with self._lock:
            self._audio_queued.notify_all()
            self._attention.notify_all()

    def take_period(self, size: int = PERIOD_BYTES, *, pad: bool = True) -> Period:
        """The next ``size`` bytes to hand to the device (silence fills what the queue
        cannot unless ``pad`` is false); their audio counts as played from now."""
        with self._lock:
            pieces: list[bytes] = []
            parts: list[tuple[str, int]] = []
            need = size
            # While a drop is pending nothing new is taken: it would be dropped with the
            # old audio (the speaker drops first, then takes).
            while need and self._queue and not self._drop_wanted:
                chunk = self._queue[0]
                piece = chunk.take(need)
                pieces.append(piece)
                parts.append((chunk.item_id, len(piece)))
                need -= len(piece)
                if not chunk.remaining:
                    self._queue.popleft()
            audio = b"".join(pieces)
            self._queued -= len(audio)
            for item_id, count in parts:
                self._played[item_id] = self._played.get(item_id, 0) + count
            self._counts["played_bytes"] += len(audio)
            if not parts and pad:
                self._counts["silent_periods"] += 1
            period = Period(audio + bytes(need) if pad else audio, tuple(parts),
                            self._generation)
            self._in_flight = period if parts else None
            return period

    def is_current(self, period: Period) -> bool:
        """False once a clear has dropped the audio of ``period``."""
        with self._lock:
            return period.generation == self._generation

    def finish_period(self, period: Period, *,
                      device_fill: tuple[int, float] | None = None) -> None:
        """The device has accepted ``period``; post PlaybackDrained if that ran it dry.
        ``device_fill`` (``drops_on_clear`` devices): the bytes the device holds with this
        period, and the clock time that count is as of."""
        with self._lock:
            self._in_flight = None
            current = period.generation == self._generation
            if period.has_audio and current:
                self._owes_drained = True
            if device_fill is not None and current:
                self._device.handed(period.parts, *device_fill)
            # A sound card still playing its buffer is drained once it has played it
            # all: ``wait_for_audio`` posts then.
            post = (self._owes_drained and not self._queue
                    and not self._device.unplayed(self._clock()))
            if post:
                self._owes_drained = False
                self._counts["drained_posts"] += 1
        if post:
            self._inbox.post(PlaybackDrained())


class _DeviceFill:
    """What a sound card holds that it has not played: ``fill`` bytes as of ``at``, the
    newest of them from the parts last handed over (oldest first)."""

    __slots__ = ("at", "fill", "parts")

    def __init__(self) -> None:
        self.parts: deque[tuple[str, int]] = deque()
        self.fill = 0
        self.at = 0.0

    def handed(self, parts: tuple[tuple[str, int], ...], fill: int, at: float) -> None:
        self.parts.extend(parts)
        self.fill, self.at = fill, at
        excess = sum(count for _, count in self.parts) - fill
        while excess > 0 and self.parts:  # older audio has been played
            item_id, count = self.parts.popleft()
            if count > excess:
                self.parts.appendleft((item_id, count - excess))
            excess -= count

    def unplayed(self, now: float) -> int:
        """Bytes not played by ``now``: the device plays one sample per sample period."""
        if not self.fill:
            return 0
        played_since = int((now - self.at) * BYTES_PER_SECOND)
        return max(0, self.fill - played_since) & ~1

    def newest(self, count: int) -> list[tuple[str, int]]:
        """The last ``count`` bytes handed over, as (item, bytes) parts."""
        taken: list[tuple[str, int]] = []
        for item_id, size in reversed(self.parts):
            if count <= 0:
                break
            taken.append((item_id, min(size, count)))
            count -= size
        return taken


class PlaybackLoop:
    """A speaker: one thread feeding periods from a ``PlaybackBuffer`` to a device.

    Subclasses implement ``_write_period`` (returns once the device took the period, like
    a sound card does) and ``_close_output``, may implement ``_wait_for_room`` (so the
    period is taken from the queue as late as possible) and ``_take_period``, and call
    ``_start_thread`` once the device is open. With ``rests_when_idle`` the loop writes
    nothing while the queue is empty and waits for audio; the first period after a rest
    goes to a device that ran dry on purpose, which is not an underrun. With
    ``drops_on_clear`` the device can drop what it holds (``_drop_device_audio``,
    ``_device_fill``): a clear silences it at once.
    """

    rests_when_idle = False
    drops_on_clear = False

    def __init__(self, inbox: Inbox, *, name: str,
                 capacity_ms: int = DEFAULT_CAPACITY_MS) -> None:
        self._inbox = inbox
        self._name = name
        self._buffer = PlaybackBuffer(inbox, capacity_ms=capacity_ms,
                                      drops_on_clear=self.drops_on_clear)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._underruns = 0
        self._previous_had_audio = False
        self._resumed = False
        self._error: str | None = None

    # --- Speaker port ---

    def play(self, item_id: str, pcm: bytes) -> None:
        self._buffer.add(item_id, pcm)

    def clear(self) -> None:
        self._buffer.clear()

    def played_bytes(self, item_id: str) -> int:
        return self._buffer.played_bytes(item_id)

    def played_ms(self, item_id: str) -> int:
        """Whole milliseconds of the item played (``audio_end_ms`` of a truncate)."""
        return self._buffer.played_bytes(item_id) // BYTES_PER_MS

    def is_drained(self) -> bool:
        return self._buffer.is_drained()

    def stats(self) -> SpeakerStats:
        return SpeakerStats(underruns=self._underruns, error=self._error,
                            **self._buffer.counters())

    def close(self) -> None:
        """Stop the thread (it finishes the period in hand) and close the device."""
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        self._buffer.interrupt()
        thread.join(CLOSE_DEADLINE_SECONDS)
        if thread.is_alive():
            log.warning("%s did not stop within %.1f s", self._name, CLOSE_DEADLINE_SECONDS)
        self._thread = None

    def __enter__(self) -> PlaybackLoop:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- For subclasses ---

    def _start_thread(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def _wait_for_room(self) -> bool:
        """Wait until the device can take a period without blocking; False once stopped.
        The next period is taken only then, so a ``clear`` in the meantime still counts."""
        return True

    def _take_period(self) -> Period:
        return self._buffer.take_period()

    def _write_period(self, period: Period) -> None:
        raise NotImplementedError

    def _device_fill(self) -> tuple[int, float] | None:
        """Bytes the device holds unplayed after a write, and the clock time that count
        is as of (``drops_on_clear`` devices)."""
        return None

    def _drop_device_audio(self) -> None:
        """Make the device drop everything it holds, at once (``drops_on_clear``)."""
        raise NotImplementedError

    def _drop_if_asked(self) -> bool:
        """Drop the device's audio if a clear asked for it; True if it did."""
        if not (self.drops_on_clear and self._buffer.take_drop_request()):
            return False
        self._drop_device_audio()
        self._resumed = True  # the device is empty on purpose: not an underrun
        return True

    def _close_output(self) -> None:
        raise NotImplementedError

    def _note_underrun(self, period: Period) -> bool:
        """The device ran dry before this period arrived. Counted (True) only while audio
        plays (this period or the one before had some): starving on silence is harmless,
        and so is the first period after a rest."""
        if self._resumed or not (period.has_audio or self._previous_had_audio):
            return False
        self._underruns += 1
        if self._underruns & (self._underruns - 1) == 0:
            log.warning("%s underrun: the device ran out of audio (%d so far)",
                        self._name, self._underruns)
        return True

    # --- The speaker thread ---

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if self.rests_when_idle and not self._previous_had_audio:
                    if self._buffer.wait_for_audio(self._stop):
                        self._resumed = True
                    if self._stop.is_set():
                        break
                self._drop_if_asked()
                if not self._wait_for_room():
                    break
                period = self._take_period()
                if self.rests_when_idle and not period.has_audio:
                    self._previous_had_audio = False  # rest; the device plays out its buffer
                    continue
                if self.drops_on_clear and not self._buffer.is_current(period):
                    self._buffer.finish_period(period)  # cleared before it was written
                    continue
                self._write_period(period)
                self._previous_had_audio = period.has_audio
                self._resumed = False
                self._buffer.finish_period(period, device_fill=self._device_fill())
                self._drop_if_asked()
        except Exception as exc:  # the thread's safety net: report, never die silently
            self._fail(exc)
        finally:
            self._close_quietly()

    def _fail(self, exc: Exception) -> None:
        self._error = f"{type(exc).__name__}: {exc}"
        log.error("%s stopped: %s", self._name, self._error, exc_info=exc)
        self._inbox.post(StopRequested(reason=f"the speaker failed: {exc}"))

    def _close_quietly(self) -> None:
        try:
            self._close_output()
        except Exception as exc:
            log.warning("%s: closing the output failed: %s", self._name, exc)
