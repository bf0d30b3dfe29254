"""The ports through which the machine and the states act on the world.

The machine and the state behaviours never touch a socket, a sound card, a thread or the
wall clock: they call these. ``convctl run`` plugs in websocket-client, PyAudio or WAV
files, a thread pool and the wall clock; ``convctl replay`` plugs in scripted ports on a
virtual clock. Every method here must return quickly: blocking work belongs to the
implementation's own threads, which report back by posting to the inbox.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from controller.inbox import InboxItem


class Inbox(Protocol):
    """Where every I/O thread reports what happened (a bounded queue in live runs)."""

    def post(self, item: InboxItem) -> None: ...


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the conversation started (virtual in replay)."""
        ...

    def epoch(self) -> float | None:
        """Unix time at which the conversation started (None when unknown)."""
        ...

    def call_later(self, delay: float, item: InboxItem, *, daemon: bool = False) -> object:
        """Post ``item`` to the inbox after ``delay`` seconds; returns a handle for cancel().
        A ``daemon`` timer is housekeeping: it does not keep a replay from ending."""
        ...

    def cancel(self, handle: object) -> None: ...


class Transport(Protocol):
    def open(self) -> None:
        """Start connecting; server frames arrive in the inbox as parsed events, and the
        end of the connection as ``TransportClosed``."""
        ...

    def send(self, event: Mapping[str, Any]) -> None:
        """Send one client event (never blocks on the network for long)."""
        ...

    def close(self, code: int = 1000, reason: str = "") -> None: ...


# A microphone hands each captured frame (pcm16, 24 kHz mono) to this.
FrameSink = Callable[[bytes], None]


class Microphone(Protocol):
    """Frames flow to the sink given at construction only while open."""

    def open(self) -> None: ...

    def gate(self) -> None:
        """Keep the device running but drop what it hears (half duplex)."""
        ...

    def close(self) -> None: ...


class Speaker(Protocol):
    """Plays assistant audio; posts ``PlaybackDrained`` when it runs out of audio."""

    def play(self, item_id: str, pcm: bytes) -> None: ...

    def clear(self) -> None:
        """Silence now: drop everything queued (barge-in)."""
        ...

    def played_bytes(self, item_id: str) -> int:
        """Bytes of this item that have actually been played (heard) so far; after a
        ``clear()`` it stays at what was played before the speaker fell silent."""
        ...

    def is_drained(self) -> bool: ...

    def close(self) -> None: ...


class ToolRunner(Protocol):
    def start(self, call_id: str, name: str, arguments: Mapping[str, Any]) -> None:
        """Run a tool off the controller thread; its answer arrives as ``ToolFinished``
        (always, also on error or timeout)."""
        ...

    def close(self) -> None: ...


class Console(Protocol):
    """What a person sees: transcript and tool lines, state changes, diagnostics."""

    def transcript(self, role: str, text: str, *, interrupted: bool = False) -> None: ...

    def tool(self, name: str, arguments: Any, output: str) -> None: ...

    def state(self, source: str, target: str, event: str) -> None: ...

    def diagnostic(self, message: str, *, level: str = "info") -> None: ...


class Recorder(Protocol):
    """The event log (``--record``); a no-op when not recording."""

    def server(self, t: float, event: Mapping[str, Any]) -> None: ...

    def client(self, t: float, event: Mapping[str, Any]) -> None: ...

    def state(self, t: float, source: str, target: str, trigger: str) -> None: ...

    def signal(self, t: float, name: str) -> None:
        """A local happening that changed the conversation (see inbox.LOCAL_SIGNALS)."""
        ...
