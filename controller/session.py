"""The facts of a conversation that outlive any one state.

Which response is active, how much audio of each assistant item was received, which items
were interrupted, which tool calls are pending and what they answered, the transcript and
the usage totals. States read and update these; nothing here does I/O or knows about
threads.
"""

from __future__ import annotations

import itertools
import json
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from controller.transcript import Transcript

BYTES_PER_MS = 48  # pcm16, 24 kHz, mono


@dataclass(slots=True)
class PendingCall:
    """A function call the model made, from the moment it is taken until it is answered."""

    call_id: str
    name: str
    arguments_text: str
    response_id: str
    output: str | None = None
    answered: bool = False
    seq: int = 0  # position in the whole conversation (lines and tool calls)

    @property
    def arguments(self) -> Any:
        try:
            return json.loads(self.arguments_text) if self.arguments_text else {}
        except ValueError:
            return self.arguments_text


@dataclass(slots=True)
class Usage:
    """Token usage summed from ``response.done`` events."""

    responses: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    last_turn: dict[str, int] = field(default_factory=dict)

    def add(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        turn = {k: v for k in ("input_tokens", "output_tokens", "total_tokens")
                if isinstance(v := usage.get(k), int) and not isinstance(v, bool)}
        self.responses += 1
        self.input_tokens += turn.get("input_tokens", 0)
        self.output_tokens += turn.get("output_tokens", 0)
        self.total_tokens += turn.get("total_tokens", 0)
        self.last_turn = turn

    def summary(self) -> str:
        return (f"usage: {self.responses} responses, {self.input_tokens} input + "
                f"{self.output_tokens} output = {self.total_tokens} tokens")


@dataclass(slots=True)
class Counters:
    unrecognized: int = 0
    malformed: int = 0
    nonfatal_errors: int = 0
    dropped_audio_deltas: int = 0


class ConversationFacts:
    """Everything the states need to remember between events."""

    MAX_TRACKED_ITEMS = 64
    MAX_TOOL_LOG = 1000

    def __init__(self) -> None:
        self.session_id: str | None = None
        self.expires_at: int | None = None
        self.session_configured = False
        # The response the server is generating: response.created seen, response.done not yet.
        self.active_response_id: str | None = None
        self.last_done_response_id: str | None = None
        # The tag of the last response.create sent (an error about it names it).
        self.last_create_event_id: str | None = None
        self._creates = itertools.count(1)
        # The response whose audio arrived last (has the active response spoken yet?).
        self.last_audio_response_id: str | None = None
        # Audio bytes received per assistant item, oldest first (bounded).
        self.received_bytes: OrderedDict[str, int] = OrderedDict()
        self.interrupted_items: set[str] = set()
        # Bytes of an item heard when it was truncated (nothing more may play).
        self.truncated_at: OrderedDict[str, int] = OrderedDict()
        self.interrupted_responses: set[str] = set()
        # Tool calls of the current batch, in the order they were taken.
        self.pending_calls: OrderedDict[str, PendingCall] = OrderedDict()
        self.taken_call_ids: set[str] = set()
        self.answered_call_ids: set[str] = set()
        self.tool_log: deque[PendingCall] = deque(maxlen=self.MAX_TOOL_LOG)
        self.calls_response_done = False
        self.owe_response_create = False
        # A response.create was sent and its response.created has not come yet.
        self.awaiting_response = False
        self.last_server_event_at = 0.0
        self.finishing = False
        self.finish_deadline_passed = False
        self._seq = itertools.count()
        self.transcript = Transcript(seq=self._seq)
        self.usage = Usage()
        self.counters = Counters()
        self.fatal_reason: str | None = None
        self.stop_reason: str | None = None
        self.interrupted_by_user = False
        # The microphone's input (a WAV file) has run out: hang up once all is said.
        self.input_exhausted = False
        # Reconnecting: sessions opened, failed attempts since the last good session,
        # whether the next session must be given the conversation so far.
        self.sessions = 0
        self.reconnect_attempt = 0
        self.restore_context = False
        self.recycle_due = False
        # The user is speaking (speech started, the turn not committed yet), or their
        # committed turn has no response yet: not a moment to recycle the session.
        self.user_speaking = False
        self.turn_unanswered = False
        # A response.create that the dead session never turned into a response: asked
        # again once the new session is ready (it was not cut off; it never began).
        self.ask_again_after_reconnect = False

    # --- Responses ----------------------------------------------------------------------

    @property
    def response_active(self) -> bool:
        return self.active_response_id is not None

    @property
    def waiting_for_server(self) -> bool:
        """A response is due from the server (silence now means trouble)."""
        return self.active_response_id is not None or self.awaiting_response

    def next_create_event_id(self) -> str:
        self.last_create_event_id = f"evt_convctl_create_{next(self._creates)}"
        return self.last_create_event_id

    def response_created(self, response_id: str | None) -> None:
        self.awaiting_response = False
        self.turn_unanswered = False
        self.active_response_id = response_id or "resp_unknown"

    @property
    def user_turn_open(self) -> bool:
        return self.user_speaking or self.turn_unanswered

    def user_turn_committed(self) -> None:
        """The user's turn is in the server's hands: answered by the next response."""
        self.user_speaking = False
        self.turn_unanswered = True

    def response_done(self, response_id: str | None) -> None:
        if response_id is None or response_id == self.active_response_id:
            self.active_response_id = None
        self.last_done_response_id = response_id

    # --- Assistant audio ----------------------------------------------------------------

    def audio_received(self, item_id: str, nbytes: int, response_id: str | None = None) -> None:
        self.last_audio_response_id = response_id
        received = self.received_bytes
        if item_id in received:
            received[item_id] += nbytes
            return
        received[item_id] = nbytes
        while len(received) > self.MAX_TRACKED_ITEMS:
            old, _ = received.popitem(last=False)
            self.interrupted_items.discard(old)
            self.truncated_at.pop(old, None)

    def note_truncation(self, item_id: str, heard_bytes: int) -> None:
        # Only recent truncations can still be broken by late audio; keep a few.
        self.truncated_at[item_id] = heard_bytes
        while len(self.truncated_at) > 4:
            self.truncated_at.popitem(last=False)

    def is_dropped_audio(self, response_id: str, item_id: str) -> bool:
        return item_id in self.interrupted_items or response_id in self.interrupted_responses

    # --- Tool calls ---------------------------------------------------------------------

    def take_call(self, call_id: str, name: str, arguments: str, response_id: str
                  ) -> PendingCall | None:
        """The call, the first time it is seen; None for a call already taken."""
        if call_id in self.taken_call_ids:
            return None
        self.taken_call_ids.add(call_id)
        call = PendingCall(call_id=call_id, name=name, arguments_text=arguments,
                           response_id=response_id, seq=next(self._seq))
        self.pending_calls[call_id] = call
        self.tool_log.append(call)
        return call

    def calls_ready(self) -> bool:
        """Every call of the batch has its output and the response that made them is done."""
        return (bool(self.pending_calls) and self.calls_response_done
                and all(c.output is not None for c in self.pending_calls.values()))

    def history(self, count: int = 100) -> list[Any]:
        """The last ``count`` transcript lines and tool calls, in conversation order."""
        entries: list[Any] = [*self.transcript.recent(count), *list(self.tool_log)[-count:]]
        entries.sort(key=lambda entry: entry.seq)
        return entries[-count:]

    def session_lost(self) -> None:
        """The connection died: nothing of the dead session is active any more."""
        self.ask_again_after_reconnect = self.awaiting_response or self.owe_response_create
        self.active_response_id = None
        self.owe_response_create = False
        self.awaiting_response = False
        self.session_configured = False
        self.restore_context = True
        self.user_speaking = self.turn_unanswered = False
        if self.pending_calls:
            self.calls_response_done = True  # the response that made them is gone

    def start_call_batch(self) -> None:
        self.pending_calls.clear()
        self.calls_response_done = False
