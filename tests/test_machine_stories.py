"""The state machine, told as stories: server events in, states and client events out.

No threads and no sleeping: the conversation runs on a virtual clock (tests/harness.py).
"""

from __future__ import annotations

import pytest

from controller.inbox import (
    LocalSpeechStarted,
    LocalTurnEnded,
    PlaybackDrained,
    StopRequested,
    ToolFinished,
    TransportClosed,
)
from controller.machine import ConversationChart
from tests.harness import Story


def test_a_session_is_configured_before_anyone_speaks() -> None:
    story = Story()
    assert story.state == "Connecting"
    assert story.replay.microphone.mode == "closed"
    story.server("session.created", session={"id": "sess_1"})
    (update,) = story.sent_of("session.update")
    tools = [t["name"] for t in update["session"]["tools"]]
    assert tools == ["end_conversation"], "the finish tool is always offered"
    assert update["session"]["type"] == "realtime"
    story.server("session.updated", session={})
    assert story.states == ["Idle", "Connecting", "Listening"]
    assert story.replay.microphone.mode == "open"


def test_a_rejected_session_update_ends_in_error_with_the_servers_words() -> None:
    story = Story()
    story.server("session.created", session={"id": "sess_1"})
    story.server("error", error={"type": "invalid_request_error", "code": "unknown_parameter",
                                 "message": "Unknown parameter: 'session.bogus'.",
                                 "param": "session.bogus"})
    assert story.state == "Error"
    assert "session.bogus" in story.report["error"]


def test_no_session_within_the_connect_timeout_is_an_error() -> None:
    story = Story(config={"connect_timeout": 2})
    story.wait(2.5)
    assert story.state == "Error"
    assert "within 2 s" in story.report["error"]


def test_the_answer_plays_to_the_end_before_the_turn_is_over() -> None:
    story = Story().connect().response_started().audio(1000).response_done()
    assert story.state == "Responding", "1 s of audio is still playing"
    story.wait(0.999)
    assert story.state == "Responding"
    story.wait(0.002)
    assert story.state == "Listening"


def test_barge_in_truncates_at_exactly_what_was_heard() -> None:
    story = Story().connect().response_started().audio(1000).audio(1000)
    story.wait(1.234)
    story.speech_started()
    (truncate,) = story.sent_of("conversation.item.truncate")
    assert truncate == {"type": "conversation.item.truncate", "item_id": "item_a1",
                        "content_index": 0, "audio_end_ms": 1234}
    assert story.replay.speaker.is_drained(), "playback is cleared at once"
    assert not story.sent_of("response.cancel"), "the server cancels by itself by default"


def test_barge_in_before_any_audio_played_sends_no_truncate() -> None:
    story = Story().connect().response_started().audio(500).speech_started()
    assert not story.sent_of("conversation.item.truncate")


def test_speech_after_playback_finished_is_just_a_new_turn() -> None:
    story = Story().connect().response_started().audio(300).response_done()
    story.wait(0.5).speech_started()
    assert story.state == "Listening"
    assert not story.sent_of("conversation.item.truncate")


def test_late_deltas_of_an_interrupted_item_are_not_played() -> None:
    story = Story().connect().response_started().audio(400)
    story.wait(0.2).speech_started().audio(400)
    assert story.replay.speaker.is_drained()
    assert story.replay.ctx.facts.counters.dropped_audio_deltas == 1


def test_without_server_turn_detection_barge_in_cancels_the_response_itself() -> None:
    story = Story(config={"turn_detection": {"type": "server_vad",
                                             "interrupt_response": False}})
    story.connect().response_started().audio(800).wait(0.3).speech_started()
    assert story.sent_types()[-2:] == ["conversation.item.truncate", "response.cancel"]


def test_half_duplex_gates_the_microphone_and_ignores_speech_over_the_assistant() -> None:
    story = Story(config={"duplex": "half"}).connect().response_started()
    assert story.replay.microphone.mode == "gated"
    story.audio(800).wait(0.3).speech_started()
    assert not story.sent_of("conversation.item.truncate")
    assert not story.replay.speaker.is_drained()


def test_audio_deltas_do_not_go_through_the_chart(monkeypatch: pytest.MonkeyPatch) -> None:
    story = Story().connect().response_started()
    sends: list[str] = []
    original = ConversationChart.send
    monkeypatch.setattr(ConversationChart, "send",
                        lambda self, trigger, *a, **k: (sends.append(trigger),
                                                        original(self, trigger, *a, **k)))
    for _ in range(100):
        story.audio(20)
    assert sends == []


def test_parallel_tool_calls_get_their_outputs_then_one_response_create() -> None:
    tools = [{"name": "get_weather", "result": {"sky": "sunny"}},
             {"name": "get_time", "result": {"time": "12:00"}, "delay": 0.5}]
    story = Story(tools=tools).connect().response_started()
    story.function_call("call_1", "get_weather", '{"city": "Paris"}')
    assert story.state == "ToolCall"
    story.function_call("call_2", "get_time", '{"city": "Paris"}')
    story.response_done()
    assert not story.sent_of("response.create"), "get_time is still running"
    story.wait(0.5)
    assert story.sent_types()[-3:] == ["conversation.item.create", "conversation.item.create",
                                       "response.create"]
    assert [e["item"]["call_id"] for e in story.sent_of("conversation.item.create")] == [
        "call_1", "call_2"]
    story.response_started("resp_2")
    assert story.states[-2:] == ["ToolCall", "Responding"]


def test_a_call_seen_twice_runs_once() -> None:
    story = Story(tools=[{"name": "get_weather", "result": 1}]).connect().response_started()
    story.function_call("call_1", "get_weather", "{}").function_call("call_1", "get_weather",
                                                                      "{}")
    story.response_done().wait(0)
    assert len(story.sent_of("conversation.item.create")) == 1
    assert len(story.report["tool_calls"]) == 1


@pytest.mark.parametrize(("tool", "arguments", "says"), [
    ({"name": "t", "raises": "service unavailable"}, "{}", "service unavailable"),
    ({"name": "t", "delay": 20, "result": 1}, "{}", "timed out"),
    ({"name": "other", "result": 1}, "{}", "no tool named 't'"),
    ({"name": "t", "result": 1}, "{not json", "not valid JSON"),
])
def test_a_tool_that_cannot_answer_still_tells_the_model_why(tool: dict, arguments: str,
                                                             says: str) -> None:
    story = Story(tools=[tool]).connect().response_started()
    story.function_call("call_1", "t", arguments).response_done().wait(10)
    (output,) = story.sent_of("conversation.item.create")
    assert says in output["item"]["output"]
    assert story.sent_of("response.create")


def test_a_response_create_waits_for_the_active_response() -> None:
    story = Story(tools=[{"name": "t", "result": 1, "delay": 1}]).connect().response_started()
    story.function_call("call_1", "t", "{}").response_done()
    story.response_started("resp_user_turn")  # the user spoke; server VAD answered
    story.wait(1)
    assert story.sent_of("conversation.item.create")
    assert not story.sent_of("response.create")
    story.response_done("resp_user_turn")
    assert story.sent_of("response.create")


def test_the_finish_tool_lets_the_goodbye_play_then_finishes() -> None:
    story = Story().connect().response_started().audio(1500)
    story.function_call("call_9", "end_conversation", "{}").response_done()
    assert story.state == "ToolCall"
    assert story.sent_of("conversation.item.create")
    assert not story.sent_of("response.create")
    story.wait(1.4)
    assert story.state == "ToolCall", "the goodbye is still playing"
    story.wait(0.2)
    assert story.state == "Finished"
    assert story.replay.transport.close_code == 1000


def test_the_goodbye_wait_is_bounded() -> None:
    story = Story(config={"goodbye_timeout": 1}).connect().response_started().audio(5000)
    story.function_call("call_9", "end_conversation", "{}").response_done().wait(1.01)
    assert story.state == "Finished"


@pytest.mark.parametrize("code", ["invalid_api_key", "insufficient_quota", "invalid_model"])
def test_fatal_errors_end_in_error(code: str) -> None:
    story = Story().server("error", error={"type": "invalid_request_error", "code": code,
                                           "message": "nope"})
    assert story.state == "Error"
    assert code in story.report["error"]


@pytest.mark.parametrize("code", [3000, 4000])
def test_fatal_close_codes_end_in_error(code: int) -> None:
    story = Story().connect().post(TransportClosed(code=code, reason="bad"))
    assert story.state == "Error"


def test_non_fatal_errors_and_garbage_are_survived() -> None:
    story = Story().connect()
    story.server("error", error={"type": "invalid_request_error",
                                 "code": "response_cancel_not_active", "message": "x"})
    story.raw('{"type": "response.output_audio.delta", "delta": ')
    story.server("something.new", foo=1)
    assert story.state == "Listening"
    counters = story.replay.ctx.facts.counters
    assert (counters.nonfatal_errors, counters.malformed, counters.unrecognized) == (1, 1, 1)


def test_an_exception_in_a_state_never_vanishes(monkeypatch: pytest.MonkeyPatch) -> None:
    story = Story().connect()
    monkeypatch.setattr(story.replay.speaker, "play",
                        lambda *a: (_ for _ in ()).throw(RuntimeError("sound card on fire")))
    story.response_started().audio(100)
    assert story.state == "Error"
    assert "sound card on fire" in story.report["error"]


def test_response_create_while_a_response_is_active_is_caught_as_a_bug() -> None:
    story = Story().connect().response_started()
    with pytest.raises(AssertionError):
        story.replay.ctx.send({"type": "response.create"})


def test_ctrl_c_hangs_up_cleanly() -> None:
    story = Story().connect().response_started().audio(1000)
    story.post(StopRequested(reason="Ctrl-C", interrupted=True))
    assert story.state == "Finished"
    assert story.replay.speaker.closed and story.replay.microphone.mode == "closed"


def test_stray_drain_and_tool_answers_in_the_wrong_state_are_harmless() -> None:
    story = Story().connect().post(PlaybackDrained()).post(ToolFinished(call_id="x", output=""))
    assert story.state == "Listening"


def _user_turn(story: Story, item_id: str) -> Story:
    return story.server("input_audio_buffer.committed", item_id=item_id, previous_item_id=None)


def _assistant_says(story: Story, text: str, item_id: str = "item_a1") -> Story:
    story.server("response.output_item.added", response_id="resp_1", output_index=0,
                 item={"id": item_id, "type": "message", "role": "assistant", "content": []})
    return story.server("response.output_audio_transcript.done", response_id="resp_1",
                        item_id=item_id, output_index=0, content_index=0, transcript=text)


def test_the_user_line_comes_first_even_when_its_transcription_is_late() -> None:
    story = _user_turn(Story().connect(), "item_u1").response_started()
    _assistant_says(story, "It is sunny.")
    assert story.replay.console.lines == [], "the answer waits for the question"
    story.server("conversation.item.input_audio_transcription.completed", item_id="item_u1",
                 content_index=0, transcript="How is the weather?")
    assert story.replay.console.lines == ["user: How is the weather?",
                                          "assistant: It is sunny."]
    assert story.report["transcript"] == [{"role": "user", "text": "How is the weather?"},
                                          {"role": "assistant", "text": "It is sunny."}]


def test_the_wait_for_a_transcription_is_bounded() -> None:
    story = _user_turn(Story(config={"transcript_wait": 2}).connect(), "item_u1")
    _assistant_says(story.response_started(), "Hello!")
    story.wait(2.01)
    assert story.replay.console.lines == ["assistant: Hello!"]
    story.server("conversation.item.input_audio_transcription.completed", item_id="item_u1",
                 content_index=0, transcript="Hi")
    assert story.replay.console.lines[-1] == "user: Hi", "printed late rather than lost"


def test_an_interrupted_answer_is_marked_in_the_transcript() -> None:
    story = Story().connect().response_started().audio(1000)
    story.server("response.output_item.added", response_id="resp_1", output_index=0,
                 item={"id": "item_a1", "type": "message", "role": "assistant", "content": []})
    story.server("response.output_audio_transcript.delta", response_id="resp_1",
                 item_id="item_a1", output_index=0, content_index=0, delta="Let me tell you")
    story.wait(0.3).speech_started().response_done(status="cancelled")
    assert story.report["transcript"] == [
        {"role": "assistant", "text": "Let me tell you", "interrupted": True}]


def test_usage_is_summed_per_turn_and_in_total() -> None:
    story = Story().connect()
    for n, tokens in enumerate((30, 12), 1):
        story.response_started(f"resp_{n}").server(
            "response.done", response={"id": f"resp_{n}", "status": "completed", "output": [],
                                       "usage": {"total_tokens": tokens, "input_tokens": 10,
                                                 "output_tokens": tokens - 10}})
    usage = story.replay.ctx.facts.usage
    assert (usage.responses, usage.total_tokens, usage.last_turn["total_tokens"]) == (2, 42, 12)


def test_a_call_whose_response_created_was_lost_is_still_taken() -> None:
    story = Story(tools=[{"name": "t", "result": 1}]).connect()
    story.function_call("call_1", "t", "{}")
    assert story.state == "ToolCall"
    story.response_done().wait(0)
    assert story.sent_of("response.create")


def test_a_call_that_arrives_after_its_response_done_is_answered() -> None:
    story = Story(tools=[{"name": "t", "result": 1}]).connect().response_started()
    story.response_done()
    story.function_call("call_1", "t", "{}").wait(0)
    assert [e["item"]["call_id"] for e in story.sent_of("conversation.item.create")] == [
        "call_1"]
    assert story.sent_of("response.create")


# --- Barge-in before, between and after answers (found in review) ------------------------


def truncations(story: Story) -> list[tuple[str, int]]:
    return [(e["item_id"], e["audio_end_ms"]) for e in story.sent_of("conversation.item.truncate")]


def test_a_second_barge_in_truncates_only_the_item_it_cuts() -> None:
    story = Story().connect().response_started("resp_1")
    story.audio(1000, item_id="item_a1", response_id="resp_1").wait(0.3).speech_started()
    story.response_done("resp_1", status="cancelled").wait(0.1)
    story.response_started("resp_2").audio(1000, item_id="item_a2", response_id="resp_2")
    story.wait(0.5).speech_started()
    assert truncations(story) == [("item_a1", 300), ("item_a2", 500)]


def test_talking_over_a_response_that_has_not_spoken_yet_cancels_it() -> None:
    # interrupt_response false: the server will not cancel, so convctl does (PROTOCOL §5).
    story = Story(config={"turn_detection": {"type": "server_vad",
                                              "interrupt_response": False}})
    story.connect().response_started("resp_1").speech_started()
    assert story.sent_of("response.cancel") == [{"type": "response.cancel"}]
    story.speech_started()
    assert len(story.sent_of("response.cancel")) == 1, "cancelled once"


def test_push_to_talk_over_a_response_that_has_not_spoken_yet_cancels_it() -> None:
    story = Story(config={"turn_detection": "none"}).connect().response_started("resp_1")
    story.post(LocalSpeechStarted())
    assert story.sent_of("response.cancel") == [{"type": "response.cancel"}]


def test_audio_of_a_response_the_user_talked_over_before_it_spoke_is_not_played() -> None:
    story = Story().connect().response_started("resp_1").speech_started()
    story.audio(400, item_id="item_a1", response_id="resp_1")  # already on the wire
    assert story.replay.speaker.is_drained()
    assert story.sent_of("conversation.item.truncate") == []


# --- Responses asked for one at a time (found in review) ---------------------------------


def test_a_push_to_talk_turn_waits_for_the_response_already_asked_for() -> None:
    story = Story(config={"turn_detection": "none"}, tools=[{"name": "t", "result": 1}])
    story.connect().wait(0.5)  # the microphone fills the input buffer
    story.response_started("resp_1").function_call("call_1", "t", "{}")
    story.response_done("resp_1").wait(0)
    assert len(story.sent_of("response.create")) == 1, "the tool batch's"
    story.wait(0.3).post(LocalTurnEnded())  # before that response has begun
    assert len(story.sent_of("response.create")) == 1, "not a second one in flight"
    story.response_started("resp_2").response_done("resp_2")
    assert len(story.sent_of("response.create")) == 2, "the turn's, once resp_2 is done"


def test_the_finish_tool_cancels_a_response_create_that_was_owed() -> None:
    story = Story(tools=[{"name": "slow", "result": {"ok": 1}, "delay": 3.0}]).connect()
    story.response_started("resp_1").function_call("call_1", "slow", "{}", response_id="resp_1")
    story.response_done("resp_1").wait(1.0)
    # "Never mind, bye": the server answers that turn while the tool still runs.
    story.response_started("resp_bye").audio(3000, item_id="item_bye", response_id="resp_bye")
    story.wait(2.5)  # the tool's output went out; its response.create waits for resp_bye
    story.function_call("call_fin", "end_conversation", "{}", response_id="resp_bye")
    story.response_done("resp_bye").wait(10)
    assert story.sent_of("response.create") == [], "nothing is asked after the goodbye"
    assert story.state == "Finished"


def test_a_response_create_that_lost_a_race_is_asked_again_after_the_winner() -> None:
    story = Story(tools=[{"name": "t", "result": 1}]).connect().response_started("resp_1")
    story.function_call("call_1", "t", "{}").response_done("resp_1").wait(0)
    (create,) = story.sent_of("response.create")
    story.response_started("resp_user")  # the server answered a new user turn first
    story.server("error", error={
        "type": "invalid_request_error", "code": "conversation_already_has_active_response",
        "message": "Conversation already has an active response in progress: resp_user.",
        "event_id": create["event_id"]})
    assert len(story.sent_of("response.create")) == 1, "not while resp_user is active"
    story.audio(300, item_id="item_u", response_id="resp_user").response_done("resp_user")
    assert len(story.sent_of("response.create")) == 2, "asked again (PROTOCOL.md §6.2)"


def test_an_error_about_an_event_convctl_did_not_send_changes_nothing() -> None:
    story = Story().connect().response_started("resp_1")
    story.server("error", error={
        "type": "invalid_request_error", "code": "conversation_already_has_active_response",
        "message": "Conversation already has an active response in progress: resp_1.",
        "event_id": "evt_someone_else"})
    story.response_done("resp_1").wait(1)
    assert story.sent_of("response.create") == []
