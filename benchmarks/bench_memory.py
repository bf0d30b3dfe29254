"""Memory does not grow with conversation length.

Replays a simulated 60-minute conversation (bench_replay's hour: audio deltas, transcript,
barge-ins, tool calls, the microphone streaming the whole time) at full speed and samples
the process's resident memory at every virtual minute. Target: RSS growth from minute 5
to minute 60 <= 20 MB.

    python benchmarks/bench_memory.py [--minutes 60]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_replay import conversation_steps

from controller.replay import Replay
from controller.replay_ports import ticks
from controller.scenario import Expectations, Scenario, ScriptedTool
from controller.settings import SessionSettings, ToolSpec

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=int, default=60)
    args = parser.parse_args()
    scenario = Scenario(
        name="memory hour", path="<generated>", steps=tuple(conversation_steps(args.minutes)),
        tools=(ScriptedTool(name="get_weather", result={"temperature_c": 18}),),
        session=SessionSettings(tools=(ToolSpec(name="get_weather"),)), expect=Expectations())
    replay = Replay(scenario)
    samples: dict[int, float] = {}
    for minute in range(args.minutes + 1):
        replay.clock.schedule(ticks(minute * 60), lambda m=minute: samples.__setitem__(m, rss_mb()),
                              daemon=True)
    report = replay.run()
    samples.setdefault(args.minutes, rss_mb())
    start = min(5, args.minutes)
    growth = samples[args.minutes] - samples[start]
    print(f"conversation: {args.minutes} min, final state {report['final_state']}, "
          f"{len(report['transcript'])} transcript lines, {len(report['tool_calls'])} tool calls")
    marks = [m for m in (0, 5, 15, 30, 45, 60) if m in samples]
    print("RSS by minute: " + ", ".join(f"{m}: {samples[m]:.1f} MB" for m in marks))
    verdict = "PASS" if growth <= 20 else "FAIL"
    print(f"target growth minute {start} -> {args.minutes} <= 20 MB: {growth:+.1f} MB  {verdict}")


if __name__ == "__main__":
    main()
