"""A broken scenario or log gets exit 2 and a message naming the file, the step and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from controller.cli import main

GOOD_STEPS = """
steps:
- server: {type: session.created, session: {id: sess_1}}
"""

CASES = {
    "not yaml": ("name: x\nsteps: [\n", "not valid YAML at line"),
    "no name": ("steps: []\n", "needs a 'name'"),
    "unknown top key": ("name: x\nstep: []\n", "did you mean 'steps'"),
    "bad dialect": ("name: x\ndialect: gamma\n" + GOOD_STEPS, "dialect: must be ga or beta"),
    "step without kind": ("name: x\nsteps:\n- at: 1\n", "step 1: a step needs exactly one of"),
    "two kinds": ("name: x\nsteps:\n- {server: {type: a}, raw: x}\n", "step 1: a step needs"),
    "server without type": ("name: x\nsteps:\n- server: {foo: 1}\n",
                            "step 1: server: must be an event mapping with a 'type'"),
    "negative at": ("name: x\nsteps:\n- {server: {type: a}, at: -1}\n", "step 1: at: must be"),
    "misspelt step key": ("name: x\nsteps:\n- {server: {type: a}, atfer: 1}\n",
                          "step 1: atfer: unknown key 'atfer' in a step; did you mean 'after'"),
    "within on server": ("name: x\nsteps:\n- {server: {type: a}, within: 1}\n",
                         "'within' belongs to client steps"),
    "bad close code": ("name: x\nsteps:\n- close: {code: soon}\n", "step 1: close.code"),
    "unknown state": ("name: x\n" + GOOD_STEPS + "expect: {states: [Idle, Talking]}\n",
                      "unknown state 'Talking'"),
    "bad config": ("name: x\nconfig: {turn_detection: shouting}\n" + GOOD_STEPS,
                   "config: 'turn_detection' must be one of"),
    "config typo": ("name: x\nconfig: {voise: marin}\n" + GOOD_STEPS, "did you mean 'voice'"),
    "missing wav": ("name: x\nmic: {wav: nowhere.wav}\n" + GOOD_STEPS, "mic.wav: no such WAV"),
    "bad tool": ("name: x\ntools: [{name: t, raises: 3}]\n" + GOOD_STEPS, "tools[1].raises"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_invalid_scenario_is_exit_2_with_where_and_what(case: str, tmp_path: Path) -> None:
    text, message = CASES[case]
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["replay", str(path)])
    assert result.exit_code == 2, result.output
    assert str(path) in result.output
    assert message in result.output


def test_a_missing_file_is_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["replay", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "cannot read the file" in result.output


def test_a_broken_log_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_text('{"kind": "header", "version": 1}\n{"t": 0, "dir": "sideways"}\n\n')
    result = CliRunner().invoke(main, ["replay", str(path)])
    assert result.exit_code == 2
    assert "step 2" in result.output and "dir" in result.output
