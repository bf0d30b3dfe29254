"""Fault injection (issue 6): a hundred-odd faults between convctl and a realtime server,
and every conversation survives.

Each case of ``fault_catalogue.CASES`` is a real conversation - ``Conversation`` with WAV
microphone and speaker, a ``get_weather`` tool that counts its runs - through the fault
proxy (``fault_proxy.py``) to the built-in local server, over websockets on 127.0.0.1:
drops before the session is ready, mid-audio, mid-tool-call, between a tool output and
its ``response.create`` and during barge-in; closes 1001 with and without the
``session_expired`` error, and other codes; corrupted, delayed, reordered and injected
frames; a server that never answers ``session.update``; a server that accepts and then
stalls. For every one:

- ``run()`` returns within the case's deadline (a generous bound, not a timing claim);
- the conversation goes on to Finished, or ends in Error with a reason a person can read
  (fatal close codes, a first connection that never got a session);
- every tool call convctl received ran exactly once, and the server got a
  ``function_call_output`` for every call id, never twice on one connection;
- no controller thread outlives ``run()``, and once the proxy is gone the threads are
  back to the baseline.

The cases run in worker processes, several at once (each conversation takes seconds of
real time), so each one's thread baseline is its own; the selected cases run once, when
the first of them needs its result (``CONVCTL_FAULT_WORKERS``, default 8, sets how many
at once; the file takes about 3 minutes on two cores). Ctrl-C during a reconnect backoff
is checked against ``convctl run`` in a subprocess.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import cast

import pytest
from backoff_interrupt import interrupt_during_backoff
from fault_cases import Case
from fault_catalogue import CASES
from fault_runner import CaseResult, run_case, start_worker

# Conversations are mostly waiting for real time; the local servers' speech recognition
# is the CPU cost. Eight at once keep two cores busy without starving the audio clocks.
WORKERS = int(os.environ.get("CONVCTL_FAULT_WORKERS", "8"))
SUITE_TIMEOUT_S = 900


@pytest.fixture(scope="module")
def results(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[dict[str, CaseResult]]:
    """Every selected case, held once, in worker processes."""
    selected = [cast(Case, item.callspec.params["case"]) for item in request.session.items
                if isinstance(item, pytest.Function) and item.module is request.module
                and hasattr(item, "callspec") and "case" in item.callspec.params]
    folders = [str(tmp_path_factory.mktemp(case.id)) for case in selected]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(WORKERS, max(1, len(selected))), mp_context=context,
                             initializer=start_worker) as pool:
        held = list(pool.map(run_case, selected, folders))
    yield {result.case_id: result for result in held}


def test_the_catalogue_injects_at_least_100_faults_of_at_least_10_kinds() -> None:
    kinds = Counter(case.kind for case in CASES)
    assert sum(case.faults for case in CASES) >= 100
    assert len(kinds) >= 10, kinds
    assert len({case.id for case in CASES}) == len(CASES), "case ids are unique"


@pytest.mark.timeout(SUITE_TIMEOUT_S)
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_the_conversation_survives_the_fault(case: Case,
                                             results: dict[str, CaseResult]) -> None:
    result = results[case.id]
    story = describe(result)
    assert result.crash is None, result.crash
    assert len(result.injected) >= case.faults, f"the fault did not fire\n{story}"
    assert not result.hung, f"run() was still going after {case.deadline:g} s\n{story}"
    ends_as_expected(case, result, story)
    every_call_ran_once_and_was_answered(result, story)
    assert result.controller_threads == [], f"threads outlived run()\n{story}"
    assert result.leftover_threads == [], f"threads are not back to baseline\n{story}"


def test_ctrl_c_during_a_reconnect_backoff_exits_130_at_once(tmp_path: Path) -> None:
    run = interrupt_during_backoff(tmp_path)  # the backoff: 2.5-5 s
    assert run.exit_code == 130, run.stderr
    assert run.connections == 1, f"it reconnected instead of stopping\n{run.stderr}"
    assert "Traceback" not in run.stderr, run.stderr
    # Generous: the target is 1 s (benchmarks/bench_shutdown.py); the shortest possible
    # backoff is 2.5 s, so a controller that waited it out fails here.
    assert run.seconds_to_exit < 2.5, run.stderr


def ends_as_expected(case: Case, result: CaseResult, story: str) -> None:
    if case.expect == "error":
        assert result.state == "Error", story
        reason = result.reason or ""
        assert case.reason in reason, story
        assert reason and "internal error" not in reason, story
        return
    assert result.state == "Finished", story
    if case.reconnects:
        assert result.connections >= 2, f"no new connection after the fault\n{story}"


def every_call_ran_once_and_was_answered(result: CaseResult, story: str) -> None:
    weather_calls = set(result.weather_calls)
    assert result.tool_runs == len(weather_calls), f"get_weather ran {result.tool_runs} " \
        f"times for {len(weather_calls)} calls\n{story}"
    for call_id in set(result.calls_received):
        connections = result.outputs.get(call_id, [])
        assert connections, f"{call_id} was never answered\n{story}"
        assert len(connections) == len(set(connections)), \
            f"{call_id} was answered twice on one connection\n{story}"


def describe(result: CaseResult) -> str:
    """What happened, for a failure message."""
    return "\n".join([
        f"ended {result.state} ({result.reason}) after {result.seconds:.1f} s",
        f"states: {' '.join(result.states)}",
        f"faults: {'; '.join(result.injected)}",
        f"connections: {result.connections}; get_weather ran {result.tool_runs}x; "
        f"calls {result.calls_received}; outputs per connection {result.outputs}",
        f"threads left: {result.controller_threads} {result.leftover_threads}",
        "transcript: " + " | ".join(result.transcript),
    ])

