"""Refusals in the real service's shape, and a session that survives every one of them.

Each ``error`` event must carry ``type``, ``code``, ``message``, ``param`` and the
``event_id`` of the client event that caused it (null when there is none to echo), and
the session must go on: after the whole catalogue below, the same connection still
answers. Every event read here is also checked against the ``openai`` package's models
(see test_local_server_client). Errors covered elsewhere: session.update validation
(test_local_server_session), commit_empty (test_local_server_input), cancel/active
response/truncate past the end (test_local_server_responses, test_local_server_flow).
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from test_local_server_client import RealtimeClient, silence


@pytest.fixture
def client(server):
    connected = RealtimeClient(server.url)
    connected.expect("session.created")
    assert connected.update_session({"output_modalities": ["text"], "audio": {
        "input": {"turn_detection": None}}})["type"] == "session.updated"
    yield connected
    connected.close()


def refusal(client: RealtimeClient, frame: str | bytes) -> dict:
    """Send a raw frame; the ``error`` object of the event it causes."""
    if isinstance(frame, bytes):
        client.ws.send_binary(frame)
    else:
        client.ws.send(frame)
    event = client.expect("error")
    assert set(event["error"]) == {"type", "code", "message", "param", "event_id"}
    assert event["error"]["type"] == "invalid_request_error" and event["error"]["message"]
    return event["error"]


def still_answers(client: RealtimeClient) -> None:
    client.say("hello")
    client.send({"type": "response.create"})
    done = client.expect("response.done")["response"]
    assert done["status"] == "completed"
    assert done["output"][0]["content"][0]["text"] == "Hello! How can I help you?"


FRAMES: list[tuple[str | bytes, str, str | None, str | None]] = [
    # (what the client sends, code, param, event_id echoed)
    ("{not json", "invalid_json", None, None),
    ("[1, 2]", "invalid_event", None, None),
    ('"session.update"', "invalid_event", None, None),
    ('{"event_id": "e1"}', "invalid_event", None, "e1"),
    ('{"type": 5, "event_id": "e2"}', "invalid_type", "type", "e2"),
    ('{"type": "session.fly", "event_id": "e3"}', "invalid_value", "type", "e3"),
    ('{"type": "response.cancel", "event_id": 7}', "invalid_type", "event_id", None),
    (b"\x00\x01binary", "invalid_event", None, None),
]


def test_bad_frames_are_answered_in_the_real_shape_and_the_session_stays_open(client):
    for frame, code, param, echoed in FRAMES:
        error = refusal(client, frame)
        assert (error["code"], error["param"], error["event_id"]) == (code, param, echoed), frame
    still_answers(client)


def test_an_unknown_type_lists_the_valid_ones(client):
    error = refusal(client, '{"type": "output_audio_buffer.clear"}')
    assert "'input_audio_buffer.append'" in error["message"]
    assert "'response.cancel'" in error["message"]


def test_a_binary_frame_is_refused_like_openai_refuses_it(client):
    error = refusal(client, b"\x01\x02")
    assert error["message"] == ("Expected a text WebSocket message; binary frames are not "
                                "supported.")


REQUESTS: list[tuple[dict[str, Any], str, str | None]] = [
    # (client event, code, param)
    ({"type": "input_audio_buffer.append"}, "missing_required_parameter", "audio"),
    ({"type": "input_audio_buffer.append", "audio": 12}, "invalid_type", "audio"),
    ({"type": "input_audio_buffer.append", "audio": "not base64!"}, "invalid_value", "audio"),
    ({"type": "input_audio_buffer.commit"}, "input_audio_buffer_commit_empty", None),
    ({"type": "conversation.item.truncate", "item_id": "item_nope", "content_index": 0,
      "audio_end_ms": 10}, "invalid_value", "item_id"),
    ({"type": "conversation.item.truncate", "item_id": "item_nope", "content_index": 0,
      "audio_end_ms": -1}, "integer_below_min_value", "audio_end_ms"),
    ({"type": "conversation.item.truncate", "item_id": "item_nope", "content_index": 0,
      "audio_end_ms": 1.5}, "invalid_type", "audio_end_ms"),
    ({"type": "conversation.item.truncate", "content_index": 0, "audio_end_ms": 1},
     "missing_required_parameter", "item_id"),
    ({"type": "conversation.item.delete", "item_id": "item_nope"}, "invalid_value", "item_id"),
    ({"type": "conversation.item.retrieve", "item_id": "item_nope"}, "invalid_value",
     "item_id"),
    ({"type": "conversation.item.create", "item": {"type": "message", "role": "assistant",
                                                   "content": [{"type": "input_audio"}]}},
     "invalid_value", "item.content[0].type"),
    ({"type": "conversation.item.create", "item": {"type": "function_call_output",
                                                   "call_id": "call_nope", "output": "{}"}},
     "invalid_value", "item.call_id"),
    ({"type": "response.cancel"}, "response_cancel_not_active", None),
    ({"type": "response.cancel", "response_id": "resp_nope"}, "response_cancel_not_active",
     None),
    ({"type": "response.create", "response": {"voice": "alloy"}}, "unknown_parameter",
     "response.voice"),  # GA: response.audio.output.voice
    ({"type": "response.create", "response": {"audio": {"output": {"voice": "robot"}}}},
     "invalid_value", "response.audio.output.voice"),
]


def test_refused_requests_name_the_field_and_echo_the_event_id(client):
    for index, (event, code, param) in enumerate(REQUESTS):
        client.send({**event, "event_id": f"evt_{index}"})
        error = client.expect("error")["error"]
        assert (error["code"], error["param"], error["event_id"]) == (
            code, param, f"evt_{index}"), event
    still_answers(client)


def test_truncating_a_user_item_is_refused(client):
    client.update_session({"audio": {"input": {"turn_detection": None}}})
    client.append_audio(silence(300))
    client.send({"type": "input_audio_buffer.commit"})
    item_id = client.expect("input_audio_buffer.committed")["item_id"]
    client.send({"type": "conversation.item.truncate", "item_id": item_id,
                 "content_index": 0, "audio_end_ms": 100, "event_id": "cut_user"})
    error = client.expect("error")["error"]
    assert (error["code"], error["param"], error["event_id"]) == (
        "invalid_value", "content_index", "cut_user")


def test_an_append_of_bad_audio_adds_nothing_to_the_buffer(client):
    client.send({"type": "input_audio_buffer.append", "audio": "@@@"})
    client.expect("error")
    client.send({"type": "input_audio_buffer.append",
                 "audio": base64.b64encode(silence(50)).decode()})
    client.send({"type": "input_audio_buffer.commit"})
    assert "50.00ms" in client.expect("error")["error"]["message"]


def test_beta_refuses_ga_only_turn_detection_and_keeps_the_rest_of_the_update(server):
    client = RealtimeClient(server.beta_url)
    client.expect("session.created")
    client.send({"type": "session.update", "event_id": "beta_idle", "session": {
        "voice": "sage", "turn_detection": {"type": "server_vad", "idle_timeout_ms": 5000}}})
    error = client.expect("error")["error"]
    assert (error["code"], error["param"], error["event_id"]) == (
        "unknown_parameter", "session.turn_detection.idle_timeout_ms", "beta_idle")
    client.send({"type": "session.update", "session": {}})
    session = client.expect("session.updated")["session"]
    # The whole update was rejected: the valid voice in it was not applied either.
    assert session["voice"] == "alloy"
    assert "idle_timeout_ms" not in session["turn_detection"]
    client.close()
