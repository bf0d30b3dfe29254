"""Responding: the assistant is speaking - and what happens when the user barges in.

Entered on ``response.created``. Audio deltas go to the speaker as they arrive; the
conversation goes back to Listening only when the response is done *and* the speaker has
played everything (the user hears the end of the answer before we call it a turn).

Barge-in (``speech_started`` while assistant audio is playing or queued), in order:
1. clear playback at once, so the user is not talked over;
2. tell the server how much of the item was actually heard:
   ``conversation.item.truncate`` with the integer ms played (48 bytes/ms), clamped to
   what was received - but not when nothing was played, or the item had fully played;
3. cancel the response only when the server will not do it itself (``interrupt_response``
   false, or no server turn detection) and a response is active;
4. drop late deltas of the interrupted item and response;
5. mark the assistant's transcript line as interrupted.
With ``duplex: half`` the microphone is gated while the assistant speaks and there is no
barge-in. The live-response handlers here are shared by Listening and ToolCall, because
audio keeps playing across those states.
"""

from __future__ import annotations

from controller.context import ConversationContext
from controller.events import (
    AudioDelta,
    AudioTranscriptDelta,
    AudioTranscriptDone,
    OutputItemAdded,
    OutputItemDone,
    ResponseCreated,
    ResponseDone,
    SpeechStarted,
    TextDelta,
    TextDone,
)
from controller.inbox import (
    InputExhausted,
    LocalSpeechStarted,
    LocalTurnEnded,
    PlaybackDrained,
    ToolFinished,
)
from controller.session import BYTES_PER_MS
from states.base import Handler, LiveState

# --- Playing the assistant ------------------------------------------------------------


def play_assistant_audio(ctx: ConversationContext, ev: AudioDelta) -> None:
    """The hot path: one dict lookup got us here; keep it to a few attribute reads."""
    facts = ctx.facts
    if ev.item_id in facts.interrupted_items or ev.response_id in facts.interrupted_responses:
        facts.counters.dropped_audio_deltas += 1
        return
    facts.audio_received(ev.item_id, len(ev.audio))
    ctx.play(ev.item_id, ev.audio)


# --- Barge-in -------------------------------------------------------------------------


def barge_in(ctx: ConversationContext) -> bool:
    """The user started speaking. Returns whether assistant audio was cut."""
    if ctx.controller.duplex == "half" or ctx.speaker.is_drained():
        return False
    facts = ctx.facts
    heard = {item_id: ctx.speaker.played_bytes(item_id) for item_id in facts.received_bytes}
    ctx.speaker.clear()
    for item_id, played in heard.items():
        received = facts.received_bytes[item_id]
        if played >= received:
            continue  # fully played: the user heard all of it, nothing to truncate
        facts.interrupted_items.add(item_id)
        facts.transcript.mark_interrupted(item_id)
        heard_ms = min(played, received) // BYTES_PER_MS
        facts.note_truncation(item_id, played)
        if heard_ms > 0:
            ctx.send(ctx.codec.truncate(item_id, 0, heard_ms))
    if facts.active_response_id is not None:
        facts.interrupted_responses.add(facts.active_response_id)
        if not ctx.session.turn_detection.server_cancels_on_speech:
            ctx.send(ctx.codec.response_cancel())
    return True


# --- Following the response -------------------------------------------------------------


def note_response_created(ctx: ConversationContext, ev: ResponseCreated) -> None:
    ctx.facts.response_created(ev.response.id)
    ctx.watch_the_server()


def note_response_done(ctx: ConversationContext, ev: ResponseDone) -> None:
    facts = ctx.facts
    facts.response_done(ev.response.id)
    facts.usage.add(ev.response.usage)
    for item in ev.response.output:
        if item.type == "message" and item.id and facts.transcript.is_assistant_item(item.id):
            facts.transcript.assistant_done(item.id)
    ctx.release_transcript()
    if facts.owe_response_create and not facts.response_active:
        facts.owe_response_create = False
        ctx.send(ctx.codec.response_create())


def note_item_added(ctx: ConversationContext, ev: OutputItemAdded) -> None:
    item = ev.item
    if item.type == "message" and item.role in (None, "assistant") and item.id:
        ctx.facts.transcript.assistant_started(item.id)


def note_message_done(ctx: ConversationContext, ev: OutputItemDone) -> None:
    if ev.item.type == "message" and ev.item.id:
        ctx.facts.transcript.assistant_done(ev.item.id)
        ctx.release_transcript()


def note_transcript_delta(ctx: ConversationContext, ev: AudioTranscriptDelta | TextDelta) -> None:
    ctx.facts.transcript.assistant_delta(ev.item_id, ev.delta)


def note_transcript_done(ctx: ConversationContext, ev: AudioTranscriptDone) -> None:
    ctx.facts.transcript.assistant_done(ev.item_id, ev.transcript)
    ctx.release_transcript()


def note_text_done(ctx: ConversationContext, ev: TextDone) -> None:
    ctx.facts.transcript.assistant_done(ev.item_id, ev.text)
    ctx.release_transcript()


def note_tool_finished(ctx: ConversationContext, ev: ToolFinished) -> None:
    """A tool answered: keep the output for the batch (answered in ToolCall)."""
    call = ctx.facts.pending_calls.get(ev.call_id)
    if call is None or call.output is not None:
        return  # a late answer after a timeout, or a call of an earlier batch
    call.output = ev.output
    ctx.console.tool(call.name, call.arguments, ev.output)


def live_response_handlers(ctx: ConversationContext) -> dict[type, Handler]:
    """How every live state follows a response that is streaming in."""
    return {
        AudioDelta: lambda ev: play_assistant_audio(ctx, ev),
        ResponseCreated: lambda ev: note_response_created(ctx, ev),
        ResponseDone: lambda ev: note_response_done(ctx, ev),
        OutputItemAdded: lambda ev: note_item_added(ctx, ev),
        OutputItemDone: lambda ev: note_message_done(ctx, ev),
        AudioTranscriptDelta: lambda ev: note_transcript_delta(ctx, ev),
        AudioTranscriptDone: lambda ev: note_transcript_done(ctx, ev),
        TextDelta: lambda ev: note_transcript_delta(ctx, ev),
        TextDone: lambda ev: note_text_done(ctx, ev),
        ToolFinished: lambda ev: note_tool_finished(ctx, ev),
    }


class Responding(LiveState):
    name = "responding"

    def handler_table(self) -> dict[type, Handler]:
        # Shared with Listening (push-to-talk turns, the end of a file input).
        from states.listening import end_user_turn, input_exhausted
        from states.tool_call import take_call

        ctx = self.ctx

        def on_output_item_done(ev: OutputItemDone) -> None:
            note_message_done(ctx, ev)
            if take_call(ctx, ev):
                ctx.fire("tool_requested")

        def on_response_done(ev: ResponseDone) -> None:
            note_response_done(ctx, ev)
            self.settle_if_done()

        def on_response_created(ev: ResponseCreated) -> None:
            # A new response while the last one still plays out (an internal transition).
            note_response_created(ctx, ev)
            ctx.fire("response_started")

        def on_speech(_: object) -> None:
            if barge_in(ctx):
                self.settle_if_done()

        return {
            **super().handler_table(),
            **live_response_handlers(ctx),
            OutputItemDone: on_output_item_done,
            ResponseDone: on_response_done,
            ResponseCreated: on_response_created,
            SpeechStarted: on_speech,
            LocalSpeechStarted: on_speech,
            LocalTurnEnded: lambda ev: end_user_turn(ctx),
            InputExhausted: lambda ev: input_exhausted(ctx),
            PlaybackDrained: lambda ev: self.settle_if_done(),
        }

    def enter(self) -> None:
        if self.ctx.controller.duplex == "half":
            self.ctx.microphone.gate()

    def settle_if_done(self) -> None:
        if self.ctx.turn_settled():
            self.ctx.fire("turn_settled")
