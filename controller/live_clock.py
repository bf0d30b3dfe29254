"""The live inbox and the wall clock: the two things every live I/O thread shares.

The inbox is a bounded queue (a stuck controller slows the websocket reader down instead
of eating memory). The clock's timers run on one scheduler thread - not a thread per
timer - so the thread count stays constant however many timers come and go.
"""

from __future__ import annotations

import heapq
import itertools
import queue
import threading
import time

from controller.inbox import InboxItem

INBOX_SIZE = 4096


class LiveInbox:
    """Where the I/O threads post; the controller thread takes."""

    def __init__(self, maxsize: int = INBOX_SIZE) -> None:
        self._queue: queue.Queue[InboxItem] = queue.Queue(maxsize=maxsize)

    def post(self, item: InboxItem) -> None:
        self._queue.put(item)

    def take(self, timeout: float) -> InboxItem | None:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None


class _Timer:
    __slots__ = ("cancelled", "item")

    def __init__(self, item: InboxItem) -> None:
        self.item = item
        self.cancelled = False


class WallClock:
    """Seconds since the conversation started, and timers that post to the inbox."""

    def __init__(self, inbox: LiveInbox) -> None:
        self._inbox = inbox
        self._start = time.monotonic()
        self._epoch = time.time()
        self._heap: list[tuple[float, int, _Timer]] = []
        self._seq = itertools.count()
        self._wake = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="convctl-clock", daemon=True)
        self._thread.start()

    def now(self) -> float:
        return time.monotonic() - self._start

    def epoch(self) -> float:
        return self._epoch

    def call_later(self, delay: float, item: InboxItem, *, daemon: bool = False) -> object:
        timer = _Timer(item)
        with self._wake:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), timer))
            self._wake.notify()
        return timer

    def cancel(self, handle: object) -> None:
        if isinstance(handle, _Timer):
            handle.cancelled = True

    def stop(self, timeout: float = 1.0) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        with self._wake:
            while not self._stopped:
                if not self._heap:
                    self._wake.wait()
                    continue
                due, _, timer = self._heap[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                heapq.heappop(self._heap)
                if not timer.cancelled:
                    self._inbox.post(timer.item)
