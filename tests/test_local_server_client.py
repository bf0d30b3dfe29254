"""A raw realtime client for the local server's tests, and the tests of its front door.

``RealtimeClient`` speaks plain JSON over a real websocket (websocket-client) to a
``LocalServer`` on 127.0.0.1, independent of convctl's own codec. Every event it receives
is checked against the ``openai`` package's own server event models for the connection's
dialect (GA ``openai.types.realtime``, beta ``openai.types.beta.realtime``), strictly, as
test_protocol_conformance checks our client events: the event validates, no model in it
holds an unknown field, and dumping the model gives back exactly the event. So every
local-server test is also a conformance test of what the server sent.

The tests here cover that checker, and what happens before a session exists: unknown
paths, the beta path's ``api-version``, and the ``OpenAI-Beta`` header on the GA path.
"""

from __future__ import annotations

import base64
import json
import struct
import wave
from pathlib import Path
from typing import Any

import pydantic
import pytest
import websocket
from openai.types.beta.realtime import RealtimeServerEvent as BetaServerEvent
from openai.types.realtime import RealtimeServerEvent as GaServerEvent
from test_protocol_conformance import models_by_type, unknown_fields

AUDIO_DIR = Path(__file__).resolve().parent.parent / "scenarios" / "audio"
EVENT_TIMEOUT = 20.0

WEATHER_TOOL = {"type": "function", "name": "get_weather",
                "description": "Current weather in a city.",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                               "required": ["city"]}}
END_TOOL = {"type": "function", "name": "end_conversation",
            "description": "End the conversation after saying goodbye.",
            "parameters": {"type": "object", "properties": {}}}


SERVER_MODELS = {"ga": models_by_type(GaServerEvent), "beta": models_by_type(BetaServerEvent)}
# Fields the real service sends that the SDK's models do not declare. The spec's own
# captured session.created / session.updated examples (shared/fixtures, from
# openapi.transformed.yml, GA and beta sections) carry the session's object and
# expires_at (and GA its id), which the SDK types as a session *create request* (GA) or
# leaves out (beta). Nothing else is let through, and only on these two events.
_SESSION_IDENTITY = {"event.session.id", "event.session.object", "event.session.expires_at"}
REAL_BUT_UNMODELLED = {(dialect, event_type): _SESSION_IDENTITY
                       for dialect in ("ga", "beta")
                       for event_type in ("session.created", "session.updated")}


def assert_server_event_conforms(event: dict[str, Any], dialect: str) -> None:
    """``event`` is a valid ``dialect`` server event, with no unknown or coerced field."""
    model_class = SERVER_MODELS[dialect].get(event.get("type", ""))
    assert model_class is not None, f"{event.get('type')!r} is not a {dialect} server event"
    model = model_class.model_validate(event)
    allowed = REAL_BUT_UNMODELLED.get((dialect, event["type"]), set())
    extra = [path for path in unknown_fields(model, "event") if path not in allowed]
    assert extra == [], f"unknown fields {extra} in {dialect} {event['type']}"
    dumped = model.model_dump(mode="json", exclude_unset=True)
    assert dumped == event, f"{dialect} {event['type']} does not survive its model: {event}"


def wav_pcm(name: str) -> bytes:
    """The pcm16 frames of a WAV in scenarios/audio (24 kHz mono)."""
    with wave.open(str(AUDIO_DIR / name)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (24000, 1, 2)
        return wav.readframes(wav.getnframes())


def silence(ms: int) -> bytes:
    return bytes(48 * ms)


class RealtimeClient:
    """One websocket client; every read waits at most ``EVENT_TIMEOUT`` seconds."""

    def __init__(self, url: str, *, headers: list[str] | None = None) -> None:
        self.ws = websocket.create_connection(url, timeout=EVENT_TIMEOUT, header=headers or [],
                                              skip_utf8_validation=True)
        self.seen: list[dict[str, Any]] = []
        self.beta = "/openai/realtime?" in url
        self.dialect = "beta" if self.beta else "ga"

    def close(self) -> None:
        self.ws.close()

    def send(self, event: dict[str, Any]) -> None:
        self.ws.send(json.dumps(event))

    def next_event(self) -> dict[str, Any]:
        event = json.loads(self.ws.recv())
        self.seen.append(event)
        assert_server_event_conforms(event, self.dialect)
        return event

    def until(self, *types: str) -> list[dict[str, Any]]:
        """Events up to and including the first whose type is one of ``types``."""
        events = []
        while True:
            event = self.next_event()
            events.append(event)
            if event["type"] in types:
                return events

    def expect(self, event_type: str) -> dict[str, Any]:
        return self.until(event_type)[-1]

    def append_audio(self, pcm: bytes, chunk_ms: int = 100) -> None:
        step = 48 * chunk_ms
        for start in range(0, len(pcm), step):
            self.send({"type": "input_audio_buffer.append",
                       "audio": base64.b64encode(pcm[start:start + step]).decode("ascii")})

    def update_session(self, session: dict[str, Any]) -> dict[str, Any]:
        """Send a GA ``session.update``; return the ``session.updated`` or ``error``."""
        self.send({"type": "session.update", "session": {"type": "realtime", **session}})
        return self.until("session.updated", "error")[-1]

    def say(self, text: str) -> None:
        """Add a user text message (no audio needed for the brain to hear it)."""
        self.send({"type": "conversation.item.create", "item": {
            "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": text}]}})
        self.expect("conversation.item.created" if self.beta else "conversation.item.done")

    def close_code(self) -> int:
        """Read until the server's close frame; its status code."""
        while True:
            opcode, data = self.ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return int(struct.unpack("!H", data[:2])[0])


def types_of(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


def test_an_unknown_path_is_refused_with_404_before_the_upgrade(server):
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(f"ws://127.0.0.1:{server.port}/v2/chat",
                                    timeout=EVENT_TIMEOUT)
    assert refused.value.status_code == 404


def test_the_beta_path_needs_an_api_version(server):
    url = f"ws://127.0.0.1:{server.port}/openai/realtime?deployment=gpt-realtime"
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(url, timeout=EVENT_TIMEOUT)
    assert refused.value.status_code == 400


def test_the_beta_header_on_the_ga_path_is_refused_like_openai_does(server):
    client = RealtimeClient(server.url, headers=["OpenAI-Beta: realtime=v1"])
    error = client.next_event()
    assert error["type"] == "error"
    assert error["error"]["code"] == "beta_api_shape_disabled"
    assert client.close_code() == 4000


def test_azure_ga_path_and_model_query_are_served(server):
    client = RealtimeClient(f"ws://127.0.0.1:{server.port}/openai/v1/realtime?model=my-deploy")
    created = client.next_event()
    assert created["type"] == "session.created"
    assert created["session"]["model"] == "my-deploy"
    client.close()


# --- The conformance checker itself can fail --------------------------------------------

SPEECH_STARTED = {"type": "input_audio_buffer.speech_started", "event_id": "event_1",
                  "audio_start_ms": 200, "item_id": "item_1"}


def test_the_checker_accepts_a_well_formed_event_in_both_dialects():
    assert_server_event_conforms(SPEECH_STARTED, "ga")
    assert_server_event_conforms(SPEECH_STARTED, "beta")


@pytest.mark.parametrize(("dialect", "event"), [
    ("ga", {**SPEECH_STARTED, "speech_probability": 0.9}),  # unknown field
    ("ga", {**SPEECH_STARTED, "audio_start_ms": "200"}),  # coerced, not the real type
    ("ga", {k: v for k, v in SPEECH_STARTED.items() if k != "item_id"}),  # missing
    ("ga", {"type": "response.audio.delta", "event_id": "event_1", "response_id": "r",
            "item_id": "i", "output_index": 0, "content_index": 0, "delta": ""}),  # beta name
    ("beta", {"type": "conversation.item.added", "event_id": "event_1",
              "previous_item_id": None, "item": {"id": "i", "type": "message",
                                                 "role": "user", "content": []}}),  # GA name
    ("ga", {"type": "conversation.item.retrieved", "event_id": "event_1", "item": {
        "id": "i", "object": "realtime.item", "type": "message", "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_audio", "transcript": "", "format": "pcm16"}]}}),
    ("ga", {"type": "response.created", "event_id": "event_1",  # allowed on sessions only
            "response": {"id": "r", "object": "realtime.response", "expires_at": 1}}),
    ("beta", {"type": "response.function_call_arguments.done", "event_id": "event_1",
              "response_id": "r", "item_id": "i", "output_index": 0, "call_id": "c",
              "name": "get_weather", "arguments": "{}"}),  # GA-only field
    ("ga", {"type": "error", "event_id": "event_1", "error": {
        "type": "invalid_request_error", "code": "x", "message": "m", "param": None,
        "event_id": 42}}),  # a client event_id that is not a string
])
def test_the_checker_rejects_wrong_events(dialect, event):
    with pytest.raises((AssertionError, pydantic.ValidationError)):
        assert_server_event_conforms(event, dialect)
