"""The threaded controller, with fakes for the socket and the audio devices.

The real ``Conversation``: its inbox, its controller thread, its wall clock and tool pool;
only the transport, microphone and speaker are fakes that post to the inbox from their own
threads, as the real ones do. Tests wait on queues with timeouts; nothing sleeps.
"""

from __future__ import annotations

import base64
import json
import queue
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from waiting import eventually

import controller.conversation as conversation_module
from controller.conversation import Conversation, Outcome
from controller.endpoint import Endpoint
from controller.inbox import PlaybackDrained
from controller.protocol import parse_server_event
from controller.settings import ControllerSettings, SessionSettings
from controller.tools import tool

WAIT = 10.0


class FakeServer:
    """The far end of the fake socket: answers session.update, lets the test speak."""

    def __init__(self) -> None:
        self.sent: queue.Queue[dict[str, Any]] = queue.Queue()
        self.inbox: Any = None

    def push(self, event: Mapping[str, Any]) -> None:
        """A server frame arrives, on a thread of its own like the websocket reader's."""
        text = json.dumps(event)
        reader = threading.Thread(target=lambda: self.inbox.post(parse_server_event(text)))
        reader.start()
        reader.join(WAIT)

    def expect(self, type_: str) -> dict[str, Any]:
        while True:
            event = self.sent.get(timeout=WAIT)
            if event["type"] == type_:
                return event


class FakeTransport:
    def __init__(self, server: FakeServer, inbox: Any) -> None:
        self.server = server
        server.inbox = inbox
        self.closed = threading.Event()

    def open(self) -> None:
        self.server.push({"type": "session.created", "session": {"id": "sess_1"}})

    def send(self, event: Mapping[str, Any]) -> None:
        if event["type"] != "input_audio_buffer.append":
            self.server.sent.put(dict(event))
        if event["type"] == "session.update":
            threading.Thread(target=self.server.push,
                             args=({"type": "session.updated", "session": {}},)).start()

    def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed.set()


class FakeSpeaker:
    """Plays nothing; the test says when playback has finished."""

    def __init__(self, inbox: Any) -> None:
        self.inbox = inbox
        self.queued: dict[str, int] = {}
        self.drained = True
        self.closed = False
        self.audio_arrived = threading.Event()

    def play(self, item_id: str, pcm: bytes) -> None:
        self.queued[item_id] = self.queued.get(item_id, 0) + len(pcm)
        self.drained = False
        self.audio_arrived.set()

    def finish_playing(self) -> None:
        """Playback of the audio the controller handed over has finished. Waits for that
        audio first: the state can say Responding before the delta has been handled."""
        assert self.audio_arrived.wait(WAIT), "no audio was handed to the speaker"
        self.drained = True
        self.inbox.post(PlaybackDrained())

    def clear(self) -> None:
        self.drained = True

    def played_bytes(self, item_id: str) -> int:
        return self.queued.get(item_id, 0) if self.drained else 0

    def is_drained(self) -> bool:
        return self.drained

    def close(self) -> None:
        self.closed = True


class FakeMicrophone:
    def __init__(self) -> None:
        self.mode = "closed"

    def open(self) -> None:
        self.mode = "open"

    def gate(self) -> None:
        self.mode = "gated"

    def close(self) -> None:
        self.mode = "closed"


@tool
def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city (test data)."""
    return {"city": city, "sky": "clear"}


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    server = FakeServer()
    parts: dict[str, Any] = {"server": server}

    def transport(endpoint: Endpoint, inbox: Any, parse: Any, **kw: Any) -> FakeTransport:
        parts["transport"] = FakeTransport(server, inbox)
        return parts["transport"]

    def speaker(inbox: Any, **kw: Any) -> FakeSpeaker:
        parts["speaker"] = FakeSpeaker(inbox)
        return parts["speaker"]

    def microphone(sink: Any, inbox: Any, **kw: Any) -> FakeMicrophone:
        parts["microphone"] = FakeMicrophone()
        return parts["microphone"]

    monkeypatch.setattr(conversation_module, "WebSocketTransport", transport)
    monkeypatch.setattr(conversation_module, "open_speaker", speaker)
    monkeypatch.setattr(conversation_module, "open_microphone", microphone)
    yield parts


def start(**kwargs: Any) -> tuple[Conversation, queue.Queue[str], queue.Queue[Outcome]]:
    states: queue.Queue[str] = queue.Queue()
    conversation = Conversation(
        SessionSettings(), url="ws://127.0.0.1:9/v1/realtime", quiet=True,
        on_state=lambda source, target, event: states.put(target), **kwargs)
    outcome: queue.Queue[Outcome] = queue.Queue()
    threading.Thread(target=lambda: outcome.put(conversation.run()), daemon=True).start()
    return conversation, states, outcome


def wait_for_state(states: queue.Queue[str], wanted: str) -> None:
    seen = []
    while True:
        state = states.get(timeout=WAIT)
        seen.append(state)
        if state == wanted:
            return
        assert state not in ("Finished", "Error"), f"ended in {state}, saw {seen}"


def answer(server: FakeServer, response_id: str, item_id: str, ms: int = 200) -> None:
    server.push({"type": "response.created", "response": {"id": response_id}})
    server.push({"type": "response.output_audio.delta", "response_id": response_id,
                 "item_id": item_id, "output_index": 0, "content_index": 0,
                 "delta": base64.b64encode(bytes(ms * 48)).decode()})
    server.push({"type": "response.done", "response": {"id": response_id,
                                                       "status": "completed"}})


def controller_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("convctl-")]


def test_a_whole_conversation_runs_on_the_controller_thread(live: dict[str, Any]) -> None:
    _conversation, states, outcome = start(tools=[get_weather])
    server = live["server"]
    update = server.expect("session.update")
    assert [t["name"] for t in update["session"]["tools"]] == ["get_weather",
                                                               "end_conversation"]
    wait_for_state(states, "Listening")
    # Entering Listening is announced just before the state opens the microphone.
    eventually(lambda: live["microphone"].mode == "open", "the microphone is open")
    answer(server, "resp_1", "item_a1")
    wait_for_state(states, "Responding")
    live["speaker"].finish_playing()
    wait_for_state(states, "Listening")
    # The model calls the user's tool, which runs on the tool pool, off this thread.
    server.push({"type": "response.created", "response": {"id": "resp_2"}})
    server.push({"type": "response.output_item.done", "response_id": "resp_2",
                 "output_index": 0, "item": {"id": "item_f", "type": "function_call",
                                             "status": "completed", "call_id": "call_1",
                                             "name": "get_weather",
                                             "arguments": '{"city": "Oslo"}'}})
    server.push({"type": "response.done", "response": {"id": "resp_2",
                                                       "status": "completed"}})
    output = server.expect("conversation.item.create")
    assert json.loads(output["item"]["output"]) == {"city": "Oslo", "sky": "clear"}
    server.expect("response.create")
    # Then it says goodbye and hangs up.
    server.push({"type": "response.created", "response": {"id": "resp_3"}})
    server.push({"type": "response.output_item.done", "response_id": "resp_3",
                 "output_index": 0, "item": {"id": "item_g", "type": "function_call",
                                             "status": "completed", "call_id": "call_2",
                                             "name": "end_conversation", "arguments": "{}"}})
    server.push({"type": "response.done", "response": {"id": "resp_3",
                                                       "status": "completed"}})
    result = outcome.get(timeout=WAIT)
    assert (result.state, result.exit_code) == ("Finished", 0)
    assert live["transport"].closed.is_set() and live["speaker"].closed
    assert controller_threads() == [], "no thread outlives run()"


def test_close_from_another_thread_ends_it_cleanly(live: dict[str, Any]) -> None:
    conversation, states, outcome = start()
    wait_for_state(states, "Listening")
    conversation.close(interrupted=True)
    result = outcome.get(timeout=WAIT)
    assert (result.state, result.exit_code) == ("Finished", 130)
    assert controller_threads() == []


def test_a_fatal_server_error_ends_in_error_with_its_reason(live: dict[str, Any]) -> None:
    _conversation, states, outcome = start()
    wait_for_state(states, "Listening")
    live["server"].push({"type": "error", "error": {"type": "invalid_request_error",
                                                    "code": "invalid_api_key",
                                                    "message": "Incorrect API key."}})
    result = outcome.get(timeout=WAIT)
    assert (result.state, result.exit_code) == ("Error", 1)
    assert "invalid_api_key" in (result.reason or "")


def test_max_duration_hangs_up_through_the_clock(live: dict[str, Any]) -> None:
    _conversation, _states, outcome = start(max_duration=0.2,
                                          controller=ControllerSettings(connect_timeout=5))
    result = outcome.get(timeout=WAIT)
    assert result.state == "Finished"
    assert "max-duration" in (result.reason or "")
