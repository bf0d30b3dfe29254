"""The README's first command holds a whole spoken conversation offline, as a newcomer
runs it (its set-up half is what this suite itself runs first)."""

from __future__ import annotations

import shlex
from pathlib import Path

from tests.live_helpers import convctl

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_first_command_talks_about_the_weather_and_says_goodbye(
        tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    first = readme.split("```\n", 2)[1].strip()
    setup, run = first.split(" && ")
    assert setup == "bash scripts/setup.sh"
    words = shlex.split(run)
    assert words[:2] == [".venv/bin/convctl", "run"]
    args = [str(tmp_path / "reply.wav") if w == "reply.wav" else w for w in words[1:]]
    result = convctl(*args, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "user: What's the weather in Paris"
    assert any(line.startswith('tool: get_weather({"city": "Paris"})') for line in lines)
    assert any(line.startswith("assistant: In Paris it is") and "[interrupted]" not in line
               for line in lines)
    assert lines[-1].startswith("tool: end_conversation(")
    assert "built-in offline server" in result.stderr
    assert (tmp_path / "reply.wav").stat().st_size > 100_000
