"""A recorded log is a regression test: replaying it gives the same states and control
events; an edited recording fails. Recorded here from replayed scenarios, so the story is
exact (the live e2e tests record real runs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from controller.audio_convert import read_wav
from controller.cli import main
from controller.log import EventLog
from controller.replay import Replay
from controller.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def record(scenario_file: str, log: Path) -> dict[str, Any]:
    scenario = load_scenario(SCENARIOS / scenario_file)
    mic = read_wav(scenario.mic_wav) if scenario.mic_wav else None
    replay = Replay(scenario, mic_pcm=mic)
    turn = scenario.session.turn_detection.mode
    replay.ctx.recorder = recorder = EventLog(log, header={"dialect": scenario.dialect,
                                                "config": {"turn_detection": turn}})
    report = replay.run()
    recorder.close()
    return report


@pytest.mark.parametrize("scenario_file", [
    "17_push_to_talk.yaml", "02_barge_in_mid_playback.yaml", "30_reconnect_after_drop.yaml"])
def test_a_recorded_conversation_replays_the_same(scenario_file: str, tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    original = record(scenario_file, log)
    result = CliRunner().invoke(main, ["replay", str(log), "--json"])
    report = json.loads(result.output)
    assert report["failures"] == [] and result.exit_code == 0
    assert report["states"] == original["states"]


def test_push_to_talk_signals_are_in_the_log(tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    record("17_push_to_talk.yaml", log)
    signals = [json.loads(line).get("signal") for line in log.read_text().splitlines()]
    assert {"local_speech_started", "local_turn_ended", "input_exhausted"} <= set(signals)


def test_an_edited_recording_fails(tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    record("02_barge_in_mid_playback.yaml", log)
    lines = log.read_text().splitlines()
    for n, line in enumerate(lines):
        entry = json.loads(line)
        if entry.get("dir") == "client" and entry["event"]["type"] == \
                "conversation.item.truncate":
            entry["event"]["audio_end_ms"] += 100
            lines[n] = json.dumps(entry)
    log.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(main, ["replay", str(log)])
    assert result.exit_code == 1
    assert "FAIL" in result.output and "truncate" in result.output
