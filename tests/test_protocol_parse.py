"""Reading server events: frames in, typed events out, for both dialects.

The official examples (tests/fixtures, from OpenAI's own spec) must all parse; beta names
are written out here because the spec's beta section is partly renamed to GA names.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from controller.events import (
    AudioDelta,
    AudioDone,
    AudioTranscriptDelta,
    AudioTranscriptDone,
    ContentPart,
    ContentPartAdded,
    DtmfReceived,
    ErrorEvent,
    FunctionCallArgumentsDone,
    InputTimeoutTriggered,
    InputTranscriptionCompleted,
    InputTranscriptionFailed,
    Item,
    ItemAdded,
    ItemDone,
    ItemRetrieved,
    Malformed,
    OutputItemAdded,
    RateLimitsUpdated,
    ResponseCreated,
    ResponseDone,
    SessionCreated,
    SessionUpdated,
    SpeechStarted,
    TextDelta,
    TextDone,
    Unrecognized,
)
from controller.protocol import SERVER_EVENT_TYPES, parse_server_event
from controller.records import replace

FIXTURE = Path(__file__).parent / "fixtures" / "openai_openapi_realtime_event_examples.jsonl"
EXAMPLES = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
SERVER_EXAMPLES = [e for e in EXAMPLES if e["direction"] == "server"]
# The spec's DTMF example has a stray space in its type: kept verbatim, not a known type.
BROKEN_DTMF_TYPE = " input_audio_buffer.dtmf_event_received"

PCM = bytes(range(256)) * 3 + bytes(192)  # 20 ms of pcm16 at 24 kHz: 960 bytes
STREAM: dict[str, Any] = {"response_id": "resp_1", "item_id": "item_9", "output_index": 0,
          "content_index": 0}


def frame(**event: Any) -> str:
    return json.dumps(event)


def fixture_event(schema: str) -> dict[str, Any]:
    return next(e["event"] for e in EXAMPLES if e["schema"] == schema)


def parse_fixture(schema: str) -> Any:
    return parse_server_event(json.dumps(fixture_event(schema)))


# --- The official examples --------------------------------------------------------------


@pytest.mark.parametrize("example", SERVER_EXAMPLES, ids=lambda e: e["schema"])
def test_every_official_server_example_parses_to_a_typed_event(example):
    event = parse_server_event(json.dumps(example["event"]))

    assert not isinstance(event, Malformed), event
    if example["event"]["type"] == BROKEN_DTMF_TYPE:
        assert isinstance(event, Unrecognized)
    else:
        assert not isinstance(event, Unrecognized)
    assert event.type == example["event"]["type"]
    assert event.raw == example["event"]


def test_session_created_carries_the_session_id_and_expiry():
    event = parse_fixture("RealtimeServerEventSessionCreated")

    assert isinstance(event, SessionCreated)
    assert event.event_id == "event_C9G5RJeJ2gF77mV7f2B1j"
    assert event.session_id == "sess_C9G5QPteg4UIbotdKLoYQ"
    assert event.expires_at == 1756324625
    assert event.session["audio"]["output"]["voice"] == "marin"


def test_a_finished_spoken_response_gives_status_transcript_and_usage():
    event = parse_fixture("RealtimeServerEventResponseDone")

    assert isinstance(event, ResponseDone)
    assert event.response.id == "resp_CCXHw0UJld10EzIUXQCNh"
    assert event.response.status == "completed"
    assert event.response.status_reason is None
    [answer] = event.response.output
    assert answer.role == "assistant"
    # GA's "output_audio" is the same kind of content as beta's "audio".
    assert answer.content == (ContentPart(
        kind="audio",
        transcript="Loud and clear! I can hear you perfectly. How can I help you today?"),)
    assert event.response.usage is not None
    assert event.response.usage["total_tokens"] == 253


def test_response_created_is_in_progress_and_empty():
    event = parse_fixture("RealtimeServerEventResponseCreated")

    assert isinstance(event, ResponseCreated)
    assert (event.response.id, event.response.status) == ("resp_C9G8p7IH2WxLbkgPNouYL",
                                                           "in_progress")
    assert event.response.output == ()
    assert event.response.usage is None


def test_items_added_and_done_are_normalised():
    added = parse_fixture("RealtimeServerEventConversationItemAdded")
    done = parse_fixture("RealtimeServerEventConversationItemDone")

    assert isinstance(added, ItemAdded)
    assert added.previous_item_id is None
    assert added.item == Item(id="item_C9G8pGVKYnaZu8PH5YQ9O", type="message",
                              status="completed", role="user",
                              content=(ContentPart(kind="input_text", text="hi"),))
    assert isinstance(done, ItemDone)
    assert done.previous_item_id == "item_CCXLecNJVIVR2HUy3ABLj"
    assert done.item.content[0].kind == "audio"


def test_a_retrieved_item_with_the_old_audio_content_type_is_audio():
    event = parse_fixture("RealtimeServerEventConversationItemRetrieved")

    assert isinstance(event, ItemRetrieved)
    assert event.item.content[0].kind == "audio"
    assert (event.item.content[0].transcript or "").startswith("Yes, I can hear you")


def test_the_user_transcript_arrives_with_its_usage():
    event = parse_fixture("RealtimeServerEventConversationItemInputAudioTranscriptionCompleted")

    assert isinstance(event, InputTranscriptionCompleted)
    assert (event.item_id, event.content_index) == ("item_CCXGQ4e1ht4cOraEYcuR2", 0)
    assert event.transcript == "Hey, can you hear me?"
    assert event.usage == {"type": "tokens", "total_tokens": 22, "input_tokens": 13,
                           "input_token_details": {"text_tokens": 0, "audio_tokens": 13},
                           "output_tokens": 9}


def test_a_failed_transcription_says_why():
    event = parse_fixture("RealtimeServerEventConversationItemInputAudioTranscriptionFailed")

    assert isinstance(event, InputTranscriptionFailed)
    assert event.code == "audio_unintelligible"
    assert event.message == "The audio could not be transcribed."


def test_an_error_names_the_client_event_that_caused_it():
    event = parse_fixture("RealtimeServerEventError")

    assert isinstance(event, ErrorEvent)
    assert event.error_type == "invalid_request_error"
    assert event.code == "invalid_event"
    assert event.message == "The 'type' field is missing."
    assert event.param is None
    assert event.client_event_id == "event_567"


def test_vad_events_carry_their_milliseconds():
    started = parse_fixture("RealtimeServerEventInputAudioBufferSpeechStarted")
    timeout = parse_fixture("RealtimeServerEventInputAudioBufferTimeoutTriggered")

    assert started == SpeechStarted(type="input_audio_buffer.speech_started",
                                    event_id="event_1516", audio_start_ms=1000,
                                    item_id="msg_003")
    assert isinstance(timeout, InputTimeoutTriggered)
    assert (timeout.audio_start_ms, timeout.audio_end_ms) == (13216, 19232)


def test_a_finished_function_call_carries_name_and_arguments():
    event = parse_fixture("RealtimeServerEventResponseFunctionCallArgumentsDone")

    assert isinstance(event, FunctionCallArgumentsDone)
    assert (event.call_id, event.name) == ("call_001", "get_weather")
    assert json.loads(event.arguments) == {"location": "San Francisco"}


def test_rate_limits_are_kept_as_given():
    event = parse_fixture("RealtimeServerEventRateLimitsUpdated")

    assert isinstance(event, RateLimitsUpdated)
    assert [limit["name"] for limit in event.rate_limits] == ["requests", "tokens"]


def test_the_spec_audio_placeholder_decodes_although_it_lacks_padding():
    # "Base64EncodedAudioDelta" is 23 characters: valid base64 missing its final "=".
    event = parse_fixture("RealtimeServerEventResponseAudioDelta")

    assert isinstance(event, AudioDelta)
    assert event.audio == base64.b64decode("Base64EncodedAudioDelta=")


# --- Beta names map to the same events --------------------------------------------------


def test_beta_and_ga_audio_deltas_are_one_event_with_decoded_pcm():
    payload = base64.b64encode(PCM).decode()
    ga = parse_server_event(frame(type="response.output_audio.delta", event_id="e1",
                                  delta=payload, **STREAM))
    beta = parse_server_event(frame(type="response.audio.delta", event_id="e1",
                                    delta=payload, **STREAM))

    assert isinstance(beta, AudioDelta)
    assert beta.audio == PCM
    assert beta.type == "response.audio.delta"
    assert beta == replace(ga, type="response.audio.delta")


@pytest.mark.parametrize(("beta_type", "fields", "expected"), [
    ("response.audio_transcript.delta", {"delta": "Hel"},
     AudioTranscriptDelta(type="response.audio_transcript.delta", delta="Hel", **STREAM)),
    ("response.audio_transcript.done", {"transcript": "Hello"},
     AudioTranscriptDone(type="response.audio_transcript.done", transcript="Hello",
                         **STREAM)),
    ("response.text.delta", {"delta": "Sure"},
     TextDelta(type="response.text.delta", delta="Sure", **STREAM)),
    ("response.text.done", {"text": "Sure."},
     TextDone(type="response.text.done", text="Sure.", **STREAM)),
    ("response.audio.done", {}, AudioDone(type="response.audio.done", **STREAM)),
])
def test_beta_stream_events_parse_like_their_ga_twins(beta_type, fields, expected):
    assert parse_server_event(frame(type=beta_type, **STREAM, **fields)) == expected


def test_beta_item_created_is_an_item_added_with_beta_content_types():
    event = parse_server_event(frame(
        type="conversation.item.created", event_id="event_AHB", previous_item_id="item_1",
        item={"id": "item_2", "object": "realtime.item", "type": "message",
              "status": "completed", "role": "assistant",
              "content": [{"type": "text", "text": "Hi"},
                          {"type": "audio", "transcript": "Hi there"}]}))

    assert isinstance(event, ItemAdded)
    assert event.type == "conversation.item.created"
    assert event.item.content == (ContentPart(kind="text", text="Hi"),
                                  ContentPart(kind="audio", transcript="Hi there"))


def test_a_beta_transcription_session_update_is_a_session_update():
    event = parse_server_event(frame(type="transcription_session.updated",
                                     session={"id": "sess_1"}))

    assert event == SessionUpdated(type="transcription_session.updated",
                                   session={"id": "sess_1"})


def test_a_dtmf_digit_with_the_type_spelled_right_is_understood():
    example = {**fixture_event("RealtimeServerEventInputAudioBufferDtmfEventReceived"),
               "type": "input_audio_buffer.dtmf_event_received"}

    event = parse_server_event(json.dumps(example))

    assert event == DtmfReceived(type="input_audio_buffer.dtmf_event_received", digit="9",
                                 received_at=1763605109.0)


def test_every_type_the_codec_knows_is_exercised_by_an_example_or_a_test_here():
    tested_here = {"response.audio.delta", "response.audio.done",
                 "response.audio_transcript.delta", "response.audio_transcript.done",
                 "response.text.delta", "response.text.done",
                 "transcription_session.updated", "input_audio_buffer.dtmf_event_received"}
    in_fixture = {e["event"]["type"] for e in SERVER_EXAMPLES}

    assert SERVER_EVENT_TYPES - in_fixture == tested_here


# --- A spoken answer, start to finish ---------------------------------------------------


def test_a_cancelled_answer_reads_as_a_sequence_of_typed_events():
    payload = base64.b64encode(PCM).decode()
    frames = [
        frame(type="response.created", response={"id": "resp_1", "status": "in_progress"}),
        frame(type="response.output_item.added", response_id="resp_1", output_index=0,
              item={"id": "item_9", "type": "message", "role": "assistant", "content": []}),
        frame(type="response.content_part.added", **STREAM,
              part={"type": "audio", "transcript": ""}),
        frame(type="response.output_audio.delta", delta=payload, **STREAM),
        frame(type="response.output_audio_transcript.delta", delta="It is", **STREAM),
        frame(type="input_audio_buffer.speech_started", audio_start_ms=2300,
              item_id="item_10"),
        frame(type="response.done", response={
            "id": "resp_1", "status": "cancelled",
            "status_details": {"type": "cancelled", "reason": "turn_detected"}}),
    ]

    events = [parse_server_event(f) for f in frames]

    assert [type(e) for e in events] == [
        ResponseCreated, OutputItemAdded, ContentPartAdded, AudioDelta,
        AudioTranscriptDelta, SpeechStarted, ResponseDone]
    _, _, part_added, audio, _, _, done = events
    assert isinstance(part_added, ContentPartAdded)
    assert part_added.part == ContentPart(kind="audio", transcript="")
    assert isinstance(audio, AudioDelta)
    assert audio.audio == PCM
    assert isinstance(done, ResponseDone)
    assert (done.response.status, done.response.status_reason) == ("cancelled",
                                                                   "turn_detected")


def test_bytes_frames_parse_like_text_frames():
    text = frame(type="input_audio_buffer.speech_stopped", audio_end_ms=5, item_id="i")

    assert parse_server_event(text.encode()) == parse_server_event(text)


def test_whitespace_around_a_frame_is_harmless():
    text = frame(type="input_audio_buffer.cleared", event_id="event_1")

    assert parse_server_event(f" \n{text}\r\n ") == parse_server_event(text)


@pytest.mark.parametrize("wire", [
    '{"type": "input_audio_buffer.cleared"} trailing',
    '{"type": "input_audio_buffer.cleared"}{"type": "input_audio_buffer.cleared"}',
    '{"type": "input_audio_buffer.cleared"',
    # a raw control character inside a string: the strict decoder refuses it
    '{"type": "input_audio_buffer.cleared", "note": "tab\there"}',
])
def test_text_that_is_not_exactly_one_valid_json_object_is_malformed(wire):
    event = parse_server_event(wire)

    assert isinstance(event, Malformed)
    assert event.reason.startswith("not valid JSON")


def test_unknown_fields_are_ignored_and_kept_in_raw():
    event = parse_server_event(frame(type="response.output_text.delta", delta="x",
                                     obfuscation="aLxx0", **STREAM))

    assert isinstance(event, TextDelta)
    assert event.raw["obfuscation"] == "aLxx0"


def test_an_unknown_type_is_unrecognized_not_an_error():
    event = parse_server_event(frame(type="session.closed", event_id="event_7", why=1))

    assert event == Unrecognized(type="session.closed", event_id="event_7")
    assert event.raw == {"type": "session.closed", "event_id": "event_7", "why": 1}


# --- What is not a valid event ----------------------------------------------------------


@pytest.mark.parametrize(("wire", "wire_type", "reason"), [
    ("not json", "", "not valid JSON"),
    (b"\xff\xfe{", "", "not valid JSON"),
    ("[1, 2]", "", "not a JSON object but an array"),
    ('{"event_id": "event_1"}', "", "field 'type' is missing"),
    ('{"type": 5}', "", "field 'type' must be a string, got an integer"),
    (frame(type="input_audio_buffer.speech_started", audio_start_ms="1000"),
     "input_audio_buffer.speech_started",
     "field 'audio_start_ms' must be an integer, got a string"),
    (frame(type="input_audio_buffer.speech_started", audio_start_ms=True),
     "input_audio_buffer.speech_started",
     "field 'audio_start_ms' must be an integer, got a boolean"),
    (frame(type="input_audio_buffer.committed", previous_item_id="item_1"),
     "input_audio_buffer.committed", "field 'item_id' is missing"),
    (frame(type="conversation.item.added", item=[]),
     "conversation.item.added", "field 'item' must be an object, got an array"),
    (frame(type="conversation.item.added", item={"id": "item_1"}),
     "conversation.item.added", "field 'item.type' is missing"),
    (frame(type="response.output_audio.delta", delta="@@@@", **STREAM),
     "response.output_audio.delta", "field 'delta' is not valid base64"),
    (frame(type="response.audio.delta", delta="AAAA", **{**STREAM, "item_id": None}),
     "response.audio.delta", "field 'item_id' is missing"),
    (frame(type="response.output_audio.delta", delta="AAAA", **{**STREAM, "output_index": 0.5}),
     "response.output_audio.delta", "field 'output_index' must be an integer, got a number"),
    (frame(type="response.done", response={"id": "r", "output": [
        {"type": "message"}, {"id": "item_2"}]}),
     "response.done", "field 'response.output[1].type' is missing"),
    (frame(type="response.content_part.done", part={"type": 3}, **STREAM),
     "response.content_part.done", "field 'part.type' must be a string, got an integer"),
    (frame(type="error", error="boom"), "error", "field 'error' must be an object"),
    (frame(type="session.created", event_id=12, session={}),
     "session.created", "field 'event_id' must be a string or null, got an integer"),
])
def test_a_broken_frame_becomes_malformed_naming_what_is_wrong(wire, wire_type, reason):
    event = parse_server_event(wire)

    assert isinstance(event, Malformed)
    assert event.type == wire_type
    assert reason in event.reason


def test_a_malformed_event_keeps_what_arrived():
    wire = frame(type="conversation.item.truncated", event_id="event_3", item_id="item_1",
                 content_index=0, audio_end_ms=1500.5)

    event = parse_server_event(wire)

    assert isinstance(event, Malformed)
    assert event.event_id == "event_3"
    assert event.raw == json.loads(wire)
    assert event.text == wire
