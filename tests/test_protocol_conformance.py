"""Do we speak the real protocol? Every client event we build, checked against the
official ``openai`` package's own typed models for that dialect.

GA events are checked against ``openai.types.realtime.RealtimeClientEvent``, beta events
against ``openai.types.beta.realtime.RealtimeClientEvent``: the model for an event is
picked from the package's union by its ``type`` literal. The openai models accept unknown
fields silently (``extra="allow"``), so the check is stricter than validation alone:

1. the event validates against the model for its type;
2. no model anywhere in the validated tree holds an extra (unknown) field, so a
   misspelled or wrong-dialect field name fails;
3. dumping the model (only the fields we set) gives back exactly the event, so nothing
   was coerced, dropped or matched to the wrong member of a union.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pydantic
import pytest
from openai.types.beta.realtime import RealtimeClientEvent as BetaClientEvent
from openai.types.realtime import RealtimeClientEvent as GaClientEvent

from controller.protocol import ClientEvents
from controller.settings import (
    FINISH_TOOL,
    SessionSettings,
    ToolSpec,
    Transcription,
    TurnDetection,
)


def models_by_type(union: Any) -> dict[str, type[pydantic.BaseModel]]:
    """The package's own union of client events, keyed by each member's ``type``."""
    annotated_union = typing.get_args(union)[0]
    models = {}
    for model in typing.get_args(annotated_union):
        [wire_type] = typing.get_args(model.model_fields["type"].annotation)
        models[wire_type] = model
    return models


MODELS = {"ga": models_by_type(GaClientEvent), "beta": models_by_type(BetaClientEvent)}


def unknown_fields(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, pydantic.BaseModel):
        for name in value.model_extra or {}:
            yield f"{path}.{name}"
        for name in type(value).model_fields:
            yield from unknown_fields(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from unknown_fields(inner, f"{path}[{index}]")


def assert_conforms(event: dict[str, Any], dialect: str) -> None:
    model_class = MODELS[dialect].get(event["type"])
    assert model_class is not None, f"{event['type']} is not a {dialect} client event"
    model = model_class.model_validate(event)
    assert list(unknown_fields(model, event["type"])) == [], f"unknown fields in {event}"
    assert model.model_dump(mode="json", exclude_unset=True) == event


# --- The checker itself can fail --------------------------------------------------------


def test_the_checker_knows_every_client_event_of_both_dialects():
    assert {"session.update", "input_audio_buffer.append", "conversation.item.create",
            "conversation.item.truncate", "response.create",
            "response.cancel"} <= MODELS["ga"].keys() & MODELS["beta"].keys()


@pytest.mark.parametrize(("dialect", "event"), [
    ("ga", {"type": "session.update",
            "session": {"type": "realtime", "output_modality": ["audio"]}}),
    ("ga", {"type": "session.update", "session": {"type": "realtime", "modalities": ["audio"]}}),
    ("ga", {"type": "session.update", "session": {"type": "realtime", "audio": {
        "input": {"turn_detection": {"type": "server_vad", "silence_ms": 500}}}}}),
    ("beta", {"type": "session.update", "session": {"type": "realtime"}}),
    ("beta", {"type": "session.update", "session": {"output_modalities": ["audio"]}}),
    ("ga", {"type": "conversation.item.truncate", "item_id": "i", "content_index": 0,
            "audio_end_ms": "1500"}),
    ("ga", {"type": "conversation.item.create", "item": {
        "type": "message", "role": "assistant", "content": [{"type": "text", "text": "x"}]}}),
    ("ga", {"type": "response.create", "response": {"modalities": ["audio", "text"]}}),
    ("beta", {"type": "response.cancel", "id": "resp_1"}),
])
def test_the_checker_rejects_wrong_field_names_types_and_dialects(dialect, event):
    with pytest.raises((AssertionError, pydantic.ValidationError)):
        assert_conforms(event, dialect)


# --- Every session.update we can build --------------------------------------------------

WEATHER = ToolSpec(name="get_weather", description="Weather for a city.",
                   parameters={"type": "object", "properties": {"city": {"type": "string"}},
                               "required": ["city"]})
BASE = SessionSettings()

SETTINGS = {
    "defaults": BASE,
    "push_to_talk": replace(BASE, turn_detection=TurnDetection(mode="none")),
    "server_vad_tuned": replace(BASE, turn_detection=TurnDetection(
        threshold=0.7, prefix_padding_ms=200, silence_duration_ms=650,
        idle_timeout_ms=8000, create_response=False, interrupt_response=False)),
    "semantic_vad": replace(BASE, turn_detection=TurnDetection(
        mode="semantic_vad", eagerness="low", interrupt_response=False)),
    "no_transcription": replace(BASE, transcription=None),
    "transcription_full": replace(BASE, transcription=Transcription(
        model="whisper-1", language="en", prompt="Paris, Lyon")),
    "near_field": replace(BASE, noise_reduction="near_field"),
    "far_field": replace(BASE, noise_reduction="far_field"),
    "tools_required": replace(BASE, tools=(WEATHER, FINISH_TOOL), tool_choice="required"),
    "tools_none": replace(BASE, tools=(WEATHER,), tool_choice="none"),
    "max_tokens_int": replace(BASE, max_output_tokens=512),
    "max_tokens_inf": replace(BASE, max_output_tokens="inf"),
    "text_output": replace(BASE, output_modality="text", voice=None),
    "voice_marin": replace(BASE, voice="marin"),
    "g711_ulaw": replace(BASE, audio_format="g711_ulaw"),
    "g711_alaw_everything": SessionSettings(
        instructions="Telephone agent.", voice="alloy", output_modality="audio",
        audio_format="g711_alaw",
        turn_detection=TurnDetection(threshold=0.4, silence_duration_ms=300),
        transcription=Transcription(model="gpt-4o-transcribe", language="fr"),
        noise_reduction="far_field", tools=(WEATHER,), tool_choice="auto",
        max_output_tokens=4096),
}
GA_ONLY_SETTINGS = {
    "forced_function": replace(BASE, tools=(WEATHER, FINISH_TOOL),
                               tool_choice={"type": "function", "name": "end_conversation"}),
}


@pytest.mark.parametrize("dialect", ["ga", "beta"])
@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_session_update_conforms(dialect, name):
    assert_conforms(ClientEvents(dialect).session_update(SETTINGS[name]), dialect)


@pytest.mark.parametrize("name", sorted(GA_ONLY_SETTINGS))
def test_ga_only_session_update_conforms(name):
    assert_conforms(ClientEvents("ga").session_update(GA_ONLY_SETTINGS[name]), "ga")


# --- Every other event we send ----------------------------------------------------------


def everything_else(events: ClientEvents) -> list[dict[str, Any]]:
    return [
        events.input_audio_append(bytes(960)),
        events.input_audio_append(b""),
        events.input_audio_commit(),
        events.input_audio_clear(),
        events.user_text("What's the weather in Paris?"),
        events.assistant_text("It is sunny in Paris."),
        events.function_call("call_1", "get_weather", '{"city":"Paris"}'),
        events.function_call_output("call_1", '{"temp_c":21}'),
        events.truncate("item_7", 0, 1500),
        events.response_create(),
        events.response_create(instructions="Say goodbye.", output_modality="audio",
                               max_output_tokens=80),
        events.response_create(output_modality="text", max_output_tokens="inf"),
        events.response_cancel(),
        events.response_cancel("resp_1"),
    ]


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_every_other_client_event_conforms(dialect):
    events = everything_else(ClientEvents(dialect))

    for event in events:
        assert_conforms(event, dialect)


def test_ga_and_beta_differ_where_the_protocols_differ():
    ga, beta = everything_else(ClientEvents("ga")), everything_else(ClientEvents("beta"))

    differing = [g["type"] for g, b in zip(ga, beta, strict=True) if g != b]

    assert differing == ["conversation.item.create",  # assistant content type
                         "response.create", "response.create"]  # modalities, max tokens
