"""Writing client events: the same settings and calls, spelled for each dialect.

GA is what api.openai.com and Azure's /openai/v1 speak; beta is what Azure's deprecated
preview URLs and older servers speak. Callers never branch on the dialect: these stories
show what each one gets on the wire.
"""

from __future__ import annotations

import base64
import copy
import json
import pickle

import pytest

from controller.codec_build import encode_event
from controller.errors import ConfigError
from controller.protocol import ClientEvents
from controller.settings import (
    FINISH_TOOL,
    SessionSettings,
    ToolSpec,
    Transcription,
    TurnDetection,
)

GA = ClientEvents()
BETA = ClientEvents("beta")

WEATHER = ToolSpec(name="get_weather", description="Weather for a city.",
                   parameters={"type": "object", "properties": {"city": {"type": "string"}},
                               "required": ("city",)})
VOICE_AGENT = SessionSettings(
    instructions="Be brief.", voice="marin",
    turn_detection=TurnDetection(threshold=0.5, prefix_padding_ms=300,
                                 silence_duration_ms=500),
    transcription=Transcription(model="gpt-4o-mini-transcribe"),
    tools=(WEATHER,), tool_choice="auto")
WEATHER_WIRE = {"type": "function", "name": "get_weather", "description": "Weather for a city.",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                               "required": ["city"]}}
SERVER_VAD_WIRE = {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                   "silence_duration_ms": 500, "create_response": True,
                   "interrupt_response": True}


def test_ga_is_the_default_dialect():
    assert ClientEvents().dialect == "ga"


def test_an_unknown_dialect_is_a_config_error():
    with pytest.raises(ConfigError, match="dialect must be 'ga' or 'beta'"):
        ClientEvents("v2")  # type: ignore[arg-type]


# --- session.update ---------------------------------------------------------------------


def test_a_ga_voice_agent_session_uses_the_nested_audio_layout():
    assert GA.session_update(VOICE_AGENT) == {"type": "session.update", "session": {
        "type": "realtime", "instructions": "Be brief.", "output_modalities": ["audio"],
        "audio": {
            "input": {"format": {"type": "audio/pcm", "rate": 24000},
                      "turn_detection": SERVER_VAD_WIRE,
                      "transcription": {"model": "gpt-4o-mini-transcribe"},
                      "noise_reduction": None},
            "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"}},
        "tools": [WEATHER_WIRE], "tool_choice": "auto"}}


def test_the_same_agent_in_beta_uses_flat_fields_and_audio_with_text():
    assert BETA.session_update(VOICE_AGENT) == {"type": "session.update", "session": {
        "modalities": ["audio", "text"], "instructions": "Be brief.", "voice": "marin",
        "input_audio_format": "pcm16", "output_audio_format": "pcm16",
        "turn_detection": SERVER_VAD_WIRE,
        "input_audio_transcription": {"model": "gpt-4o-mini-transcribe"},
        "tools": [WEATHER_WIRE], "tool_choice": "auto"}}


def test_push_to_talk_turns_server_turn_detection_off_with_null():
    ptt = SessionSettings(turn_detection=TurnDetection(mode="none"))

    assert GA.session_update(ptt)["session"]["audio"]["input"]["turn_detection"] is None
    assert BETA.session_update(ptt)["session"]["turn_detection"] is None


def test_semantic_vad_takes_eagerness_and_drops_the_server_vad_knobs():
    semantic = SessionSettings(turn_detection=TurnDetection(
        mode="semantic_vad", eagerness="high", threshold=0.9, silence_duration_ms=900,
        interrupt_response=False))
    wire = {"type": "semantic_vad", "eagerness": "high", "create_response": True,
            "interrupt_response": False}

    assert GA.session_update(semantic)["session"]["audio"]["input"]["turn_detection"] == wire
    assert BETA.session_update(semantic)["session"]["turn_detection"] == wire


def test_the_idle_timeout_exists_only_in_ga():
    idle = SessionSettings(turn_detection=TurnDetection(idle_timeout_ms=6000))

    assert GA.session_update(idle)["session"]["audio"]["input"]["turn_detection"][
        "idle_timeout_ms"] == 6000
    assert "idle_timeout_ms" not in BETA.session_update(idle)["session"]["turn_detection"]


def test_telephony_audio_names_its_format_per_dialect():
    ulaw, alaw = (SessionSettings(audio_format="g711_ulaw"),
                  SessionSettings(audio_format="g711_alaw"))

    ga_audio = GA.session_update(ulaw)["session"]["audio"]
    assert ga_audio["input"]["format"] == ga_audio["output"]["format"] == {"type": "audio/pcmu"}
    assert GA.session_update(alaw)["session"]["audio"]["output"]["format"] == {
        "type": "audio/pcma"}
    beta = BETA.session_update(alaw)["session"]
    assert (beta["input_audio_format"], beta["output_audio_format"]) == ("g711_alaw",
                                                                         "g711_alaw")


def test_text_output_is_text_only_in_both_dialects():
    text = SessionSettings(output_modality="text")

    assert GA.session_update(text)["session"]["output_modalities"] == ["text"]
    assert BETA.session_update(text)["session"]["modalities"] == ["text"]


def test_beta_leaves_noise_reduction_out_when_off_for_servers_that_predate_it():
    session = BETA.session_update(SessionSettings(noise_reduction=None))["session"]

    assert "input_audio_noise_reduction" not in session
    assert GA.session_update(SessionSettings())["session"]["audio"]["input"][
        "noise_reduction"] is None


def test_transcription_off_and_noise_reduction_on():
    quiet = SessionSettings(transcription=None, noise_reduction="far_field")

    ga_input = GA.session_update(quiet)["session"]["audio"]["input"]
    assert ga_input["transcription"] is None
    assert ga_input["noise_reduction"] == {"type": "far_field"}
    beta = BETA.session_update(quiet)["session"]
    assert beta["input_audio_transcription"] is None
    assert beta["input_audio_noise_reduction"] == {"type": "far_field"}


def test_a_transcription_language_and_prompt_are_passed_on():
    german = SessionSettings(transcription=Transcription(model="my-transcribe-deployment",
                                                         language="de", prompt="Ortsnamen"))

    assert GA.session_update(german)["session"]["audio"]["input"]["transcription"] == {
        "model": "my-transcribe-deployment", "language": "de", "prompt": "Ortsnamen"}


def test_max_output_tokens_has_a_different_name_in_beta():
    capped, unlimited = (SessionSettings(max_output_tokens=300),
                         SessionSettings(max_output_tokens="inf"))

    assert GA.session_update(capped)["session"]["max_output_tokens"] == 300
    assert BETA.session_update(unlimited)["session"]["max_response_output_tokens"] == "inf"
    assert "max_output_tokens" not in GA.session_update(SessionSettings())["session"]


def test_forcing_one_function_works_in_ga_and_is_refused_in_beta():
    forced = SessionSettings(tools=(FINISH_TOOL,),
                             tool_choice={"type": "function", "name": "end_conversation"})

    assert GA.session_update(forced)["session"]["tool_choice"] == {
        "type": "function", "name": "end_conversation"}
    with pytest.raises(ConfigError, match="tool_choice: required"):
        BETA.session_update(forced)


def test_without_tools_the_session_says_so_explicitly():
    assert GA.session_update(SessionSettings())["session"]["tools"] == []


def test_each_session_update_is_a_fresh_json_ready_dict():
    first = GA.session_update(VOICE_AGENT)
    first["session"]["audio"]["input"]["format"]["rate"] = 8000
    first["session"]["tools"][0]["parameters"]["required"].append("country")

    second = GA.session_update(VOICE_AGENT)

    assert second["session"]["audio"]["input"]["format"]["rate"] == 24000
    assert second["session"]["tools"][0]["parameters"]["required"] == ["city"]
    assert json.loads(json.dumps(second)) == second


# --- Audio in ---------------------------------------------------------------------------


def test_microphone_audio_travels_as_base64():
    pcm = bytes(range(256)) * 4

    event = GA.input_audio_append(pcm)

    assert event["type"] == "input_audio_buffer.append"
    assert base64.b64decode(event["audio"], validate=True) == pcm
    assert BETA.input_audio_append(pcm) == event


def test_an_append_carries_the_same_json_it_would_be_sent_as():
    pcm = bytes(range(256)) * 4

    event = GA.input_audio_append(pcm)

    assert json.loads(encode_event(event)) == dict(event)
    assert encode_event(event) == encode_event(dict(event))


def test_an_append_cannot_be_changed_behind_its_json():
    event = GA.input_audio_append(bytes(960))

    with pytest.raises(TypeError, match="read-only"):
        event["event_id"] = "evt_1"
    with pytest.raises(TypeError, match="read-only"):
        event.update(audio="")
    changed = {**event, "event_id": "evt_1"}  # a copy can change, and is encoded anew
    assert json.loads(encode_event(changed)) == changed


def test_a_copied_or_pickled_append_keeps_its_json():
    event = GA.input_audio_append(bytes(range(256)))

    for twin in (copy.copy(event), copy.deepcopy(event), pickle.loads(pickle.dumps(event))):
        assert twin == event
        assert encode_event(twin) == encode_event(event)


def test_other_events_are_encoded_as_compact_utf8_json():
    event = {"type": "conversation.item.create", "item": {"text": "Grüße"}}

    assert encode_event(event) == (
        '{"type":"conversation.item.create","item":{"text":"Grüße"}}'.encode())


def test_push_to_talk_commits_or_clears_the_buffer():
    assert GA.input_audio_commit() == {"type": "input_audio_buffer.commit"}
    assert BETA.input_audio_clear() == {"type": "input_audio_buffer.clear"}


# --- Conversation items -----------------------------------------------------------------


def test_a_typed_user_line_is_input_text_in_both_dialects():
    expected = {"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}}

    assert GA.user_text("Hi") == BETA.user_text("Hi") == expected


def test_replayed_assistant_words_use_each_dialects_content_type():
    assert GA.assistant_text("Hello!")["item"] == {
        "type": "message", "role": "assistant",
        "content": [{"type": "output_text", "text": "Hello!"}]}
    assert BETA.assistant_text("Hello!")["item"]["content"] == [
        {"type": "text", "text": "Hello!"}]


def test_a_tool_round_is_replayed_as_call_and_output():
    call = GA.function_call("call_1", "get_weather", '{"city":"Paris"}')
    answer = GA.function_call_output("call_1", '{"temp_c":21}')

    assert call == {"type": "conversation.item.create", "item": {
        "type": "function_call", "call_id": "call_1", "name": "get_weather",
        "arguments": '{"city":"Paris"}'}}
    assert answer == {"type": "conversation.item.create", "item": {
        "type": "function_call_output", "call_id": "call_1", "output": '{"temp_c":21}'}}


def test_barge_in_truncates_to_whole_milliseconds_heard():
    assert GA.truncate("item_7", 0, 1500) == {"type": "conversation.item.truncate",
                                             "item_id": "item_7", "content_index": 0,
                                             "audio_end_ms": 1500}


# --- Responses --------------------------------------------------------------------------


def test_a_plain_response_create_has_nothing_but_its_type():
    assert GA.response_create() == BETA.response_create() == {"type": "response.create"}


def test_response_overrides_use_each_dialects_names():
    assert GA.response_create(instructions="Say goodbye.", output_modality="audio",
                              max_output_tokens=60) == {
        "type": "response.create",
        "response": {"instructions": "Say goodbye.", "output_modalities": ["audio"],
                     "max_output_tokens": 60}}
    assert BETA.response_create(output_modality="audio", max_output_tokens="inf") == {
        "type": "response.create",
        "response": {"modalities": ["audio", "text"], "max_response_output_tokens": "inf"}}


def test_cancel_names_the_response_only_when_asked():
    assert GA.response_cancel() == {"type": "response.cancel"}
    assert BETA.response_cancel("resp_1") == {"type": "response.cancel",
                                              "response_id": "resp_1"}
