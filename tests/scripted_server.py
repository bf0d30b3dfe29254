"""A real websocket server on 127.0.0.1 that plays a scenario to ``convctl run`` in real time.

The scenario format is the replay engine's (``controller.scenario``), so the same YAML
steps drive a real socket: ``server`` steps are sent at their ``at`` (seconds since the
first connection) or ``after`` (seconds after the previous step completed) times, with the
audio shorthand ``{ms: N}`` expanded by ``controller.replay.expand_audio``; ``raw`` steps
are sent as they are; ``client`` steps wait, up to ``within`` seconds, for a client event
that subset-matches (``controller.expectations.subset_match``) among those received after
the previous ``client`` step matched; ``close`` closes the connection with its code and
reason (the steps after it belong to the next connection).

One addition for live runs, because a real server reacts to the audio it hears: a small
energy voice detector runs over the ``input_audio_buffer.append`` audio and adds what it
hears to the received events as ``{"type": "server_vad.speech_started", "audio_start_ms"}``
and ``{"type": "server_vad.speech_stopped", "audio_end_ms"}`` (ms of appended audio), so
a ``client`` step can wait for the user to start or stop talking.

What the server keeps for assertions: every received client event with its arrival time
(``received``), the events it sent with their send times (``sent``, audio replaced by its
byte count), the exact audio bytes it sent per item (``sent_audio``), all appended audio
(``appended_audio``), the handshake headers and the client's close code of each
connection, and ``failures`` (a ``client`` step that timed out: the connection is then
closed with 4000, which the controller takes as fatal, so a broken script fails fast).
``stop()`` closes every connection and joins every thread it started. It never sleeps to
wait.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import numpy as np
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.sync.server import Server, ServerConnection, serve

from controller.expectations import subset_match
from controller.replay import expand_audio
from controller.scenario import Scenario, Step

AUDIO_DELTA_TYPES = ("response.output_audio.delta", "response.audio.delta")
APPEND = "input_audio_buffer.append"
BYTES_PER_MS = 48
# The energy detector: a 20 ms frame is voiced above this RMS; speech ends after this
# much unvoiced audio (espeak leaves gaps of ~100 ms between words).
VOICED_RMS = 300.0
SPEECH_END_MS = 500


@dataclass(frozen=True)
class Received:
    t: float  # seconds since the first connection
    event: Mapping[str, Any]


@dataclass
class Rejection:
    """Refuse every websocket upgrade with this HTTP status and body."""

    status: int
    body: str


@dataclass
class _Script:
    next_step: int = 0
    matched_upto: int = 0
    last_completed: float = 0.0
    failures: list[str] = field(default_factory=list)


class EnergyDetector:
    """Speech start and end in 20 ms frames of pcm16 24 kHz mono, by energy."""

    def __init__(self) -> None:
        self.in_speech = False
        self.heard_ms = 0
        self._quiet_ms = 0

    def feed(self, pcm: bytes) -> list[dict[str, Any]]:
        samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], "<i2").astype(np.float64)
        ms = len(pcm) // BYTES_PER_MS
        voiced = bool(samples.size) and float(np.sqrt(np.mean(samples**2))) > VOICED_RMS
        start_ms = self.heard_ms
        self.heard_ms += ms
        if voiced:
            self._quiet_ms = 0
            if not self.in_speech:
                self.in_speech = True
                return [{"type": "server_vad.speech_started", "audio_start_ms": start_ms}]
            return []
        if self.in_speech:
            self._quiet_ms += ms
            if self._quiet_ms >= SPEECH_END_MS:
                self.in_speech = False
                return [{"type": "server_vad.speech_stopped",
                         "audio_end_ms": self.heard_ms - self._quiet_ms}]
        return []


class ScriptedServer:
    """Plays ``scenario``'s steps to whoever connects; see the module docstring."""

    def __init__(self, scenario: Scenario, *, reject: Rejection | None = None) -> None:
        self.scenario = scenario
        self._reject = reject
        self._cond = threading.Condition()
        self._script = _Script()
        self._stopping = False
        self._t0: float | None = None
        self._detector = EnergyDetector()
        self.received: list[Received] = []
        self.sent: list[Received] = []
        self.sent_audio: dict[str, bytearray] = {}
        self.appended_audio = bytearray()
        self.handshake_headers: list[Headers] = []
        self.client_closes: list[int | None] = []  # close code the client sent, per connection
        self.connections = 0
        self._server: Server | None = None
        self._port: int | None = None
        self._thread: threading.Thread | None = None

    # --- Life ------------------------------------------------------------------------------

    def start(self) -> ScriptedServer:
        self._server = serve(self._handle, "127.0.0.1", 0, compression=None,
                             process_request=self._process_request, max_size=None)
        self._port = int(self._server.socket.getsockname()[1])
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="scripted-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()  # closes connections, joins their handler threads
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._port is not None, "start() the server first"
        return self._port

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    # --- What happened ---------------------------------------------------------------------

    @property
    def failures(self) -> list[str]:
        with self._cond:
            return list(self._script.failures)

    @property
    def finished_script(self) -> bool:
        with self._cond:
            return self._script.next_step >= len(self.scenario.steps)

    def wait_for_script(self, timeout: float) -> bool:
        """Block until every step ran (True) or a step failed / time is up (False)."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._script.failures or self._script.next_step
                >= len(self.scenario.steps), timeout) and not self._script.failures

    def client_events(self, *, include_appends: bool = False) -> list[Mapping[str, Any]]:
        """The controller's events in arrival order (without the detector's notes)."""
        with self._cond:
            return [r.event for r in self.received
                    if not str(r.event["type"]).startswith("server_vad.")
                    and (include_appends or r.event["type"] != APPEND)]

    def wait_for_event(self, type_: str, timeout: float) -> Received:
        """The first received event of ``type_``, waiting for it up to ``timeout``."""
        def first() -> Received | None:
            return next((r for r in self.received if r.event.get("type") == type_), None)

        with self._cond:
            found = self._cond.wait_for(first, timeout)
        assert found is not None, f"the controller sent no {type_} within {timeout:g} s"
        return found

    def wait_for_closes(self, count: int, timeout: float) -> None:
        """Block until ``count`` connections have ended."""
        with self._cond:
            ended = self._cond.wait_for(lambda: len(self.client_closes) >= count, timeout)
        assert ended, f"{count} connection(s) did not end within {timeout:g} s"

    def events_of(self, type_: str) -> list[Received]:
        with self._cond:
            return [r for r in self.received if r.event.get("type") == type_]

    def sent_of(self, type_: str) -> list[Received]:
        with self._cond:
            return [r for r in self.sent if r.event.get("type") == type_]

    # --- One connection ----------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request
                         ) -> Response | None:
        with self._cond:
            self.handshake_headers.append(request.headers)
        if self._reject is None:
            return None
        return connection.respond(HTTPStatus(self._reject.status), self._reject.body)

    def _handle(self, connection: ServerConnection) -> None:
        with self._cond:
            self.connections += 1
            if self._t0 is None:
                self._t0 = time.monotonic()
        reader = threading.Thread(target=self._read, args=(connection,),
                                  name="scripted-server-reader", daemon=True)
        reader.start()
        try:
            self._play(connection)
        except ConnectionClosed:
            pass
        finally:
            # The controller hangs up when it is done; shutdown() closes the rest.
            reader.join()
            close = connection.protocol.close_rcvd
            with self._cond:
                self.client_closes.append(None if close is None else close.code)
                self._cond.notify_all()

    def _read(self, connection: ServerConnection) -> None:
        try:
            for message in connection:
                self._heard(json.loads(message))
        except ConnectionClosed:
            pass
        finally:
            with self._cond:
                self._cond.notify_all()

    def _heard(self, event: dict[str, Any]) -> None:
        notes: list[dict[str, Any]] = []
        if event.get("type") == APPEND and isinstance(event.get("audio"), str):
            pcm = base64.b64decode(event["audio"])
            self.appended_audio += pcm
            notes = self._detector.feed(pcm)
        with self._cond:
            t = self._now()
            self.received.append(Received(t, event))
            self.received.extend(Received(t, note) for note in notes)
            self._cond.notify_all()

    # --- The script --------------------------------------------------------------------------

    def _play(self, connection: ServerConnection) -> None:
        """Run steps until the script ends, a step fails, or this connection closes."""
        steps = self.scenario.steps
        while True:
            with self._cond:
                if self._script.next_step >= len(steps) or self._script.failures:
                    break
                step = steps[self._script.next_step]
            if step.kind == "client":
                if not self._await_client(step, connection):
                    break
            else:
                if not self._wait_until(self._due(step), connection):
                    break
                self._run(step, connection)
                if step.kind == "close":
                    return
        # Hold the connection until the controller (or stop()) closes it.
        self._wait_until(float("inf"), connection)

    def _due(self, step: Step) -> float:
        assert self._t0 is not None
        if step.at is not None:
            return step.at
        if step.after is not None:
            return self._script.last_completed + step.after
        return 0.0

    def _wait_until(self, due: float, connection: ServerConnection) -> bool:
        """Wait until ``due`` (script seconds); False if stopping or the client left."""
        with self._cond:
            while not self._stopping and _is_open(connection):
                remaining = due - self._now()
                if remaining <= 0:
                    return True
                self._cond.wait(min(remaining, 3600.0))
            return False

    def _await_client(self, step: Step, connection: ServerConnection) -> bool:
        deadline = self._now() + step.within
        with self._cond:
            while True:
                for n in range(self._script.matched_upto, len(self.received)):
                    if subset_match(step.payload, self.received[n].event):
                        self._script.matched_upto = n + 1
                        self._completed()
                        return True
                remaining = deadline - self._now()
                if self._stopping or not _is_open(connection) or remaining <= 0:
                    break
                self._cond.wait(remaining)
            if self._stopping:
                return False
            got = [r.event["type"] for r in self.received if r.event["type"] != APPEND]
            self._script.failures.append(
                f"step {step.index}: no client event matching "
                f"{json.dumps(step.payload, sort_keys=True)} within {step.within:g} s; "
                f"received {got}")
        # 4000 is fatal for the controller: it ends in Error at once instead of reconnecting.
        connection.close(4000, f"scripted server: step {step.index} timed out")
        return False

    def _run(self, step: Step, connection: ServerConnection) -> None:
        if step.kind == "server":
            event = dict(expand_audio(step.payload))
            connection.send(json.dumps(event))
            self._note_sent(event)
        elif step.kind == "raw":
            connection.send(step.payload)
            self._note_sent({"type": "raw", "text": step.payload})
        elif step.kind == "close":
            connection.close(step.payload["code"], step.payload["reason"])
            self._note_sent({"type": "close", **step.payload})
        with self._cond:
            self._completed()

    def _note_sent(self, event: dict[str, Any]) -> None:
        if event.get("type") in AUDIO_DELTA_TYPES and isinstance(event.get("delta"), str):
            pcm = base64.b64decode(event["delta"])
            self.sent_audio.setdefault(str(event.get("item_id")), bytearray()).extend(pcm)
            event = {**event, "delta": {"bytes": len(pcm)}}
        with self._cond:
            self.sent.append(Received(self._now(), event))

    def _completed(self) -> None:
        self._script.last_completed = self._now()
        self._script.next_step += 1
        self._cond.notify_all()

    def _now(self) -> float:
        return 0.0 if self._t0 is None else time.monotonic() - self._t0


def _is_open(connection: ServerConnection) -> bool:
    return connection.protocol.state is State.OPEN
