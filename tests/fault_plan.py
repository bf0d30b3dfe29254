"""The fault proxy's vocabulary: what a fault is, and what the proxy logs.

``Fault`` says what to do to which frame of which connection (see ``fault_proxy.py``);
``ConnectionLog`` and ``LoggedFrame`` are what passed through a connection and what was
done to it; ``frame_type`` and ``corrupted`` read and break frames. Pure data and pure
functions: no sockets, no threads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Action = Literal["drop", "close", "delay", "reorder", "corrupt", "swallow", "stall", "inject"]
Direction = Literal["server", "client"]
Corruption = Literal["cut", "not_utf8", "binary"]
Frame = str | bytes

# Fields that carry base64 audio: logged as their length only.
AUDIO_FIELDS = ("audio", "delta")


@dataclass(frozen=True)
class Fault:
    """One fault of the plan (see the module docstring)."""

    action: Action
    on: str = "open"
    nth: int = 1
    direction: Direction = "server"
    connection: int | None = 1
    after: bool = False
    seconds: float = 0.0
    code: int = 1001
    reason: str = ""
    error: Mapping[str, Any] | None = None
    how: Corruption = "cut"
    frame: str = ""
    # Only frames of type ``on`` that hold this text count (e.g. '"get_weather"').
    has: str = ""

    def matches(self, direction: Direction, type_: str, frame: Frame) -> bool:
        if direction != self.direction or type_ != self.on:
            return False
        return not self.has or (isinstance(frame, str) and self.has in frame)

    def describe(self) -> str:
        what = {"close": f"close {self.code}" + (" after an error" if self.error else ""),
                "delay": f"delay {self.seconds:g} s", "corrupt": f"corrupt ({self.how})"}
        which = f" with {self.has}" if self.has else ""
        return (f"{what.get(self.action, self.action)} at {self.direction} {self.on}{which} "
                f"#{self.nth}" + (" (after it)" if self.after else ""))


@dataclass(frozen=True)
class LoggedFrame:
    t: float  # seconds since the proxy started
    direction: Direction
    type: str
    event: Mapping[str, Any] | None  # None for a frame that is not a JSON object
    fate: str = "forwarded"  # or swallowed, corrupted, stalled, injected, after the end


@dataclass
class ConnectionLog:
    """What passed through one connection, and what was done to it."""

    number: int
    path: str
    frames: list[LoggedFrame] = field(default_factory=list)
    injected: list[str] = field(default_factory=list)
    ended: str = ""

    def events(self, direction: Direction, type_: str | None = None,
               fate: str = "forwarded") -> list[Mapping[str, Any]]:
        return [f.event for f in self.frames
                if f.direction == direction and f.fate == fate and f.event is not None
                and (type_ is None or f.type == type_)]


def frame_type(frame: Frame) -> tuple[str, dict[str, Any] | None]:
    """The event type of a frame and the event with its audio shortened (for the log)."""
    try:
        event = json.loads(frame)
    except ValueError:
        return "<not json>", None
    if not isinstance(event, dict):
        return "<not an object>", None
    short = {k: (len(v) if k in AUDIO_FIELDS and isinstance(v, str) and len(v) > 64 else v)
             for k, v in event.items()}
    return str(event.get("type", "<no type>")), short


def corrupted(frame: Frame, how: str) -> Frame:
    text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
    if how == "not_utf8":
        return b"\xff\xfe{" + text[:40].encode("utf-8")  # sent as a binary frame
    if how == "binary":
        return text.encode("utf-8")
    return text[: max(1, len(text) // 2)]
