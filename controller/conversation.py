"""``Conversation``: a live conversation, the small public API ``convctl run`` is built on.

It plugs the real ports into the engine - a websocket, PyAudio devices or WAV files, a
tool thread pool, the wall clock, the event log - and runs the one controller thread that
feeds the inbox to the engine. ``run()`` blocks until the conversation is over; Ctrl-C
(or ``close()`` from another thread) ends it cleanly within a second: devices and socket
closed, threads joined, log flushed. No thread outlives ``run()``.

    from controller import Conversation, SessionSettings, tool

    @tool
    def get_weather(city: str) -> dict:
        "Current weather for a city."
        return {"city": city, "sky": "sunny"}

    conversation = Conversation(SessionSettings(instructions="Be brief."),
                                url="ws://127.0.0.1:8765/v1/realtime",
                                tools=[get_weather], input="question.wav", output="reply.wav",
                                on_transcript=lambda role, text, cut: print(role, text),
                                quiet=True)  # the app prints; convctl's console stays quiet
    outcome = conversation.run()
    print(outcome.state, outcome.usage.summary())
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.audio import open_microphone, open_speaker
from controller.console import StateCallback, TerminalConsole, TranscriptCallback
from controller.context import ConversationContext
from controller.endpoint import Endpoint, check_ws_url, redact
from controller.engine import ConversationEngine
from controller.inbox import StopRequested
from controller.live_clock import LiveInbox, WallClock
from controller.log import EventLog, NullRecorder
from controller.ports import Recorder
from controller.protocol import ClientEvents, parse_server_event
from controller.session import Usage
from controller.settings import ControllerSettings, SessionSettings
from controller.tools import ThreadedToolRunner, ToolRegistry
from controller.transport import WebSocketTransport
from controller.turn_detector import LocalTurnDetector
from controller.uplink import Uplink

STOP_DEADLINE_S = 1.0


@dataclass(frozen=True)
class Outcome:
    """How a conversation ended."""

    state: str  # "Finished" or "Error"
    reason: str | None
    interrupted: bool
    usage: Usage

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 0 if self.state == "Finished" else 1


class Conversation:
    """One live conversation with a realtime server."""

    def __init__(
        self, session: SessionSettings | None = None, *,
        controller: ControllerSettings | None = None, endpoint: Endpoint | None = None,
        url: str | None = None, tools: ToolRegistry | Iterable[Callable[..., Any]] = (),
        input: str | Path | None = None, input_device: int | None = None,
        output: str | Path | None = None, output_device: int | None = None,
        record: str | Path | None = None, record_audio: bool = False,
        record_header: dict[str, Any] | None = None, max_duration: float | None = None,
        on_transcript: TranscriptCallback | None = None, on_state: StateCallback | None = None,
        on_usage: Callable[[Usage], None] | None = None, verbose: bool = False,
        quiet: bool = False,
    ) -> None:
        if endpoint is None:
            if url is None:
                raise ValueError("give the server as endpoint= or url=")
            endpoint = Endpoint(url=check_ws_url(url, what="url"))
        registry = tools if isinstance(tools, ToolRegistry) else ToolRegistry(list(tools))
        self.session = (session or SessionSettings()).with_tools(registry.specs())
        self.controller = controller or ControllerSettings()
        self.endpoint = endpoint
        self._on_usage = on_usage
        self._max_duration = max_duration
        self.inbox = LiveInbox()
        self.clock = WallClock(self.inbox)
        self.console = TerminalConsole(verbose=verbose, on_transcript=on_transcript,
                                       on_state=on_state, quiet=quiet,
                                       secrets=endpoint.secrets)
        self.recorder: Recorder = self._recorder(record, record_audio, record_header)
        codec = ClientEvents(endpoint.dialect)
        self.transport = WebSocketTransport(endpoint, self.inbox, parse_server_event,
                                            open_timeout=self.controller.connect_timeout)
        detector = (LocalTurnDetector(silence_ms=self.controller.ptt_silence_ms)
                    if self.session.turn_detection.mode == "none" else None)
        self.uplink = Uplink(codec=codec, transport=self.transport, recorder=self.recorder,
                             clock=self.clock, inbox=self.inbox, detector=detector)
        try:
            self.speaker = open_speaker(self.inbox, wav=output, device_index=output_device)
            self.microphone = open_microphone(self.uplink, self.inbox, wav=input,
                                              device_index=input_device,
                                              block_ms=self.controller.mic_block_ms)
        except Exception:
            self._release_early()
            raise
        self.tools = ThreadedToolRunner(registry, self.inbox,
                                        timeout=self.controller.tool_timeout)
        self.ctx = ConversationContext(
            session=self.session, controller=self.controller, codec=codec,
            transport=self.transport, microphone=self.microphone, speaker=self.speaker,
            tools=self.tools, tool_names=set(registry.names()), console=self.console,
            clock=self.clock, recorder=self.recorder, uplink=self.uplink)
        self.engine = ConversationEngine(self.ctx)
        self._thread: threading.Thread | None = None
        self._done = threading.Event()

    # --- Running ------------------------------------------------------------------------

    def run(self) -> Outcome:
        """Hold the conversation; returns when it reached Finished or Error."""
        self._thread = threading.Thread(target=self._controller_loop,
                                        name="convctl-controller", daemon=True)
        self._thread.start()
        try:
            self._done.wait()  # Ctrl-C and SIGTERM still get through: the wait is interruptible
        except KeyboardInterrupt:
            self.close(interrupted=True)
        self._thread.join(STOP_DEADLINE_S)
        self._shutdown()
        facts = self.ctx.facts
        if self._on_usage is not None:
            self._on_usage(facts.usage)
        reason = facts.fatal_reason or facts.stop_reason
        return Outcome(state=self.engine.state,
                       reason=None if reason is None else redact(reason, self.endpoint.secrets),
                       interrupted=facts.interrupted_by_user, usage=facts.usage)

    def close(self, *, interrupted: bool = False, reason: str = "stopped") -> None:
        """End the conversation from any thread (Ctrl-C, SIGTERM, an app's hang-up)."""
        why = "interrupted (Ctrl-C)" if interrupted else reason
        self.inbox.post(StopRequested(reason=why, interrupted=interrupted))
        self._done.wait(STOP_DEADLINE_S)

    def _controller_loop(self) -> None:
        try:
            self.engine.start()
            if self._max_duration is not None:
                self.clock.call_later(self._max_duration, StopRequested(
                    reason=f"--max-duration of {self._max_duration:g} s reached"))
            while not self.engine.is_final:
                item = self.inbox.take(timeout=0.5)
                if item is not None:
                    self.engine.step(item)
        finally:
            self._done.set()

    def _shutdown(self) -> None:
        # The final state already closed the ports; this makes sure, and stops the clock.
        for close in (self.microphone.close, self.speaker.close, self.tools.close,
                      self.transport.close, self.clock.stop, self._close_recorder):
            try:
                close()
            except Exception as exc:  # closing must not hide how the conversation ended
                self.console.diagnostic(f"while closing: {exc}", level="warning")

    # --- Parts --------------------------------------------------------------------------

    def _recorder(self, record: str | Path | None, record_audio: bool,
                  header: dict[str, Any] | None) -> Recorder:
        if record is None:
            return NullRecorder()
        full = {"dialect": self.endpoint.dialect, "provider": self.endpoint.provider,
                "url": self.endpoint.url, **(header or {})}
        return EventLog(record, header=full, record_audio=record_audio,
                        secrets=self.endpoint.secrets)

    def _close_recorder(self) -> None:
        close = getattr(self.recorder, "close", None)
        if close is not None:
            close()

    def _release_early(self) -> None:
        self.clock.stop()
        self._close_recorder()
        speaker = getattr(self, "speaker", None)
        if speaker is not None:
            speaker.close()
