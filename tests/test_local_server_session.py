"""The local server's session: creation, updates validated like the real service, framing
errors, the beta dialect's session shape, and expiry."""

from __future__ import annotations

import time

import pytest
from test_local_server_client import WEATHER_TOOL, RealtimeClient

from controller.local_server import LocalServer


@pytest.fixture
def client(server):
    connected = RealtimeClient(server.url)
    assert connected.next_event()["type"] == "session.created"
    yield connected
    connected.close()


def test_a_ga_session_starts_with_the_real_services_defaults(server):
    client = RealtimeClient(server.url)
    created = client.next_event()
    session = created["session"]
    assert created["type"] == "session.created" and created["event_id"].startswith("event_")
    assert session["type"] == "realtime" and session["object"] == "realtime.session"
    assert session["id"].startswith("sess_")
    assert session["output_modalities"] == ["audio"]
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert session["audio"]["input"]["turn_detection"] == {
        "type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
        "silence_duration_ms": 200, "idle_timeout_ms": None, "create_response": True,
        "interrupt_response": True}
    assert session["audio"]["output"]["voice"] == "marin"
    assert session["tools"] == [] and session["tool_choice"] == "auto"
    assert 3500 <= session["expires_at"] - time.time() <= 3601
    client.close()


def test_an_update_answers_with_the_full_effective_config(client):
    updated = client.update_session({
        "instructions": "Be brief.", "tools": [WEATHER_TOOL],
        "audio": {"input": {"transcription": {"model": "whisper-1"},
                            "turn_detection": {"type": "server_vad",
                                               "silence_duration_ms": 500}},
                  "output": {"voice": "cedar"}}})
    assert updated["type"] == "session.updated"
    session = updated["session"]
    assert session["instructions"] == "Be brief."
    assert session["tools"][0]["name"] == "get_weather"
    assert session["audio"]["input"]["transcription"] == {"model": "whisper-1"}
    turn = session["audio"]["input"]["turn_detection"]
    assert turn["silence_duration_ms"] == 500 and turn["prefix_padding_ms"] == 300
    assert session["audio"]["output"]["voice"] == "cedar"
    # Fields not sent keep their values.
    assert session["output_modalities"] == ["audio"]


def test_an_unknown_field_rejects_the_whole_update(client):
    client.send({"type": "session.update", "event_id": "evt_bad",
                 "session": {"type": "realtime", "instructions": "Changed.",
                             "audio": {"input": {"bogus_field": 1}}}})
    error = client.expect("error")["error"]
    assert error["code"] == "unknown_parameter"
    assert error["param"] == "session.audio.input.bogus_field"
    assert error["event_id"] == "evt_bad"
    # The valid part of the rejected update was not applied.
    assert client.update_session({})["session"]["instructions"] != "Changed."


@pytest.mark.parametrize(("session", "code", "param"), [
    ({"audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}},
     "integer_below_min_value", "session.audio.input.format.rate"),
    ({"output_modalities": ["audio", "text"]}, "invalid_value", "session.output_modalities"),
    ({"audio": {"output": {"voice": "robot"}}}, "invalid_value", "session.audio.output.voice"),
    ({"instructions": 42}, "invalid_type", "session.instructions"),
    ({"audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 1.5}}}},
     "decimal_above_max_value", "session.audio.input.turn_detection.threshold"),
    ({"tools": [{"type": "function"}]}, "missing_required_parameter", "session.tools[0].name"),
])
def test_invalid_values_are_named_by_param(client, session, code, param):
    error = client.update_session(session)
    assert error["type"] == "error"
    assert (error["error"]["code"], error["error"]["param"]) == (code, param)


def test_a_ga_update_must_say_its_session_type(client):
    client.send({"type": "session.update", "session": {"instructions": "x"}})
    error = client.expect("error")["error"]
    assert (error["code"], error["param"]) == ("missing_required_parameter", "session.type")


def test_framing_errors_leave_the_session_open(client):
    client.ws.send("{not json")
    assert client.expect("error")["error"]["code"] == "invalid_json"
    client.send({"no_type": True})
    assert client.expect("error")["error"]["code"] == "invalid_event"
    client.send({"type": "session.fly", "event_id": "e1"})
    error = client.expect("error")["error"]
    assert error["code"] == "invalid_value" and "'session.update'" in error["message"]
    client.ws.send_binary(b"\x00\x01")
    assert client.expect("error")["error"]["code"] == "invalid_event"
    assert client.update_session({"instructions": "still here"})["type"] == "session.updated"


def test_the_beta_path_speaks_the_flat_beta_session(server):
    client = RealtimeClient(server.beta_url)
    session = client.expect("session.created")["session"]
    assert session["modalities"] == ["audio", "text"]
    assert session["voice"] == "alloy" and session["input_audio_format"] == "pcm16"
    assert session["turn_detection"]["type"] == "server_vad"
    assert "type" not in session and "audio" not in session
    client.send({"type": "session.update", "session": {"voice": "sage", "temperature": 0.7,
                                                       "turn_detection": None}})
    updated = client.expect("session.updated")["session"]
    assert (updated["voice"], updated["temperature"], updated["turn_detection"]) == (
        "sage", 0.7, None)
    # GA field names are unknown parameters on the beta dialect, as on Azure preview.
    client.send({"type": "session.update", "session": {"output_modalities": ["text"]}})
    error = client.expect("error")["error"]
    assert (error["code"], error["param"]) == ("unknown_parameter",
                                               "session.output_modalities")
    client.close()


def test_a_session_expires_with_session_expired_then_close_1001():
    local = LocalServer(max_session_seconds=1.0)
    local.start()
    try:
        client = RealtimeClient(local.url)
        created = client.expect("session.created")
        assert created["session"]["expires_at"] - time.time() <= 1.5
        error = client.expect("error")["error"]
        assert error["code"] == "session_expired"
        assert "maximum duration" in error["message"]
        assert client.close_code() == 1001
    finally:
        local.stop()


def test_stopping_the_server_closes_open_sessions_with_1001():
    local = LocalServer()
    local.start()
    client = RealtimeClient(local.url)
    client.expect("session.created")
    local.stop()
    assert client.close_code() == 1001
