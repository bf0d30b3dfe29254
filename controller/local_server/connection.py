"""One websocket connection to the local server: its reader loop, worker and expiry.

Owns ``Connection``: the reader (the websocket library's handler thread) that feeds client
frames to the ``RealtimeSession`` and waits no longer than the session has left, the worker
thread that runs the session's slow jobs in order (transcription, responses), the outbox
that stamps ``event_id``s, renames events for the dialect and sends them, and the ending:
``session_expired`` then close 1001, or a clean stop that cancels running responses and
joins the worker. It decides nothing about the protocol itself.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection

from controller.local_server.session import RealtimeSession
from controller.local_server.wire import ClientError, error_event, new_id

log = logging.getLogger(__name__)

GOING_AWAY = 1001
INTERNAL_ERROR = 1011
_WORKER_JOIN_SECONDS = 1.0
# recv() wakes at least this often, so expiry is noticed even on a silent connection.
_LONGEST_WAIT_SECONDS = 60.0

Job = Callable[[], None]


class Connection:
    """Serves one client until it leaves, the session expires or the server stops."""

    def __init__(self, websocket: ServerConnection,
                 make_session: Callable[..., RealtimeSession]) -> None:
        self.websocket = websocket
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._stopping = threading.Event()
        self.session = make_session(emit=self._send, schedule=self._jobs.put)
        self._worker = threading.Thread(target=self._work, daemon=True,
                                        name=f"convctl-session-{self.session.state.config.id}")

    def serve(self) -> None:
        """Run until the connection ends; always leaves no thread behind."""
        self._worker.start()
        try:
            self.session.open()
            self._read_until_closed()
        except ConnectionClosed:
            pass
        except Exception:  # a bug in the server: report it to the client and close
            log.exception("local server session failed")
            self._fail()
        finally:
            self._stop_worker()

    def _read_until_closed(self) -> None:
        while True:
            seconds_left = self.session.seconds_left()
            if seconds_left <= 0:
                self._expire()
                return
            try:
                message = self.websocket.recv(timeout=min(seconds_left, _LONGEST_WAIT_SECONDS))
            except TimeoutError:
                continue
            if isinstance(message, bytes):
                self.session.receive_binary()
            else:
                self.session.receive_text(message)

    def _expire(self) -> None:
        self.session.expire()
        self._cancel_responses()
        self.websocket.close(GOING_AWAY, self.session.expiry_message())

    def _fail(self) -> None:
        try:
            self._send(error_event(ClientError(
                "server_error", "The local server hit an internal error; see its log.",
                error_type="server_error")))
            self.websocket.close(INTERNAL_ERROR, "internal error")
        except ConnectionClosed:
            pass

    # --- Outbox -------------------------------------------------------------------------

    def _send(self, event: dict[str, Any]) -> None:
        """Send a GA-named event in this connection's dialect (dropped once closed)."""
        spelled = self.session.state.dialect.spell(event)
        if spelled is None:
            return
        frame = {"type": spelled.pop("type"), "event_id": new_id("event"), **spelled}
        try:
            self.websocket.send(json.dumps(frame))
        except ConnectionClosed:
            log.debug("dropped %s: connection closed", frame["type"])

    # --- Worker -------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if self._stopping.is_set():
                continue
            try:
                job()
            except Exception:
                log.exception("local server job failed")

    def _cancel_responses(self) -> None:
        state = self.session.state
        with state.lock:
            for response in [state.active_response, *state.side_responses.values()]:
                if response is not None:
                    response.request_cancel("client_cancelled")

    def _stop_worker(self) -> None:
        self._stopping.set()
        self._cancel_responses()
        self._jobs.put(None)
        self._worker.join(_WORKER_JOIN_SECONDS)
        if self._worker.is_alive():
            log.warning("session worker still busy after %.1f s", _WORKER_JOIN_SECONDS)
