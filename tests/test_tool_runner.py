"""The model calls tools; the runner answers every call exactly once, whatever the tool does.

Nothing here sleeps to wait for a thread: answers are awaited with ``queue.get(timeout=...)``
and tools are held and released with ``threading.Event``.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from controller import tool
from controller.inbox import InboxItem, ToolFinished
from controller.tool_runner import ThreadedToolRunner
from controller.tools import ToolRegistry

Threads = set[threading.Thread]
WAIT = 5.0  # the most any answer may take to arrive before a test fails


class QueueInbox:
    def __init__(self) -> None:
        self.items: queue.Queue[InboxItem] = queue.Queue()

    def post(self, item: InboxItem) -> None:
        self.items.put(item)

    def next_answer(self) -> ToolFinished:
        item = self.items.get(timeout=WAIT)
        assert isinstance(item, ToolFinished)
        return item

    def answers(self, count: int) -> dict[str, ToolFinished]:
        received = [self.next_answer() for _ in range(count)]
        by_call = {answer.call_id: answer for answer in received}
        assert len(by_call) == count, f"a call was answered twice: {received}"
        return by_call

    def assert_quiet(self) -> None:
        assert self.items.empty(), f"unexpected extra answers: {list(self.items.queue)}"


def error_of(answer: ToolFinished) -> str:
    assert not answer.ok
    return str(json.loads(answer.output)["error"])


release = threading.Event()  # holds the tools that wait; each test gets a fresh one
entered: queue.Queue[str] = queue.Queue()


@pytest.fixture(autouse=True)
def fresh_gates(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    gate = threading.Event()
    monkeypatch.setattr(sys.modules[__name__], "release", gate)
    while not entered.empty():
        entered.get_nowait()
    yield
    gate.set()  # never leave a tool thread waiting after a test


@tool
def get_weather(city: str) -> dict[str, Any]:
    """Weather for a city."""
    return {"city": city, "temperature_c": 18, "ran_on": threading.current_thread().name}


@tool
def flaky(city: str) -> str:
    """Always fails."""
    raise RuntimeError(f"service unavailable for {city}")


@tool
def wait_for_release(label: str) -> str:
    """Blocks until the test releases it."""
    entered.put(label)
    release.wait(WAIT * 2)
    return f"released {label}"


@tool
def odd_result() -> set[int]:
    """Returns something JSON cannot carry."""
    return {1, 2}


@tool
def quits() -> None:
    """Calls sys.exit, which must not take a worker thread down silently."""
    sys.exit(3)


REGISTRY = ToolRegistry([get_weather, flaky, wait_for_release, odd_result, quits])


@pytest.fixture
def inbox() -> QueueInbox:
    return QueueInbox()


@pytest.fixture
def baseline() -> Threads:
    """The threads alive before the test (other tests' threads may still be ending)."""
    return set(threading.enumerate())


def new_threads(baseline: Threads) -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t not in baseline)


def runner_for(inbox: QueueInbox, **options: Any) -> ThreadedToolRunner:
    return ThreadedToolRunner(REGISTRY, inbox, **options)


def test_a_result_is_answered_as_json_from_a_worker_thread(inbox: QueueInbox) -> None:
    runner = runner_for(inbox)
    runner.start("call_1", "get_weather", {"city": "Paris"})
    answer = inbox.next_answer()
    runner.close()
    assert answer.call_id == "call_1" and answer.ok
    result = json.loads(answer.output)
    assert result["temperature_c"] == 18
    assert result["ran_on"].startswith("convctl-tool-"), "tools run off the calling thread"
    inbox.assert_quiet()


def test_a_tool_that_raises_is_answered_with_the_exception(inbox: QueueInbox) -> None:
    runner = runner_for(inbox)
    runner.start("call_1", "flaky", {"city": "Oslo"})
    answer = inbox.next_answer()
    runner.close()
    assert error_of(answer) == "flaky failed: RuntimeError: service unavailable for Oslo"


def test_arguments_that_do_not_fit_are_answered_without_running_the_tool(
        inbox: QueueInbox) -> None:
    runner = runner_for(inbox)
    runner.start("call_1", "get_weather", {})
    runner.start("call_2", "get_weather", {"city": "Oslo", "country": "NO"})
    runner.start("call_3", "get_weather", {"city": 7})
    answers = inbox.answers(3)
    runner.close()
    assert error_of(answers["call_1"]) == (
        "bad arguments for get_weather: missing required argument 'city'")
    assert "unexpected argument 'country'" in error_of(answers["call_2"])
    assert "argument 'city' must be a string, got 7" in error_of(answers["call_3"])


def test_a_result_json_cannot_carry_is_answered_with_an_error(inbox: QueueInbox) -> None:
    runner = runner_for(inbox)
    runner.start("call_1", "odd_result", {})
    answer = inbox.next_answer()
    runner.close()
    assert error_of(answer) == "tool returned a value that is not JSON-serialisable: set"


def test_an_unknown_tool_is_answered_with_the_known_ones(inbox: QueueInbox) -> None:
    runner = runner_for(inbox)
    runner.start("call_1", "get_stock_price", {"symbol": "X"})
    answer = inbox.next_answer()
    runner.close()
    assert error_of(answer).startswith("there is no tool named 'get_stock_price' (tools: "
                                       "get_weather, flaky")


def test_a_tool_calling_sys_exit_is_answered_and_the_worker_goes_on(inbox: QueueInbox) -> None:
    runner = runner_for(inbox, max_workers=1)
    runner.start("call_1", "quits", {})
    runner.start("call_2", "get_weather", {"city": "Rome"})
    answers = inbox.answers(2)
    runner.close()
    assert error_of(answers["call_1"]) == "quits failed: SystemExit: 3"
    assert answers["call_2"].ok


def test_a_slow_tool_is_answered_at_the_deadline_and_its_late_result_dropped(
        inbox: QueueInbox) -> None:
    runner = runner_for(inbox, timeout=0.05)
    runner.start("call_1", "wait_for_release", {"label": "slow"})
    answer = inbox.next_answer()
    assert error_of(answer) == "wait_for_release did not finish within 0.05 seconds"
    release.set()
    runner.close()  # joins the worker, so the late result has been produced and dropped
    assert runner.abandoned == ()
    inbox.assert_quiet()


def test_a_call_queued_past_its_deadline_is_answered_and_never_run(inbox: QueueInbox) -> None:
    runner = runner_for(inbox, timeout=0.05, max_workers=1)
    runner.start("call_1", "wait_for_release", {"label": "first"})
    assert entered.get(timeout=WAIT) == "first"
    runner.start("call_2", "wait_for_release", {"label": "second"})
    answers = inbox.answers(2)
    assert "did not finish" in error_of(answers["call_1"])
    assert "did not finish" in error_of(answers["call_2"])
    release.set()
    runner.close()
    assert entered.empty(), "the queued call ran after it had been answered"
    inbox.assert_quiet()


def test_the_same_call_id_is_answered_once(inbox: QueueInbox) -> None:
    runner = runner_for(inbox)
    runner.start("call_1", "get_weather", {"city": "Paris"})
    runner.start("call_1", "get_weather", {"city": "Paris"})
    assert inbox.next_answer().call_id == "call_1"
    runner.close()
    inbox.assert_quiet()


def test_calls_run_in_parallel_on_a_bounded_pool(inbox: QueueInbox, baseline: Threads) -> None:
    runner = runner_for(inbox, max_workers=2)
    for number in range(3):
        runner.start(f"call_{number}", "wait_for_release", {"label": str(number)})
    started = {entered.get(timeout=WAIT), entered.get(timeout=WAIT)}
    assert len(started) == 2, "two calls run at once"
    assert new_threads(baseline) == ["convctl-tool-1", "convctl-tool-2", "convctl-tool-watchdog"]
    release.set()
    answers = inbox.answers(3)
    runner.close()
    assert {a.output for a in answers.values()} == {'released 0', 'released 1', 'released 2'}
    assert new_threads(baseline) == []


def test_many_calls_are_each_answered_exactly_once(inbox: QueueInbox, baseline: Threads) -> None:
    runner = runner_for(inbox, max_workers=3)
    names = ["get_weather", "flaky", "odd_result", "get_weather"]
    for number in range(40):
        name = names[number % len(names)]
        runner.start(f"call_{number}", name, {"city": "Lima"} if name != "odd_result" else {})
    answers = inbox.answers(40)
    runner.close()
    assert sorted(answers) == sorted(f"call_{n}" for n in range(40))
    assert sum(a.ok for a in answers.values()) == 20
    inbox.assert_quiet()
    assert new_threads(baseline) == []


def test_close_answers_what_is_pending_and_does_not_wait_for_a_stuck_tool(
        inbox: QueueInbox, baseline: Threads) -> None:
    runner = runner_for(inbox, close_timeout=0.05)
    runner.start("call_1", "wait_for_release", {"label": "stuck"})
    assert entered.get(timeout=WAIT) == "stuck"
    closer = threading.Thread(target=runner.close, daemon=True)
    closer.start()
    closer.join(WAIT)
    assert not closer.is_alive(), "close() waited for a tool that never returns"
    assert error_of(inbox.next_answer()) == (
        "the conversation ended before wait_for_release finished")
    assert runner.abandoned == ("wait_for_release",)
    # Once the stuck tool returns, its thread ends and its result goes nowhere.
    release.set()
    for thread in threading.enumerate():
        if thread.name.startswith("convctl-tool-"):
            thread.join(WAIT)
    assert new_threads(baseline) == []
    inbox.assert_quiet()


def test_close_joins_every_thread(inbox: QueueInbox, baseline: Threads) -> None:
    runner = runner_for(inbox, max_workers=4)
    for number in range(4):
        runner.start(f"call_{number}", "get_weather", {"city": "Kyiv"})
    inbox.answers(4)
    runner.close()
    assert new_threads(baseline) == []


def test_a_call_after_close_is_answered_without_running(inbox: QueueInbox,
                                                        baseline: Threads) -> None:
    runner = runner_for(inbox)
    runner.close()
    runner.start("call_1", "get_weather", {"city": "Paris"})
    assert error_of(inbox.next_answer()) == "the conversation is ending; the tool was not run"
    assert new_threads(baseline) == []


def test_an_unused_runner_starts_no_threads(inbox: QueueInbox, baseline: Threads) -> None:
    runner = runner_for(inbox)
    assert new_threads(baseline) == []
    runner.close()
    runner.close()  # closing twice is harmless
