"""One fault-injection case, held for real: convctl's ``Conversation`` talks through the
fault proxy to the built-in local server, over websockets on 127.0.0.1.

``run_case(case, folder)`` runs in a worker process of its own (``test_faults.py`` runs
several at once), so the thread baseline it checks belongs to this conversation alone.
Each worker holds one ``LocalServer`` (fast speech, real VAD and transcription) for all
its cases. The case's microphone WAV is built in ``folder`` from the bundled WAVs of
``scenarios/audio``; the assistant's audio is written to ``folder/out.wav``.

What it gathers for the test to judge (``CaseResult``): how the conversation ended and
how long ``run()`` took (a conversation still running at the case's deadline is closed and
marked hung), the states entered, how often the ``get_weather`` tool really ran against
the calls the controller received, which call ids the server was given an output for on
which connection, the faults the proxy injected, and the threads left over - those of
the controller right after ``run()`` and any thread at all once the proxy has stopped.
It never asserts: a case that breaks is reported, never raised, so one broken case does
not hide the others.
"""

from __future__ import annotations

import threading
import time
import traceback
import wave
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fault_cases import Case, ToolPlan
from fault_proxy import FaultProxy

from controller.audio_convert import read_wav
from controller.conversation import Conversation, Outcome
from controller.endpoint import Endpoint
from controller.local_server import LocalServer
from controller.settings import FINISH_TOOL_NAME, ControllerSettings, SessionSettings
from controller.tools import tool

AUDIO_DIR = Path(__file__).resolve().parent.parent / "scenarios" / "audio"
# The threads the controller starts: none may outlive run().
CONTROLLER_THREADS = ("convctl-controller", "convctl-websocket-reader", "convctl-clock",
                      "convctl-tool", "wav-microphone", "wav-speaker")
STRAY_JOIN_S = 5.0

_server: LocalServer | None = None


@dataclass
class CaseResult:
    case_id: str
    state: str = ""
    reason: str | None = None
    seconds: float = 0.0
    hung: bool = False
    states: list[str] = field(default_factory=list)
    tool_runs: int = 0
    weather_calls: list[str] = field(default_factory=list)  # call ids the controller got
    calls_received: list[str] = field(default_factory=list)  # every function call, finish too
    outputs: dict[str, list[int]] = field(default_factory=dict)  # call id -> connections
    injected: list[str] = field(default_factory=list)
    connections: int = 0
    controller_threads: list[str] = field(default_factory=list)
    leftover_threads: list[str] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)
    crash: str | None = None


def start_worker() -> None:
    """Process pool initializer: one local server for all the cases of this worker."""
    global _server
    _server = LocalServer(speech_speedup=20.0)
    _server.start()


def run_case(case: Case, folder: str) -> CaseResult:
    result = CaseResult(case.id)
    try:
        _hold(case, Path(folder), result)
    except Exception:
        result.crash = traceback.format_exc()
    return result


# --- Holding the conversation -----------------------------------------------------------


def _hold(case: Case, folder: Path, result: CaseResult) -> None:
    if _server is None:
        start_worker()
    assert _server is not None
    upstream = _server.beta_url if case.dialect == "beta" else _server.url
    mic = _mic_wav(case.mic, folder)
    baseline = set(threading.enumerate())
    with FaultProxy(upstream, case.plan) as proxy:
        weather = CountingWeatherTool(proxy, case.tool)
        conversation = Conversation(
            SessionSettings(), controller=_settings(case.settings),
            endpoint=Endpoint(url=proxy.url, dialect=case.dialect),
            tools=[weather.function], input=mic, output=folder / "out.wav", quiet=True,
            on_state=lambda source, target, trigger: result.states.append(target),
            on_transcript=lambda role, text, cut: result.transcript.append(
                f"{role}: {text}" + (" (cut)" if cut else "")))
        outcome = _run_until(conversation, case.deadline, result)
        result.controller_threads = [t.name for t in threading.enumerate()
                                     if t not in baseline and t.name.startswith(CONTROLLER_THREADS)]
        if outcome is not None:
            result.state, result.reason = outcome.state, outcome.reason
        result.tool_runs = weather.runs
    _read_proxy(proxy, result)
    result.leftover_threads = _strays(baseline)


def _run_until(conversation: Conversation, deadline: float, result: CaseResult
               ) -> Outcome | None:
    """``run()`` on a thread of its own; a run still going at the deadline is closed."""
    outcomes: list[Outcome] = []
    runner = threading.Thread(target=lambda: outcomes.append(conversation.run()),
                              name="fault-case-run")
    started = time.monotonic()
    runner.start()
    runner.join(deadline)
    result.seconds = time.monotonic() - started
    if runner.is_alive():
        result.hung = True
        conversation.close(reason="the fault test's deadline passed")
        runner.join(STRAY_JOIN_S)
    return outcomes[0] if outcomes else None


def _settings(overrides: tuple[tuple[str, Any], ...]) -> ControllerSettings:
    # A short backoff keeps a hundred reconnects fast; invariants are checked throughout.
    base: dict[str, Any] = {"reconnect_backoff": 0.05, "reconnect_ceiling": 0.2,
                            "connect_timeout": 4.0,
                            "check_invariants": True}
    return ControllerSettings(**{**base, **dict(overrides)})


def _mic_wav(parts: tuple[str | float, ...], folder: Path) -> Path:
    """The bundled WAVs named in ``parts`` one after another (a number: seconds of silence)."""
    pcm = b"".join(bytes(int(part * 24000) * 2) if isinstance(part, float)
                   else read_wav(AUDIO_DIR / part) for part in parts)
    path = folder / "mic.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(24000)
        wav.writeframes(pcm)
    return path


# --- The tool -------------------------------------------------------------------------


class CountingWeatherTool:
    """``get_weather`` that counts its runs; it can fault the connection while it runs."""

    def __init__(self, proxy: FaultProxy, plan: ToolPlan) -> None:
        self.runs = 0
        self._lock = threading.Lock()
        self._proxy = proxy
        self._plan = plan

        @tool(name="get_weather")
        def get_weather(city: str) -> dict[str, object]:
            """Current weather for a city (test data).

            Args:
                city: The city, for example "Paris".
            """
            return self.run(city)

        self.function = get_weather

    def run(self, city: str) -> dict[str, object]:
        with self._lock:
            self.runs += 1
        plan = self._plan
        if plan.fault is not None:
            self._proxy.fault_now(plan.fault)
        if plan.until_reconnected:
            # The result is held back until a new session is ready: it must be answered
            # there, once.
            self._proxy.wait_for(self._reconnected, timeout=10.0)
        time.sleep(plan.seconds)  # the tool's own work
        return {"city": city, "temperature_c": 18, "sky": "cloudy", "source": "fault test"}

    def _reconnected(self) -> bool:
        return any(log.number > 1 and log.events("server", "session.updated")
                   for log in self._proxy.connections)


# --- What the proxy saw -----------------------------------------------------------------


def _read_proxy(proxy: FaultProxy, result: CaseResult) -> None:
    result.injected = proxy.injected()
    result.connections = len(proxy.connections)
    for _, event in proxy.events("server", "response.output_item.done"):
        item = _mapping(event.get("item"))
        if item.get("type") == "function_call" and item.get("status") in (None, "completed"):
            call_id = str(item.get("call_id"))
            result.calls_received.append(call_id)
            if item.get("name") != FINISH_TOOL_NAME:
                result.weather_calls.append(call_id)
    for number, event in proxy.events("client", "conversation.item.create"):
        item = _mapping(event.get("item"))
        if item.get("type") == "function_call_output":
            result.outputs.setdefault(str(item.get("call_id")), []).append(number)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _strays(baseline: set[threading.Thread]) -> list[str]:
    """Threads started since ``baseline`` still alive after a bounded join."""
    deadline = time.monotonic() + STRAY_JOIN_S
    strays = [t for t in threading.enumerate() if t not in baseline]
    for thread in strays:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [t.name for t in strays if t.is_alive()]
