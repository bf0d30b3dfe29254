"""The user's side of a session: the input audio buffer and server turn detection.

Owns ``InputTurns``: ``input_audio_buffer.append/commit/clear``, the session's audio clock
(milliseconds of audio received since the session began), running the VAD over appended
audio, and what an onset or end of speech does - ``speech_started`` (with prefix padding),
barge-in on an active response, ``speech_stopped``, the commit of the turn into a user
``input_audio`` item, its transcription on the worker, and the automatic response.
It does not produce responses itself: it asks the ``Responder``.
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any

from controller.local_server.audio_codec import to_internal
from controller.local_server.conversation import Item, user_audio_item
from controller.local_server.responder import Responder
from controller.local_server.session_state import SessionState
from controller.local_server.vad import SpeechDetector, SpeechEnd, SpeechOnset
from controller.local_server.validation import require
from controller.local_server.wire import BYTES_PER_MS, ClientError, new_id

log = logging.getLogger(__name__)

MIN_COMMIT_MS = 100
# With turn detection on, audio before any speech is kept only this long.
_IDLE_KEEP_MS = 10_000


class InputTurns:
    """The input audio buffer of one session and the turns found in it."""

    def __init__(self, state: SessionState, responder: Responder) -> None:
        self.state = state
        self.responder = responder
        self.buffer = bytearray()
        self.buffer_start_ms = 0
        self._detector: SpeechDetector | None = None
        self._detector_origin_ms = 0
        self._turn_item_id: str | None = None

    @property
    def received_ms(self) -> int:
        return self.state.received_bytes // BYTES_PER_MS

    # --- Client events (called with the state lock held) --------------------------------

    def append(self, event: dict[str, Any]) -> None:
        audio = require(event, "audio", "")
        if not isinstance(audio, str):
            raise ClientError("invalid_type", "Invalid type for 'audio': expected a base64 "
                              "string.", param="audio")
        try:
            wire = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError) as error:
            raise ClientError("invalid_value", "Invalid 'audio': not valid base64.",
                              param="audio") from error
        pcm = to_internal(wire, self.state.config.input_format)
        self.buffer.extend(pcm)
        self.state.received_bytes += len(pcm)
        self._detect_turns(pcm)

    def commit(self, event: dict[str, Any]) -> None:
        buffered_ms = len(self.buffer) / BYTES_PER_MS
        if buffered_ms < MIN_COMMIT_MS:
            raise ClientError("input_audio_buffer_commit_empty",
                              "Error committing input audio buffer: buffer too small. Expected "
                              f"at least {MIN_COMMIT_MS}ms of audio, but buffer only has "
                              f"{buffered_ms:.2f}ms of audio.")
        self._commit_turn(len(self.buffer))
        if self._detector is not None:
            self._detector.reset_turn()

    def clear(self, event: dict[str, Any]) -> None:
        self._drop_buffer_before(self.received_ms)
        self._turn_item_id = None
        if self._detector is not None:
            self._detector.reset_turn()
        self.state.emit({"type": "input_audio_buffer.cleared"})

    # --- Turn detection -----------------------------------------------------------------

    def _detect_turns(self, pcm: bytes) -> None:
        turn = self.state.config.turn_detection
        if turn is None:
            self._detector = None
            return
        if self._detector is None:
            self._detector = SpeechDetector(threshold=turn.threshold,
                                            silence_ms=turn.end_of_turn_silence_ms)
            self._detector_origin_ms = self.received_ms - len(pcm) // BYTES_PER_MS
        self._detector.configure(threshold=turn.threshold,
                                 silence_ms=turn.end_of_turn_silence_ms)
        for found in self._detector.feed(pcm):
            at_ms = self._detector_origin_ms + found.at_ms
            if isinstance(found, SpeechOnset):
                self._speech_started(at_ms)
            elif isinstance(found, SpeechEnd):
                self._speech_stopped(at_ms)
        if not self._detector.speaking:
            self._drop_buffer_before(self.received_ms - _IDLE_KEEP_MS)
            self._check_idle_timeout(turn.idle_timeout_ms)

    def _speech_started(self, onset_ms: int) -> None:
        turn = self.state.config.turn_detection
        assert turn is not None
        start_ms = max(onset_ms - turn.prefix_padding_ms, self.buffer_start_ms)
        self._drop_buffer_before(start_ms)
        self._turn_item_id = new_id("item")
        self.state.idle_from_ms = None
        self.state.emit({"type": "input_audio_buffer.speech_started",
                         "audio_start_ms": start_ms, "item_id": self._turn_item_id})
        if turn.interrupt_response:
            self.responder.interrupt("turn_detected")

    def _speech_stopped(self, end_ms: int) -> None:
        turn = self.state.config.turn_detection
        assert turn is not None
        item_id = self._turn_item_id or new_id("item")
        self._turn_item_id = item_id
        self.state.emit({"type": "input_audio_buffer.speech_stopped",
                         "audio_end_ms": end_ms, "item_id": item_id})
        end_byte = max(0, (end_ms - self.buffer_start_ms) * BYTES_PER_MS)
        if end_byte // BYTES_PER_MS < MIN_COMMIT_MS:
            log.debug("speech of %d ms too short to commit", end_byte // BYTES_PER_MS)
            self._turn_item_id = None
            return
        self._commit_turn(min(end_byte, len(self.buffer)))
        if turn.create_response:
            self.responder.create_automatic()

    def _check_idle_timeout(self, idle_timeout_ms: int | None) -> None:
        """After the last response has played, silence this long prompts a response."""
        idle_from = self.state.idle_from_ms
        if (idle_timeout_ms is None or idle_from is None or self.state.active_response
                or self.received_ms - idle_from < idle_timeout_ms):
            return
        self.state.idle_from_ms = None
        self._turn_item_id = new_id("item")
        self.state.emit({"type": "input_audio_buffer.timeout_triggered",
                         "audio_start_ms": self.buffer_start_ms,
                         "audio_end_ms": self.received_ms, "item_id": self._turn_item_id})
        # The silence is committed as it is; there is nothing in it to transcribe.
        self._commit_turn(len(self.buffer), transcript="")
        self.responder.create_automatic()

    def _commit_turn(self, byte_count: int, transcript: str | None = None) -> None:
        """The first ``byte_count`` bytes of the buffer become a user audio item."""
        item = user_audio_item(self._turn_item_id or new_id("item"),
                               bytes(self.buffer[:byte_count]))
        item.content[0].transcript = transcript
        self._turn_item_id = None
        del self.buffer[:byte_count]
        self.buffer_start_ms += byte_count // BYTES_PER_MS
        previous = self.state.conversation.add(item)
        self.state.emit({"type": "input_audio_buffer.committed",
                         "previous_item_id": previous, "item_id": item.id})
        self.state.emit({"type": "conversation.item.added", "previous_item_id": previous,
                         "item": self.state.dialect.item_json(item)})
        self.state.emit({"type": "conversation.item.done", "previous_item_id": previous,
                         "item": self.state.dialect.item_json(item)})
        if transcript is None:
            self.state.schedule(lambda: self.transcribe(item))

    def _drop_buffer_before(self, ms: int) -> None:
        if ms <= self.buffer_start_ms:
            return
        drop = min((ms - self.buffer_start_ms) * BYTES_PER_MS, len(self.buffer))
        del self.buffer[:drop]
        self.buffer_start_ms += drop // BYTES_PER_MS
        if not self.buffer:
            self.buffer_start_ms = self.received_ms

    # --- Transcription (on the worker thread) -------------------------------------------

    def transcribe(self, item: Item) -> None:
        """Transcribe a user audio item; events only if the session asked for them."""
        part = next(p for p in item.content if p.type == "input_audio")
        try:
            words = self.state.transcriber.transcribe(bytes(part.audio))
            failure = None
        except Exception as error:  # a broken decoder must not end the session
            log.exception("transcription failed")
            words, failure = "", error
        transcript = self.state.brain.tidy_transcript(words)
        with self.state.lock:
            part.transcript = transcript
            if self.state.config.transcription is None:
                return
            if failure is not None:
                self._emit_transcription_failed(item, failure)
                return
            self._emit_transcription(item, transcript, part.audio_ms)

    def _emit_transcription(self, item: Item, transcript: str, audio_ms: int) -> None:
        prefix = "conversation.item.input_audio_transcription"
        for index, word in enumerate(transcript.split()):
            self.state.emit({"type": f"{prefix}.delta", "item_id": item.id,
                             "content_index": 0, "delta": word if index == 0 else " " + word})
        audio_tokens = max(1, audio_ms // 100)
        text_tokens = len(transcript.split())
        self.state.emit({"type": f"{prefix}.completed", "item_id": item.id, "content_index": 0,
                         "transcript": transcript,
                         "usage": {"type": "tokens", "input_tokens": audio_tokens,
                                   "output_tokens": text_tokens,
                                   "total_tokens": audio_tokens + text_tokens,
                                   "input_token_details": {"text_tokens": 0,
                                                           "audio_tokens": audio_tokens}}})

    def _emit_transcription_failed(self, item: Item, failure: Exception) -> None:
        self.state.emit({"type": "conversation.item.input_audio_transcription.failed",
                         "item_id": item.id, "content_index": 0,
                         "error": {"type": "transcription_error", "code": "audio_unintelligible",
                                   "message": f"The audio could not be transcribed: {failure}",
                                   "param": None}})
