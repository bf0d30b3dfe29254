"""Streaming one response onto the wire, with the real service's full event sequence.

Owns ``ResponseStreamer``: on the worker thread it turns a ``Plan`` into an assistant
message (``output_item.added``, ``conversation.item.added``, ``content_part.added``, audio
and transcript deltas paced faster than real time, then every ``.done``) and function call
items (argument deltas and ``.done``), stops early when the response is cancelled, and
finishes with ``response.done`` (status, reason, usage) and ``rate_limits.updated``.
It decides nothing about what to say; it never reads client events.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

from controller.errors import AudioError
from controller.local_server.audio_codec import from_internal
from controller.local_server.brain import Plan, PlannedCall
from controller.local_server.conversation import Content, Item
from controller.local_server.response_state import Response
from controller.local_server.session_state import SessionState
from controller.local_server.tts import Speech, synthesize
from controller.local_server.usage import rate_limits, response_usage
from controller.local_server.wire import BYTES_PER_MS, new_id

log = logging.getLogger(__name__)

CHUNK_MS = 100
# Text deltas of a text-only response leave this often (one word each).
_TEXT_WORD_SECONDS = 0.01


class ResponseStreamer:
    """Emits the events of responses for one session."""

    def __init__(self, state: SessionState, *, speedup: float) -> None:
        self.state = state
        self.speedup = speedup

    def stream(self, response: Response, plan: Plan) -> None:
        say, calls, incomplete = _within_token_limit(plan, response.max_output_tokens)
        speech = None
        if say and response.output_modality == "audio" and not response.cancelled.is_set():
            try:
                speech = synthesize(say, response.voice, response.speed)
            except AudioError as error:
                self._finish(response, failure=str(error))
                return
        if say and not response.cancelled.is_set():
            self._message(response, say, speech)
        for call in calls:
            if response.cancelled.is_set():
                break
            self._function_call(response, call)
        self._finish(response, incomplete=incomplete)

    # --- Output items -------------------------------------------------------------------

    def _open_item(self, response: Response, item: Item) -> int:
        with self.state.lock:
            output_index = len(response.output)
            response.output.append(item)
            self.state.emit({"type": "response.output_item.added", "response_id": response.id,
                             "output_index": output_index,
                             "item": self.state.dialect.item_json(item)})
            if response.in_default_conversation:
                previous = self.state.conversation.add(item)
                self.state.emit({"type": "conversation.item.added", "previous_item_id": previous,
                                 "item": self.state.dialect.item_json(item)})
            return output_index

    def _close_item(self, response: Response, item: Item, output_index: int) -> None:
        item_json = self.state.dialect.item_json(item)
        if response.in_default_conversation and item in self.state.conversation.items:
            self.state.emit({"type": "conversation.item.done", "item": item_json,
                             "previous_item_id": self.state.conversation.previous_id(item)})
        self.state.emit({"type": "response.output_item.done", "response_id": response.id,
                         "output_index": output_index, "item": item_json})

    def _message(self, response: Response, say: str, speech: Speech | None) -> None:
        kind = "output_audio" if speech is not None else "output_text"
        part = Content(type=kind, transcript="" if speech else None, text=None if speech else "")
        item = Item(id=new_id("item"), type="message", role="assistant", status="in_progress")
        output_index = self._open_item(response, item)
        ids = {"response_id": response.id, "item_id": item.id, "output_index": output_index,
               "content_index": 0}
        with self.state.lock:
            item.content.append(part)
            self.state.emit({"type": "response.content_part.added", **ids,
                             "part": _part_json(part)})
        if speech is not None:
            self._stream_audio(response, part, speech, ids)
        else:
            self._stream_text(response, part, say, ids)
        with self.state.lock:
            item.status = "incomplete" if response.cancelled.is_set() else "completed"
            if speech is not None:
                part.transcript = " ".join(word for word, _ in part.word_ends_ms)
                self.state.emit({"type": "response.output_audio.done", **ids})
                self.state.emit({"type": "response.output_audio_transcript.done", **ids,
                                 "transcript": part.transcript})
            else:
                self.state.emit({"type": "response.output_text.done", **ids, "text": part.text})
            self.state.emit({"type": "response.content_part.done", **ids,
                             "part": _part_json(part)})
            self._close_item(response, item, output_index)

    def _stream_audio(self, response: Response, part: Content, speech: Speech,
                      ids: dict[str, Any]) -> None:
        chunk_bytes = CHUNK_MS * BYTES_PER_MS
        words = list(speech.word_ends_ms)
        for start in range(0, len(speech.audio), chunk_bytes):
            if start and response.cancelled.wait(CHUNK_MS / 1000 / self.speedup):
                return
            chunk = speech.audio[start:start + chunk_bytes]
            with self.state.lock:
                if response.cancelled.is_set():
                    return
                part.audio.extend(chunk)
                self.state.assistant_spoke = True
                wire = from_internal(chunk, response.output_format)
                self.state.emit({"type": "response.output_audio.delta", **ids,
                                 "delta": base64.b64encode(wire).decode("ascii")})
                while words and words[0][1] <= part.audio_ms:
                    word, end_ms = words.pop(0)
                    delta = word if not part.word_ends_ms else " " + word
                    part.word_ends_ms.append((word, end_ms))
                    self.state.emit({"type": "response.output_audio_transcript.delta", **ids,
                                     "delta": delta})

    def _stream_text(self, response: Response, part: Content, say: str,
                     ids: dict[str, Any]) -> None:
        for index, word in enumerate(say.split()):
            if index and response.cancelled.wait(_TEXT_WORD_SECONDS):
                return
            with self.state.lock:
                delta = word if index == 0 else " " + word
                part.text = (part.text or "") + delta
                self.state.emit({"type": "response.output_text.delta", **ids, "delta": delta})

    def _function_call(self, response: Response, call: PlannedCall) -> None:
        arguments = json.dumps(call.arguments)
        item = Item(id=new_id("item"), type="function_call", status="in_progress",
                    call_id=new_id("call"), name=call.name, arguments="")
        output_index = self._open_item(response, item)
        ids = {"response_id": response.id, "item_id": item.id, "output_index": output_index,
               "call_id": item.call_id}
        with self.state.lock:
            middle = len(arguments) // 2
            for piece in (arguments[:middle], arguments[middle:]):
                self.state.emit({"type": "response.function_call_arguments.delta", **ids,
                                 "delta": piece})
            item.arguments = arguments
            item.status = "completed"
            self.state.emit({"type": "response.function_call_arguments.done", **ids,
                             "name": call.name, "arguments": arguments})
            self._close_item(response, item, output_index)

    # --- The end ------------------------------------------------------------------------

    def _finish(self, response: Response, *, incomplete: bool = False,
                failure: str | None = None) -> None:
        with self.state.lock:
            if response.cancelled.is_set():
                response.status = "cancelled"
                response.status_details = {"type": "cancelled",
                                           "reason": response.cancel_reason or "client_cancelled"}
            elif failure is not None:
                response.status = "failed"
                response.status_details = {"type": "failed", "error": {
                    "type": "server_error", "code": "speech_synthesis_failed",
                    "message": failure}}
            elif incomplete:
                response.status = "incomplete"
                response.status_details = {"type": "incomplete", "reason": "max_output_tokens"}
            else:
                response.status = "completed"
            response.usage = response_usage(self.state, response)
            self.state.tokens_used += response.usage["total_tokens"]
            self.state.emit({"type": "response.done",
                             "response": self.state.dialect.response_json(response)})
            if self.state.active_response is response:
                self.state.active_response = None
                self.state.idle_from_ms = (self.state.received_bytes // BYTES_PER_MS
                                           + _audio_ms(response))
            self.state.side_responses.pop(response.id, None)
            self.state.emit({"type": "rate_limits.updated",
                             "rate_limits": rate_limits(self.state)})


def _audio_ms(response: Response) -> int:
    return sum(part.audio_ms for item in response.output for part in item.content)


def _part_json(part: Content) -> dict[str, Any]:
    if part.type == "output_audio":
        return {"type": "audio", "transcript": part.transcript or ""}
    return {"type": "text", "text": part.text or ""}


def _within_token_limit(plan: Plan, limit: int | str) -> tuple[str, tuple[PlannedCall, ...],
                                                               bool]:
    """The plan cut to ``max_output_tokens`` (a word counts as a token here)."""
    words = plan.say.split()
    if isinstance(limit, int) and len(words) > limit:
        return " ".join(words[:limit]), (), True
    return plan.say, plan.calls, False
