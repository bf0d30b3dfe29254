"""A raw realtime client for the local server's tests, and the tests of its front door.

``RealtimeClient`` speaks plain JSON over a real websocket (websocket-client) to a
``LocalServer`` on 127.0.0.1, independent of convctl's own codec. The tests here cover what
happens before a session exists: unknown paths, the beta path's ``api-version``, and the
``OpenAI-Beta`` header on the GA path.
"""

from __future__ import annotations

import base64
import json
import struct
import wave
from pathlib import Path
from typing import Any

import pytest
import websocket

from controller.local_server import LocalServer

AUDIO_DIR = Path(__file__).resolve().parent.parent / "scenarios" / "audio"
EVENT_TIMEOUT = 20.0

WEATHER_TOOL = {"type": "function", "name": "get_weather",
                "description": "Current weather in a city.",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                               "required": ["city"]}}
END_TOOL = {"type": "function", "name": "end_conversation",
            "description": "End the conversation after saying goodbye.",
            "parameters": {"type": "object", "properties": {}}}


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

    def close(self) -> None:
        self.ws.close()

    def send(self, event: dict[str, Any]) -> None:
        self.ws.send(json.dumps(event))

    def next_event(self) -> dict[str, Any]:
        event = json.loads(self.ws.recv())
        self.seen.append(event)
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


@pytest.fixture(scope="module")
def server():
    local = LocalServer(speech_speedup=20.0)
    local.start()
    yield local
    local.stop()


def test_an_unknown_path_is_refused_with_404_before_the_upgrade(server):
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(f"ws://127.0.0.1:{server.port}/v2/chat", timeout=5)
    assert refused.value.status_code == 404


def test_the_beta_path_needs_an_api_version(server):
    url = f"ws://127.0.0.1:{server.port}/openai/realtime?deployment=gpt-realtime"
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(url, timeout=5)
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
