"""Ctrl-C during a reconnect backoff: how long until ``convctl run`` has exited.

``convctl run --url <fault proxy>`` (subprocess, no API key) talks to the built-in local
server through the fault proxy of the tests, which drops the connection once the session
is ready; with ``reconnect_backoff: 5`` convctl then waits 2.5-5 s before its next
attempt. When it says so on stderr, SIGINT is sent and the wall time until the process has
exited is measured (interpreter shutdown included). Target: <= 1 s every time, exit 130,
no reconnect.

    .venv/bin/python benchmarks/bench_shutdown.py [--runs 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from backoff_interrupt import interrupt_during_backoff

from controller.local_server import LocalServer

TARGET_S = 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    server = LocalServer(speech_speedup=20.0)
    server.start()
    seconds: list[float] = []
    clean = True
    try:
        for n in range(1, args.runs + 1):
            with tempfile.TemporaryDirectory(prefix="convctl-shutdown-") as folder:
                run = interrupt_during_backoff(Path(folder), server)
            seconds.append(run.seconds_to_exit)
            ok = run.exit_code == 130 and run.connections == 1
            clean = clean and ok
            print(f"run {n:2d}: SIGINT -> exit {run.seconds_to_exit * 1000:6.0f} ms, "
                  f"exit code {run.exit_code}, connections {run.connections} "
                  f"({run.backoff_line.removeprefix('convctl: warning: ')})")
    finally:
        server.stop()
    worst = max(seconds)
    print(f"SIGINT during the backoff -> exit: median {statistics.median(seconds) * 1000:.0f} "
          f"ms, max {worst * 1000:.0f} ms over {len(seconds)} runs")
    verdict = "PASS" if clean and worst <= TARGET_S else "FAIL"
    print(f"target <= {TARGET_S:g} s, exit 130, no reconnect: {verdict}")


if __name__ == "__main__":
    main()
