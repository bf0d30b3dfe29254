"""Properties of the codec that must hold for any input, checked with hypothesis.

Whatever arrives on the socket, ``parse_server_event`` returns an event and never raises;
a known event with a field of the wrong JSON type is ``Malformed`` and the reason names
that field; audio survives the trip through base64 unchanged.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.events import AudioDelta, Malformed, ServerEvent, Unrecognized
from controller.protocol import SERVER_EVENT_TYPES, ClientEvents, parse_server_event

FIXTURE = Path(__file__).parent / "fixtures" / "openai_openapi_realtime_event_examples.jsonl"
GA_EXAMPLES: dict[str, dict[str, Any]] = {}
for _line in FIXTURE.read_text().splitlines():
    _example = json.loads(_line)
    if _example["direction"] == "server" and _example["dialect_section"] == "ga":
        GA_EXAMPLES.setdefault(_example["event"]["type"], _example["event"])

FAST = settings(max_examples=150, deadline=None)

scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)

# Every field name the codec reads somewhere, so random events hit the typed paths.
FIELD_NAMES = ("event_id", "item_id", "previous_item_id", "response_id", "output_index",
               "content_index", "call_id", "name", "arguments", "delta", "text",
               "transcript", "audio_start_ms", "audio_end_ms", "item", "part", "response",
               "session", "error", "usage", "rate_limits", "conversation", "event",
               "received_at", "speaker", "start", "end")


def assert_sound(event: object) -> None:
    assert isinstance(event, ServerEvent)
    if isinstance(event, Malformed):
        assert "parser defect" not in event.reason, event.reason


# --- Never raises -----------------------------------------------------------------------


@FAST
@given(st.text())
def test_any_text_parses_without_raising(text):
    assert_sound(parse_server_event(text))


@FAST
@given(st.binary())
def test_any_bytes_parse_without_raising(data):
    assert_sound(parse_server_event(data))


@FAST
@given(json_values)
def test_any_json_value_parses_without_raising(value):
    assert_sound(parse_server_event(json.dumps(value)))


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(SERVER_EVENT_TYPES)),
       st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=8))
def test_known_types_with_arbitrary_fields_parse_without_raising(wire_type, fields):
    event = parse_server_event(json.dumps({**fields, "type": wire_type}))

    assert_sound(event)
    assert not isinstance(event, Unrecognized)
    assert event.type == wire_type


def is_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


edges = st.sampled_from(["", " ", "\n", "\t ", "x", "}", "{", "]", ",{}", '"'])


@FAST
@given(edges, st.dictionaries(st.text(max_size=6), json_values, max_size=4), edges)
def test_the_codec_reads_json_exactly_as_the_json_module_does(before, value, after):
    text = before + json.dumps({"type": "input_audio_buffer.cleared", **value}) + after

    event = parse_server_event(text)

    rejected = isinstance(event, Malformed) and event.reason.startswith("not valid JSON")
    assert rejected == (not is_json(text))


def test_nesting_too_deep_for_the_json_module_is_malformed_not_a_crash():
    assert_sound(parse_server_event("[" * 100_000 + "]" * 100_000))


def test_an_integer_too_long_to_convert_is_malformed_not_a_crash():
    event = parse_server_event('{"type": "input_audio_buffer.speech_started", '
                               '"audio_start_ms": ' + "9" * 10_000 + "}")

    assert isinstance(event, Malformed)


# --- Wrong field types are Malformed, naming the field ----------------------------------

KIND_VALUES = {
    "null": st.none(), "boolean": st.booleans(), "integer": st.integers(),
    "number": st.floats(allow_nan=False), "string": st.text(max_size=10),
    "array": st.lists(scalars, max_size=3),
    "object": st.dictionaries(st.text(max_size=5), scalars, max_size=3),
}
STR, OPT_STR, INT = {"string"}, {"string", "null"}, {"integer"}
OBJ, OPT_OBJ, OPT_LIST = {"object"}, {"object", "null"}, {"array", "null"}
OPT_NUM = {"integer", "number", "null"}

# (event type, path to the field, the JSON kinds that field may hold)
TYPED_FIELDS: list[tuple[str, tuple[str, ...], set[str]]] = [
    ("session.created", ("event_id",), OPT_STR),
    ("session.created", ("session",), OBJ),
    ("session.created", ("session", "expires_at"), {"integer", "null"}),
    ("error", ("error",), OBJ),
    ("error", ("error", "message"), STR),
    ("error", ("error", "code"), OPT_STR),
    ("input_audio_buffer.speech_started", ("audio_start_ms",), INT),
    ("input_audio_buffer.speech_started", ("item_id",), OPT_STR),
    ("input_audio_buffer.speech_stopped", ("audio_end_ms",), INT),
    ("input_audio_buffer.committed", ("item_id",), STR),
    ("conversation.item.truncated", ("audio_end_ms",), INT),
    ("conversation.item.added", ("item",), OBJ),
    ("conversation.item.added", ("item", "type"), STR),
    ("conversation.item.added", ("item", "content"), OPT_LIST),
    ("conversation.item.added", ("previous_item_id",), OPT_STR),
    ("conversation.item.input_audio_transcription.completed", ("usage",), OPT_OBJ),
    ("conversation.item.input_audio_transcription.completed", ("transcript",), OPT_STR),
    ("conversation.item.input_audio_transcription.segment", ("start",), OPT_NUM),
    ("response.output_audio.delta", ("response_id",), STR),
    ("response.output_audio.delta", ("item_id",), STR),
    ("response.output_audio.delta", ("output_index",), INT),
    ("response.output_audio.delta", ("content_index",), INT),
    ("response.output_audio.delta", ("delta",), STR),
    ("response.output_text.delta", ("delta",), STR),
    ("response.content_part.added", ("part",), OBJ),
    ("response.content_part.added", ("part", "type"), STR),
    ("response.output_item.done", ("item",), OBJ),
    ("response.done", ("response",), OBJ),
    ("response.done", ("response", "status"), OPT_STR),
    ("response.done", ("response", "output"), OPT_LIST),
    ("response.done", ("response", "usage"), OPT_OBJ),
    ("response.function_call_arguments.done", ("arguments",), STR),
    ("response.function_call_arguments.done", ("name",), OPT_STR),
    ("rate_limits.updated", ("rate_limits",), OPT_LIST),
]


@st.composite
def wrongly_typed_events(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    wire_type, path, allowed = draw(st.sampled_from(TYPED_FIELDS))
    kind = draw(st.sampled_from(sorted(KIND_VALUES.keys() - allowed)))
    event = copy.deepcopy(GA_EXAMPLES[wire_type])
    parent = event
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = draw(KIND_VALUES[kind])
    return event, ".".join(path)


def test_every_typed_field_case_starts_from_an_official_example_that_parses():
    for wire_type, _, _ in TYPED_FIELDS:
        event = parse_server_event(json.dumps(GA_EXAMPLES[wire_type]))
        assert not isinstance(event, (Malformed, Unrecognized)), wire_type


@settings(max_examples=300, deadline=None)
@given(wrongly_typed_events())
def test_a_field_of_the_wrong_type_makes_the_event_malformed(case):
    event, field = case

    parsed = parse_server_event(json.dumps(event))

    assert isinstance(parsed, Malformed)
    assert f"field '{field}'" in parsed.reason
    assert parsed.type == event["type"]


# --- Audio and unknown fields -----------------------------------------------------------


@FAST
@given(st.binary(max_size=4800), st.sampled_from(["response.output_audio.delta",
                                                  "response.audio.delta"]))
def test_audio_survives_the_trip_through_base64(pcm, wire_type):
    sent = ClientEvents().input_audio_append(pcm)["audio"]

    event = parse_server_event(json.dumps({
        "type": wire_type, "response_id": "r", "item_id": "i", "output_index": 0,
        "content_index": 0, "delta": sent}))

    assert isinstance(event, AudioDelta)
    assert event.audio == pcm


@FAST
@given(st.binary(min_size=1, max_size=300))
def test_audio_without_its_padding_still_decodes(pcm):
    unpadded = base64.b64encode(pcm).decode().rstrip("=")

    event = parse_server_event(json.dumps({
        "type": "response.output_audio.delta", "response_id": "r", "item_id": "i",
        "output_index": 0, "content_index": 0, "delta": unpadded}))

    assert isinstance(event, AudioDelta)
    assert event.audio == pcm


@FAST
@given(st.sampled_from(sorted(GA_EXAMPLES)),
       st.dictionaries(st.text(min_size=1, max_size=10).map(lambda k: "x_" + k), json_values,
                       max_size=3))
def test_unknown_fields_never_change_what_an_event_means(wire_type, extra):
    example = GA_EXAMPLES[wire_type]

    plain = parse_server_event(json.dumps(example))
    padded = parse_server_event(json.dumps({**extra, **example}))

    assert padded == plain
