"""A fault-injecting websocket proxy on 127.0.0.1, between convctl and a realtime server.

Tests only. ``FaultProxy(upstream_url, plan)`` listens on a free loopback port; each
websocket the controller opens gets a connection of its own to ``upstream_url``, and
frames are forwarded both ways, in order, until one of the plan's faults fires:

- ``drop``: the connection ends with no close frame (both sockets shut down), as when the
  network dies;
- ``close``: a close frame with a chosen code and reason, optionally after an ``error``
  event (the ``session_expired`` error before a 1001, as OpenAI sends it);
- ``delay``: the frame (and so everything behind it) is held back for some seconds;
- ``reorder``: the frame is sent after the frame that follows it;
- ``corrupt``: the frame is cut in half (broken JSON), replaced by bytes that are not
  UTF-8, or sent as a binary frame;
- ``swallow``: the frame is not forwarded (a server that never answers session.update);
- ``stall``: from then on nothing is forwarded either way, while the connection stays
  open (a server that accepted and then hangs);
- ``inject``: an extra frame is sent before the triggering one.

A fault (``fault_plan.Fault``) fires at the ``nth`` frame of type ``on`` going in
``direction`` ("server": to the controller, "client": to the server) on connection number
``connection`` (1 is the first; None is every connection), once per connection.
``on="open"`` fires as soon as the connection is open. ``after=True`` lets the triggering
frame through first. Later connections (the controller's reconnects) pass through clean
unless the plan names them. ``fault_now(fault)`` drops or closes the latest connection
from any thread (a test lining a drop up with a running tool).

The proxy logs every frame each way per connection (audio payloads replaced by their
length) and every fault it injected, for assertions. It never interprets the
conversation beyond an event's ``type``, never sleeps except for a ``delay`` it was told
to inject, and ``stop()`` closes every connection and joins every thread it started -
after letting connections the controller is closing end by themselves (up to
``STOP_GRACE_S``), so what was sent just before a close is logged too.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from fault_plan import ConnectionLog, Direction, Fault, Frame, LoggedFrame, corrupted, frame_type
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.http11 import Request
from websockets.sync.client import ClientConnection, connect
from websockets.sync.connection import Connection
from websockets.sync.server import Server, ServerConnection, serve

# How long a held frame waits for the frame it is to be swapped with.
REORDER_WAIT_S = 2.0
# How long stop() lets open connections end by themselves (their frames still logged)
# before it breaks them.
STOP_GRACE_S = 2.0
FORWARDED_HEADERS = ("authorization", "api-key", "openai-beta")


def _shut(ws: Connection) -> None:
    """Shut a socket down under its websocket: the peer sees the connection break."""
    with contextlib.suppress(OSError):
        ws.socket.shutdown(socket.SHUT_RDWR)


class _Link:
    """One proxied connection: the controller's side, the server's side, and its faults."""

    def __init__(self, proxy: FaultProxy, log: ConnectionLog, downstream: ServerConnection,
                 faults: list[Fault]) -> None:
        self.proxy = proxy
        self.log = log
        self.downstream = downstream
        self.upstream: ClientConnection | None = None
        # Each fault not fired yet, with how many of its frames went by.
        self.armed: dict[int, tuple[Fault, int]] = {n: (f, 0) for n, f in enumerate(faults)}
        self.stalled = False
        # The proxy ended the connection itself (a fault, or stop()): nothing to pass on.
        self.by_proxy = False
        self.ended = threading.Event()
        # Both pumps are done: every frame that reached the proxy is logged.
        self.finished = threading.Event()
        self.lock = threading.Lock()

    # --- Ending ----------------------------------------------------------------------

    def drop(self) -> None:
        """End both sides with no close frame."""
        self.end("dropped")
        self.abort()

    def abort(self) -> None:
        with self.lock:
            self.by_proxy = True
            sides = (self.downstream, self.upstream)
        for ws in sides:
            if ws is not None:
                _shut(ws)

    def close(self, fault: Fault) -> None:
        if fault.error is not None:
            self.send(self.downstream, json.dumps(fault.error), "server", "injected")
        self.note(f"close {fault.code} {fault.reason!r}" + (" after an error" if fault.error
                                                            else ""))
        self.end(f"closed {fault.code}")
        self.by_proxy = True
        self.downstream.close(fault.code, fault.reason)
        if self.upstream is not None:
            self.upstream.close(1001, "the client went away")

    def end(self, how: str) -> None:
        with self.lock:
            if not self.log.ended:
                self.log.ended = how
        self.ended.set()

    def note(self, what: str) -> None:
        with self.lock:
            self.log.injected.append(what)

    # --- Frames ----------------------------------------------------------------------

    def send(self, to: Connection, frame: Frame, direction: Direction, fate: str) -> None:
        type_, event = frame_type(frame)
        self.proxy.record(self.log, LoggedFrame(self.proxy.now(), direction, type_, event, fate))
        with contextlib.suppress(ConnectionClosed):
            to.send(frame)

    def fault_for(self, direction: Direction, type_: str, frame: Frame = "", *,
                  fire: bool = True) -> Fault | None:
        """Count the frame for every fault it matches; the first fault it sets off (each
        fires once), unless ``fire`` is False."""
        fired: Fault | None = None
        with self.lock:
            for n, (fault, seen) in list(self.armed.items()):
                if not fault.matches(direction, type_, frame):
                    continue
                self.armed[n] = (fault, seen + 1)
                if fire and fired is None and seen + 1 == fault.nth:
                    del self.armed[n]
                    fired = fault
        return fired

    def pass_on(self, frame: Frame, direction: Direction, source: Connection,
                to: Connection) -> bool:
        """Forward one frame, applying its fault. False once this side must stop."""
        if self.stalled:
            self.proxy.record(self.log, LoggedFrame(self.proxy.now(), direction,
                                                    frame_type(frame)[0], None, "stalled"))
            return True
        fault = self.fault_for(direction, frame_type(frame)[0], frame)
        if fault is None:
            self.send(to, frame, direction, "forwarded")
            return True
        self.note(fault.describe())
        return self.apply(fault, frame, direction, source, to)

    def apply(self, fault: Fault, frame: Frame, direction: Direction, source: Connection,
              to: Connection) -> bool:
        if fault.after or fault.action in ("delay", "inject"):
            if fault.action == "delay" and self.proxy.stopping.wait(fault.seconds):
                return False
            if fault.action == "inject":
                self.send(to, fault.frame, direction, "injected")
            self.send(to, frame, direction, "forwarded")
        if fault.action == "drop":
            self.drop()
            return False
        if fault.action == "close":
            self.close(fault)
            return False
        if fault.action == "stall":
            self.stalled = True
        elif fault.action == "corrupt":
            self.send(to, corrupted(frame, fault.how), direction, "corrupted")
        elif fault.action == "swallow":
            self.proxy.record(self.log, LoggedFrame(self.proxy.now(), direction,
                                                    frame_type(frame)[0], None, "swallowed"))
        elif fault.action == "reorder":
            self.swap_with_next(frame, direction, source, to)
        return True

    def swap_with_next(self, held: Frame, direction: Direction, source: Connection,
                       to: Connection) -> None:
        try:
            following = source.recv(timeout=REORDER_WAIT_S)
        except TimeoutError:
            self.note("reorder: no frame followed; sent the held one alone")
        else:
            # Counted, so later faults find their nth frame; it sets off nothing itself.
            self.fault_for(direction, frame_type(following)[0], following, fire=False)
            self.send(to, following, direction, "forwarded")
        self.send(to, held, direction, "forwarded")

    # --- Pumping -----------------------------------------------------------------------

    def pump(self, direction: Direction) -> None:
        source, to = ((self.upstream, self.downstream) if direction == "server"
                      else (self.downstream, self.upstream))
        assert source is not None and to is not None
        try:
            for frame in source:
                if self.ended.is_set():
                    # Read, but the link is over: logged (not as forwarded), never lost
                    # from the record without a trace.
                    self.proxy.record(self.log, LoggedFrame(
                        self.proxy.now(), direction, frame_type(frame)[0], None,
                        "after the end"))
                    break
                if not self.pass_on(frame, direction, source, to):
                    break
        except ConnectionClosed:
            pass
        finally:
            self.end(f"the {direction} side ended")
            if not self.by_proxy:
                self.follow(source, to)

    def follow(self, source: Connection, to: Connection) -> None:
        """Pass the end of one side on to the other: the same close code, or a break."""
        received = source.protocol.close_rcvd
        if received is None:
            _shut(to)
        elif received.code in (1005, 1006):
            to.close()
        else:
            to.close(received.code, received.reason)


class FaultProxy:
    """The proxy (see the module docstring). Use as a context manager or start()/stop()."""

    def __init__(self, upstream_url: str, plan: list[Fault] | tuple[Fault, ...] = ()) -> None:
        self.upstream_url = upstream_url
        self.plan = list(plan)
        self.connections: list[ConnectionLog] = []
        self.stopping = threading.Event()
        self._cond = threading.Condition()
        self._links: list[_Link] = []
        self._t0 = time.monotonic()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # --- Life --------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._server = serve(self._handle, "127.0.0.1", 0, compression=None, max_size=None,
                             ping_interval=None, close_timeout=1)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="fault-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        with self._cond:
            links = list(self._links)
        # A connection the controller is closing ends by itself once the proxy has passed
        # on what was sent before the close: let it, or those frames would go unlogged
        # (breaking the server's side ends the link before the client's side is read).
        deadline = time.monotonic() + STOP_GRACE_S
        for link in links:
            link.finished.wait(max(0.0, deadline - time.monotonic()))
        for link in links:
            if not link.finished.is_set():
                link.abort()
        if self._server is not None:
            self._server.shutdown()  # joins the connection handlers
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The upstream URL with the proxy's address: same path, same query."""
        assert self._server is not None, "start() the proxy first"
        port = self._server.socket.getsockname()[1]
        parts = urlsplit(self.upstream_url)
        query = f"?{parts.query}" if parts.query else ""
        return f"ws://127.0.0.1:{port}{parts.path}{query}"

    # --- Faults on demand --------------------------------------------------------------

    def fault_now(self, fault: Fault) -> bool:
        """Drop or close the latest connection now, if it is still open (True if so)."""
        with self._cond:
            link = self._links[-1] if self._links else None
        if link is None or link.ended.is_set():
            return False
        link.note(f"{fault.describe()} (on demand)")
        if fault.action == "close":
            link.close(fault)
        else:
            link.drop()
        return True

    # --- What happened -----------------------------------------------------------------

    def now(self) -> float:
        return time.monotonic() - self._t0

    def record(self, log: ConnectionLog, frame: LoggedFrame) -> None:
        with self._cond:
            log.frames.append(frame)
            self._cond.notify_all()

    def injected(self) -> list[str]:
        with self._cond:
            return [f"#{c.number}: {what}" for c in self.connections for what in c.injected]

    def events(self, direction: Direction, type_: str | None = None
               ) -> Iterator[tuple[int, Mapping[str, Any]]]:
        """(connection number, event) of every forwarded frame going ``direction``."""
        with self._cond:
            logs = list(self.connections)
        for log in logs:
            for event in log.events(direction, type_):
                yield log.number, event

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    # --- One connection ----------------------------------------------------------------

    def _handle(self, downstream: ServerConnection) -> None:
        request = downstream.request
        path = request.path if request is not None else ""
        with self._cond:
            number = len(self.connections) + 1
            log = ConnectionLog(number, path)
            self.connections.append(log)
            faults = [f for f in self.plan if f.connection in (None, number)]
            link = _Link(self, log, downstream, faults)
            self._links.append(link)
        try:
            self._proxy_one(link, request)
        finally:
            link.finished.set()

    def _proxy_one(self, link: _Link, request: Request | None) -> None:
        downstream = link.downstream
        headers = {k: v for k, v in (request.headers.raw_items() if request else ())
                   if k.lower() in FORWARDED_HEADERS}
        with contextlib.ExitStack() as upstream:
            try:
                server = upstream.enter_context(connect(
                    self.upstream_url, additional_headers=headers, compression=None,
                    max_size=None, ping_interval=None, close_timeout=1, open_timeout=5))
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                link.note(f"upstream refused: {exc}")
                link.end("upstream refused")
                downstream.close(1011, "fault proxy: upstream unavailable")
                return
            with link.lock:
                link.upstream = server
                ended_meanwhile = link.by_proxy
            if ended_meanwhile:
                _shut(server)  # abort() came while the server was being reached
            self._run(link)

    def _run(self, link: _Link) -> None:
        opened = link.fault_for("server", "open")
        if opened is not None:
            link.note(opened.describe())
            if opened.action == "stall":
                link.stalled = True
            elif opened.action == "close":
                link.close(opened)
            elif opened.action == "drop":
                link.drop()
        uplink = threading.Thread(target=link.pump, args=("client",),
                                  name="fault-proxy-uplink", daemon=True)
        uplink.start()
        link.pump("server")
        uplink.join()
