"""Fuzzing the codec and the machine together with hypothesis.

Random sequences of valid server events - any order, ids from small pools so they collide,
random field values, both dialects' names, duplicates - mixed with garbage frames, closes,
tool answers and the passing of time, go through the real codec and the real engine with
its invariants checked after every event. No exception may escape and no invariant may
break (either would show as an "internal error").

CI runs 10,000 sequences (deterministic); for a longer hunt with fresh randomness:
    CONVCTL_FUZZ_EXAMPLES=200000 CONVCTL_FUZZ_RANDOM=1 .venv/bin/pytest tests/test_fuzz.py
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.inbox import StopRequested, TransportClosed
from tests.harness import Story

EXAMPLES = int(os.environ.get("CONVCTL_FUZZ_EXAMPLES", "10000"))
RANDOM = os.environ.get("CONVCTL_FUZZ_RANDOM") == "1"

response_ids = st.sampled_from(["resp_1", "resp_2", "resp_3"])
item_ids = st.sampled_from(["item_1", "item_2", "item_3", "item_u"])
call_ids = st.sampled_from(["call_1", "call_2", "call_3"])
tool_names = st.sampled_from(["get_weather", "get_time", "no_such_tool", "end_conversation"])
error_codes = st.sampled_from([
    "invalid_api_key", "insufficient_quota", "beta_api_shape_disabled", "session_expired",
    "response_cancel_not_active", "conversation_already_has_active_response",
    "input_audio_buffer_commit_empty", "unknown_parameter", None])
anything = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                        lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                        max_leaves=5)


def _ids(**extra: Any) -> Any:
    return st.fixed_dictionaries({"response_id": response_ids, "item_id": item_ids,
                                  "output_index": st.integers(0, 2),
                                  "content_index": st.integers(0, 1), **extra})


def _audio() -> Any:
    return st.integers(0, 400).map(lambda ms: base64.b64encode(bytes(ms * 48)).decode())


def _item() -> Any:
    message = st.fixed_dictionaries({
        "id": item_ids, "type": st.just("message"), "role": st.sampled_from(["assistant",
                                                                             "user"]),
        "status": st.sampled_from(["in_progress", "completed", "incomplete"]),
        "content": st.just([])})
    call = st.fixed_dictionaries({
        "id": item_ids, "type": st.just("function_call"), "call_id": call_ids,
        "name": tool_names, "arguments": st.sampled_from(['{"city": "Paris"}', "{}", "{bad",
                                                          "[1]", ""]),
        "status": st.sampled_from(["completed", "incomplete", "in_progress"])})
    return message | call


def _event(kind: str, fields: Any) -> Any:
    return fields.map(lambda f: {"type": kind, **f})


SERVER_EVENTS = st.one_of(
    _event("session.created", st.fixed_dictionaries({"session": st.fixed_dictionaries(
        {"id": st.just("sess_1"), "expires_at": st.integers(0, 2_000_000_000)})})),
    _event("session.updated", st.just({"session": {}})),
    _event("input_audio_buffer.speech_started", st.fixed_dictionaries(
        {"audio_start_ms": st.integers(0, 10_000), "item_id": item_ids})),
    _event("input_audio_buffer.speech_stopped", st.fixed_dictionaries(
        {"audio_end_ms": st.integers(0, 10_000), "item_id": item_ids})),
    _event("input_audio_buffer.committed", st.fixed_dictionaries({"item_id": item_ids})),
    _event("conversation.item.input_audio_transcription.completed", st.fixed_dictionaries(
        {"item_id": item_ids, "content_index": st.just(0), "transcript": st.text(max_size=8)})),
    _event("conversation.item.input_audio_transcription.failed", st.fixed_dictionaries(
        {"item_id": item_ids, "content_index": st.just(0),
         "error": st.just({"type": "transcription_error", "message": "x"})})),
    _event("response.created", st.fixed_dictionaries({"response": st.fixed_dictionaries(
        {"id": response_ids, "status": st.just("in_progress")})})),
    _event("response.done", st.fixed_dictionaries({"response": st.fixed_dictionaries({
        "id": response_ids, "status": st.sampled_from(["completed", "cancelled", "failed",
                                                       "incomplete"]),
        "output": st.lists(_item(), max_size=2),
        "usage": st.none() | st.fixed_dictionaries({"total_tokens": st.integers(0, 99)})})})),
    _event("response.output_item.added", st.fixed_dictionaries(
        {"response_id": response_ids, "output_index": st.integers(0, 2), "item": _item()})),
    _event("response.output_item.done", st.fixed_dictionaries(
        {"response_id": response_ids, "output_index": st.integers(0, 2), "item": _item()})),
    st.sampled_from(["response.output_audio.delta", "response.audio.delta"]).flatmap(
        lambda kind: _event(kind, _ids(delta=_audio()))),
    st.sampled_from(["response.output_audio_transcript.delta", "response.audio_transcript.delta",
                     "response.output_text.delta", "response.text.delta"]).flatmap(
        lambda kind: _event(kind, _ids(delta=st.text(max_size=5)))),
    _event("response.output_audio_transcript.done", _ids(transcript=st.text(max_size=8))),
    _event("response.output_text.done", _ids(text=st.text(max_size=8))),
    _event("error", st.fixed_dictionaries({"error": st.fixed_dictionaries({
        "type": st.just("invalid_request_error"), "code": error_codes,
        "message": st.text(max_size=8),
        "param": st.none() | st.sampled_from(["session.voice", "item_id"])})})),
    _event("rate_limits.updated", st.just({"rate_limits": []})),
    _event("something.new", st.fixed_dictionaries({"x": anything})),
)
# Valid event types with fields of random shape: the codec's Malformed path.
MISSHAPEN = st.builds(lambda kind, fields: {"type": kind, **fields},
                      st.sampled_from(["response.output_audio.delta", "response.done",
                                       "input_audio_buffer.speech_started", "error",
                                       "response.output_item.done"]),
                      st.dictionaries(st.sampled_from(["delta", "response", "item", "item_id",
                                                       "audio_start_ms", "error"]), anything))
MOVES = st.one_of(
    SERVER_EVENTS.map(lambda e: ("server", e)),
    SERVER_EVENTS.map(lambda e: ("twice", e)),
    MISSHAPEN.map(lambda e: ("server", e)),
    st.binary(max_size=20).map(lambda b: ("raw", b.decode("latin-1"))),
    st.floats(0, 3).map(lambda s: ("wait", s)),
    st.sampled_from([1000, 1001, 1006, 1011, 3000, 4000]).map(lambda c: ("close", c)),
    st.just(("stop", None)),
)
TOOLS = [{"name": "get_weather", "result": {"sky": "clear"}, "delay": 0.3},
         {"name": "get_time", "raises": "clock broke"}]


def play(moves: list[tuple[str, Any]], dialect: str) -> Story:
    story = Story(tools=TOOLS, dialect=dialect,
                  config={"reconnect_attempts": 2, "connect_timeout": 2})
    for kind, value in moves:
        if kind in ("server", "twice"):
            for _ in range(2 if kind == "twice" else 1):
                story.raw(json.dumps(value))
        elif kind == "raw":
            story.raw(value)
        elif kind == "wait":
            story.wait(value)
        elif kind == "close":
            story.post(TransportClosed(code=value, reason="fuzz"))
        else:
            story.post(StopRequested(reason="fuzz"))
    story.settle()  # let every timer, tool and playback run out
    return story


@settings(max_examples=EXAMPLES, deadline=None, derandomize=not RANDOM, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(moves=st.lists(MOVES, max_size=25), dialect=st.sampled_from(["ga", "beta"]))
def test_no_sequence_of_server_events_breaks_the_controller(moves: list[tuple[str, Any]],
                                                           dialect: str) -> None:
    story = play(moves, dialect)
    bugs = [m for _, level, m in story.replay.console.diagnostics if "internal error" in m]
    assert bugs == []
    assert story.engine.invariants is not None and story.engine.invariants.checks >= 0
    if story.state in ("Finished", "Error"):
        assert story.replay.transport.is_open is False


def test_the_fuzzer_would_see_a_broken_invariant() -> None:
    """The harness is no rubber stamp: a controller that breaks a promise is caught."""
    story = Story().connect().response_started()
    story.replay.ctx.facts.truncated_at["item_x"] = 0
    story.audio(100, item_id="item_x")
    assert story.state == "Error"
    assert any("internal error" in m for _, _, m in story.replay.console.diagnostics)
