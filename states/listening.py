"""Listening: the microphone is open and the user has the floor.

With server turn detection the server decides when the user's turn ends and creates the
response itself; convctl waits for ``response.created``. With push-to-talk
(``turn_detection: none``) convctl ends the turn: on the local turn detector's word (or a
WAV input running out) it commits the input buffer and asks for a response - but never
commits less than 100 ms, which the server would reject.

When the input is a file and it has run out, the conversation ends by itself: once it has
been settled here for ``input_done_grace`` seconds (the server may still be hearing the end
of the last turn), with nothing playing, no response and no tool call pending.
"""

from __future__ import annotations

from controller.context import ConversationContext
from controller.events import OutputItemDone, ResponseCreated, SpeechStarted
from controller.inbox import InputExhausted, LocalSpeechStarted, LocalTurnEnded
from states.base import Handler, LiveState
from states.responding import (
    barge_in,
    live_response_handlers,
    note_message_done,
    note_response_created,
)

MIN_COMMIT_MS = 100
# How often a recycle that found the user mid-turn looks again. (A turn the server never
# answers - server VAD with create_response off - holds it off; the session's expiry and
# the reconnect that follows are the backstop.)
RECYCLE_RETRY_S = 1.0


def input_exhausted(ctx: ConversationContext) -> None:
    """The microphone's file has no more audio: the user's last turn is over."""
    ctx.facts.input_exhausted = True
    end_user_turn(ctx)


def end_user_turn(ctx: ConversationContext) -> None:
    """Push-to-talk: the user's turn is over; hand it to the model."""
    if ctx.session.turn_detection.mode != "none" or ctx.facts.finishing:
        return  # the server owns turn ends; after the goodbye there is no next turn
    if ctx.uplink.buffered_ms() < MIN_COMMIT_MS:
        ctx.facts.user_speaking = False  # a noise, not a turn: nothing waits for an answer
        return  # nothing (or too little) said: committing would be rejected
    ctx.send(ctx.codec.input_audio_commit())
    ctx.uplink.committed()
    ctx.facts.user_speaking = False  # the response asked for here answers it
    ctx.ask_for_response_when_free()


class Listening(LiveState):
    name = "listening"

    def handler_table(self) -> dict[type, Handler]:
        from states.tool_call import take_call

        ctx = self.ctx

        def on_response_created(ev: ResponseCreated) -> None:
            note_response_created(ctx, ev)
            ctx.fire("response_started")

        def on_output_item_done(ev: OutputItemDone) -> None:
            # A call whose response.created was lost still has to be run and answered.
            note_message_done(ctx, ev)
            if take_call(ctx, ev):
                ctx.fire("tool_requested")

        return {
            **super().handler_table(),
            **live_response_handlers(ctx),
            OutputItemDone: on_output_item_done,
            ResponseCreated: on_response_created,
            SpeechStarted: self.on_user_speech,
            LocalSpeechStarted: self.on_user_speech,
            LocalTurnEnded: lambda ev: end_user_turn(ctx),
            InputExhausted: self.on_input_exhausted,
        }

    def enter(self) -> None:
        self.ctx.microphone.open()
        self.ctx.release_transcript()
        self.wait_for_the_end()
        self.recycle_if_quiet()

    def recycle_if_quiet(self) -> None:
        """Before the session expires, between turns - never mid-response, nor while the
        user is speaking or waits for the answer to what they said (that turn would be
        lost with the old session): start a new session with the conversation so far."""
        ctx, facts = self.ctx, self.ctx.facts
        if not facts.recycle_due:
            return
        if (facts.user_turn_open or facts.waiting_for_server or facts.owe_response_create
                or not ctx.turn_settled()):
            ctx.set_timer("recycle_retry", RECYCLE_RETRY_S, daemon=True)  # a turn is open
            return
        ctx.console.diagnostic("recycling the session before it expires")
        ctx.transport.close(1000, "recycling the session before it expires")
        ctx.fire("reconnect")

    def exit(self) -> None:
        self.ctx.cancel_timer("input_done")

    def on_user_speech(self, _: object) -> None:
        barge_in(self.ctx)
        self.wait_for_the_end()  # the user is still talking: the grace starts over

    def on_input_exhausted(self, _: InputExhausted) -> None:
        input_exhausted(self.ctx)
        self.wait_for_the_end()

    def wait_for_the_end(self) -> None:
        if self.ctx.facts.input_exhausted:
            self.ctx.set_timer("input_done", self.ctx.controller.input_done_grace)

    def on_state_timer(self, name: str) -> None:
        if name == "recycle_retry":
            self.recycle_if_quiet()
            return
        if name != "input_done":
            return
        ctx = self.ctx
        if ctx.turn_settled() and not ctx.facts.owe_response_create:
            ctx.facts.stop_reason = "the input file is exhausted"
            ctx.fire("hang_up")
        else:
            self.wait_for_the_end()
