"""Whole spoken conversations against the local server: a tool round then goodbye from the
README's WAV, barge-in while the assistant is talking (cancel, truncate to what was heard,
the new turn answered), and one question that needs two tools at once."""

from __future__ import annotations

import base64
import json

import pytest
from test_local_server_client import (
    END_TOOL,
    WEATHER_TOOL,
    RealtimeClient,
    silence,
    types_of,
    wav_pcm,
)

from controller.local_server import LocalServer

TIME_TOOL = {"type": "function", "name": "get_time", "description": "Local time in a city.",
             "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                            "required": ["city"]}}
# In weather_then_goodbye.wav the question ends at 1.78 s and the goodbye starts at 4.08 s.
FIRST_TURN_BYTES = 48 * 3500


@pytest.fixture(scope="module")
def server():
    # Speech streams at 4x real time, so a long reply is still playing when the user speaks.
    local = LocalServer(speech_speedup=4.0)
    local.start()
    yield local
    local.stop()


def voice_session(server, **turn_detection) -> RealtimeClient:
    client = RealtimeClient(server.url)
    client.expect("session.created")
    updated = client.update_session({
        "tools": [WEATHER_TOOL, END_TOOL],
        "audio": {"input": {"transcription": {"model": "whisper-1"},
                            "turn_detection": {"type": "server_vad",
                                               "silence_duration_ms": 500,
                                               **turn_detection}}}})
    assert updated["type"] == "session.updated", updated
    return client


def next_response(client: RealtimeClient) -> dict:
    return client.expect("response.done")["response"]


def test_the_readme_conversation_asks_the_weather_then_ends_with_end_conversation(server):
    client = voice_session(server)
    audio = wav_pcm("weather_then_goodbye.wav")
    client.append_audio(audio[:FIRST_TURN_BYTES])

    asking = next_response(client)
    call = asking["output"][-1]
    assert (call["type"], call["name"], json.loads(call["arguments"])) == (
        "function_call", "get_weather", {"city": "Paris"})
    heard = [e for e in client.seen
             if e["type"] == "conversation.item.input_audio_transcription.completed"]
    assert heard[0]["transcript"] == "What's the weather in Paris"

    client.send({"type": "conversation.item.create", "item": {
        "type": "function_call_output", "call_id": call["call_id"],
        "output": json.dumps({"temperature_c": 18, "conditions": "cloudy"})}})
    client.send({"type": "response.create"})
    answer = next_response(client)
    assert answer["output"][0]["content"][0]["transcript"] == (
        "In Paris it is 18 degrees and cloudy.")

    client.append_audio(audio[FIRST_TURN_BYTES:])
    goodbye = next_response(client)
    assert [o.get("name") for o in goodbye["output"]] == [None, "end_conversation"]
    heard = [e for e in client.seen
             if e["type"] == "conversation.item.input_audio_transcription.completed"]
    assert heard[-1]["transcript"] == "Thank you goodbye"
    client.close()


def test_speech_during_a_response_cancels_it_and_the_new_turn_is_answered(server):
    client = voice_session(server)
    client.say("tell me a story")
    client.send({"type": "response.create"})
    story_id = client.expect("response.created")["response"]["id"]
    client.expect("response.output_audio.delta")

    client.append_audio(wav_pcm("hello.wav"))
    events = client.until("response.done")
    assert "input_audio_buffer.speech_started" in types_of(events)
    story = events[-1]["response"]
    assert story["id"] == story_id
    assert story["status"] == "cancelled"
    assert story["status_details"] == {"type": "cancelled", "reason": "turn_detected"}

    reply = next_response(client)
    assert reply["status"] == "completed"
    assert reply["output"][0]["content"][0]["transcript"] == "Hello! How can I help you?"
    client.close()


def test_without_interrupt_response_speech_does_not_cancel(server):
    client = voice_session(server, interrupt_response=False)
    client.say("tell me a story")
    client.send({"type": "response.create"})
    client.expect("response.output_audio.delta")
    client.append_audio(wav_pcm("hello.wav"))
    events = client.until("error")
    assert "input_audio_buffer.committed" in types_of(events)
    # The automatic response for the new turn collides with the story, as on the real API.
    assert events[-1]["error"]["code"] == "conversation_already_has_active_response"
    client.send({"type": "response.cancel"})
    assert next_response(client)["status_details"]["reason"] == "client_cancelled"
    client.close()


def test_create_response_false_commits_the_turn_without_answering(server):
    client = voice_session(server, create_response=False)
    client.append_audio(wav_pcm("hello.wav"))
    client.expect("conversation.item.input_audio_transcription.completed")
    # Had the server answered by itself, this create would collide with its response.
    client.send({"type": "response.create"})
    reply = next_response(client)
    assert types_of(client.seen).count("response.created") == 1
    assert "error" not in types_of(client.seen)
    assert reply["output"][0]["content"][0]["transcript"] == "Hello! How can I help you?"
    client.close()


def test_silence_after_a_reply_triggers_the_idle_timeout_and_a_prompt(server):
    client = voice_session(server, idle_timeout_ms=1500, silence_duration_ms=500)
    client.say("hello")
    client.send({"type": "response.create"})
    reply_audio_ms = sum(len(e["delta"]) * 3 // 4 for e in client.until("response.done")
                         if e["type"] == "response.output_audio.delta") // 48
    # The reply would play for reply_audio_ms; the idle clock starts after it.
    client.append_audio(silence(reply_audio_ms + 1000))
    client.send({"type": "input_audio_buffer.commit", "event_id": "probe"})
    events = client.until("input_audio_buffer.committed", "error")
    assert "input_audio_buffer.timeout_triggered" not in types_of(events)
    client.append_audio(silence(1000))
    triggered = client.expect("input_audio_buffer.timeout_triggered")
    assert triggered["audio_end_ms"] >= reply_audio_ms + 1500
    prompt = next_response(client)
    assert prompt["output"][0]["content"][0]["transcript"].startswith("Are you still there?")
    client.close()


def test_barge_in_end_to_end_truncates_what_was_not_heard(server):
    client = voice_session(server)
    client.say("tell me a story")
    client.send({"type": "response.create"})
    story_id = client.expect("response.created")["response"]["id"]
    # The client has received 1.2 s of the story and played 0.6 s when the user speaks.
    played_ms = 600
    received = bytearray()
    while len(received) < 48 * 1200:
        delta = client.expect("response.output_audio.delta")
        received.extend(base64.b64decode(delta["delta"]))
    item_id = delta["item_id"]
    client.append_audio(wav_pcm("hello.wav"))
    client.expect("input_audio_buffer.speech_started")
    client.send({"type": "conversation.item.truncate", "item_id": item_id,
                 "content_index": 0, "audio_end_ms": played_ms})
    events = client.until("conversation.item.truncated")
    assert events[-1]["audio_end_ms"] == played_ms
    story = next(e for e in client.seen if e["type"] == "response.done")["response"]
    assert (story["id"], story["status"]) == (story_id, "cancelled")
    assert story["status_details"]["reason"] == "turn_detected"
    streamed = "".join(e["delta"] for e in client.seen
                       if e["type"] == "response.output_audio_transcript.delta")

    client.send({"type": "conversation.item.retrieve", "item_id": item_id})
    kept = client.expect("conversation.item.retrieved")["item"]["content"][0]
    # Exactly the audio that was heard is kept, and only the words spoken in it.
    assert base64.b64decode(kept["audio"]) == bytes(received[:48 * played_ms])
    assert kept["transcript"] and streamed.startswith(kept["transcript"])
    assert len(kept["transcript"].split()) < len(streamed.split())
    reply = next_response(client)
    assert reply["output"][0]["content"][0]["transcript"] == "Hello! How can I help you?"
    client.close()


def test_one_spoken_question_gets_two_tool_calls_in_one_response(server):
    client = voice_session(server)
    client.update_session({"tools": [WEATHER_TOOL, TIME_TOOL, END_TOOL]})
    client.append_audio(wav_pcm("weather_and_time_tokyo.wav"))
    asking = next_response(client)
    message, *calls = asking["output"]
    assert message["content"][0]["transcript"] == (
        "Let me check the weather and the clock in Tokyo.")
    assert [(c["type"], c["name"], json.loads(c["arguments"])) for c in calls] == [
        ("function_call", "get_weather", {"city": "Tokyo"}),
        ("function_call", "get_time", {"city": "Tokyo"})]
    assert len({c["call_id"] for c in calls}) == len({c["id"] for c in calls}) == 2
    added = [e for e in client.seen if e["type"] == "response.output_item.added"]
    assert [e["output_index"] for e in added] == [0, 1, 2]

    # Both results first, then a single response.create answers them together.
    outputs = [{"temperature_c": 21, "sky": "sunny"}, {"local_time": "09:30"}]
    for call, output in zip(calls, outputs, strict=True):
        client.send({"type": "conversation.item.create", "item": {
            "type": "function_call_output", "call_id": call["call_id"],
            "output": json.dumps(output)}})
        client.expect("conversation.item.done")
    client.send({"type": "response.create"})
    answer = next_response(client)
    assert answer["output"][0]["content"][0]["transcript"] == (
        "In Tokyo it is 21 degrees and sunny. In Tokyo it is 09:30.")
    assert "error" not in types_of(client.seen)
    client.close()
