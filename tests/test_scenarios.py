"""The behaviour spec: every scenario in scenarios/ must pass through `convctl replay`,
and the checker must fail a scenario whose expectation is wrong (it is no rubber stamp)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from controller.cli import main

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
EXAMPLE = ROOT / "tests" / "scenario_cases" / "weather_example.yaml"


def replay(*args: str) -> Any:
    return CliRunner().invoke(main, ["replay", *args])


def test_there_is_a_scenario_for_every_behaviour() -> None:
    assert len(SCENARIOS) >= 15
    dialects = [yaml.safe_load(p.read_text()).get("dialect", "ga") for p in SCENARIOS]
    assert dialects.count("beta") >= 3


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_passes(path: Path) -> None:
    result = replay(str(path), "--json")
    report = json.loads(result.output)
    assert report["failures"] == [], report["failures"]
    assert result.exit_code == 0


def test_all_scenarios_in_one_run_print_pass_lines_and_a_summary() -> None:
    result = replay(*map(str, SCENARIOS))
    lines = result.output.strip().splitlines()
    assert all(line.startswith("PASS ") for line in lines[:-1]), result.output
    assert lines[-1] == f"{len(SCENARIOS)} passed, 0 failed"
    assert result.exit_code == 0


def _with(doc: dict[str, Any], tmp_path: Path, name: str) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


WRONG_EXPECTATIONS = {
    "final_state": lambda e: e.__setitem__("final_state", "Finished"),
    "states": lambda e: e["states"].pop(),
    "transcript": lambda e: e["transcript"][1].__setitem__("text", "It is raining."),
    "tool_calls": lambda e: e["tool_calls"][0]["arguments"].__setitem__("city", "Paris"),
    "client_events": lambda e: e["client_events"].append({"type": "response.cancel"}),
    "no_client_events": lambda e: e["no_client_events"].append({"type": "session.update"}),
}


@pytest.mark.parametrize("what", sorted(WRONG_EXPECTATIONS))
def test_a_wrong_expectation_fails_the_scenario(what: str, tmp_path: Path) -> None:
    doc = yaml.safe_load(EXAMPLE.read_text())
    assert replay(_with(doc, tmp_path, "right")).exit_code == 0
    wrong = copy.deepcopy(doc)
    WRONG_EXPECTATIONS[what](wrong["expect"])
    result = replay(_with(wrong, tmp_path, "wrong"), "--json")
    report = json.loads(result.output)
    assert result.exit_code == 1
    assert not report["passed"]
    assert any(f.startswith(what) for f in report["failures"]), report["failures"]


def test_a_wrong_audio_end_ms_fails(tmp_path: Path) -> None:
    doc = yaml.safe_load((ROOT / "tests" / "scenario_cases" / "barge_in.yaml").read_text())
    assert replay(_with(doc, tmp_path, "right")).exit_code == 0
    doc["expect"]["client_events"][-1]["audio_end_ms"] += 1
    result = replay(_with(doc, tmp_path, "wrong"))
    assert result.exit_code == 1
    assert "FAIL" in result.output and "audio_end_ms" in result.output


def test_a_client_step_that_never_comes_fails_with_the_step_number(tmp_path: Path) -> None:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["steps"].insert(3, {"client": {"type": "response.cancel"}, "within": 1.0})
    result = replay(_with(doc, tmp_path, "stuck"))
    assert result.exit_code == 1
    assert "step 4" in result.output and "within 1 s" in result.output


def test_several_paths_give_a_json_array(tmp_path: Path) -> None:
    result = replay(str(EXAMPLE), str(EXAMPLE), "--json")
    reports = json.loads(result.output)
    assert [r["scenario"] for r in reports] == ["weather tool call (example)"] * 2
    assert set(reports[0]) >= {"scenario", "path", "passed", "final_state", "states",
                               "transitions", "client_events", "appended_audio_ms",
                               "transcript", "tool_calls", "failures"}
