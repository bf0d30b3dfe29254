"""Live latency and cost of ``convctl run`` on real (virtual PulseAudio) sound devices.

Starts a headless PulseAudio (``scripts/virtual-audio.sh``) so PyAudio has a real
microphone and speaker, and a scripted realtime server on 127.0.0.1
(``tests/scripted_server.py``). Then measures:

(a) barge-in latency: ``input_audio_buffer.speech_started`` arriving on the socket -> the
    last assistant sample handed to the device (the end of the last write that carried
    assistant audio), over >= 50 interruptions; target p99 <= 20 ms (one period) + 5 ms.
    Also printed: speech_started -> the device's buffer dropped, when the speaker falls
    silent (what was handed but not yet played is discarded, not played out);
(b) first-audio latency: the first audio delta of a response arriving on the socket ->
    its first sample handed to the device (the start of the write that carries it);
    same target;
(c) CPU of the ``convctl run`` process over a 60 s conversation at real pace (device mic
    streaming the whole time, spoken answers, barge-ins), start-up and shutdown included;
    target <= 2 % of one core. The conversation runs three times (--cpu-runs) and the
    median is judged, with the spread printed: on a shared machine one run varies by
    +-0.3 %. Also printed: the steady state (without start-up) and, measured alongside
    each run, what a bare PyAudio client pays that reads the mic and writes the speaker
    in 20 ms periods and does nothing else;
(d) ``convctl --help`` start-up (median of 15 runs); target <= 150 ms.

The project's bytecode is compiled first, as installing a package does (an editable
install compiles nothing, and with PYTHONDONTWRITEBYTECODE every start would compile
~50 modules again: ~0.06 s of CPU that no installed convctl pays).

(a) and (b) run the ``Conversation`` in a child process (this script with ``--child``)
whose socket reader and speaker thread are wrapped to note the time of each frame and of
each device write - the same objects ``convctl run`` uses, with two timestamps added per
event. The server runs in this process, so it never competes with the child for its GIL.

    python benchmarks/bench_live.py [--interruptions 60] [--cpu-seconds 60] [--cpu-runs 3]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import random
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

PERIOD_MS = 20
LATENCY_TARGET_MS = PERIOD_MS + 5
CPU_TARGET_PERCENT = 2.0
STARTUP_TARGET_MS = 150.0


# --- The scripted conversations ------------------------------------------------------------


class Script:
    """Builds scenario steps for the scripted server."""

    def __init__(self) -> None:
        from controller.scenario import Step

        self._step = Step
        self.steps: list[Any] = []

    def server(self, event: dict[str, Any], after: float | None = None) -> None:
        self.steps.append(self._step(index=len(self.steps) + 1, kind="server",
                                     payload=event, after=after))

    def client(self, pattern: dict[str, Any], within: float = 5.0) -> None:
        self.steps.append(self._step(index=len(self.steps) + 1, kind="client",
                                     payload=pattern, within=within))

    def connect(self) -> None:
        self.server({"type": "session.created", "session": {"id": "sess_bench"}})
        self.client({"type": "session.update"})
        self.server({"type": "session.updated", "session": {}})

    def spoken_answer(self, n: int, ms: int, *, chunk_ms: int = 250, pace: float = 0.01,
                      after: float | None = None) -> None:
        self.server({"type": "response.created", "response": {"id": f"resp_{n}",
                                                             "status": "in_progress"}},
                    after=after)
        self.server({"type": "response.output_item.added", "response_id": f"resp_{n}",
                     "output_index": 0, "item": {"id": f"item_{n}", "type": "message",
                                                 "role": "assistant", "content": []}})
        for sent in range(0, ms, chunk_ms):
            self.server({"type": "response.output_audio.delta", "response_id": f"resp_{n}",
                         "item_id": f"item_{n}", "output_index": 0, "content_index": 0,
                         "delta": {"ms": min(chunk_ms, ms - sent)}},
                        after=pace if sent else None)

    def response_done(self, n: int, status: str = "completed", after: float | None = None
                      ) -> None:
        self.server({"type": "response.done", "response": {"id": f"resp_{n}",
                                                          "status": status, "output": []}},
                    after=after)

    def goodbye(self, n: int, after: float | None = None) -> None:
        call = {"id": f"item_bye{n}", "type": "function_call", "status": "completed",
                "call_id": "call_bye", "name": "end_conversation", "arguments": "{}"}
        self.server({"type": "response.created", "response": {"id": f"resp_{n}",
                                                             "status": "in_progress"}},
                    after=after)
        self.server({"type": "response.output_item.done", "response_id": f"resp_{n}",
                     "output_index": 0, "item": call})
        self.server({"type": "response.done", "response": {"id": f"resp_{n}",
                                                          "status": "completed",
                                                          "output": [call]}})
        self.client({"type": "conversation.item.create",
                     "item": {"type": "function_call_output", "call_id": "call_bye"}})

    def scenario(self, name: str) -> Any:
        from controller.scenario import Scenario

        return Scenario(name=name, path=name, steps=tuple(self.steps))


def interruptions_script(count: int, seed: int = 4) -> Any:
    """``count`` answers of 1.5 s, each interrupted 0.3-0.8 s into it."""
    rng = random.Random(seed)
    script = Script()
    script.connect()
    for n in range(1, count + 1):
        script.spoken_answer(n, 1500, after=0.2)
        script.server({"type": "input_audio_buffer.speech_started",
                       "audio_start_ms": 1000 * n, "item_id": f"item_u{n}"},
                      after=rng.uniform(0.3, 0.8))
        script.client({"type": "conversation.item.truncate", "item_id": f"item_{n}"}, 2.0)
        script.response_done(n, "cancelled")
    script.goodbye(count + 1, after=0.2)
    return script.scenario("bench interruptions")


def conversation_script(seconds: float) -> Any:
    """A conversation of about ``seconds``: a 3 s answer every ~6 s; every third answer
    is cut short by the user."""
    script = Script()
    script.connect()
    turns = max(1, int(seconds / 6))
    for n in range(1, turns + 1):
        script.server({"type": "input_audio_buffer.speech_started", "audio_start_ms": 0,
                       "item_id": f"item_u{n}"}, after=1.5 if n % 3 == 0 else 3.5)
        script.server({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 0,
                       "item_id": f"item_u{n}"}, after=1.0)
        script.server({"type": "input_audio_buffer.committed", "item_id": f"item_u{n}"})
        script.spoken_answer(n, 3000, pace=0.1, after=0.3)
        script.server({"type": "response.output_audio_transcript.done",
                       "response_id": f"resp_{n}", "item_id": f"item_{n}",
                       "output_index": 0, "content_index": 0, "transcript": f"Answer {n}."})
        script.response_done(n, after=0.05)
        script.server({"type": "conversation.item.input_audio_transcription.completed",
                       "item_id": f"item_u{n}", "content_index": 0,
                       "transcript": f"Question {n}?"})
    script.goodbye(turns + 1, after=3.5)
    return script.scenario("bench conversation")


# --- Virtual devices -----------------------------------------------------------------------


@contextmanager
def virtual_devices() -> Iterator[dict[str, str]]:
    """A private headless PulseAudio; yields the environment its clients need."""
    script = ROOT / "scripts" / "virtual-audio.sh"
    with tempfile.TemporaryDirectory(prefix="convctl-bench-") as folder:
        state = Path(folder) / "pulse"
        started = subprocess.run(["bash", str(script), "start", str(state)],
                                 capture_output=True, text=True, timeout=30)
        try:
            if started.returncode != 0:
                raise SystemExit(f"virtual devices did not start: {started.stderr}")
            exports: dict[str, str] = {}
            for line in started.stdout.splitlines():
                words = shlex.split(line)
                if words[:1] == ["export"]:
                    for word in words[1:]:
                        name, _, value = word.partition("=")
                        exports[name] = value
            env = {k: v for k, v in os.environ.items()
                   if k not in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY",
                                "AZURE_OPENAI_ENDPOINT")}
            yield {**env, **exports}
        finally:
            subprocess.run(["bash", str(script), "stop", str(state)], timeout=30)


# --- (a) and (b): the instrumented child ------------------------------------------------------


def child(url: str, trace_path: str) -> None:
    """Hold the conversation at ``url`` on the default devices, noting frame and write times."""
    from controller.conversation import Conversation
    from controller.events import AudioDelta, SpeechStarted

    conversation = Conversation(url=url, quiet=True)
    arrivals: list[tuple[float, str, str]] = []
    writes: list[tuple[float, float, list[tuple[str, int]]]] = []
    parse = conversation.transport._parse
    first_delta: set[str] = set()

    def timed_parse(frame: str | bytes) -> Any:
        arrived = time.perf_counter()
        event = parse(frame)
        if isinstance(event, SpeechStarted):
            arrivals.append((arrived, "speech_started", ""))
        elif isinstance(event, AudioDelta) and event.item_id not in first_delta:
            first_delta.add(event.item_id)
            arrivals.append((arrived, "first_delta", event.item_id))
        return event

    speaker = conversation.speaker
    write = speaker._write_period
    drop = speaker._drop_device_audio
    drops: list[float] = []

    def timed_write(period: Any) -> None:
        began = time.perf_counter()
        write(period)
        writes.append((began, time.perf_counter(), list(period.parts)))

    def timed_drop() -> None:
        drop()
        drops.append(time.perf_counter())

    conversation.transport._parse = timed_parse
    speaker._write_period = timed_write  # type: ignore[method-assign]
    speaker._drop_device_audio = timed_drop  # type: ignore[method-assign]
    outcome = conversation.run()
    Path(trace_path).write_text(json.dumps({"state": outcome.state, "arrivals": arrivals,
                                            "writes": writes, "drops": drops}))


def first_audio_latencies(trace: dict[str, Any]) -> list[float]:
    latencies = []
    for arrived, kind, item_id in trace["arrivals"]:
        if kind != "first_delta":
            continue
        began = next(w[0] for w in trace["writes"] if any(p[0] == item_id for p in w[2]))
        latencies.append(1000 * (began - arrived))
    return latencies


def barge_in_latencies(trace: dict[str, Any]) -> list[float]:
    latencies = []
    writes = trace["writes"]
    for arrived, kind, _ in trace["arrivals"]:
        if kind != "speech_started":
            continue
        # The items being played when speech_started arrived (those of the last write
        # begun before it); the end of the last write carrying any of them, from the one
        # in progress on, is when their last sample was handed to the device.
        begun = [w for w in writes if w[0] < arrived]
        playing = {part[0] for part in begun[-1][2]} if begun else set()
        ends = [w[1] for w in writes
                if w[1] >= arrived and any(part[0] in playing for part in w[2])]
        latencies.append(1000 * (max(ends) - arrived) if ends else 0.0)
    return latencies


def silence_latencies(trace: dict[str, Any]) -> list[float]:
    """``speech_started`` -> the device's buffer dropped (the speaker is silent), for each
    interruption that found audio in the device."""
    latencies = []
    for arrived, kind, _ in trace["arrivals"]:
        if kind == "speech_started":
            dropped = next((d for d in trace["drops"] if d >= arrived), None)
            if dropped is not None and dropped - arrived < 1.0:
                latencies.append(1000 * (dropped - arrived))
    return latencies


def measure_latencies(env: dict[str, str], count: int
                      ) -> tuple[list[float], list[float], list[float]]:
    from scripted_server import ScriptedServer

    with tempfile.TemporaryDirectory() as folder, \
            ScriptedServer(interruptions_script(count)) as server:
        trace_path = Path(folder) / "trace.json"
        child_run = subprocess.run([sys.executable, __file__, "--child", server.url,
                                    str(trace_path)], env=env, capture_output=True,
                                   text=True, timeout=count * 3 + 60)
        if child_run.returncode != 0 or server.failures:
            raise SystemExit(f"the latency conversation failed: {server.failures} "
                             f"{child_run.stderr[-2000:]}")
        trace = json.loads(trace_path.read_text())
    return barge_in_latencies(trace), first_audio_latencies(trace), silence_latencies(trace)


# --- (c) CPU of convctl run; (d) start-up -----------------------------------------------------


def convctl() -> str:
    script = Path(sys.executable).parent / "convctl"
    return str(script) if script.exists() else "convctl"


def measure_cpu(env: dict[str, str], seconds: float) -> dict[str, float]:
    """CPU of ``convctl run`` on the devices: the whole process (start-up included), and
    the steady state from the session's configuration to the last scripted step."""
    from scripted_server import ScriptedServer

    with ScriptedServer(conversation_script(seconds)) as server:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        process = subprocess.Popen([convctl(), "run", "--url", server.url], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        server.wait_for_event("session.update", timeout=30)
        steady_from = (time.monotonic(), process_cpu(process.pid))
        server.wait_for_script(timeout=seconds * 2 + 30)
        steady_to = (time.monotonic(), process_cpu(process.pid))
        _, stderr = process.communicate(timeout=60)
        wall = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0 or server.failures:
        raise SystemExit(f"the CPU conversation failed: {server.failures} {stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"cpu": cpu, "wall": wall, "steady_cpu": steady_to[1] - steady_from[1],
            "steady_wall": steady_to[0] - steady_from[0]}


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


PORTAUDIO_FLOOR = """
import pyaudio, resource, sys, threading, time
pa = pyaudio.PyAudio()
mic = pa.open(format=pyaudio.paInt16, channels=1, rate=24000, input=True, frames_per_buffer=480)
out = pa.open(format=pyaudio.paInt16, channels=1, rate=24000, output=True, frames_per_buffer=480)
until = time.monotonic() + float(sys.argv[1])
def listen():
    while time.monotonic() < until:
        mic.read(480, exception_on_overflow=False)
listener = threading.Thread(target=listen)
listener.start()
begin, wall = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
while time.monotonic() < until:
    out.write(bytes(960), 480)
listener.join()
end = resource.getrusage(resource.RUSAGE_SELF)
cpu = end.ru_utime - begin.ru_utime + end.ru_stime - begin.ru_stime
print(100 * cpu / (time.monotonic() - wall))
"""


def measure_portaudio_floor(env: dict[str, str], seconds: float = 20.0) -> float:
    """CPU % of a process that only reads the mic and writes the speaker (PyAudio, 20 ms
    periods, separate streams) - what any PyAudio client pays before doing anything."""
    floor = subprocess.run([sys.executable, "-c", PORTAUDIO_FLOOR, str(seconds)], env=env,
                           capture_output=True, text=True, check=True, timeout=seconds + 30)
    return float(floor.stdout)


def measure_startup(runs: int = 15) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([convctl(), "--help"], capture_output=True, check=True)
        times.append(1000 * (time.perf_counter() - started))
    return times


def compile_bytecode() -> None:
    for package in ("controller", "states"):
        compileall.compile_dir(ROOT / package, quiet=1)


# --- Report ------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report_latency(label: str, values: list[float]) -> bool:
    p50, p99 = percentile(values, 50), percentile(values, 99)
    ok = p99 <= LATENCY_TARGET_MS
    print(f"{label}: n={len(values)} p50 {p50:.1f} ms  p99 {p99:.1f} ms  max {max(values):.1f}"
          f" ms  (target p99 <= {LATENCY_TARGET_MS} ms)  {verdict(ok)}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interruptions", type=int, default=60)
    parser.add_argument("--cpu-seconds", type=float, default=60.0)
    parser.add_argument("--cpu-runs", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("URL", "TRACE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    results = []
    compile_bytecode()
    with virtual_devices() as env:
        barge, first, silent = measure_latencies(env, args.interruptions)
        results.append(report_latency("(a) barge-in latency   ", barge))
        print(f"    and on to silence (the device's buffer dropped): n={len(silent)} p50 "
              f"{percentile(silent, 50):.1f} ms  p99 {percentile(silent, 99):.1f} ms  max "
              f"{max(silent):.1f} ms")
        results.append(report_latency("(b) first-audio latency", first))
        runs = []
        for _ in range(args.cpu_runs):
            cpu = measure_cpu(env, args.cpu_seconds)
            runs.append((100 * cpu["cpu"] / cpu["wall"],
                         100 * cpu["steady_cpu"] / cpu["steady_wall"],
                         measure_portaudio_floor(env), cpu["wall"]))
    total, steady, floor = (statistics.median(r[i] for r in runs) for i in range(3))
    ok = total <= CPU_TARGET_PERCENT
    results.append(ok)
    spread = ", ".join(f"{r[0]:.2f}" for r in runs)
    print(f"(c) convctl run CPU over a {statistics.median(r[3] for r in runs):.0f} s "
          f"conversation: median {total:.2f} % of one core over {len(runs)} runs ({spread}) "
          f"(target <= {CPU_TARGET_PERCENT:g} %)  {verdict(ok)}")
    print(f"    steady state (session configured -> last step): median {steady:.2f} %; a bare "
          f"PyAudio client (20 ms mic + speaker, nothing else): median {floor:.2f} %; "
          f"ratio steady / bare {steady / floor:.2f}")
    startup = measure_startup()
    median = statistics.median(startup)
    ok = median <= STARTUP_TARGET_MS
    results.append(ok)
    print(f"(d) convctl --help start-up: median {median:.0f} ms, min {min(startup):.0f} ms "
          f"(target <= {STARTUP_TARGET_MS:g} ms)  {verdict(ok)}")
    print(f"{sum(results)} of {len(results)} targets met")


if __name__ == "__main__":
    main()
