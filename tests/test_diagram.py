"""`convctl diagram`: generated from the StateChart class, with the path a run took."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from controller.cli import main

EXAMPLE = Path(__file__).parent / "scenario_cases" / "weather_example.yaml"
STATES = ("Idle", "Connecting", "Listening", "Responding", "ToolCall", "Finished", "Error")


def test_mermaid_shows_every_state_and_the_guards() -> None:
    result = CliRunner().invoke(main, ["diagram"])
    assert result.exit_code == 0
    assert result.output.startswith("stateDiagram-v2")
    for state in STATES:
        assert f'"{state}"' in result.output
    assert "responding --> listening : Turn settled [is_turn_settled]" in result.output


def test_dot_is_text_without_graphviz() -> None:
    result = CliRunner().invoke(main, ["diagram", "--format", "dot"])
    assert result.exit_code == 0
    assert result.output.startswith("digraph ConversationChart")


def test_highlight_marks_the_states_and_transitions_taken() -> None:
    result = CliRunner().invoke(main, ["diagram", "--highlight", str(EXAMPLE)])
    assert result.exit_code == 0
    marked = [line for line in result.output.splitlines() if line.strip().startswith("class ")]
    assert marked == ["    class connecting,idle,listening,responding,tool_call taken"]
    assert "linkStyle" in result.output


def test_svg_and_png_with_graphviz(tmp_path: Path) -> None:
    svg, png = tmp_path / "m.svg", tmp_path / "m.png"
    assert CliRunner().invoke(main, ["diagram", "--format", "svg", "-o", str(svg)]).exit_code == 0
    assert "<svg" in svg.read_text()
    result = CliRunner().invoke(main, ["diagram", "--format", "png", "-o", str(png),
                                       "--highlight", str(EXAMPLE)])
    assert result.exit_code == 0
    assert png.read_bytes().startswith(b"\x89PNG")


def test_svg_without_graphviz_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    result = CliRunner().invoke(main, ["diagram", "--format", "svg"])
    assert result.exit_code == 2
    assert "apt-get install graphviz" in result.output


def test_png_needs_a_file() -> None:
    result = CliRunner().invoke(main, ["diagram", "--format", "png"])
    assert result.exit_code == 2


def test_the_readme_shows_the_diagram_the_machine_has() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    shown = readme.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert shown == CliRunner().invoke(main, ["diagram"]).output
