"""The websocket transport: one Realtime API connection over websocket-client.

``WebSocketTransport`` implements the ``Transport`` port. It owns the socket, one reader
thread and the send lock. The reader connects, then reads frames until the connection
ends; each text frame goes through the codec's parse function into the inbox, and the end
arrives there exactly once per ``open()``: ``TransportFailed`` if the connection never
opened, else ``TransportClosed`` (the server's close code and reason, or code None when
the connection broke). Pings are answered by websocket-client as frames are read.

It never judges what the server says (an ``error`` event followed by a 3000/4000 close is
delivered as both), never raises on a dead socket (a send that cannot go out is dropped
and counted), and never lets a key reach a message or a log line (``redact``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import websocket

from controller.codec_build import encode_event
from controller.endpoint import Endpoint, Headers, endpoint_for, redact
from controller.events import Malformed, ServerEvent
from controller.inbox import TransportClosed, TransportFailed
from controller.ports import Inbox
from controller.ws_frames import client_text_frame

__all__ = ["Endpoint", "Headers", "WebSocketTransport", "endpoint_for", "redact"]

log = logging.getLogger(__name__)

# The socket timeout once open: a send that makes no progress for this long means the
# network is gone (a half-sent frame cannot be taken back, so the connection ends).
SEND_STALL_S = 1.0
# close() waits this long in total for the server to answer the close frame.
CLOSE_DEADLINE_S = 1.0
# Of that, the share kept back for waking and joining the reader if the server is silent.
WAKE_GRACE_S = 0.2
# A close reason may hold at most 123 bytes (RFC 6455 section 5.5).
MAX_CLOSE_REASON = 123

Parse = Callable[[str | bytes], ServerEvent]


class _RealtimeSocket(websocket.WebSocket):
    """websocket-client's socket, sending at most one close frame.

    ``recv_data_frame`` answers a server close by calling ``send_close()``. After our own
    close that would be a second close frame, and after a server that dropped TCP at once
    it would raise and lose the close code just read.
    """

    def __init__(self) -> None:
        # 20 ms audio frames must cost microseconds: no pure-Python UTF-8 check per frame.
        super().__init__(skip_utf8_validation=True, enable_multithread=True)
        self._close_once = threading.Lock()

    def send_built_frame(self, frame: bytes) -> None:
        """Send a frame built by ``ws_frames``, under the lock websocket-client's own sends
        (pongs, the close frame) take, so frames never interleave. Each ``send`` waits at
        most the socket timeout: ``SEND_STALL_S`` bounds a stall, not the whole frame
        (``sendall`` would time a slow but moving send out)."""
        with self.lock:
            sock = self.sock
            if sock is None:
                raise websocket.WebSocketConnectionClosedException("socket is already closed.")
            rest = memoryview(frame)
            while rest:
                rest = rest[sock.send(rest):]

    def send_close(self, status: int = websocket.STATUS_NORMAL,
                   reason: str | bytes = b"") -> None:
        if not self._close_once.acquire(blocking=False):
            return
        with contextlib.suppress(OSError, websocket.WebSocketException):
            super().send_close(status, reason)


class _Connection:
    """One ``open()``: its socket, its reader thread and how far it got. The fields are
    guarded by the transport's lock."""

    def __init__(self) -> None:
        self.ws = _RealtimeSocket()
        self.reader: threading.Thread | None = None
        self.is_open = False
        self.closing = False
        self.send_failure: str | None = None


class WebSocketTransport:
    """A ``Transport`` on a real websocket (see the module docstring for the contract)."""

    def __init__(self, endpoint: Endpoint, inbox: Inbox, parse: Parse, *,
                 open_timeout: float = 10.0) -> None:
        self.endpoint = endpoint
        self._inbox = inbox
        self._parse = parse
        self._open_timeout = open_timeout
        # Guards the connection's fields, the counters and every use of a socket outside
        # its reader thread; held for each send, so no data frame follows the close frame.
        self._lock = threading.Lock()
        self._current: _Connection | None = None
        self.sent_frames = 0
        self.dropped_sends = 0
        self.received_frames = 0

    def __repr__(self) -> str:
        return f"WebSocketTransport({self.endpoint!r})"

    # --- The port ------------------------------------------------------------------------

    def open(self) -> None:
        """Start a reader thread that connects and then reads until the connection ends.

        May be called again after ``close()`` or after the end arrived (reconnecting).
        """
        with self._lock:
            previous = self._current
            if previous is not None and not previous.closing and _alive(previous):
                raise RuntimeError("the transport is already open; close() it first")
            conn = self._current = _Connection()
            conn.reader = threading.Thread(target=self._run_connection, args=(conn,),
                                           name="convctl-websocket-reader", daemon=True)
            conn.reader.start()

    def send(self, event: Mapping[str, Any]) -> None:
        """Send one client event as a JSON text frame; dropped (and counted) unless open."""
        frame = client_text_frame(encode_event(event), os.urandom(4))
        with self._lock:
            conn = self._current
            if conn is None or not conn.is_open or conn.closing:
                self.dropped_sends += 1
                return
            try:
                conn.ws.send_built_frame(frame)
            except (websocket.WebSocketException, OSError) as exc:
                self.dropped_sends += 1
                conn.is_open = False
                conn.send_failure = self._redact(f"sending failed: {_describe(exc)}")
                # Part of a frame may be on the wire: the stream is unusable. End it; the
                # reader reports the end as TransportClosed.
                _wake(conn.ws)
            else:
                self.sent_frames += 1

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close cleanly within ``CLOSE_DEADLINE_S`` and join the reader thread."""
        deadline = time.monotonic() + CLOSE_DEADLINE_S
        with self._lock:
            conn = self._current
            if conn is None or conn.reader is None:
                return
            conn.closing = True
            polite = conn.is_open
            if polite:
                # Under the lock: the reader cannot shut the socket down meanwhile.
                with contextlib.suppress(OSError, websocket.WebSocketException):
                    conn.ws.settimeout(CLOSE_DEADLINE_S - WAKE_GRACE_S)
                    conn.ws.send_close(code, reason.encode("utf-8")[:MAX_CLOSE_REASON])
        if polite:
            # A clean close: the reader sees the server's answer and ends by itself.
            conn.reader.join(max(0.0, deadline - time.monotonic() - WAKE_GRACE_S))
        if conn.reader.is_alive():
            with self._lock:
                _wake(conn.ws)
            conn.reader.join(max(0.0, deadline - time.monotonic()))
        if conn.reader.is_alive():
            # Only a TCP connect or DNS lookup in progress cannot be interrupted. The
            # reader gives up within open_timeout; it then posts nothing if a new open()
            # has replaced it.
            log.warning("the websocket reader is still connecting; it ends by itself "
                        "within %.0f s", self._open_timeout)

    # --- The reader thread ---------------------------------------------------------------

    def _run_connection(self, conn: _Connection) -> None:
        try:
            ending = self._connect(conn) or self._read_frames(conn)
        except Exception as exc:
            # Safety net for bugs: the machine must still hear that the connection ended.
            log.exception("the websocket reader failed")
            ending = TransportClosed(code=None, reason=self._redact(f"reader failed: {exc}"))
        finally:
            # Under the lock, as every other use of the socket outside this thread is.
            with self._lock:
                conn.ws.shutdown()
                conn.is_open = False
                replaced = conn is not self._current
        if replaced:
            log.debug("a replaced connection ended: %s", ending)
        else:
            self._inbox.post(ending)

    def _connect(self, conn: _Connection) -> TransportFailed | TransportClosed | None:
        """Open the connection; ``None`` when open, else how it ended."""
        try:
            conn.ws.connect(self.endpoint.url, header=dict(self.endpoint.headers),
                            timeout=self._open_timeout, suppress_origin=True)
        except (websocket.WebSocketException, OSError, ValueError) as exc:
            if conn.closing:
                return TransportClosed(reason="closed before the connection was open")
            reason = _connect_failure(exc, self.endpoint.url, self._open_timeout)
            return TransportFailed(reason=self._redact(reason))
        conn.ws.settimeout(SEND_STALL_S)
        with self._lock:
            if conn.closing:
                return TransportClosed(reason="closed before the connection was open")
            conn.is_open = True
        log.debug("connected to %s", _where(self.endpoint.url))
        return None

    def _read_frames(self, conn: _Connection) -> TransportClosed:
        while True:
            try:
                # control_frame=True: pings are answered (pong) and handed back to us.
                opcode, frame = conn.ws.recv_data_frame(control_frame=True)
            except websocket.WebSocketTimeoutException:
                continue  # idle; websocket-client resumes a partly read frame
            except (websocket.WebSocketException, OSError) as exc:
                return TransportClosed(code=None, reason=self._why_broken(conn, exc))
            data = _as_bytes(frame.data)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return self._closed_by_server(data)
            if opcode == websocket.ABNF.OPCODE_TEXT:
                self._deliver(data.decode("utf-8", "replace"))
            elif opcode == websocket.ABNF.OPCODE_BINARY:
                self._deliver(data)

    def _deliver(self, frame: str | bytes) -> None:
        self.received_frames += 1
        try:
            event = self._parse(frame)
        except Exception as exc:
            # The codec promises Malformed instead of raising; if it breaks that promise
            # the frame is reported as malformed rather than ending the conversation.
            log.exception("the event parser raised on a frame")
            event = Malformed(type="", reason=f"parser failed: {exc!r}",
                              text=frame[:200] if isinstance(frame, str) else "")
        self._inbox.post(event)

    def _closed_by_server(self, data: bytes) -> TransportClosed:
        if len(data) < 2:
            return TransportClosed(code=1005, reason="")  # 1005: closed without a status
        (code,) = struct.unpack("!H", data[:2])
        return TransportClosed(code=code,
                               reason=self._redact(data[2:].decode("utf-8", "replace")))

    def _why_broken(self, conn: _Connection, exc: BaseException) -> str:
        if conn.send_failure:
            return conn.send_failure
        if conn.closing:
            return "closed by convctl; the server did not answer the close in time"
        return self._redact(f"the connection to {_where(self.endpoint.url)} was lost: "
                            f"{_describe(exc)}")

    def _redact(self, text: str) -> str:
        return redact(text, self.endpoint.secrets)


# --- Helpers ---------------------------------------------------------------------------


def _alive(conn: _Connection) -> bool:
    return conn.reader is not None and conn.reader.is_alive()


def _wake(ws: _RealtimeSocket) -> None:
    """Shut the socket down so a reader blocked on it returns (websocket-client's abort());
    called with the transport's lock held."""
    sock = ws.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _as_bytes(data: bytes | bytearray | str) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def _where(url: str) -> str:
    """``wss://host:port/path`` without query or user info, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    with contextlib.suppress(ValueError):
        if parts.port is not None:
            host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _connect_failure(exc: BaseException, url: str, timeout: float) -> str:
    """What went wrong opening ``url``, and what to check (not yet redacted)."""
    where = _where(url)
    if isinstance(exc, websocket.WebSocketBadStatusException):
        hint = {401: "check the API key", 403: "check the API key and its access",
                404: "check the URL and the model or deployment name"}.get(exc.status_code)
        body = (exc.resp_body or b"")[:300].decode("utf-8", "replace").strip()
        return (f"{where} refused the websocket upgrade with HTTP {exc.status_code}"
                + (f" ({hint})" if hint else "") + (f": {body}" if body else ""))
    if isinstance(exc, ConnectionRefusedError):
        return f"could not connect to {where}: connection refused (is the server running?)"
    if isinstance(exc, socket.gaierror):
        return f"could not resolve the host of {where} ({exc.strerror}); check the URL"
    if isinstance(exc, (TimeoutError, websocket.WebSocketTimeoutException)):
        return f"no answer from {where} within {timeout:g} s"
    if isinstance(exc, ssl.SSLError):
        return f"the TLS handshake with {where} failed: {_describe(exc)}"
    return f"could not connect to {where}: {_describe(exc)}"
