"""The assistant's side: responses with the real event sequence, tool calls from the brain,
replies to tool output, goodbye, cancellation, truncation, text output and the beta names.

The user speaks by text items here (the brain hears text and transcripts alike); the
audio path is covered in test_local_server_input and test_local_server_flow.
"""

from __future__ import annotations

import base64
import json

from test_local_server_client import END_TOOL, WEATHER_TOOL, RealtimeClient, types_of


def connect(server, *, tools=(WEATHER_TOOL, END_TOOL), **session) -> RealtimeClient:
    client = RealtimeClient(server.url)
    client.expect("session.created")
    updated = client.update_session({"tools": list(tools),
                                     "audio": {"input": {"turn_detection": None}}, **session})
    assert updated["type"] == "session.updated", updated
    return client


def respond(client: RealtimeClient) -> list[dict]:
    client.send({"type": "response.create"})
    return client.until("rate_limits.updated")


def done_of(events: list[dict]) -> dict:
    return next(e for e in events if e["type"] == "response.done")["response"]


def test_a_spoken_reply_has_the_full_ga_event_sequence(server):
    client = connect(server)
    client.say("Hello there")
    events = respond(client)
    names = [t for t in types_of(events) if not t.endswith(".delta")]
    assert names == [
        "response.created", "response.output_item.added", "conversation.item.added",
        "response.content_part.added", "response.output_audio.done",
        "response.output_audio_transcript.done", "response.content_part.done",
        "conversation.item.done", "response.output_item.done", "response.done",
        "rate_limits.updated"]
    audio = b"".join(base64.b64decode(e["delta"]) for e in events
                     if e["type"] == "response.output_audio.delta")
    assert len(audio) > 48 * 500 and len(audio) % 2 == 0
    words = "".join(e["delta"] for e in events
                    if e["type"] == "response.output_audio_transcript.delta")
    assert words == "Hello! How can I help you?"
    response = done_of(events)
    assert response["status"] == "completed" and response["status_details"] is None
    assert response["output"][0]["content"] == [{"type": "output_audio",
                                                 "transcript": "Hello! How can I help you?"}]
    usage = response["usage"]
    assert usage["output_token_details"]["audio_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert events[-1]["rate_limits"][0]["name"] == "tokens"
    client.close()


def test_the_weather_intent_calls_the_tool_with_the_city_from_the_words(server):
    client = connect(server)
    client.say("What's the weather like in New York?")
    events = respond(client)
    arguments_done = next(e for e in events
                          if e["type"] == "response.function_call_arguments.done")
    assert arguments_done["name"] == "get_weather"
    assert json.loads(arguments_done["arguments"]) == {"city": "New York"}
    deltas = "".join(e["delta"] for e in events
                     if e["type"] == "response.function_call_arguments.delta")
    assert deltas == arguments_done["arguments"]
    output = done_of(events)["output"]
    assert [o["type"] for o in output] == ["message", "function_call"]
    assert output[1]["call_id"] == arguments_done["call_id"]
    assert output[1]["call_id"].startswith("call_")
    client.close()


def test_the_tool_output_is_spoken_back(server):
    client = connect(server)
    client.say("what is the weather in Paris")
    call = done_of(respond(client))["output"][1]
    client.send({"type": "conversation.item.create", "item": {
        "type": "function_call_output", "call_id": call["call_id"],
        "output": json.dumps({"temperature_c": 21, "conditions": "sunny"})}})
    client.expect("conversation.item.done")
    events = respond(client)
    spoken = next(e for e in events if e["type"] == "response.output_audio_transcript.done")
    assert spoken["transcript"] == "In Paris it is 21 degrees and sunny."
    assert "response.output_audio.delta" in types_of(events)
    client.close()


def test_a_tool_output_for_an_unknown_call_is_refused(server):
    client = connect(server)
    client.send({"type": "conversation.item.create", "item": {
        "type": "function_call_output", "call_id": "call_nope", "output": "{}"}})
    error = client.expect("error")["error"]
    assert (error["code"], error["param"]) == ("invalid_value", "item.call_id")
    client.close()


def test_goodbye_says_goodbye_and_calls_end_conversation(server):
    client = connect(server)
    client.say("Thank you, goodbye.")
    output = done_of(respond(client))["output"]
    assert output[0]["content"][0]["transcript"] == "Goodbye! Have a nice day."
    assert (output[1]["type"], output[1]["name"]) == ("function_call", "end_conversation")
    client.close()


def test_goodbye_without_the_end_tool_only_says_goodbye(server):
    client = connect(server, tools=())
    client.say("goodbye")
    output = done_of(respond(client))["output"]
    assert [o["type"] for o in output] == ["message"]
    client.close()


def test_anything_else_gets_the_fallback_reply(server):
    client = connect(server)
    client.say("Please order me a pizza")
    output = done_of(respond(client))["output"]
    assert "I heard: Please order me a pizza" in output[0]["content"][0]["transcript"]
    client.close()


def test_text_output_streams_text_deltas(server):
    client = connect(server, output_modalities=["text"])
    client.say("hello")
    events = respond(client)
    assert "response.output_audio.delta" not in types_of(events)
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == "Hello! How can I help you?"
    part = next(e for e in events if e["type"] == "response.content_part.done")["part"]
    assert part == {"type": "text", "text": text}
    assert done_of(events)["output"][0]["content"][0]["type"] == "output_text"
    client.close()


def test_a_second_response_while_one_is_active_is_refused(server):
    client = connect(server)
    client.say("tell me a story")
    client.send({"type": "response.create"})
    client.send({"type": "response.create", "event_id": "second"})
    error = client.expect("error")["error"]
    assert error["code"] == "conversation_already_has_active_response"
    assert error["event_id"] == "second"
    client.send({"type": "response.cancel"})
    assert done_of(client.until("response.done"))["status"] == "cancelled"
    client.close()


def test_cancel_stops_the_response_and_says_why(server):
    client = connect(server)
    client.say("tell me a story")
    client.send({"type": "response.create"})
    client.expect("response.output_audio.delta")
    client.send({"type": "response.cancel"})
    events = client.until("response.done")
    response = done_of(events)
    assert response["status"] == "cancelled"
    assert response["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    assert response["output"][0]["status"] == "incomplete"
    # The closing events of the interrupted message are still sent.
    assert {"response.output_audio.done", "response.content_part.done",
            "response.output_item.done"} <= set(types_of(events))
    client.send({"type": "response.cancel"})
    assert client.expect("error")["error"]["code"] == "response_cancel_not_active"
    client.close()


def test_truncate_checks_the_audio_length_then_trims_audio_and_transcript(server):
    client = connect(server)
    client.say("tell me a story")
    message = done_of(respond(client))["output"][0]
    item_id = message["id"]
    client.send({"type": "conversation.item.truncate", "item_id": item_id,
                 "content_index": 0, "audio_end_ms": 10_000_000})
    error = client.expect("error")["error"]
    assert error["code"] == "invalid_value" and "already shorter than" in error["message"]
    client.send({"type": "conversation.item.truncate", "item_id": item_id,
                 "content_index": 0, "audio_end_ms": 1500})
    assert client.expect("conversation.item.truncated")["audio_end_ms"] == 1500
    client.send({"type": "conversation.item.retrieve", "item_id": item_id})
    content = client.expect("conversation.item.retrieved")["item"]["content"][0]
    assert len(base64.b64decode(content["audio"])) == 1500 * 48
    full = message["content"][0]["transcript"]
    assert full.startswith(content["transcript"]) and len(content["transcript"]) < len(full) / 4
    client.close()


def test_items_can_be_deleted_and_unknown_ids_are_refused(server):
    client = connect(server)
    client.say("hello")
    item_id = client.seen[-1]["item"]["id"]
    client.send({"type": "conversation.item.delete", "item_id": item_id})
    assert client.expect("conversation.item.deleted")["item_id"] == item_id
    client.send({"type": "conversation.item.retrieve", "item_id": item_id})
    assert client.expect("error")["error"]["param"] == "item_id"
    client.close()


def test_response_instructions_to_say_something_are_spoken(server):
    client = connect(server)
    client.send({"type": "response.create",
                 "response": {"instructions": "Say exactly: Welcome to Acme."}})
    spoken = client.expect("response.output_audio_transcript.done")["transcript"]
    assert spoken == "Welcome to Acme."
    client.close()


def test_max_output_tokens_cuts_the_reply_as_incomplete(server):
    client = connect(server)
    client.say("tell me a story")
    client.send({"type": "response.create", "response": {"max_output_tokens": 3}})
    response = done_of(client.until("response.done"))
    assert response["status"] == "incomplete"
    assert response["status_details"]["reason"] == "max_output_tokens"
    assert response["output"][0]["content"][0]["transcript"] == "Once upon a"
    client.close()


def test_an_unknown_response_field_is_refused(server):
    client = connect(server)
    client.send({"type": "response.create", "response": {"modalities": ["text"]}})
    error = client.expect("error")["error"]
    assert (error["code"], error["param"]) == ("unknown_parameter", "response.modalities")
    client.close()


def test_the_beta_path_uses_beta_event_names(server):
    client = RealtimeClient(server.beta_url)
    client.expect("session.created")
    client.send({"type": "session.update", "session": {
        "turn_detection": None, "tools": [WEATHER_TOOL]}})
    client.expect("session.updated")
    client.say("weather in Rome")
    assert client.seen[-1]["item"]["role"] == "user"
    events = respond(client)
    names = set(types_of(events))
    assert {"response.audio.delta", "response.audio_transcript.delta", "response.audio.done",
            "response.audio_transcript.done", "conversation.item.created",
            "response.function_call_arguments.done"} <= names
    assert not {t for t in names if "output_audio" in t or t == "conversation.item.done"}
    response = done_of(events)
    assert response["modalities"] == ["audio", "text"] and response["voice"] == "alloy"
    assert response["output"][0]["content"][0]["type"] == "audio"
    assert [r["name"] for r in events[-1]["rate_limits"]] == ["requests", "tokens"]
    client.close()


def test_g711_output_is_eight_bytes_per_millisecond(server):
    client = connect(server, audio={"input": {"turn_detection": None},
                                    "output": {"format": {"type": "audio/pcmu"}}})
    client.say("hello")
    events = respond(client)
    audio = b"".join(base64.b64decode(e["delta"]) for e in events
                     if e["type"] == "response.output_audio.delta")
    message_id = done_of(events)["output"][0]["id"]
    client.send({"type": "conversation.item.retrieve", "item_id": message_id})
    stored = client.expect("conversation.item.retrieved")["item"]["content"][0]["audio"]
    # Stored audio is 24 kHz pcm16 (48 bytes/ms); the wire carried 8 kHz mu-law (8 bytes/ms).
    assert abs(len(audio) * 6 - len(base64.b64decode(stored))) <= 6 * 3
    client.close()
