"""The fault proxy's own log: the fault tests judge convctl by it, so it must not lose
what the controller sent.

The story behind this test: convctl answered its finish call and hung up at once; the
proxy was stopped as soon as ``run()`` returned, broke the server's side first, and the
answer - already received, not yet logged - went missing, so a correct conversation
failed the "every call was answered" check on a busy CI machine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fault_proxy import FaultProxy, _Link
from websockets.sync.client import connect
from websockets.sync.server import Server, ServerConnection, serve


def _swallow(ws: ServerConnection) -> None:
    for _ in ws:
        pass


@pytest.fixture
def upstream() -> Iterator[str]:
    server: Server = serve(_swallow, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"ws://127.0.0.1:{server.socket.getsockname()[1]}/v1/realtime"
    server.shutdown()
    thread.join(5)


def test_what_the_client_sent_before_closing_is_logged_when_the_proxy_stops_at_once(
        upstream: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The proxy's uplink is slow to get to the frames (a busy machine): the first frame
    # holds it up until after the client has closed and stop() has begun.
    forward = _Link.pass_on

    def busy(self: _Link, frame: str | bytes, *args: object) -> bool:
        if '"first"' in str(frame):
            time.sleep(0.3)
        return forward(self, frame, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(_Link, "pass_on", busy)
    proxy = FaultProxy(upstream).start()
    with connect(proxy.url) as client:
        client.send('{"type": "first"}')
        client.send('{"type": "conversation.item.create", "last": true}')
    proxy.stop()

    logged = [event.get("type") for _, event in proxy.events("client")]
    assert logged == ["first", "conversation.item.create"]


def test_stopping_while_the_server_is_still_being_reached_does_not_hang(
        upstream: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # stop() breaks the connection at once, before the proxy has reached the server.
    import fault_proxy

    reach = fault_proxy.connect

    def slow_reach(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.3)
        return reach(*args, **kwargs)

    monkeypatch.setattr(fault_proxy, "connect", slow_reach)
    monkeypatch.setattr(fault_proxy, "STOP_GRACE_S", 0.0)
    proxy = FaultProxy(upstream).start()
    stopper = threading.Thread(target=proxy.stop, daemon=True)
    with connect(proxy.url):
        stopper.start()
        stopper.join(10)
    assert not stopper.is_alive(), "stop() hung on a connection that was still opening"
