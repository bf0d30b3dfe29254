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
    facts.audio_received(ev.item_id, len(ev.audio), ev.response_id)
    ctx.play(ev.item_id, ev.audio)


# --- Barge-in -------------------------------------------------------------------------


def barge_in(ctx: ConversationContext) -> bool:
    """The user started speaking: stop the assistant at once, tell the server how much of
    each cut item was heard, and end the response that is still coming (its late deltas
    are dropped; cancelled here when the server will not do it itself) - also when it has
    not spoken yet. A response whose audio has all played, with only its response.done
    still to come, is left alone. Returns whether anything was cut."""
    ctx.facts.user_speaking = True
    if ctx.controller.duplex == "half":
        return False
    cut = False
    if not ctx.speaker.is_drained():
        stop_playback(ctx)
        cut = True
    facts = ctx.facts
    response_id = facts.active_response_id
    not_spoken_yet = facts.last_audio_response_id != response_id
    if (response_id is not None and response_id not in facts.interrupted_responses
            and (cut or not_spoken_yet)):
        facts.interrupted_responses.add(response_id)
        if not ctx.session.turn_detection.server_cancels_on_speech:
            ctx.send(ctx.codec.response_cancel())
        cut = True
    return cut


def stop_playback(ctx: ConversationContext, *, tell_server: bool = True) -> None:
    """Silence the speaker and mark each item it cut (the transcript says so, its late
    audio is dropped); with ``tell_server``, truncate it at what was played. Read after the
    clear: the speaker may hand one more period over until then, and that was heard."""
    facts = ctx.facts
    ctx.speaker.clear()
    for item_id, received in list(facts.received_bytes.items()):
        if item_id in facts.interrupted_items:
            continue  # truncated when it was cut; the server knows
        played = ctx.speaker.played_bytes(item_id)
        if played >= received:
            continue  # fully played: the user heard all of it, nothing to truncate
        facts.interrupted_items.add(item_id)
        facts.transcript.mark_interrupted(item_id)
        facts.note_truncation(item_id, played)
        heard_ms = played // BYTES_PER_MS
        if tell_server and heard_ms > 0:
            ctx.send(ctx.codec.truncate(item_id, 0, heard_ms))


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
    if facts.owe_response_create and not facts.waiting_for_server:
        facts.owe_response_create = False
        ctx.ask_for_response()


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
