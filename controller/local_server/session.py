"""One realtime session: client events in, server events out, over either dialect.

Owns ``RealtimeSession``: ``session.created``, parsing each client frame (``invalid_json``,
``invalid_event``, ``invalid_value`` for an unknown type, like the real service), and
dispatching it - ``session.update`` and the ``conversation.item.*`` requests here, the
input buffer to ``InputTurns``, responses to ``Responder``. A refused event becomes an
``error`` echoing the client's ``event_id`` and the session goes on. It owns no socket
and no thread: the connection feeds it text and gives it ``emit`` and ``schedule``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from controller.local_server.brain import Brain
from controller.local_server.dialect import Dialect
from controller.local_server.input_turns import InputTurns
from controller.local_server.items import item_from_client
from controller.local_server.responder import Responder
from controller.local_server.session_beta import DEFAULT_BETA_VOICE
from controller.local_server.session_config import DEFAULT_MODEL, SessionConfig
from controller.local_server.session_state import Emit, Schedule, SessionState
from controller.local_server.streamer import ResponseStreamer
from controller.local_server.transcriber import Transcriber
from controller.local_server.validation import check_int, check_string, require
from controller.local_server.wire import (
    ClientError,
    describe_json_type,
    error_event,
    new_id,
)

Handler = Callable[[dict[str, Any]], None]


class RealtimeSession:
    """The protocol of one connection, from ``session.created`` to its last event."""

    def __init__(self, *, dialect: Dialect, brain: Brain, transcriber: Transcriber,
                 emit: Emit, schedule: Schedule, max_session_seconds: float,
                 model: str | None = None, speedup: float = 4.0) -> None:
        self.created_at = time.monotonic()
        self.max_session_seconds = max_session_seconds
        config = SessionConfig(
            id=new_id("sess"), model=model or DEFAULT_MODEL,
            expires_at=int(time.time() + max_session_seconds),
            voice=DEFAULT_BETA_VOICE if dialect.name == "beta" else "marin")
        self.state = SessionState(config=config, dialect=dialect, brain=brain,
                                  transcriber=transcriber, emit=emit, schedule=schedule)
        self.responder = Responder(self.state, ResponseStreamer(self.state, speedup=speedup))
        self.turns = InputTurns(self.state, self.responder)
        self._handlers: dict[str, Handler] = {
            "session.update": self._update_session,
            "input_audio_buffer.append": self.turns.append,
            "input_audio_buffer.commit": self.turns.commit,
            "input_audio_buffer.clear": self.turns.clear,
            "conversation.item.create": self._create_item,
            "conversation.item.retrieve": self._retrieve_item,
            "conversation.item.truncate": self._truncate_item,
            "conversation.item.delete": self._delete_item,
            "response.create": self.responder.create,
            "response.cancel": self.responder.cancel,
        }

    def open(self) -> None:
        """Announce the session: always the first event on a connection."""
        with self.state.lock:
            self.state.emit({"type": "session.created",
                             "session": self.state.dialect.render_session(self.state.config)})

    def seconds_left(self) -> float:
        return self.max_session_seconds - (time.monotonic() - self.created_at)

    def expiry_message(self) -> str:
        seconds = self.max_session_seconds
        span = f"{seconds / 60:g} minutes" if seconds >= 60 else f"{seconds:g} seconds"
        return f"Your session hit the maximum duration of {span}."

    def expire(self) -> None:
        """The session's time is up: the ``session_expired`` error (the close follows)."""
        with self.state.lock:
            self._refuse(ClientError("session_expired", self.expiry_message()))

    def receive_binary(self) -> None:
        with self.state.lock:
            self._refuse(ClientError("invalid_event", "Expected a text WebSocket message; "
                                     "binary frames are not supported."))

    def receive_text(self, text: str) -> None:
        """Handle one client frame; any refusal becomes an ``error`` event."""
        try:
            event = json.loads(text)
        except json.JSONDecodeError:
            with self.state.lock:
                self._refuse(ClientError("invalid_json", "We could not parse the JSON body of "
                                         "your request. Expected a JSON object."))
            return
        client_event_id = event.get("event_id") if isinstance(event, dict) else None
        # Only a string is echoed back: error.event_id is a string or null on the wire.
        echo = client_event_id if isinstance(client_event_id, str) else None
        with self.state.lock:
            try:
                if client_event_id is not None:
                    check_string(client_event_id, "event_id")
                self._dispatch(event)
            except ClientError as error:
                self._refuse(error, echo)

    def _dispatch(self, event: Any) -> None:
        if not isinstance(event, dict):
            raise ClientError("invalid_event", "Expected a JSON object with a 'type' field, "
                              f"but got {describe_json_type(event)} instead.")
        if "type" not in event:
            raise ClientError("invalid_event", "The 'type' field is missing.")
        handler = self._handlers.get(check_string(event["type"], "type"))
        if handler is None:
            valid = ", ".join(f"'{name}'" for name in self._handlers)
            raise ClientError("invalid_value", f"Invalid value: '{event['type']}'. Supported "
                              f"values are: {valid}.", param="type")
        handler(event)

    def _refuse(self, error: ClientError, client_event_id: Any = None) -> None:
        self.state.emit(error_event(error, client_event_id=client_event_id))

    # --- Handlers (state lock held) -----------------------------------------------------

    def _update_session(self, event: dict[str, Any]) -> None:
        state = self.state
        raw = require(event, "session", "")
        updated = state.dialect.apply_update(state.config, raw,
                                             assistant_spoke=state.assistant_spoke)
        if updated.model != state.config.model:
            raise ClientError("invalid_value", "The model of a session cannot be changed; "
                              "open a new session for another model.", param="session.model")
        state.config = updated
        state.emit({"type": "session.updated", "session": state.dialect.render_session(updated)})

    def _create_item(self, event: dict[str, Any]) -> None:
        item = item_from_client(require(event, "item", ""), self.state.conversation)
        previous_id = event.get("previous_item_id")
        if previous_id is not None:
            previous_id = check_string(previous_id, "previous_item_id")
        previous = self.state.conversation.add(item, previous_id)
        item_json = self.state.dialect.item_json(item)
        self.state.emit({"type": "conversation.item.added", "previous_item_id": previous,
                         "item": item_json})
        self.state.emit({"type": "conversation.item.done", "previous_item_id": previous,
                         "item": item_json})
        if any(p.type == "input_audio" and p.audio and p.transcript is None
               for p in item.content):
            self.state.schedule(lambda: self.turns.transcribe(item))

    def _retrieve_item(self, event: dict[str, Any]) -> None:
        item = self.state.conversation.get(check_string(require(event, "item_id", ""),
                                                        "item_id"))
        self.state.emit({"type": "conversation.item.retrieved",
                         "item": self.state.dialect.item_json(item, with_audio=True)})

    def _truncate_item(self, event: dict[str, Any]) -> None:
        item_id = check_string(require(event, "item_id", ""), "item_id")
        content_index = check_int(require(event, "content_index", ""), "content_index",
                                  minimum=0)
        audio_end_ms = check_int(require(event, "audio_end_ms", ""), "audio_end_ms",
                                 minimum=0)
        self.state.conversation.truncate(item_id, content_index, audio_end_ms)
        self.state.emit({"type": "conversation.item.truncated", "item_id": item_id,
                         "content_index": content_index, "audio_end_ms": audio_end_ms})

    def _delete_item(self, event: dict[str, Any]) -> None:
        item_id = check_string(require(event, "item_id", ""), "item_id")
        self.state.conversation.delete(item_id)
        self.state.emit({"type": "conversation.item.deleted", "item_id": item_id})
