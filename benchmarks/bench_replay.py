"""How fast the machine replays an hour of conversation, and what it avoids on the hot path.

Generates a 60-minute conversation (>= 150k server events: 20 ms audio deltas, transcript
deltas, 240 turns with barge-ins and tool calls), replays it on the virtual clock in this
process with the microphone streaming silence the whole time, and prints events/s,
seconds for the hour and peak RSS. In the same run it measures how fast the bare
StateChart dispatches the same number of events - the cost audio deltas would have if
each went through the chart. Targets: the hour in <= 5 s, peak RSS <= 150 MB.

    python benchmarks/bench_replay.py [--minutes 60]
"""

from __future__ import annotations

import argparse
import resource
import time
from typing import Any

from controller.machine import ConversationChart
from controller.replay import Replay
from controller.scenario import Expectations, Scenario, ScriptedTool, Step
from controller.settings import SessionSettings, ToolSpec

TURN_SECONDS = 15.0
AUDIO_SECONDS_PER_ANSWER = 10.0
DELTA_MS = 20


def conversation_steps(minutes: float) -> list[Step]:
    """A realistic hour: a user turn, then a spoken answer, every 15 s."""
    steps: list[Step] = []

    def add(kind: str, payload: Any, at: float | None = None) -> None:
        steps.append(Step(index=len(steps) + 1, kind=kind, payload=payload, at=at))

    add("server", {"type": "session.created", "session": {"id": "sess_bench"}})
    add("client", {"type": "session.update"})
    add("server", {"type": "session.updated", "session": {}})
    turns = int(minutes * 60 / TURN_SECONDS)
    for n in range(turns):
        t0 = 1.0 + n * TURN_SECONDS
        user, item, resp = f"item_u{n}", f"item_a{n}", f"resp_{n}"
        add("server", {"type": "input_audio_buffer.speech_started", "audio_start_ms": 0,
                       "item_id": user}, at=t0)
        add("server", {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 1500,
                       "item_id": user}, at=t0 + 1.5)
        add("server", {"type": "input_audio_buffer.committed", "item_id": user})
        add("server", {"type": "conversation.item.input_audio_transcription.completed",
                       "item_id": user, "content_index": 0, "transcript": f"question {n}"})
        if n % 10 == 5:
            _tool_round(add, n, resp, t0 + 1.6)
            resp = f"resp_{n}_after_tool"
        _spoken_answer(add, n, resp, item, t0 + 1.8, barge_in=(n % 10 == 3))
    return steps


def _tool_round(add: Any, n: int, resp: str, at: float) -> None:
    add("server", {"type": "response.created", "response": {"id": resp}}, at=at)
    call = {"id": f"item_f{n}", "type": "function_call", "status": "completed",
            "call_id": f"call_{n}", "name": "get_weather", "arguments": '{"city":"Paris"}'}
    add("server", {"type": "response.output_item.done", "response_id": resp,
                   "output_index": 0, "item": call})
    add("server", {"type": "response.done", "response": {"id": resp, "status": "completed",
                                                          "output": [call]}})
    add("client", {"type": "response.create"})


def _spoken_answer(add: Any, n: int, resp: str, item: str, at: float, barge_in: bool) -> None:
    add("server", {"type": "response.created", "response": {"id": resp}}, at=at)
    add("server", {"type": "response.output_item.added", "response_id": resp,
                   "output_index": 0, "item": {"id": item, "type": "message",
                                               "role": "assistant", "content": []}})
    ids = {"response_id": resp, "item_id": item, "output_index": 0, "content_index": 0}
    # One payload object per item, shared by its deltas: the replay never mutates it.
    audio = {"type": "response.output_audio.delta", **ids, "delta": {"ms": DELTA_MS}}
    words = {"type": "response.output_audio_transcript.delta", **ids, "delta": "word "}
    deltas = int(AUDIO_SECONDS_PER_ANSWER * 1000 / DELTA_MS)
    for k in range(deltas):
        add("server", audio)
        if k % 3 == 0:
            add("server", words)
        if barge_in and k == deltas // 2:
            add("server", {"type": "input_audio_buffer.speech_started", "audio_start_ms": 0,
                           "item_id": f"item_barge{n}"})
            break
    add("server", {"type": "response.output_audio_transcript.done", **ids,
                   "transcript": "an answer"})
    add("server", {"type": "response.done", "response": {
        "id": resp, "status": "cancelled" if barge_in else "completed", "output": [],
        "usage": {"total_tokens": 120, "input_tokens": 80, "output_tokens": 40}}})


def bare_chart_rate(events: int) -> float:
    """Events/s when every event is a chart dispatch (an internal self-transition)."""

    class Host:
        def state_entered(self, *a: Any) -> None: ...
        def state_exited(self, *a: Any) -> None: ...
        def machine_failed(self, *a: Any) -> None: ...
        def is_turn_settled(self) -> bool: return False
        def has_answerable_calls(self) -> bool: return False

    chart = ConversationChart(Host())
    for trigger in ("connect", "session_ready", "response_started"):
        chart.send(trigger)
    start = time.process_time()
    for _ in range(events):
        chart.send("response_started")
    return events / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    args = parser.parse_args()
    steps = conversation_steps(args.minutes)
    server_events = sum(step.kind == "server" for step in steps)
    tools = (ScriptedTool(name="get_weather", result={"temperature_c": 18}),)
    scenario = Scenario(
        name="bench hour", path="<generated>", steps=tuple(steps), tools=tools,
        session=SessionSettings(tools=(ToolSpec(name="get_weather"),)),
        expect=Expectations())
    replay = Replay(scenario)
    start, cpu_start = time.perf_counter(), time.process_time()
    report = replay.run()
    wall = time.perf_counter() - start
    # The replay is one thread: its CPU time is its cost, whatever else the machine runs.
    seconds = time.process_time() - cpu_start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = server_events / seconds
    chart_sample = min(server_events, 50_000)
    chart_rate = bare_chart_rate(chart_sample)
    turns = sum(1 for s in steps if s.payload.get("type") == "response.created")
    print(f"conversation: {args.minutes:g} min, {server_events} server events, "
          f"{turns} responses, {report['appended_audio_ms'] / 1000:.0f} s of mic audio, "
          f"final state {report['final_state']}, failures {len(report['failures'])}")
    print(f"replay:       {seconds:.2f} s CPU ({wall:.2f} s wall) for the conversation, "
          f"{rate:,.0f} server events/s")
    print(f"bare chart:   {chart_rate:,.0f} dispatches/s (measured on {chart_sample} events); "
          f"the engine's rate is {rate / chart_rate:.1f}x that")
    print(f"peak RSS:     {peak_mb:.0f} MB")
    hour_seconds = seconds * 60 / args.minutes
    print(f"target hour <= 5 s:     {hour_seconds:.2f} s  "
          f"{'PASS' if hour_seconds <= 5 else 'FAIL'}")
    print(f"target RSS <= 150 MB:   {peak_mb:.0f} MB  {'PASS' if peak_mb <= 150 else 'FAIL'}")


if __name__ == "__main__":
    main()
