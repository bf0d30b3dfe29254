"""The websocket transport against real websocket servers on 127.0.0.1.

Each story runs a `websockets` server (or, where a misbehaving server is needed, a raw
socket speaking just enough of the protocol) and checks what reaches the inbox and what
the server saw. Nothing sleeps: waits are queue.get / Event.wait with timeouts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import queue
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from waiting import eventually
from websockets.sync.server import ServerConnection, serve

from controller.endpoint import Endpoint, Headers, endpoint_for
from controller.events import Malformed, ServerEvent
from controller.inbox import InboxItem, TransportClosed, TransportFailed
from controller.transport import WebSocketTransport, _RealtimeSocket

KEY = "sk-test-SECRET-7f3a9c21d4"
AD_TOKEN = "eyJ0eXAi.SECRET-entra-token.sig"
WAIT = 5.0


class QueueInbox:
    def __init__(self) -> None:
        self.items: queue.Queue[InboxItem] = queue.Queue()

    def post(self, item: InboxItem) -> None:
        self.items.put(item)

    def next(self) -> InboxItem:
        return self.items.get(timeout=WAIT)


def parse_json(frame: str | bytes) -> ServerEvent:
    """The trivial codec of these tests: JSON in, a ServerEvent with the raw dict out."""
    event = json.loads(frame)
    return ServerEvent(type=event["type"], raw=event)


Handler = Callable[[ServerConnection], None]


class LoopbackServer:
    """A websockets server on 127.0.0.1 that records each handshake and runs ``handler``."""

    def __init__(self, handler: Handler) -> None:
        self.handshakes: queue.Queue[tuple[str, dict[str, str]]] = queue.Queue()
        self._handler = handler
        self._server = serve(self._handle, "127.0.0.1", 0, max_size=None,
                             ping_interval=None, compression=None)
        self.port = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self._server.serve_forever)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime?model=test"

    def _handle(self, conn: ServerConnection) -> None:
        assert conn.request is not None
        headers = {name.lower(): value for name, value in conn.request.headers.raw_items()}
        self.handshakes.put((conn.request.path, headers))
        self._handler(conn)

    def stop(self) -> None:
        self._server.shutdown()  # also waits for every connection handler to end
        self._thread.join(WAIT)


@pytest.fixture
def make_server() -> Iterator[Callable[[Handler], LoopbackServer]]:
    servers: list[LoopbackServer] = []

    def start(handler: Handler) -> LoopbackServer:
        servers.append(LoopbackServer(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def drain(conn: ServerConnection) -> None:
    for _ in conn:
        pass


def open_transport(url: str, inbox: QueueInbox, headers: dict[str, str] | None = None,
                   ) -> WebSocketTransport:
    endpoint = Endpoint(url=url, headers=Headers(headers or {"Authorization": f"Bearer {KEY}"}))
    transport = WebSocketTransport(endpoint, inbox, parse_json, open_timeout=WAIT)
    transport.open()
    return transport


def reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "convctl-websocket-reader"]


# --- Receiving ---------------------------------------------------------------------------


def test_server_frames_reach_the_inbox_parsed_and_in_order(make_server):
    def handler(conn: ServerConnection) -> None:
        conn.send(json.dumps({"type": "session.created", "session": {"id": "sess_1"}}))
        # A message fragmented into continuation frames is reassembled before parsing.
        conn.send(['{"type": "response.', 'created", ', '"n": 2}'])
        conn.send(json.dumps({"type": "response.done", "n": 3}))
        drain(conn)

    server = make_server(handler)
    inbox = QueueInbox()
    transport = open_transport(server.url, inbox)
    events = [inbox.next() for _ in range(3)]
    transport.close()

    assert [e.type for e in events if isinstance(e, ServerEvent)] == [
        "session.created", "response.created", "response.done"]
    assert events[0].raw["session"] == {"id": "sess_1"}  # type: ignore[union-attr]
    assert events[1].raw["n"] == 2  # type: ignore[union-attr]
    assert transport.received_frames == 3


def test_a_200_kib_frame_is_received_whole(make_server):
    delta = base64.b64encode(bytes(range(256)) * 600).decode()[: 200 * 1024]

    def handler(conn: ServerConnection) -> None:
        conn.send(json.dumps({"type": "response.output_audio.delta", "delta": delta}))
        drain(conn)

    server = make_server(handler)
    inbox = QueueInbox()
    transport = open_transport(server.url, inbox)
    event = inbox.next()
    transport.close()

    assert isinstance(event, ServerEvent)
    assert len(event.raw["delta"]) == 200 * 1024
    assert event.raw["delta"] == delta


def test_server_pings_are_answered_while_reading(make_server):
    pong_seen: queue.Queue[bool] = queue.Queue()

    def handler(conn: ServerConnection) -> None:
        conn.send(json.dumps({"type": "session.created"}))
        for _ in range(3):
            pong_seen.put(conn.ping(b"are you there").wait(WAIT))
        drain(conn)

    server = make_server(handler)
    inbox = QueueInbox()
    transport = open_transport(server.url, inbox)
    inbox.next()
    answers = [pong_seen.get(timeout=2 * WAIT) for _ in range(3)]
    transport.close()

    assert answers == [True, True, True]


def test_a_parser_that_raises_gives_a_malformed_event_and_the_connection_lives_on(
        make_server):
    def handler(conn: ServerConnection) -> None:
        conn.send("not json at all")
        conn.send(json.dumps({"type": "session.created"}))
        drain(conn)

    server = make_server(handler)
    inbox = QueueInbox()
    transport = open_transport(server.url, inbox)
    bad, good = inbox.next(), inbox.next()
    transport.close()

    assert isinstance(bad, Malformed) and bad.text == "not json at all"
    assert isinstance(good, ServerEvent) and good.type == "session.created"


def test_invalid_utf8_in_a_text_frame_is_delivered_not_fatal():
    # Frames are not UTF-8-checked byte by byte in Python (20 ms audio frames must be
    # cheap); a bad byte becomes U+FFFD and the connection lives on.
    def answer(conn: socket.socket) -> None:
        accept_upgrade(conn)
        conn.sendall(server_text_frame(b'{"type": "x", "text": "caf\xe9"}'))
        conn.sendall(server_text_frame(b'{"type": "session.created"}'))
        release.wait(WAIT)

    release = threading.Event()
    with raw_server(answer) as port:
        inbox = QueueInbox()
        transport = open_transport(f"ws://127.0.0.1:{port}/", inbox)
        odd, after = inbox.next(), inbox.next()
        release.set()
        transport.close()

    assert isinstance(odd, ServerEvent) and odd.raw["text"] == "caf\ufffd"
    assert isinstance(after, ServerEvent) and after.type == "session.created"


# --- Sending -----------------------------------------------------------------------------


def test_sends_from_several_threads_arrive_whole_and_in_order_per_thread(make_server):
    received: queue.Queue[dict[str, Any]] = queue.Queue()

    def handler(conn: ServerConnection) -> None:
        conn.send(json.dumps({"type": "session.created"}))
        for message in conn:
            received.put(json.loads(message))

    server = make_server(handler)
    inbox = QueueInbox()
    transport = open_transport(server.url, inbox)
    inbox.next()  # open: the server has spoken

    def sender(thread: int) -> None:
        for seq in range(200):
            transport.send({"type": "input_audio_buffer.append", "thread": thread, "seq": seq,
                            "audio": "A" * 640})

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    messages = [received.get(timeout=WAIT) for _ in range(800)]
    transport.close()

    for thread in range(4):
        assert [m["seq"] for m in messages if m["thread"] == thread] == list(range(200))
    assert transport.sent_frames == 800 and transport.dropped_sends == 0


def slow_peer(ours_timeout: float) -> tuple[_RealtimeSocket, socket.socket]:
    """Our websocket on one end of a socket pair with small buffers; the peer's end."""
    ours, theirs = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ours.settimeout(ours_timeout)
    ws = _RealtimeSocket()
    ws.sock = ours
    return ws, theirs


def test_a_big_frame_to_a_slow_but_reading_peer_is_not_timed_out():
    # The socket timeout bounds a stall, not the whole frame: 3 MB to a peer that takes
    # at least 1.5 s to read it, with a 1 s timeout, goes through. (The timeout has room
    # for a busy machine pausing the reader thread now and then.)
    ws, peer = slow_peer(ours_timeout=1.0)
    frame = bytes(3_000_000)
    got = bytearray()

    def read_slowly() -> None:
        while chunk := peer.recv(20_000):  # until our end closes
            got.extend(chunk)
            time.sleep(0.01)  # the peer's own pace

    reader = threading.Thread(target=read_slowly, daemon=True)
    reader.start()
    try:
        ws.send_built_frame(frame)
    finally:
        ws.sock.close()
        reader.join(WAIT)
        peer.close()

    assert bytes(got) == frame


def test_a_peer_that_stops_reading_times_the_send_out():
    ws, peer = slow_peer(ours_timeout=0.2)

    with pytest.raises(TimeoutError):
        ws.send_built_frame(bytes(1_000_000))
    peer.close()
    ws.sock.close()


def test_sending_before_open_or_after_the_end_is_dropped_and_counted(make_server):
    def handler(conn: ServerConnection) -> None:
        conn.close(1000, "bye")

    server = make_server(handler)
    inbox = QueueInbox()
    endpoint = Endpoint(url=server.url)
    transport = WebSocketTransport(endpoint, inbox, parse_json)
    transport.send({"type": "session.update"})  # not open yet
    transport.open()
    assert inbox.next() == TransportClosed(code=1000, reason="bye")
    transport.send({"type": "session.update"})  # the socket is gone: no exception
    transport.close()

    assert transport.dropped_sends == 2 and transport.sent_frames == 0


# --- How connections end -----------------------------------------------------------------


@pytest.mark.parametrize(("code", "reason"), [
    (4000, "beta_api_shape_disabled"),
    (3000, "invalid_request_error.invalid_api_key"),
    (1001, "Your session hit the maximum duration of 60 minutes."),
])
def test_an_error_event_then_a_server_close_both_reach_the_inbox(make_server, code, reason):
    def handler(conn: ServerConnection) -> None:
        conn.send(json.dumps({"type": "error", "error": {"code": "invalid_api_key"}}))
        conn.close(code, reason)

    server = make_server(handler)
    inbox = QueueInbox()
    transport = open_transport(server.url, inbox)
    error, closed = inbox.next(), inbox.next()
    transport.close()

    assert isinstance(error, ServerEvent) and error.type == "error"
    assert closed == TransportClosed(code=code, reason=reason)
    assert inbox.items.empty()  # the end is posted once, also after close()


def test_close_sends_a_close_frame_the_server_sees_and_joins_the_reader(make_server):
    server_saw: queue.Queue[tuple[int | None, str | None]] = queue.Queue()

    def handler(conn: ServerConnection) -> None:
        conn.send(json.dumps({"type": "session.created"}))
        drain(conn)
        rcvd = conn.protocol.close_rcvd
        server_saw.put((rcvd.code, rcvd.reason) if rcvd else (None, None))

    baseline = threading.active_count()
    server = make_server(handler)
    inbox = QueueInbox()
    transport = open_transport(server.url, inbox)
    inbox.next()
    transport.close(1000, "user hung up")

    assert reader_threads() == []
    assert server_saw.get(timeout=WAIT) == (1000, "user hung up")
    assert inbox.next() == TransportClosed(code=1000, reason="user hung up")
    server.stop()
    # The server's handler thread is still finishing its last lines when stop() returns.
    eventually(lambda: threading.active_count() == baseline, "no thread left behind")


def test_the_transport_reopens_after_the_server_closed(make_server):
    def handler(conn: ServerConnection) -> None:
        conn.send(json.dumps({"type": "session.created"}))
        conn.close(1001, "going away")

    server = make_server(handler)
    inbox = QueueInbox()
    transport = open_transport(server.url, inbox)
    first = [inbox.next(), inbox.next()]
    transport.open()
    second = [inbox.next(), inbox.next()]
    transport.close()

    for story in (first, second):
        assert isinstance(story[0], ServerEvent) and story[0].type == "session.created"
        assert story[1] == TransportClosed(code=1001, reason="going away")
    assert reader_threads() == []


def test_opening_twice_without_closing_is_a_bug(make_server):
    server = make_server(drain)
    transport = open_transport(server.url, QueueInbox())
    try:
        with pytest.raises(RuntimeError, match="already open"):
            transport.open()
    finally:
        transport.close()


def test_close_while_the_server_has_not_answered_the_upgrade_ends_the_reader():
    def answer(conn: socket.socket) -> None:
        read_request(conn)
        request_seen.set()
        release.wait(WAIT)  # never answers the upgrade

    request_seen, release = threading.Event(), threading.Event()
    with raw_server(answer) as port:
        inbox = QueueInbox()
        transport = open_transport(f"ws://127.0.0.1:{port}/", inbox)
        assert request_seen.wait(WAIT)
        transport.close()
        release.set()

    assert inbox.next() == TransportClosed(reason="closed before the connection was open")
    assert reader_threads() == []
    assert inbox.items.empty()


def test_a_refused_connection_is_a_failure_that_never_shows_the_key():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # free now, refused once closed
    inbox = QueueInbox()
    endpoint = endpoint_for("openai", url=f"ws://127.0.0.1:{port}/v1/realtime", api_key=KEY)
    transport = WebSocketTransport(endpoint, inbox, parse_json)
    transport.open()
    failed = inbox.next()
    transport.close()

    assert isinstance(failed, TransportFailed)
    assert "refused" in failed.reason and f"127.0.0.1:{port}" in failed.reason
    assert KEY not in failed.reason and KEY not in repr(transport)
    assert reader_threads() == []


def test_a_rejected_upgrade_that_echoes_the_key_is_reported_without_it():
    # A gateway that answers 401 and quotes the request headers in its body.
    def answer(conn: socket.socket) -> None:
        request = read_request(conn)
        conn.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: %d\r\n\r\n%s"
                     % (len(request), request))

    with raw_server(answer) as port:
        inbox = QueueInbox()
        endpoint = endpoint_for("azure", url=f"ws://127.0.0.1:{port}/openai/v1/realtime",
                                api_key=KEY)
        transport = WebSocketTransport(endpoint, inbox, parse_json)
        transport.open()
        failed = inbox.next()
        transport.close()

    assert isinstance(failed, TransportFailed)
    assert "HTTP 401" in failed.reason and "check the API key" in failed.reason
    assert KEY not in failed.reason


def test_close_returns_even_when_the_server_never_answers_the_close():
    def answer(conn: socket.socket) -> None:
        accept_upgrade(conn)
        conn.sendall(server_text_frame('{"type": "session.created"}'))
        release.wait(WAIT)  # then reads nothing and answers nothing

    release = threading.Event()
    with raw_server(answer) as port:
        inbox = QueueInbox()
        transport = open_transport(f"ws://127.0.0.1:{port}/", inbox)
        inbox.next()
        transport.close()
        release.set()

    closed = inbox.next()
    assert isinstance(closed, TransportClosed) and closed.code is None
    assert "did not answer the close" in closed.reason
    assert reader_threads() == []


def test_a_connection_dropped_without_a_close_frame_ends_with_code_none():
    def answer(conn: socket.socket) -> None:
        accept_upgrade(conn)
        conn.sendall(server_text_frame('{"type": "session.created"}'))

    with raw_server(answer) as port:
        inbox = QueueInbox()
        transport = open_transport(f"ws://127.0.0.1:{port}/", inbox)
        inbox.next()
        closed = inbox.next()
        transport.close()

    assert isinstance(closed, TransportClosed) and closed.code is None
    assert "was lost" in closed.reason


# --- What the server sees of each provider's handshake ----------------------------------


def handshake_seen(server: LoopbackServer, endpoint: Endpoint) -> tuple[str, dict[str, str]]:
    inbox = QueueInbox()
    transport = WebSocketTransport(endpoint, inbox, parse_json)
    transport.open()
    path, headers = server.handshakes.get(timeout=WAIT)
    transport.close()
    return path, headers


def test_openai_sends_the_key_as_a_bearer_token_and_no_beta_header(make_server):
    server = make_server(drain)
    path, headers = handshake_seen(server, endpoint_for("openai", url=server.url, api_key=KEY))
    assert headers["authorization"] == f"Bearer {KEY}"
    assert "openai-beta" not in headers and "origin" not in headers
    assert path == "/v1/realtime?model=test"


def test_openai_beta_dialect_adds_the_beta_header(make_server):
    server = make_server(drain)
    _, headers = handshake_seen(
        server, endpoint_for("openai", dialect="beta", url=server.url, api_key=KEY))
    assert headers["openai-beta"] == "realtime=v1"


def test_azure_ga_sends_the_api_key_header_on_the_v1_path(make_server):
    server = make_server(drain)
    endpoint = endpoint_for("azure", api_key=KEY, deployment="my-realtime",
                            azure_endpoint=f"http://127.0.0.1:{server.port}/")
    path, headers = handshake_seen(server, endpoint)
    assert path == "/openai/v1/realtime?model=my-realtime"
    assert headers["api-key"] == KEY and "authorization" not in headers


def test_azure_with_an_entra_token_sends_it_instead_of_the_key(make_server):
    server = make_server(drain)
    endpoint = endpoint_for("azure", api_key=KEY, ad_token=AD_TOKEN, deployment="dep",
                            dialect="beta", azure_endpoint=f"ws://127.0.0.1:{server.port}")
    path, headers = handshake_seen(server, endpoint)
    assert path == "/openai/realtime?api-version=2025-04-01-preview&deployment=dep"
    assert headers["authorization"] == f"Bearer {AD_TOKEN}" and "api-key" not in headers
    assert "openai-beta" not in headers  # the preview URL selects the dialect on Azure


def test_a_url_without_a_key_sends_no_auth(make_server):
    server = make_server(drain)
    _, headers = handshake_seen(server, endpoint_for("local", url=server.url))
    assert "authorization" not in headers and "api-key" not in headers


# --- Raw servers for misbehaviour the websockets package will not produce ---------------


class raw_server:
    """Accepts one TCP connection on 127.0.0.1 and runs ``answer`` on it."""

    def __init__(self, answer: Callable[[socket.socket], None]) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._answer = answer
        self._thread = threading.Thread(target=self._serve)

    def _serve(self) -> None:
        conn, _ = self._listener.accept()
        with conn:
            self._answer(conn)

    def __enter__(self) -> int:
        self._thread.start()
        return int(self._listener.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self._thread.join(WAIT)
        self._listener.close()


def read_request(conn: socket.socket) -> bytes:
    request = b""
    while b"\r\n\r\n" not in request:
        request += conn.recv(4096)
    return request


def accept_upgrade(conn: socket.socket) -> None:
    match = re.search(rb"(?i)sec-websocket-key:\s*(\S+)", read_request(conn))
    assert match
    digest = hashlib.sha1(match.group(1) + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
                 + base64.b64encode(digest) + b"\r\n\r\n")


def server_text_frame(text: str | bytes) -> bytes:
    payload = text.encode() if isinstance(text, str) else text
    assert len(payload) < 126
    return bytes([0x81, len(payload)]) + payload
