"""How fast the offline realtime server answers, and what it costs to run.

Starts ``convctl serve`` (the same command a user runs) in a child process on 127.0.0.1
and holds one spoken GA conversation with it at real pace, like a client with a live
microphone: 20 ms chunks of pcm16 every 20 ms for the whole conversation, the user's
turns taken from scenarios/audio, silence in between, each reply "played" (the mic keeps
streaming silence for as long as the reply's audio lasts) before the next turn. Turns that
call tools get their outputs and a follow-up ``response.create``, as a real client does.
Server VAD and input transcription are on (silence_duration_ms 200, the service default).

Printed:

- end of user speech -> first audio delta of the answer, p50 / p99 / max over the turns
  (the end of speech is when the chunk holding the last loud sample was sent; the speech
  is found by energy in the WAV). It includes the ``silence_duration_ms`` the VAD must
  wait by definition, so the server's own share is shown too (latency minus silence),
  and where the time goes: the median time to speech_stopped, to the transcript, to
  response.created and to the first delta;
- server CPU (user + system, from /proc) per minute of conversation, and as a share of
  one core, over the whole conversation after the session is set up.

    python benchmarks/bench_server.py [--turns 20]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import queue
import signal
import statistics
import subprocess
import sys
import threading
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import websocket

ROOT = Path(__file__).resolve().parent.parent
AUDIO = ROOT / "scenarios" / "audio"
CHUNK_MS = 20
CHUNK_BYTES = 48 * CHUNK_MS
SILENCE_MS = 200
# Turns in order, repeated: greeting, one tool, one tool, two tools at once, goodbye.
TURNS = ("hello.wav", "weather_paris.wav", "ptt_question.wav", "weather_and_time_tokyo.wav",
         "goodbye.wav")
TOOLS = [{"type": "function", "name": name, "description": f"{name} for a city.",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                         "required": ["city"]}} for name in ("get_weather", "get_time")]
TOOLS.append({"type": "function", "name": "end_conversation", "description": "End the call.",
              "parameters": {"type": "object", "properties": {}}})
TOOL_OUTPUTS = {"get_weather": {"temperature_c": 19, "sky": "cloudy"},
                "get_time": {"local_time": "10:15"}}
WAIT_SECONDS = 60.0


def read_wav(path: Path) -> bytes:
    with wave.open(str(path)) as wav:
        return wav.readframes(wav.getnframes())


def speech_end_byte(pcm: bytes) -> int:
    """The byte just after the last 10 ms block within 40 dB of the loudest."""
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    count = len(samples) // 240
    rms = np.sqrt((samples[:count * 240].reshape(count, 240) ** 2).mean(axis=1))
    last = int(np.flatnonzero(rms > rms.max() / 100)[-1])
    return (last + 1) * 240 * 2


# --- The client: a paced microphone and a timestamping reader -------------------------------


@dataclass
class Utterance:
    pcm: bytes
    speech_end: int
    sent_end: threading.Event = field(default_factory=threading.Event)
    sent_end_at: float = 0.0


class Microphone(threading.Thread):
    """Sends a 20 ms chunk every 20 ms: the current utterance, else silence."""

    def __init__(self, ws: websocket.WebSocket) -> None:
        super().__init__(daemon=True, name="bench-mic")
        self.ws = ws
        self.stop = threading.Event()
        self._pending: queue.Queue[Utterance] = queue.Queue()

    def say(self, utterance: Utterance) -> None:
        self._pending.put(utterance)

    def run(self) -> None:
        start = time.monotonic()
        chunk = 0
        current: Utterance | None = None
        offset = 0
        while not self.stop.is_set():
            if current is None and not self._pending.empty():
                current, offset = self._pending.get(), 0
            if current is not None:
                data = current.pcm[offset:offset + CHUNK_BYTES].ljust(CHUNK_BYTES, b"\0")
                holds_end = offset < current.speech_end <= offset + CHUNK_BYTES
            else:
                data, holds_end = bytes(CHUNK_BYTES), False
            self.ws.send(json.dumps({"type": "input_audio_buffer.append",
                                     "audio": base64.b64encode(data).decode("ascii")}))
            if current is not None:
                if holds_end:
                    current.sent_end_at = time.monotonic()
                    current.sent_end.set()
                offset += CHUNK_BYTES
                if offset >= len(current.pcm):
                    current = None
            chunk += 1
            time.sleep(max(0.0, start + chunk * CHUNK_MS / 1000 - time.monotonic()))


Arrival = tuple[float, dict[str, Any]]
# The stages of a turn's latency: each ends when the first event of its type arrives.
STAGES = (("VAD: speech_stopped", "input_audio_buffer.speech_stopped"),
          ("ASR: transcription.completed",
           "conversation.item.input_audio_transcription.completed"),
          ("brain: response.created", "response.created"),
          ("TTS: first audio delta", "response.output_audio.delta"))


class Reader(threading.Thread):
    """Puts every server event on a queue with the time it arrived."""

    def __init__(self, ws: websocket.WebSocket) -> None:
        super().__init__(daemon=True, name="bench-reader")
        self.ws = ws
        self.events: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()

    def run(self) -> None:
        try:
            while message := self.ws.recv():
                self.events.put((time.monotonic(), json.loads(message)))
        except (websocket.WebSocketException, OSError) as error:
            self.events.put((time.monotonic(), {"type": "closed", "reason": repr(error)}))

    def until(self, *types: str) -> tuple[float, dict[str, Any], list[Arrival]]:
        """Events up to the first of ``types``: (its arrival, it, everything before it)."""
        seen: list[Arrival] = []
        while True:
            arrived, event = self.events.get(timeout=WAIT_SECONDS)
            if event["type"] in ("error", "closed"):
                raise RuntimeError(f"the server sent {event}")
            if event["type"] in types:
                return arrived, event, seen
            seen.append((arrived, event))


# --- The server process ------------------------------------------------------------------------


def start_server() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-c", "from controller.local_server.cli import serve_command; "
         "serve_command()", "--port", "0"], cwd=ROOT, stdout=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert process.stdout is not None
    url = process.stdout.readline().split(" on ")[1].strip()
    return process, url


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- The conversation ------------------------------------------------------------------------


def set_up(reader: Reader, ws: websocket.WebSocket) -> None:
    reader.until("session.created")
    ws.send(json.dumps({"type": "session.update", "session": {
        "type": "realtime", "tools": TOOLS, "audio": {"input": {
            "transcription": {"model": "whisper-1"},
            "turn_detection": {"type": "server_vad", "silence_duration_ms": SILENCE_MS}}}}}))
    reader.until("session.updated")


def audio_ms(events: list[Arrival]) -> float:
    return sum(len(base64.b64decode(e["delta"])) for _, e in events
               if e["type"] == "response.output_audio.delta") / 48


def answer_tools(reader: Reader, ws: websocket.WebSocket, done: dict[str, Any]) -> float:
    """Send the outputs of a response's tool calls and play the follow-up; its audio ms."""
    calls = [o for o in done["response"]["output"] if o["type"] == "function_call"
             and o["name"] in TOOL_OUTPUTS]
    if not calls:
        return 0.0
    for call in calls:
        ws.send(json.dumps({"type": "conversation.item.create", "item": {
            "type": "function_call_output", "call_id": call["call_id"],
            "output": json.dumps(TOOL_OUTPUTS[call["name"]])}}))
    ws.send(json.dumps({"type": "response.create"}))
    _, _, events = reader.until("response.done")
    return audio_ms(events)


def one_turn(reader: Reader, ws: websocket.WebSocket, mic: Microphone,
             utterance: Utterance) -> list[float]:
    """Speak, then listen to the reply. Milliseconds from the end of speech to the end of
    each of ``STAGES`` (the last is the first audio delta)."""
    mic.say(utterance)
    first_audio_at, first_delta, before = reader.until("response.output_audio.delta")
    assert utterance.sent_end.wait(WAIT_SECONDS)
    arrivals = [*before, (first_audio_at, first_delta)]
    stage_ends = [next((t for t, e in arrivals if e["type"] == kind), first_audio_at)
                  for _, kind in STAGES]
    _, done, events = reader.until("response.done")
    played_ms = audio_ms(events) + 20 * CHUNK_MS + answer_tools(reader, ws, done)
    # The user listens to the whole reply (the mic streams silence meanwhile).
    time.sleep(max(0.0, first_audio_at + played_ms / 1000 - time.monotonic()) + 0.3)
    return [(end - utterance.sent_end_at) * 1000 for end in stage_ends]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=20, help="user turns (at least 20)")
    turns = max(20, parser.parse_args().turns)
    process, url = start_server()
    try:
        # Two threads send (the mic, and the reader's pong replies): websocket-client must lock.
        ws = websocket.create_connection(url, timeout=WAIT_SECONDS, skip_utf8_validation=True,
                                         enable_multithread=True)
        reader, mic = Reader(ws), Microphone(ws)
        reader.start()
        set_up(reader, ws)
        mic.start()
        cpu_start, wall_start = cpu_seconds(process.pid), time.monotonic()
        load_start = os.getloadavg()[0]
        turn_stages = []
        for index in range(turns):
            pcm = read_wav(AUDIO / TURNS[index % len(TURNS)])
            turn_stages.append(one_turn(reader, ws, mic, Utterance(pcm, speech_end_byte(pcm))))
            print(f"turn {index + 1:2d} {TURNS[index % len(TURNS)]:28s} " + "  ".join(
                f"{ms:6.0f}" for ms in turn_stages[-1]) + " ms", flush=True)
        cpu, wall = cpu_seconds(process.pid) - cpu_start, time.monotonic() - wall_start
        print(f"load average (1 min) at start {load_start:.1f}, at end {os.getloadavg()[0]:.1f}"
              f" on {os.cpu_count()} cores")
        mic.stop.set()
        mic.join()
        ws.close()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    report(turn_stages, cpu, wall)


def report(turn_stages: list[list[float]], cpu: float, wall: float) -> None:
    latencies = [stages[-1] for stages in turn_stages]
    print(f"\nend of user speech -> first audio delta, {len(latencies)} turns "
          f"(silence_duration_ms {SILENCE_MS}):")
    for name, values in (("total", latencies),
                         ("server's share (minus silence)", [v - SILENCE_MS for v in latencies])):
        print(f"  {name:31s} p50 {statistics.median(values):5.0f} ms   "
              f"p99 {percentile(values, 0.99):5.0f} ms   max {max(values):5.0f} ms")
    print("  where it goes (median ms from the end of speech to the end of each stage):")
    for index, (name, _) in enumerate(STAGES):
        print(f"    {name:31s} {statistics.median(s[index] for s in turn_stages):5.0f}")
    print(f"server CPU: {cpu:.2f} s over {wall:.1f} s of conversation = "
          f"{cpu / (wall / 60):.2f} CPU-seconds per minute ({100 * cpu / wall:.1f} % of one core)")


if __name__ == "__main__":
    main()
