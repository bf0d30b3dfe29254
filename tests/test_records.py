"""Records behave like the frozen, keyword-only, slotted dataclasses they replace."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import Any, ClassVar

import pytest

from controller.events import AudioDelta, ServerEvent
from controller.inbox import PlaybackDrained, StopRequested
from controller.records import field, record, replace


@record
class Reading:
    """A test record: one required field, one default, one hidden from repr and ==."""

    sensor: str
    value: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@record
class LabelledReading(Reading):
    label: str = ""


def test_a_record_is_built_from_keywords_and_keeps_its_defaults() -> None:
    reading = Reading(sensor="mic")
    assert (reading.sensor, reading.value, reading.notes) == ("mic", 0.0, {})
    assert Reading(sensor="a").notes is not Reading(sensor="a").notes  # a fresh dict each


def test_a_record_refuses_positional_missing_and_unknown_arguments() -> None:
    with pytest.raises(TypeError):
        Reading("mic")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="missing required keyword argument: 'sensor'"):
        Reading()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'volume'"):
        Reading(sensor="mic", volume=3)  # type: ignore[call-arg]


def test_a_record_cannot_be_changed_and_has_no_instance_dict() -> None:
    reading = Reading(sensor="mic")
    with pytest.raises(dataclasses.FrozenInstanceError):
        reading.value = 1.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del reading.value
    assert not hasattr(reading, "__dict__")


def test_equality_and_hash_use_the_compared_fields_of_the_same_class() -> None:
    one = Reading(sensor="mic", value=1.0, notes={"a": 1})
    same = Reading(sensor="mic", value=1.0, notes={"b": 2})
    assert one == same and hash(one) == hash(same)
    assert one != Reading(sensor="mic", value=2.0)
    assert one != LabelledReading(sensor="mic", value=1.0)  # another class is never equal
    assert PlaybackDrained() == PlaybackDrained()


def test_repr_shows_the_fields_in_order_without_hidden_ones() -> None:
    assert repr(LabelledReading(sensor="mic", label="left", notes={"x": 1})) == (
        "LabelledReading(sensor='mic', value=0.0, label='left')")


def test_a_subclass_takes_its_parents_fields_first() -> None:
    event = AudioDelta(type="response.output_audio.delta", response_id="r", item_id="i",
                       output_index=0, content_index=0, audio=b"\x00\x00")
    assert isinstance(event, ServerEvent)
    assert event.event_id is None and event.raw == {}
    assert repr(event).startswith("AudioDelta(type='response.output_audio.delta', "
                                  "event_id=None, response_id='r'")


def test_records_copy_and_pickle() -> None:
    reading = LabelledReading(sensor="mic", value=2.5, label="x")
    assert copy.copy(reading) == reading
    assert copy.deepcopy(reading) == reading
    assert pickle.loads(pickle.dumps(reading)) == reading
    stop = StopRequested(reason="Ctrl-C", interrupted=True)
    assert pickle.loads(pickle.dumps(stop)) == stop


def test_class_variables_are_not_fields() -> None:
    @record
    class Tagged:
        kind: str
        registry: ClassVar[dict[str, int]] = {"known": 1}

    assert Tagged(kind="k").registry == {"known": 1}
    assert Tagged.__slots__ == ("kind",)  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="unexpected keyword argument 'registry'"):
        Tagged(kind="k", registry={})  # type: ignore[call-arg]


def test_a_field_takes_a_default_or_a_factory_not_both() -> None:
    with pytest.raises(ValueError, match="not both"):
        field(default=1, default_factory=int)


def test_replace_makes_a_changed_copy() -> None:
    reading = LabelledReading(sensor="mic", value=1.0, label="left")
    moved = replace(reading, label="right")
    assert moved == LabelledReading(sensor="mic", value=1.0, label="right")
    assert reading.label == "left"
    with pytest.raises(TypeError, match="unexpected keyword argument 'volume'"):
        replace(reading, volume=2)
    with pytest.raises(TypeError, match="needs a record"):
        replace(object())
