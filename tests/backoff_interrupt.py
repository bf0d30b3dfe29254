"""Ctrl-C while ``convctl run`` waits out a reconnect backoff, measured from outside.

``interrupt_during_backoff(folder)`` starts the local server and the fault proxy in this
process, and ``convctl run --url <proxy>`` in a subprocess (no API key in its
environment) with a ``--config`` that sets ``reconnect_backoff: 5``, so the first attempt
waits 2.5-5 s. The proxy drops the connection (no close frame) as soon as the session is
ready; when convctl's stderr says it is reconnecting, SIGINT is sent, and the time until
the process has exited is taken. Used by ``test_faults.py`` (exit code 130, a generous
bound) and ``benchmarks/bench_shutdown.py`` (the numbers, target <= 1 s).

It never sleeps: stderr is read on a thread into a queue, waited on with timeouts, and
every process and thread it starts is ended before it returns.
"""

from __future__ import annotations

import queue
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from fault_plan import Fault
from fault_proxy import FaultProxy
from live_helpers import clean_env, convctl_command

from controller.local_server import LocalServer

AUDIO = Path(__file__).resolve().parent.parent / "scenarios" / "audio"
BACKOFF_LINE = "reconnecting in"
WAIT_S = 30.0


@dataclass(frozen=True)
class InterruptedRun:
    exit_code: int
    seconds_to_exit: float  # SIGINT sent -> the process has exited
    backoff_line: str  # what convctl said about the attempt it was waiting for
    connections: int  # connections the proxy saw (1: it never reconnected)
    stderr: str


def interrupt_during_backoff(folder: Path, server: LocalServer | None = None
                             ) -> InterruptedRun:
    own_server = server is None
    local = server or LocalServer(speech_speedup=20.0)
    if own_server:
        local.start()
    try:
        drop = Fault("drop", on="session.updated", after=True)
        with FaultProxy(local.url, [drop]) as proxy:
            return _run(folder, proxy)
    finally:
        if own_server:
            local.stop()


def _run(folder: Path, proxy: FaultProxy) -> InterruptedRun:
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump({"reconnect_backoff": 5, "reconnect_ceiling": 10}),
                      encoding="utf-8")
    process = subprocess.Popen(
        [*convctl_command(), "run", "--url", proxy.url, "--config", str(config),
         "--input", str(AUDIO / "weather_paris.wav"), "--output", str(folder / "out.wav")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=clean_env())
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(process, lines),
                              name="backoff-stderr", daemon=True)
    reader.start()
    try:
        said, backoff_line = _wait_for(lines, BACKOFF_LINE)
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        process.wait(WAIT_S)
        seconds = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(WAIT_S)
        reader.join(WAIT_S)
    rest = []
    while (line := lines.get_nowait() if not lines.empty() else None) is not None:
        rest.append(line)
    return InterruptedRun(process.returncode, seconds, backoff_line,
                          len(proxy.connections), "".join(said + rest))


def _read_lines(process: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
    assert process.stderr is not None
    for line in process.stderr:
        lines.put(line)
    lines.put(None)


def _wait_for(lines: queue.Queue[str | None], words: str) -> tuple[list[str], str]:
    """The lines read until one holds ``words`` (that line too), and that line."""
    said: list[str] = []
    deadline = time.monotonic() + WAIT_S
    while True:
        line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        if line is None:
            raise AssertionError("convctl ended before it said it was reconnecting:\n"
                                 + "".join(said))
        said.append(line)
        if words in line:
            return said, line.strip()
