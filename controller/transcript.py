"""The conversation's transcript, in conversation order.

A user line takes its place when the user's audio is committed, an assistant line when the
model starts a message; text arrives later (transcription is asynchronous). Lines are
released for printing in order: a user line holds back the lines after it until its
transcription arrives, but only for a bounded time. No I/O here: the caller prints what
``releasable()`` hands out.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(slots=True)
class Line:
    role: str  # "user" | "assistant"
    item_id: str
    seq: int = 0  # position in the whole conversation (lines and tool calls)
    parts: list[str] = field(default_factory=list)
    final_text: str | None = None
    complete: bool = False
    interrupted: bool = False
    failed: bool = False
    released: bool = False

    @property
    def text(self) -> str:
        return self.final_text if self.final_text is not None else "".join(self.parts)


class Transcript:
    """Ordered user and assistant lines, keyed by conversation item id."""

    def __init__(self, max_lines: int = 10_000, seq: Iterator[int] | None = None) -> None:
        self._seq = seq or itertools.count()
        self._lines: list[Line] = []
        self._by_item: dict[str, Line] = {}
        self._next = 0  # index of the first line not yet released
        self._max_lines = max_lines

    # --- Building lines -----------------------------------------------------------------

    def _line(self, role: str, item_id: str) -> Line:
        line = self._by_item.get(item_id)
        if line is None:
            line = Line(role=role, item_id=item_id, seq=next(self._seq))
            self._lines.append(line)
            self._by_item[item_id] = line
            self._forget_old()
        return line

    def user_committed(self, item_id: str) -> None:
        self._line("user", item_id)

    def user_transcribed(self, item_id: str, text: str) -> Line:
        line = self._line("user", item_id)
        line.final_text = text.strip()
        line.complete = True
        return line

    def user_failed(self, item_id: str) -> None:
        line = self._line("user", item_id)
        line.failed = True
        line.complete = True

    def assistant_started(self, item_id: str) -> None:
        self._line("assistant", item_id)

    def assistant_delta(self, item_id: str, delta: str) -> None:
        self._line("assistant", item_id).parts.append(delta)

    def assistant_done(self, item_id: str, text: str | None = None) -> None:
        line = self._line("assistant", item_id)
        if text is not None:
            line.final_text = text
        line.complete = True

    def mark_interrupted(self, item_id: str) -> None:
        line = self._by_item.get(item_id)
        if line is not None and line.role == "assistant":
            line.interrupted = True

    def is_assistant_item(self, item_id: str) -> bool:
        line = self._by_item.get(item_id)
        return line is not None and line.role == "assistant"

    # --- Releasing lines in order -------------------------------------------------------

    def waiting_for_user_text(self) -> bool:
        """A user line without its transcription holds back a complete line after it."""
        head = self._head()
        return (head is not None and head.role == "user" and not head.complete
                and any(line.complete for line in self._lines[self._next + 1:]))

    def releasable(self, *, give_up_waiting: bool = False) -> list[Line]:
        """Lines that may be printed now, in order. ``give_up_waiting`` skips user lines
        whose transcription did not come in time (they are printed when it comes)."""
        out: list[Line] = []
        while self._next < len(self._lines):
            line = self._lines[self._next]
            if not line.complete:
                if give_up_waiting and line.role == "user":
                    self._next += 1
                    continue
                break
            self._next += 1
            if line.text and not line.failed:
                line.released = True
                out.append(line)
        return out

    def late_user_line(self, item_id: str) -> Line | None:
        """A user line completed after it was skipped: printed late rather than lost."""
        line = self._by_item.get(item_id)
        if line is None or line.released or not line.complete or line.failed:
            return None
        if self._lines.index(line) >= self._next:
            return None
        line.released = True
        return line if line.text else None

    def flush(self) -> list[Line]:
        """At the end: everything left that has text, in order."""
        out = [line for line in self._lines[self._next:]
               if line.text and not line.failed and not line.released]
        for line in out:
            line.released = True
        self._next = len(self._lines)
        return out

    def entries(self) -> list[dict[str, object]]:
        """The transcript as the replay report shows it."""
        out: list[dict[str, object]] = []
        for line in self._lines:
            if not line.text or line.failed:
                continue
            entry: dict[str, object] = {"role": line.role, "text": line.text}
            if line.interrupted:
                entry["interrupted"] = True
            out.append(entry)
        return out

    def recent(self, count: int) -> list[Line]:
        """The last ``count`` lines that have text (for replaying context)."""
        lines = [line for line in self._lines if line.text and not line.failed]
        return lines[-count:]

    def _head(self) -> Line | None:
        return self._lines[self._next] if self._next < len(self._lines) else None

    def _forget_old(self) -> None:
        # Memory must not grow with conversation length: released lines far behind are
        # dropped from the index (the log and stdout already have them).
        if len(self._lines) > self._max_lines and self._next > self._max_lines // 2:
            cut = self._max_lines // 2
            for line in self._lines[:cut]:
                self._by_item.pop(line.item_id, None)
            del self._lines[:cut]
            self._next -= cut
