"""The fault catalogue of issue 6: every kind of fault the acceptance asks for, at the
points of a conversation where it hurts, in both dialects.

Point numbers come from the local server's event stream for these microphones (fast
speech, so a reply streams in ~100 ms and plays for seconds). With
``WEATHER_THEN_GOODBYE``: the first reply ("Let me check the weather in Paris.") is audio
deltas 1-20, then the ``get_weather`` call (its ``response.output_item.done`` and
``response.done``); convctl answers it (client ``conversation.item.create`` with the
tool's output, and ``response.create`` #1); the spoken result is deltas 21-72; the user
says goodbye about 7.5 s in (client appends ~385-455), at the end of that answer; the
goodbye reply calls ``end_conversation``. Tool frames are singled out by what they hold
(``has``), not by their number, so a slow transcription cannot shift them. With the
story microphones the user says goodbye while the story plays (barge-in), after it
streamed or while it streams.
Pure data: ``CASES`` is read by ``test_faults.py``.
"""

from __future__ import annotations

from fault_cases import (
    JUST_GOODBYE,
    SESSION_EXPIRED,
    STORY_INTO_GOODBYE,
    STORY_THEN_GOODBYE,
    WEATHER_ONLY,
    WEATHER_THEN_GOODBYE,
    WEATHER_THEN_SLOW_GOODBYE,
    Case,
    Mic,
    ToolPlan,
    at,
    both_dialects,
    client_at,
)
from fault_plan import Corruption, Direction, Fault

DELTA = "response.output_audio.delta"
TOOL_RUN = "tool run"
# Text that singles frames out: the weather call (and the response that made it), its
# output (the counting tool's answer says "fault test"), the finish call and its output.
WEATHER_CALL = '"get_weather"'
WEATHER_OUTPUT = "fault test"
FINISH_CALL = '"end_conversation"'
FINISH_OUTPUT = "ending the conversation"
ITEM_DONE = "response.output_item.done"
ITEM_CREATE = "conversation.item.create"


def drop_before_session_updated() -> list[Case]:
    kind = "drop_before_session_updated"
    return [
        *both_dialects(
            Case(kind, "at_session_updated", (at("session.updated"),), mic=JUST_GOODBYE),
            Case(kind, "after_session_created", (at("session.created", after=True),),
                 mic=JUST_GOODBYE),
            Case(kind, "at_session_update", (client_at("session.update"),), mic=JUST_GOODBYE),
            Case(kind, "after_session_update", (client_at("session.update", after=True),),
                 mic=JUST_GOODBYE),
            # A reconnect that drops before its session is ready: the next attempt comes.
            Case(kind, "on_the_reconnect", (at(DELTA, 5), at("session.updated", connection=2))),
        ),
        # The very first connection, before session.created: it was made, so it is retried
        # (only one that cannot be made at all fails at once).
        Case(kind, "before_session_created", (at("session.created"),), mic=JUST_GOODBYE),
    ]


def drop_mid_audio() -> list[Case]:
    kind = "drop_mid_audio"
    return both_dialects(
        Case(kind, "first_reply_delta_3", (at(DELTA, 3),)),
        Case(kind, "first_reply_delta_15", (at(DELTA, 15),)),
        Case(kind, "answer_delta_40", (at(DELTA, 40),)),
        Case(kind, "user_question_append_60", (client_at("input_audio_buffer.append", 60),)),
        Case(kind, "user_goodbye_append_420", (client_at("input_audio_buffer.append", 420),)),
    )


def drop_mid_tool_call() -> list[Case]:
    kind = "drop_mid_tool_call"
    return both_dialects(
        Case(kind, "arguments_streaming", (at("response.function_call_arguments.delta"),)),
        Case(kind, "after_call_item_done", (at(ITEM_DONE, after=True, has=WEATHER_CALL),)),
        Case(kind, "after_response_done", (at("response.done", after=True, has=WEATHER_CALL),)),
        Case(kind, "while_the_tool_runs", tool=ToolPlan(fault=Fault("drop", on=TOOL_RUN))),
        Case(kind, "result_held_past_reconnect",
             tool=ToolPlan(fault=Fault("drop", on=TOOL_RUN), until_reconnected=True)),
        Case(kind, "after_finish_call", (at(ITEM_DONE, after=True, has=FINISH_CALL),),
             mic=WEATHER_THEN_SLOW_GOODBYE),
    )


def drop_between_output_and_response_create() -> list[Case]:
    kind = "drop_between_output_and_response_create"
    return both_dialects(
        Case(kind, "output_delivered", (client_at(ITEM_CREATE, after=True,
                                                  has=WEATHER_OUTPUT),)),
        Case(kind, "output_lost", (client_at(ITEM_CREATE, has=WEATHER_OUTPUT),)),
        Case(kind, "response_create_lost", (client_at("response.create"),)),
        # The goodbye is said and the finish call answered: convctl hangs up without
        # a new connection (there is nothing left to say on one).
        Case(kind, "finish_output_delivered", (client_at(ITEM_CREATE, after=True,
                                                         has=FINISH_OUTPUT),),
             mic=WEATHER_THEN_SLOW_GOODBYE, reconnects=False),
    )


def drop_during_barge_in() -> list[Case]:
    kind = "drop_during_barge_in"
    speech = "input_audio_buffer.speech_started"
    return [
        *both_dialects(
            Case(kind, "at_speech_started", (at(speech, 2),), mic=STORY_THEN_GOODBYE),
            Case(kind, "at_truncate", (client_at("conversation.item.truncate"),),
                 mic=STORY_THEN_GOODBYE),
            Case(kind, "streaming_after_speech_started", (at(speech, 2, after=True),),
                 mic=STORY_INTO_GOODBYE),
        ),
        Case(kind, "after_speech_started", (at(speech, 2, after=True),),
             mic=STORY_THEN_GOODBYE),
        Case(kind, "after_truncated", (at("conversation.item.truncated", after=True),),
             mic=STORY_THEN_GOODBYE),
        Case(kind, "streaming_at_cancelled_done", (at("response.done"),), mic=STORY_INTO_GOODBYE),
    ]


def close_1001(kind: str, *, expired: bool) -> list[Case]:
    error = SESSION_EXPIRED if expired else None

    def close(on: str, nth: int = 1, *, after: bool = False,
              direction: Direction = "server") -> Fault:
        return Fault("close", on=on, nth=nth, code=1001, reason="going away", error=error,
                     after=after, direction=direction)

    return [
        *both_dialects(
            Case(kind, "mid_audio", (close(DELTA, 5),)),
            Case(kind, "while_the_tool_runs", tool=ToolPlan(fault=close(TOOL_RUN))),
        ),
        Case(kind, "after_session_updated", (close("session.updated", after=True),),
             mic=JUST_GOODBYE),
        Case(kind, "during_barge_in", (close("input_audio_buffer.speech_started", 2,
                                             after=True),), mic=STORY_INTO_GOODBYE),
        Case(kind, "between_turns", (close("input_audio_buffer.append", 200,
                                           direction="client"),)),
    ]


def close_other_codes() -> list[Case]:
    kind = "close_other_codes"
    api_key = {"type": "error", "error": {"type": "invalid_request_error",
                                          "code": "invalid_api_key",
                                          "message": "Incorrect API key provided."}}
    return [
        *both_dialects(
            Case(kind, "4000_after_session_updated",
                 (Fault("close", on="session.updated", after=True, code=4000,
                        reason="beta shape disabled"),), mic=JUST_GOODBYE, reason="4000",
                 expect="error", reconnects=False),
        ),
        Case(kind, "1000_mid_audio", (Fault("close", on=DELTA, nth=5, code=1000),)),
        Case(kind, "1011_mid_audio", (Fault("close", on=DELTA, nth=5, code=1011,
                                            reason="internal error"),)),
        Case(kind, "3000_mid_audio", (Fault("close", on=DELTA, nth=5, code=3000,
                                            reason="invalid request"),), reason="3000",
             expect="error", reconnects=False),
        Case(kind, "3000_after_invalid_api_key",
             (Fault("close", on="session.updated", after=True, code=3000, error=api_key),),
             mic=JUST_GOODBYE, reason="invalid_api_key", expect="error", reconnects=False),
    ]


def corrupt_frame() -> list[Case]:
    kind = "corrupt_frame"

    def corrupt(on: str, nth: int = 1, how: Corruption = "cut", has: str = ""
                ) -> tuple[Fault, ...]:
        return (Fault("corrupt", on=on, nth=nth, how=how, has=has),)

    return [
        *both_dialects(Case(kind, "audio_delta_cut", corrupt(DELTA, 5), reconnects=False)),
        Case(kind, "audio_delta_not_utf8", corrupt(DELTA, 5, "not_utf8"), reconnects=False),
        Case(kind, "audio_delta_as_binary", corrupt(DELTA, 5, "binary"),
             reconnects=False),
        # session.updated never understood: the connect timeout, then a new connection.
        Case(kind, "session_updated", corrupt("session.updated"), mic=JUST_GOODBYE),
        Case(kind, "user_transcription", corrupt(
            "conversation.item.input_audio_transcription.completed"), reconnects=False),
        Case(kind, "rate_limits", corrupt("rate_limits.updated"), reconnects=False),
        Case(kind, "call_item_done", corrupt(ITEM_DONE, has=WEATHER_CALL),
             reconnects=False),
        Case(kind, "response_created", corrupt("response.created"), reconnects=False),
        Case(kind, "tool_response_done", corrupt("response.done", has=WEATHER_CALL),
             mic=WEATHER_ONLY,
             reconnects=False),
        Case(kind, "answer_response_done", corrupt("response.done", 2),
             reconnects=False),
    ]


def delayed_frames() -> list[Case]:
    kind = "delayed_frames"

    def delay(on: str, seconds: float, nth: int = 1, direction: Direction = "server",
              mic: Mic = WEATHER_THEN_GOODBYE, has: str = "") -> Case:
        fault = Fault("delay", on=on, nth=nth, seconds=seconds, direction=direction, has=has)
        variant = f"{direction}_{on}_{nth}_by_{seconds:g}s".replace(".", "_")
        return Case(kind, variant, (fault,), mic=mic, reconnects=False)

    return [
        *both_dialects(delay("session.updated", 1.5, mic=JUST_GOODBYE)),
        delay("response.created", 1.0),
        delay(DELTA, 1.0, 10),
        delay(ITEM_DONE, 1.0, has=WEATHER_CALL),
        delay("response.done", 1.5, has=WEATHER_CALL),
        delay("input_audio_buffer.speech_started", 1.0, 2, mic=STORY_INTO_GOODBYE),
        delay("conversation.item.input_audio_transcription.completed", 2.0),
        delay("session.update", 1.5, direction="client", mic=JUST_GOODBYE),
        delay(ITEM_CREATE, 1.0, direction="client", has=WEATHER_OUTPUT),
    ]


def never_answers_session_update() -> list[Case]:
    kind = "never_answers_session_update"
    swallow = client_at("session.update", action="swallow")
    return [
        *both_dialects(
            Case(kind, "first_connection", (swallow,), mic=JUST_GOODBYE),
            Case(kind, "never", (client_at("session.update", action="swallow",
                                           connection=None),),
                 mic=JUST_GOODBYE, settings=(("reconnect_attempts", 2),), expect="error",
                 reason="did not configure the session"),
        ),
        Case(kind, "twice", (swallow, client_at("session.update", action="swallow",
                                                connection=2)), mic=JUST_GOODBYE),
        Case(kind, "on_the_reconnect", (at(DELTA, 5), client_at(
            "session.update", action="swallow", connection=2))),
    ]


def accepts_then_stalls() -> list[Case]:
    kind = "accepts_then_stalls"
    stall = "stall"
    return [
        *both_dialects(
            Case(kind, "after_session_created", (at("session.created", action=stall,
                                                    after=True),), mic=JUST_GOODBYE),
            # A response is due and the server says nothing: after server_silence_timeout
            # (20 s) the connection counts as dead and a new one is made.
            Case(kind, "mid_response", (at(DELTA, 5, action=stall),)),
            Case(kind, "after_the_tool_call", (at("response.done", action=stall, after=True,
                                                  has=WEATHER_CALL),)),
        ),
        # Nothing ever came: the first connection fails fast, saying so.
        Case(kind, "from_the_start", (at("open", action=stall),), mic=JUST_GOODBYE,
             expect="error", reason="did not configure the session", reconnects=False),
        Case(kind, "on_the_reconnect", (at(DELTA, 5), at("open", action=stall,
                                                         connection=2))),
        # Silence in Listening is normal (not watched): the conversation ends when the file
        # input does.
        Case(kind, "while_listening", (at("session.updated", action=stall, after=True),),
             reconnects=False),
    ]


def reordered_frames() -> list[Case]:
    kind = "reordered_frames"

    def swap(on: str, nth: int = 1, direction: Direction = "server", has: str = ""
             ) -> tuple[Fault, ...]:
        return (Fault("reorder", on=on, nth=nth, direction=direction, has=has),)

    return [
        Case(kind, "audio_deltas", swap(DELTA, 4), reconnects=False),
        Case(kind, "response_created_after_item_added", swap("response.created"),
             reconnects=False),
        Case(kind, "call_item_done_after_response_done", swap(ITEM_DONE, has=WEATHER_CALL),
             mic=WEATHER_ONLY, reconnects=False),
        Case(kind, "speech_started_during_barge_in",
             swap("input_audio_buffer.speech_started", 2), mic=STORY_INTO_GOODBYE,
             reconnects=False),
        Case(kind, "output_after_response_create", swap(ITEM_CREATE, direction="client",
                                                        has=WEATHER_OUTPUT),
             reconnects=False),
    ]


def injected_frames() -> list[Case]:
    kind = "injected_frames"

    def inject(frame: str, on: str = DELTA, nth: int = 5) -> tuple[Fault, ...]:
        return (Fault("inject", on=on, nth=nth, frame=frame),)

    busy = ('{"type":"error","error":{"type":"invalid_request_error","code":'
            '"conversation_already_has_active_response","message":"busy"}}')
    return [
        Case(kind, "unknown_event", inject('{"type":"response.future_thing","x":1}'),
             reconnects=False),
        Case(kind, "not_json", inject("}{ not json"), reconnects=False),
        Case(kind, "nonfatal_error", inject(busy), reconnects=False),
        Case(kind, "session_expired_without_close", inject(
            '{"type":"error","error":{"type":"invalid_request_error","code":'
            '"session_expired","message":"expired"}}', "response.done", 1),
             reconnects=False),
    ]


CASES: list[Case] = [
    *drop_before_session_updated(),
    *drop_mid_audio(),
    *drop_mid_tool_call(),
    *drop_between_output_and_response_create(),
    *drop_during_barge_in(),
    *close_1001("close_1001_with_error", expired=True),
    *close_1001("close_1001_without_error", expired=False),
    *close_other_codes(),
    *corrupt_frame(),
    *delayed_frames(),
    *never_answers_session_update(),
    *accepts_then_stalls(),
    *reordered_frames(),
    *injected_frames(),
]
