"""Runs the user's tools off the controller thread, and answers every call exactly once.

``ThreadedToolRunner`` is the live ``ToolRunner`` port: ``start`` queues a call and returns
at once; a small pool of worker threads runs the function; one ``ToolFinished`` per
``call_id`` reaches the inbox: the result, or an error output when the tool raises, gets
arguments that do not fit, is unknown, takes longer than the timeout (answered at the
deadline by a watchdog thread; a late result is dropped), or is cut off by ``close()``.

What it must never do: block the caller, answer a call twice or not at all, or let a
failing tool take a thread down with it. Python cannot stop a running function, so a tool
that never returns keeps its (daemon) worker thread until it does: ``close()`` answers its
call, waits at most ``close_timeout`` seconds, then leaves that thread behind, reports it in
``abandoned``, and drops whatever it returns later. Every other thread is joined.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from controller.inbox import ToolFinished
from controller.ports import Inbox
from controller.tool_outputs import error_output, result_output

if TYPE_CHECKING:
    from controller.tools import ToolRegistry


@dataclass(frozen=True)
class _Call:
    call_id: str
    name: str
    arguments: Mapping[str, Any]
    deadline: float


def _describe(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:
        text = ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class ThreadedToolRunner:
    """A bounded pool of worker threads plus one watchdog for deadlines."""

    def __init__(self, registry: ToolRegistry, inbox: Inbox, *, timeout: float = 10.0,
                 max_workers: int = 4, close_timeout: float = 2.0, max_queued: int = 64) -> None:
        if timeout <= 0 or max_workers < 1 or close_timeout < 0 or max_queued < 1:
            raise ValueError("timeout must be > 0, max_workers and max_queued >= 1, "
                             "close_timeout >= 0")
        self._registry = registry
        self._inbox = inbox
        self._timeout = timeout
        self._max_workers = max_workers
        self._close_timeout = close_timeout
        self._max_queued = max_queued
        self._lock = threading.Lock()
        self._wakeup = threading.Condition(self._lock)
        self._jobs: queue.Queue[_Call | None] = queue.Queue()
        self._pending: dict[str, _Call] = {}  # accepted and not yet answered
        self._seen: set[str] = set()          # every call_id ever accepted
        self._running: dict[str, str] = {}    # worker thread name -> tool it is running
        self._workers: list[threading.Thread] = []
        self._watchdog: threading.Thread | None = None
        self._queued = 0
        self._idle = 0
        self._closed = False
        self.abandoned: tuple[str, ...] = ()  # tools still running when close() gave up

    # --- The ToolRunner port -------------------------------------------------------------

    def start(self, call_id: str, name: str, arguments: Mapping[str, Any]) -> None:
        """Queue one call; its ``ToolFinished`` arrives in the inbox later (never twice)."""
        refusal = None
        with self._lock:
            if call_id in self._seen:
                return  # the same call delivered twice: it was answered, or will be, once
            self._seen.add(call_id)
            if self._closed:
                refusal = "the conversation is ending; the tool was not run"
            elif self._queued >= self._max_queued:
                refusal = f"too many tool calls at once ({self._max_queued} waiting); try later"
            else:
                call = _Call(call_id, name, arguments, time.monotonic() + self._timeout)
                self._pending[call_id] = call
                self._queued += 1
                self._jobs.put(call)
                self._start_threads()
                self._wakeup.notify_all()
        if refusal is not None:
            self._inbox.post(ToolFinished(call_id=call_id, output=error_output(refusal), ok=False))

    def close(self) -> None:
        """Stop taking calls, answer the unanswered ones, and join the threads (bounded)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            cancelled = list(self._pending.values())
            self._pending.clear()
            threads = [*self._workers, *([self._watchdog] if self._watchdog else [])]
            for _ in self._workers:
                self._jobs.put(None)
            self._wakeup.notify_all()
        for call in cancelled:
            output = error_output(f"the conversation ended before {call.name} finished")
            self._inbox.post(ToolFinished(call_id=call.call_id, output=output, ok=False))
        deadline = time.monotonic() + self._close_timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            self.abandoned = tuple(self._running[t.name] for t in threads
                                   if t.is_alive() and t.name in self._running)

    # --- Threads ---------------------------------------------------------------------------

    def _start_threads(self) -> None:
        """Add a worker when the queued calls outnumber the idle ones (lock held)."""
        if self._watchdog is None:
            self._watchdog = threading.Thread(target=self._watch, daemon=True,
                                              name="convctl-tool-watchdog")
            self._watchdog.start()
        if self._queued > self._idle and len(self._workers) < self._max_workers:
            worker = threading.Thread(target=self._work, daemon=True,
                                      name=f"convctl-tool-{len(self._workers) + 1}")
            self._workers.append(worker)
            self._idle += 1
            worker.start()

    def _work(self) -> None:
        me = threading.current_thread().name
        while (call := self._jobs.get()) is not None:
            with self._lock:
                self._queued -= 1
                self._idle -= 1
                wanted = call.call_id in self._pending  # not timed out while it waited
                self._running[me] = call.name
            if wanted:
                output, ok = self._run(call)
                self._answer(call.call_id, output, ok)
            with self._lock:
                del self._running[me]
                self._idle += 1

    def _watch(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                overdue = [c for c in self._pending.values() if c.deadline <= now]
                for call in overdue:
                    del self._pending[call.call_id]
                if not overdue:
                    if self._closed:
                        return
                    upcoming = [c.deadline for c in self._pending.values()]
                    self._wakeup.wait(min(upcoming) - now if upcoming else None)
                    continue
            for call in overdue:
                message = f"{call.name} did not finish within {self._timeout:g} seconds"
                self._inbox.post(ToolFinished(call_id=call.call_id, output=error_output(message),
                                              ok=False))

    # --- One call --------------------------------------------------------------------------

    def _run(self, call: _Call) -> tuple[str, bool]:
        """The answer to one call; never raises."""
        described = self._registry.get(call.name)
        if described is None:
            known = ", ".join(self._registry.names()) or "none"
            return error_output(f"there is no tool named '{call.name}' (tools: {known})"), False
        try:
            kwargs = described.prepare(call.arguments)
        except Exception as exc:
            why = str(exc) if isinstance(exc, ValueError) else _describe(exc)
            return error_output(f"bad arguments for {call.name}: {why}"), False
        try:
            value = described.function(**kwargs)
        except BaseException as exc:  # SystemExit too: a tool must not end a worker silently
            return error_output(f"{call.name} failed: {_describe(exc)}"), False
        return result_output(value)

    def _answer(self, call_id: str, output: str, ok: bool) -> None:
        with self._lock:
            if self._pending.pop(call_id, None) is None:
                return  # already answered: timed out, or cancelled by close()
        self._inbox.post(ToolFinished(call_id=call_id, output=output, ok=ok))
