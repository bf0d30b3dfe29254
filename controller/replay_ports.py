"""Scripted ports on a virtual clock: what ``convctl replay`` plugs into the machine.

Time is counted in integer ticks of 1/48000 s - exactly one byte of 24 kHz pcm16 - so
"how much of this item was played" is plain integer arithmetic, and ``audio_end_ms`` comes
out the same on every machine. The speaker plays like a real one (items in order, in real
rate) and the microphone delivers 20 ms frames as virtual time passes. No threads, no
sleeping, no wall clock.
"""

from __future__ import annotations

import heapq
import json
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from controller.inbox import InboxItem, InputExhausted, PlaybackDrained, ToolFinished
from controller.ports import FrameSink
from controller.scenario import ScriptedTool
from controller.tool_outputs import error_output, result_output

TICKS_PER_SECOND = 48_000  # one tick per byte of 24 kHz mono pcm16
# The virtual clock starts at this Unix time (2027-01-15), so a scenario can place a
# session's expires_at relative to it.
VIRTUAL_EPOCH = 1_800_000_000.0
FRAME_BYTES = 960  # 20 ms


def ticks(seconds: float) -> int:
    return round(seconds * TICKS_PER_SECOND)


@dataclass(slots=True)
class _Entry:
    due: int
    callback: Callable[[], None]
    daemon: bool = False
    cancelled: bool = False


class VirtualClock:
    """A clock that moves only when the replay moves it."""

    def __init__(self, inbox: ReplayInbox) -> None:
        self.tick = 0
        self.epoch_start = VIRTUAL_EPOCH
        self._inbox = inbox
        # (due, seq, entry): tuples compare natively, which keeps the heap cheap.
        self._heap: list[tuple[int, int, _Entry]] = []
        self._seq = 0
        self._live = 0  # entries that keep the replay going (not daemon, not cancelled)

    def now(self) -> float:
        return self.tick / TICKS_PER_SECOND

    def epoch(self) -> float:
        return self.epoch_start

    def schedule(self, due: int, callback: Callable[[], None], *, daemon: bool = False
                 ) -> _Entry:
        self._seq += 1
        entry = _Entry(max(due, self.tick), callback, daemon)
        heapq.heappush(self._heap, (entry.due, self._seq, entry))
        if not daemon:
            self._live += 1
        return entry

    def call_later(self, delay: float, item: InboxItem, *, daemon: bool = False) -> object:
        return self.schedule(self.tick + ticks(delay), lambda: self._inbox.post(item),
                             daemon=daemon)

    def cancel(self, handle: object) -> None:
        if isinstance(handle, _Entry) and not handle.cancelled:
            handle.cancelled = True
            if not handle.daemon:
                self._live -= 1

    @property
    def has_live_entries(self) -> bool:
        return self._live > 0

    def next_due(self) -> int | None:
        """The tick of the next entry that will run, if any."""
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def run_next(self) -> bool:
        """Advance to the next entry and run it; False when nothing is scheduled."""
        while self._heap:
            entry = heapq.heappop(self._heap)[2]
            if entry.cancelled:
                continue
            if not entry.daemon:
                self._live -= 1
            self.tick = entry.due
            entry.callback()
            return True
        return False


class ReplayInbox:
    """The replay's inbox: items are handled in order, on the replay's own thread."""

    def __init__(self) -> None:
        self.items: deque[InboxItem] = deque()

    def post(self, item: InboxItem) -> None:
        self.items.append(item)


class VirtualSpeaker:
    """Plays items one after another at the real rate, on the virtual clock."""

    MAX_ITEMS = 64

    def __init__(self, clock: VirtualClock, inbox: ReplayInbox) -> None:
        self._clock = clock
        self._inbox = inbox
        self._busy_until = 0  # tick at which everything queued has played
        # Per item: [start tick, bytes] segments, merged when contiguous.
        self._segments: dict[str, list[list[int]]] = {}
        self._drain: object | None = None
        self.closed = False

    def play(self, item_id: str, pcm: bytes) -> None:
        now = self._clock.tick
        start = max(now, self._busy_until)
        segments = self._segments.setdefault(item_id, [])
        if segments and segments[-1][0] + segments[-1][1] == start:
            segments[-1][1] += len(pcm)
        else:
            segments.append([start, len(pcm)])
        self._busy_until = start + len(pcm)
        self._forget_old()
        self._schedule_drain()

    def played_bytes(self, item_id: str) -> int:
        now = self._clock.tick
        played = sum(min(n, max(0, now - start)) for start, n in self._segments.get(item_id, ()))
        return played - played % 2  # whole samples

    def is_drained(self) -> bool:
        return self._clock.tick >= self._busy_until

    def clear(self) -> None:
        now = self._clock.tick
        for segments in self._segments.values():
            for seg in segments:
                seg[1] = min(seg[1], max(0, now - seg[0]))
        self._busy_until = min(self._busy_until, now)
        if self._drain is not None:
            self._clock.cancel(self._drain)
            self._drain = None

    def close(self) -> None:
        self.closed = True

    def _schedule_drain(self) -> None:
        # One pending check at a time; when it fires early (more audio came), it moves on.
        if self._drain is None:
            self._drain = self._clock.schedule(self._busy_until, self._drained)

    def _drained(self) -> None:
        self._drain = None
        if self._clock.tick < self._busy_until:
            self._schedule_drain()
            return
        self._inbox.post(PlaybackDrained())

    def _forget_old(self) -> None:
        while len(self._segments) > self.MAX_ITEMS:
            del self._segments[next(iter(self._segments))]


class VirtualMicrophone:
    """Delivers 20 ms frames (silence, or a WAV's audio) while open, as time passes."""

    def __init__(self, clock: VirtualClock, inbox: ReplayInbox, sink: FrameSink,
                 pcm: bytes | None = None) -> None:
        self._clock = clock
        self._inbox = inbox
        self._sink = sink
        self._pcm = pcm  # None: silence forever
        self._pos = 0
        self._exhausted = pcm is None
        self.mode = "closed"
        self._ticking = False
        self._silence = bytes(FRAME_BYTES)

    def open(self) -> None:
        self.mode = "open"
        self._start()

    def gate(self) -> None:
        self.mode = "gated"
        self._start()

    def close(self) -> None:
        self.mode = "closed"

    def _start(self) -> None:
        if not self._ticking:
            self._ticking = True
            self._clock.schedule(self._clock.tick + FRAME_BYTES, self._frame, daemon=True)

    def _frame(self) -> None:
        if self.mode == "closed":
            self._ticking = False
            return
        frame = self._next_frame()
        if self.mode == "open":
            self._sink(frame)
        self._clock.schedule(self._clock.tick + FRAME_BYTES, self._frame, daemon=True)

    def _next_frame(self) -> bytes:
        if self._pcm is None or self._pos >= len(self._pcm):
            if not self._exhausted:
                self._exhausted = True
                self._inbox.post(InputExhausted())
            return self._silence
        frame = self._pcm[self._pos:self._pos + FRAME_BYTES]
        self._pos += FRAME_BYTES
        return frame.ljust(FRAME_BYTES, b"\0")


class ScriptedTools:
    """Tools that answer as the scenario says, after their virtual delay."""

    def __init__(self, clock: VirtualClock, tools: tuple[ScriptedTool, ...],
                 timeout: float) -> None:
        self._clock = clock
        self._tools = {t.name: t for t in tools}
        self._timeout = timeout
        self._pending: list[object] = []

    def start(self, call_id: str, name: str, arguments: Mapping[str, Any]) -> None:
        tool = self._tools[name]
        if tool.delay > self._timeout:
            output = error_output(f"the tool {name} timed out after {self._timeout:g} s")
            delay = self._timeout
        elif tool.raises is not None:
            output, delay = error_output(f"the tool {name} failed: {tool.raises}"), tool.delay
        else:
            output, delay = result_output(tool.result)[0], tool.delay
        self._pending.append(self._clock.call_later(
            delay, ToolFinished(call_id=call_id, output=output, ok=tool.raises is None)))

    def close(self) -> None:
        for handle in self._pending:
            self._clock.cancel(handle)


class ScriptedTransport:
    """The client side of the scripted server: records what the controller sends."""

    def __init__(self, clock: VirtualClock, on_open: Callable[[], None],
                 on_send: Callable[[float, Mapping[str, Any]], None],
                 on_close: Callable[[], None] = lambda: None) -> None:
        self._clock = clock
        self._on_open = on_open
        self._on_close = on_close
        self._on_send = on_send
        self.is_open = False
        self.opens = 0
        self.close_code: int | None = None

    def open(self) -> None:
        self.is_open = True
        self.opens += 1
        self._on_open()

    def send(self, event: Mapping[str, Any]) -> None:
        if not self.is_open:
            return  # like a socket that is gone: the close arrives as its own event
        if event.get("type") != "input_audio_buffer.append":
            # Everything sent must survive the wire: check it is plain JSON.
            event = json.loads(json.dumps(event))
        self._on_send(self._clock.now(), event)

    def close(self, code: int = 1000, reason: str = "") -> None:
        if self.is_open:
            self.is_open = False
            self.close_code = code
            self._on_close()
