"""ToolCall: the model asked for tools; run them and answer every call exactly once.

A call is taken once, when its ``function_call`` output item is done (not on
``function_call_arguments.done`` too, which would run it twice), and runs off the
controller thread through the tools port. After the response's ``response.done`` and once
every call of the batch has its output: one ``function_call_output`` per ``call_id``, then
exactly one ``response.create`` for the whole batch - never while another response is
active. A tool that fails, times out, is unknown or gets arguments that are not JSON still
gets an output that tells the model what went wrong.

The built-in finish tool (``end_conversation``) is answered like any other, but instead of
asking for another response the conversation lets the goodbye that is already streaming
play out (bounded by ``goodbye_timeout``) and then hangs up.
"""

from __future__ import annotations

import json

from controller.context import ConversationContext
from controller.events import OutputItemDone, ResponseCreated, ResponseDone, SpeechStarted
from controller.inbox import (
    InputExhausted,
    LocalSpeechStarted,
    LocalTurnEnded,
    PlaybackDrained,
    ToolFinished,
)
from controller.session import PendingCall
from controller.settings import FINISH_TOOL_NAME
from controller.tool_outputs import error_output
from states.base import Handler, LiveState
from states.responding import (
    barge_in,
    live_response_handlers,
    note_message_done,
    note_response_created,
    note_response_done,
    note_tool_finished,
)

FINISH_OUTPUT = json.dumps({"status": "ending the conversation after your goodbye"})


def take_call(ctx: ConversationContext, ev: OutputItemDone) -> bool:
    """Take a completed function call exactly once and start it. True if one was taken."""
    item = ev.item
    if item.type != "function_call" or item.status not in (None, "completed"):
        return False  # an interrupted or incomplete call must not run its side effects
    facts = ctx.facts
    if not facts.pending_calls or all(c.answered for c in facts.pending_calls.values()):
        facts.start_call_batch()
    call = facts.take_call(item.call_id or "", item.name or "", item.arguments or "",
                           ev.response_id)
    if call is None:
        return False
    if ev.response_id == facts.last_done_response_id:
        facts.calls_response_done = True  # its response.done came first (reordered frames)
    start_call(ctx, call)
    return True


def start_call(ctx: ConversationContext, call: PendingCall) -> None:
    """Run the call, or answer it at once when it cannot run."""
    if call.name == FINISH_TOOL_NAME:
        # The model is saying goodbye: nothing more is asked of it, not even a response
        # an earlier batch or turn was still owed.
        ctx.facts.finishing = True
        ctx.facts.owe_response_create = False
        _answer_now(ctx, call, FINISH_OUTPUT)
        return
    if call.name not in ctx.tool_names:
        known = ", ".join(sorted(ctx.tool_names)) or "none"
        _answer_now(ctx, call, error_output(
            f"there is no tool named {call.name!r} (available: {known})"))
        return
    try:
        arguments = json.loads(call.arguments_text or "{}")
    except ValueError as exc:
        _answer_now(ctx, call, error_output(f"the arguments were not valid JSON: {exc}"))
        return
    if not isinstance(arguments, dict):
        _answer_now(ctx, call, error_output("the arguments must be a JSON object"))
        return
    ctx.tools.start(call.call_id, call.name, arguments)


def batch_answered(ctx: ConversationContext) -> bool:
    calls = ctx.facts.pending_calls
    return bool(calls) and all(c.answered for c in calls.values())


def _answer_now(ctx: ConversationContext, call: PendingCall, output: str) -> None:
    note_tool_finished(ctx, ToolFinished(call_id=call.call_id, output=output))


class ToolCall(LiveState):
    name = "tool_call"

    def handler_table(self) -> dict[type, Handler]:
        from states.listening import end_user_turn, input_exhausted

        ctx = self.ctx

        def on_output_item_done(ev: OutputItemDone) -> None:
            note_message_done(ctx, ev)
            take_call(ctx, ev)

        def on_response_done(ev: ResponseDone) -> None:
            batch = {c.response_id for c in ctx.facts.pending_calls.values()}
            if ev.response.id in batch:
                ctx.facts.calls_response_done = True
            note_response_done(ctx, ev)
            self.answer_when_ready()

        def on_tool_finished(ev: ToolFinished) -> None:
            note_tool_finished(ctx, ev)
            self.answer_when_ready()

        def on_response_created(ev: ResponseCreated) -> None:
            note_response_created(ctx, ev)
            # Only the response that speaks the results ends the tool round; a response
            # the server made for a new user turn meanwhile plays here, and the batch's
            # response.create waits for it to finish.
            if batch_answered(ctx) and not ctx.facts.finishing:
                ctx.fire("response_started")

        def on_speech(_: object) -> None:
            barge_in(ctx)
            self.finish_when_played()

        return {
            **super().handler_table(),
            **live_response_handlers(ctx),
            OutputItemDone: on_output_item_done,
            ResponseDone: on_response_done,
            ResponseCreated: on_response_created,
            ToolFinished: on_tool_finished,
            SpeechStarted: on_speech,
            LocalSpeechStarted: on_speech,
            LocalTurnEnded: lambda ev: end_user_turn(ctx),
            InputExhausted: lambda ev: input_exhausted(ctx),
            PlaybackDrained: lambda ev: self.finish_when_played(),
        }

    def enter(self) -> None:
        if self.ctx.controller.duplex == "half":
            self.ctx.microphone.gate()
        # Calls answered at once (unknown tool, finish) may already complete the batch.
        self.answer_when_ready()

    def exit(self) -> None:
        self.ctx.cancel_timer("goodbye")

    def answer_when_ready(self) -> None:
        """Once the response is done and every call has its output: answer the batch."""
        ctx, facts = self.ctx, self.ctx.facts
        if not facts.calls_ready() or batch_answered(ctx):
            return
        for call in facts.pending_calls.values():
            if not call.answered:
                ctx.send(ctx.codec.function_call_output(call.call_id, call.output or ""))
                call.answered = True
        if facts.finishing:
            ctx.set_timer("goodbye", ctx.controller.goodbye_timeout)
            self.finish_when_played()
        else:
            ctx.ask_for_response_when_free()

    def finish_when_played(self) -> None:
        if self.ctx.facts.finishing and batch_answered(self.ctx) and self.ctx.turn_settled():
            self.ctx.fire("hang_up")

    def on_state_timer(self, name: str) -> None:
        if name == "goodbye":
            self.ctx.console.diagnostic("the goodbye did not finish playing in time; "
                                        "hanging up", level="warning")
            self.ctx.fire("hang_up")
