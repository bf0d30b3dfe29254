"""The expectation checker of scenarios: a report in, the reasons it fails out.

Subset match (CONTRACT §2): every key of a pattern must equal the value's; dicts match
recursively, lists and scalars exactly. The checker says what it expected and what it got,
so a failing scenario explains itself. No I/O here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from controller.scenario import Expectations


def subset_match(pattern: Any, value: Any) -> bool:
    if isinstance(pattern, Mapping):
        return isinstance(value, Mapping) and all(
            key in value and subset_match(sub, value[key]) for key, sub in pattern.items())
    if isinstance(pattern, bool) or isinstance(value, bool):
        return type(pattern) is type(value) and pattern == value
    return bool(pattern == value)


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 300 else text[:297] + "..."


def _ordered_subsequence(patterns: Sequence[Mapping[str, Any]],
                         events: Sequence[Mapping[str, Any]]) -> str | None:
    """None if every pattern matches a later event than the previous one; else why not."""
    pos = 0
    for n, pattern in enumerate(patterns, 1):
        while pos < len(events) and not subset_match(pattern, events[pos]):
            pos += 1
        if pos == len(events):
            sent = [e.get("type") for e in events]
            return (f"client_events[{n}]: no event matching {_show(pattern)} was sent "
                    f"after the previous match; sent types: {sent}")
        pos += 1
    return None


def _same_length_matches(what: str, patterns: Sequence[Mapping[str, Any]],
                         values: Sequence[Mapping[str, Any]]) -> list[str]:
    if len(patterns) != len(values):
        return [f"{what}: expected {len(patterns)} entries, got {len(values)}: "
                f"{_show(list(values))}"]
    return [f"{what}[{n}]: expected {_show(p)}, got {_show(v)}"
            for n, (p, v) in enumerate(zip(patterns, values, strict=True), 1)
            if not subset_match(p, v)]


def check(expect: Expectations, report: Mapping[str, Any]) -> list[str]:
    """Every way the report differs from what the scenario expects."""
    failures: list[str] = []
    if expect.states is not None and list(expect.states) != report["states"]:
        failures.append(f"states: expected {expect.states}, got {report['states']}")
    if expect.final_state is not None and expect.final_state != report["final_state"]:
        failures.append(f"final_state: expected {expect.final_state}, "
                        f"got {report['final_state']}")
    if expect.transcript is not None:
        # A line not marked interrupted in the expectation must not have been interrupted.
        failures += _same_length_matches(
            "transcript", [{"interrupted": False, **line} for line in expect.transcript],
            [{"interrupted": False, **line} for line in report["transcript"]])
    if expect.tool_calls is not None:
        failures += _same_length_matches("tool_calls", expect.tool_calls, report["tool_calls"])
    events = [entry["event"] for entry in report["client_events"]]
    problem = _ordered_subsequence(expect.client_events, events)
    if problem:
        failures.append(problem)
    for pattern in expect.no_client_events:
        hits = [e for e in events if subset_match(pattern, e)]
        if hits:
            failures.append(f"no_client_events: {_show(pattern)} was sent: {_show(hits[0])}")
    return failures
