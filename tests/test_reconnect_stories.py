"""Sessions die; conversations survive: reconnect with context, told event by event."""

from __future__ import annotations

from controller.inbox import (
    InputExhausted,
    LocalSpeechStarted,
    LocalTurnEnded,
    StopRequested,
    TransportClosed,
    TransportFailed,
)
from tests.harness import Story


def _talk(story: Story) -> Story:
    """One exchange: the user asks, the assistant answers (and it is transcribed)."""
    story.server("input_audio_buffer.committed", item_id="item_u1", previous_item_id=None)
    story.server("conversation.item.input_audio_transcription.completed", item_id="item_u1",
                 content_index=0, transcript="What's the weather?")
    story.response_started()
    story.server("response.output_item.added", response_id="resp_1", output_index=0,
                 item={"id": "item_a1", "type": "message", "role": "assistant", "content": []})
    story.audio(200)
    story.server("response.output_audio_transcript.done", response_id="resp_1",
                 item_id="item_a1", output_index=0, content_index=0, transcript="Sunny.")
    return story.response_done().wait(0.3)


def test_a_dropped_connection_comes_back_with_the_conversation_so_far() -> None:
    story = _talk(Story().connect())
    opens = story.replay.transport.opens
    story.post(TransportClosed(code=1006, reason="abnormal"))
    assert story.state == "Connecting"
    story.wait(1.0)  # the backoff: at most 0.5 s for the first attempt
    assert story.replay.transport.opens == opens + 1
    story.connect()
    assert story.states[-3:] == ["Listening", "Connecting", "Listening"]
    sent = story.sent
    second_update = max(i for i, e in enumerate(sent) if e["type"] == "session.update")
    replayed = [e["item"] for e in sent[second_update + 1:]
                if e["type"] == "conversation.item.create"]
    assert replayed == [
        {"type": "message", "role": "user",
         "content": [{"type": "input_text", "text": "What's the weather?"}]},
        {"type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "Sunny."}]},
    ]
    assert not story.sent_of("response.create"), "nothing is re-asked"


def test_playback_of_the_dead_session_is_cleared_and_marked_cut() -> None:
    story = Story().connect().response_started().audio(2000).wait(0.5)
    story.post(TransportClosed(code=None, reason="network error"))
    assert story.replay.speaker.is_drained()
    story.wait(1).connect()
    assert story.state == "Listening"
    story.audio(200)  # a late delta of the dead item (it cannot come, but if it did)
    assert story.replay.speaker.is_drained()


def test_an_expired_session_reconnects_transparently() -> None:
    story = _talk(Story().connect())
    story.server("error", error={"type": "invalid_request_error", "code": "session_expired",
                                 "message": "Your session hit the maximum duration of 60 "
                                            "minutes."})
    assert story.state == "Listening", "the error alone is not fatal"
    story.post(TransportClosed(code=1001, reason="going away"))
    story.wait(1).connect()
    assert story.states[-2:] == ["Connecting", "Listening"]


def test_a_pending_tool_result_is_delivered_to_the_new_session_once() -> None:
    tools = [{"name": "get_weather", "result": {"sky": "sunny"}, "delay": 2.0}]
    story = Story(tools=tools).connect().response_started()
    story.function_call("call_1", "get_weather", '{"city": "Paris"}').response_done()
    story.wait(0.5).post(TransportClosed(code=1006))
    story.wait(1.0).connect()
    assert story.state == "ToolCall", "the batch still waits for its result"
    replayed = [e["item"] for e in story.sent_of("conversation.item.create")]
    assert replayed == [{"type": "function_call", "call_id": "call_1", "name": "get_weather",
                         "arguments": '{"city": "Paris"}'}]
    story.wait(1.0)
    outputs = [e["item"] for e in story.sent_of("conversation.item.create")
               if e["item"]["type"] == "function_call_output"]
    assert [o["call_id"] for o in outputs] == ["call_1"]
    assert len(story.sent_of("response.create")) == 1
    assert len(story.report["tool_calls"]) == 1, "the tool ran once"


def test_fatal_closes_do_not_reconnect() -> None:
    story = Story().connect().post(TransportClosed(code=4000, reason="beta shape disabled"))
    assert story.state == "Error"


def test_attempts_are_bounded_with_growing_backoff() -> None:
    story = Story(config={"reconnect_attempts": 3, "connect_timeout": 1}).connect()
    opens = story.replay.transport.opens
    story.post(TransportClosed(code=1006))
    for _ in range(3):
        story.wait(12)  # backoff (<= 0.5, 1, 2 s) + the connect timeout of 1 s
    assert story.state == "Error"
    assert story.replay.transport.opens == opens + 3
    assert "after 3 reconnect attempts" in story.report["error"]


def test_a_refused_first_connection_fails_fast() -> None:
    story = Story().post(TransportFailed(reason="connection refused"))
    assert story.state == "Error"
    assert "connection refused" in story.report["error"]


def test_the_session_is_recycled_before_it_expires_between_turns() -> None:
    story = Story(config={"recycle_margin": 300})
    epoch = story.replay.clock.epoch()
    story.server("session.created", session={"id": "sess_1", "expires_at": int(epoch) + 400})
    story.server("session.updated", session={})
    story.wait(98).response_started().audio(5000).response_done()
    story.wait(2.5)  # 100.5 s: the recycle is due, but the answer is still playing
    assert story.state == "Responding", "never mid-response"
    story.wait(3)
    assert story.states[-2:] == ["Listening", "Connecting"]
    assert story.replay.transport.close_code == 1000
    story.wait(0.1).connect()
    assert story.state == "Listening"


def session_expiring_in_400_s(margin: int = 300, **config: object) -> Story:
    story = Story(config={"recycle_margin": margin, **config})
    epoch = story.replay.clock.epoch()
    story.server("session.created", session={"id": "sess_1", "expires_at": int(epoch) + 400})
    story.server("session.updated", session={})
    return story  # the recycle is due at 100 s


def test_the_recycle_waits_while_the_user_is_speaking() -> None:
    story = session_expiring_in_400_s()
    story.wait(99.5).speech_started().wait(1.0)
    assert story.state == "Listening", "not cut off mid-sentence"
    story.server("input_audio_buffer.speech_stopped", audio_end_ms=101000, item_id="item_u1")
    story.server("input_audio_buffer.committed", item_id="item_u1", previous_item_id=None)
    story.wait(1.5)
    assert story.state == "Listening", "the question waits for its answer"
    story.response_started().audio(500).response_done().wait(2.0)
    assert story.states[-2:] == ["Listening", "Connecting"], "then, between turns"


def test_the_recycle_waits_for_a_turn_begun_while_a_response_was_asked_for() -> None:
    # The response asked for before the user began speaking does not answer what they
    # are saying now.
    story = session_expiring_in_400_s(turn_detection="none")
    story.wait(99.0).post(LocalSpeechStarted()).wait(1.0).post(LocalTurnEnded())
    story.wait(0.2).post(LocalSpeechStarted())  # "...and also" - still talking
    story.response_started("resp_1").audio(300, response_id="resp_1").response_done("resp_1")
    story.wait(1.5)
    assert story.state == "Listening", "not recycled mid-sentence"
    story.post(LocalTurnEnded())
    story.response_started("resp_2").response_done("resp_2").wait(1.5)
    assert story.states[-2:] == ["Listening", "Connecting"]


def test_a_push_to_talk_noise_does_not_hold_the_recycle_off() -> None:
    story = session_expiring_in_400_s(turn_detection="none")
    story.wait(99.0).post(LocalTurnEnded())  # a turn: committed, answered
    story.response_started().response_done()
    story.post(LocalSpeechStarted()).post(LocalTurnEnded())  # a click: too short to commit
    story.wait(2.0)
    assert story.states[-2:] == ["Listening", "Connecting"]


def test_ctrl_c_during_the_backoff_ends_cleanly() -> None:
    story = Story().connect().post(TransportClosed(code=1006))
    story.post(StopRequested(reason="Ctrl-C", interrupted=True))
    assert story.state == "Finished"
    assert story.replay.ctx.facts.interrupted_by_user


def test_a_tool_that_finishes_during_the_backoff_is_still_answered() -> None:
    tools = [{"name": "get_weather", "result": {"sky": "sunny"}, "delay": 0.3}]
    story = Story(tools=tools).connect().response_started()
    story.function_call("call_1", "get_weather", "{}").response_done()
    story.post(TransportClosed(code=1006)).wait(0.35)
    assert story.state == "Connecting", "the result came while reconnecting"
    story.wait(1.0).connect()
    outputs = [e["item"] for e in story.sent_of("conversation.item.create")
               if e["item"]["type"] == "function_call_output"]
    assert [o["call_id"] for o in outputs] == ["call_1"]
    assert story.sent_of("response.create")


def test_the_end_of_the_input_during_a_reconnect_is_not_forgotten() -> None:
    story = Story(config={"input_done_grace": 1}).connect().post(TransportClosed(code=1006))
    story.post(InputExhausted())
    story.wait(1).connect().wait(1.1)
    assert story.state == "Finished"


def test_answered_tool_calls_are_replayed_with_their_outputs() -> None:
    story = Story(tools=[{"name": "get_weather", "result": {"sky": "sunny"}}]).connect()
    story.response_started().function_call("call_1", "get_weather", "{}").response_done()
    story.wait(0)
    assert story.sent_of("response.create"), "answered in the first session"
    story.response_started("resp_2").response_done("resp_2").wait(0.1)
    story.post(TransportClosed(code=1006)).wait(1).connect()
    assert story.state == "Listening"
    second_update = max(i for i, e in enumerate(story.sent) if e["type"] == "session.update")
    replayed = [e["item"]["type"] for e in story.sent[second_update + 1:]]
    assert replayed == ["function_call", "function_call_output"]


def test_a_server_that_goes_silent_mid_response_is_given_up_on() -> None:
    story = Story(config={"server_silence_timeout": 5}).connect().response_started().audio(200)
    story.wait(4.5)
    assert story.state == "Responding"
    story.wait(1.0)
    assert story.state == "Connecting", "the response never finished: reconnect"


def test_silence_while_listening_is_normal() -> None:
    story = Story(config={"server_silence_timeout": 5}).connect().wait(30)
    assert story.state == "Listening"


def test_a_connection_that_opened_and_dropped_before_its_session_is_retried() -> None:
    story = Story().post(TransportClosed(code=None, reason="reset"))
    assert story.state == "Connecting"
    story.wait(1).connect()
    assert story.state == "Listening"


def test_a_response_asked_for_but_never_created_is_asked_for_again() -> None:
    story = Story(tools=[{"name": "get_weather", "result": {"sky": "sunny"}}]).connect()
    story.response_started().function_call("call_1", "get_weather", "{}").response_done()
    story.wait(0)
    assert len(story.sent_of("response.create")) == 1
    story.post(TransportClosed(code=1006)).wait(1).connect()
    assert len(story.sent_of("response.create")) == 2, "the result still gets spoken"
    story.response_started("resp_2")
    assert story.state == "Responding"


def test_a_response_cut_off_by_the_drop_is_not_asked_for_again() -> None:
    story = Story().connect().response_started().audio(500)
    story.post(TransportClosed(code=1006)).wait(1).connect()
    assert not story.sent_of("response.create")


def test_a_barge_in_after_a_reconnect_truncates_nothing_of_the_dead_session() -> None:
    story = Story().connect().response_started("resp_1")
    story.audio(2000, item_id="item_a1", response_id="resp_1")
    story.wait(0.5).post(TransportClosed(code=1006, reason="abnormal"))
    story.wait(1.0).connect()
    story.response_started("resp_2").audio(1000, item_id="item_b1", response_id="resp_2")
    story.wait(0.4).speech_started()
    truncates = story.sent_of("conversation.item.truncate")
    assert [(t["item_id"], t["audio_end_ms"]) for t in truncates] == [("item_b1", 400)]


def test_a_drop_during_the_goodbye_hangs_up_without_reconnecting() -> None:
    story = Story().connect().response_started("resp_1").audio(3000)
    story.function_call("call_fin", "end_conversation", "{}").response_done("resp_1")
    assert story.state == "ToolCall"
    story.wait(1.0).post(TransportClosed(code=1006, reason="abnormal"))
    assert story.state == "Finished", "the goodbye was said; nothing is left to talk about"
    assert story.replay.transport.opens == 1


def test_a_drop_during_the_goodbye_in_push_to_talk_hangs_up() -> None:
    story = Story(config={"turn_detection": "none"}).connect().response_started("resp_1")
    story.audio(3000).function_call("call_fin", "end_conversation", "{}")
    story.response_done("resp_1").wait(1.0).post(TransportClosed(code=1006, reason="abnormal"))
    assert story.state == "Finished"


def test_a_drop_before_the_finish_call_was_answered_delivers_it_then_hangs_up() -> None:
    story = Story().connect().response_started("resp_1").audio(1000)
    story.function_call("call_fin", "end_conversation", "{}")  # no response.done yet
    story.post(TransportClosed(code=1006, reason="abnormal")).wait(1.0).connect()
    outputs = [e for e in story.sent_of("conversation.item.create")
               if e["item"]["type"] == "function_call_output"]
    assert [o["item"]["call_id"] for o in outputs] == ["call_fin"]
    story.wait(1.0)
    assert story.state == "Finished"
