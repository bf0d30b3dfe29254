"""``convctl run`` end to end over a real websocket on 127.0.0.1.

A scripted server (``tests/scripted_server.py``) plays a live scenario of ``tests/e2e``:
it hears the microphone WAV the controller streams at real pace, answers with speech
(and tool calls), and the conversation ends through the finish tool. Each conversation is
held once per module by ``convctl run`` in a subprocess, with no API key in its
environment, and the tests look at what it left: stdout, the exit code, out.wav against
the exact audio the server sent, the event log, and the log replayed by ``convctl replay``.
"""

from __future__ import annotations

import json
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from live_helpers import (
    clean_env,
    convctl,
    convctl_command,
    e2e_scenario,
    locate_items,
    samples,
    silence_outside,
    write_config,
)
from scripted_server import APPEND, ScriptedServer

from controller.audio_convert import read_wav
from controller.log import read_log

PERIOD_MS = 20
TOOLS = Path(__file__).resolve().parent / "e2e" / "weather_tools.py"


@dataclass
class LiveRun:
    """One ``convctl run`` against the scripted server, and what it left behind."""

    server: ScriptedServer
    result: subprocess.CompletedProcess[str]
    mic_pcm: bytes
    out_wav: Path
    log: Path

    @property
    def stdout_lines(self) -> list[str]:
        return self.result.stdout.splitlines()

    def recording(self) -> Any:
        return samples(read_wav(self.out_wav))

    def log_entries(self) -> list[dict[str, Any]]:
        return read_log(self.log)[1]


def hold_conversation(folder: Path, scenario: str, *extra: str | Path) -> LiveRun:
    case = e2e_scenario(scenario)
    config = write_config(folder / "config.yaml", case.config)
    out_wav, log = folder / "out.wav", folder / "log.jsonl"
    with ScriptedServer(case.scenario) as server:
        result = convctl("run", "--url", server.url, "--config", config,
                         "--input", case.mic_wav, "--output", out_wav, "--record", log,
                         *extra, env=clean_env(), timeout=60)
    return LiveRun(server, result, read_wav(case.mic_wav), out_wav, log)


def succeeded(run: LiveRun) -> None:
    assert run.server.failures == [], run.result.stderr
    assert run.server.finished_script, run.result.stderr
    assert run.result.returncode == 0, run.result.stderr


@pytest.fixture(scope="module")
def weather(tmp_path_factory: pytest.TempPathFactory) -> LiveRun:
    return hold_conversation(tmp_path_factory.mktemp("weather"), "weather_and_goodbye.yaml",
                             "--tools", TOOLS)


@pytest.fixture(scope="module")
def barge_in(tmp_path_factory: pytest.TempPathFactory) -> LiveRun:
    return hold_conversation(tmp_path_factory.mktemp("barge_in"), "barge_in.yaml")


@pytest.fixture(scope="module")
def goodbye(tmp_path_factory: pytest.TempPathFactory) -> LiveRun:
    return hold_conversation(tmp_path_factory.mktemp("goodbye"), "short_goodbye.yaml")


# --- A question, a tool call, a spoken answer, goodbye -------------------------------------


def test_the_conversation_ends_through_the_finish_tool_with_exit_0(weather: LiveRun) -> None:
    succeeded(weather)
    states = [e["state"]["to"] for e in weather.log_entries() if "state" in e]
    assert states == ["Connecting", "Listening", "Responding", "ToolCall", "Responding",
                      "ToolCall", "Finished"]


def test_stdout_is_the_transcript_with_the_tool_lines(weather: LiveRun) -> None:
    lines = weather.stdout_lines
    assert lines[:3] == [
        "user: What's the weather like in Paris?",
        'tool: get_weather({"city": "Paris"}) -> '
        '{"city": "Paris", "temperature_c": 22, "sky": "sunny"}',
        "assistant: It is sunny and 22 degrees in Paris. Goodbye!",
    ]
    assert len(lines) == 4 and lines[3].startswith("tool: end_conversation({}) -> ")
    # State changes and diagnostics stay on stderr.
    assert "[Finished]" in weather.result.stderr and "[Finished]" not in weather.result.stdout


def test_out_wav_holds_exactly_the_audio_the_server_sent(weather: LiveRun) -> None:
    succeeded(weather)
    sent = weather.server.sent_audio["item_a1"]
    recording = weather.recording()
    [answer] = locate_items(recording, [sent])
    assert answer.played * 2 == len(sent) == 48_000  # all 1000 ms, sample for sample
    assert silence_outside(recording, [answer])  # and nothing else was played


def test_the_server_heard_the_microphone_wav(weather: LiveRun) -> None:
    heard, mic = bytes(weather.server.appended_audio), weather.mic_pcm
    # The conversation may end before the WAV's trailing silence has all been sent.
    common = min(len(heard), len(mic))
    assert common >= 1860 * 48  # the whole question (speech ends at 1.86 s)
    assert heard[:common] == mic[:common]
    assert not any(heard[len(mic):])  # after the file: silence, like a quiet room
    appends = weather.server.events_of(APPEND)
    assert all(len(a.event["audio"]) == 1280 for a in appends)  # 20 ms frames (base64)


def test_the_session_offers_the_users_tool_and_the_finish_tool(weather: LiveRun) -> None:
    update = weather.server.client_events()[0]
    assert update["type"] == "session.update"
    assert [t["name"] for t in update["session"]["tools"]] == ["get_weather",
                                                                "end_conversation"]


def test_the_log_records_the_wire_as_it_was(weather: LiveRun) -> None:
    header, entries = read_log(weather.log)
    assert header["url"] == weather.server.url and "config" in header
    logged_client = [e["event"] for e in entries
                     if e["dir"] == "client" and e["event"]["type"] != APPEND]
    assert logged_client == weather.server.client_events()
    logged_server = [e["event"]["type"] for e in entries if e["dir"] == "server"]
    assert logged_server == [r.event["type"] for r in weather.server.sent]
    deltas = [e["event"] for e in entries
              if e["dir"] == "server" and e["event"]["type"] == "response.output_audio.delta"]
    assert [d["delta"] for d in deltas] == [{"elided_bytes": 12_000}] * 4


# --- Barge-in from speech in the input WAV ---------------------------------------------------


def test_barge_in_cuts_the_answer_and_the_conversation_goes_on(barge_in: LiveRun) -> None:
    succeeded(barge_in)
    assert barge_in.stdout_lines[:4] == [
        "user: Tell me about the sea.",
        "assistant: The sea covers seven tenths of the Earth and holds most of its life. "
        "[interrupted]",
        "user: Stop, please.",
        "assistant: Okay. Goodbye!",
    ]
    types = [e["type"] for e in barge_in.server.client_events()]
    assert types == ["session.update", "conversation.item.truncate",
                     "conversation.item.create"]  # the server cancels: no response.cancel


def test_the_truncate_matches_the_audio_written_to_out_wav(barge_in: LiveRun) -> None:
    succeeded(barge_in)
    [truncate] = barge_in.server.events_of("conversation.item.truncate")
    sent = barge_in.server.sent_audio
    recording = barge_in.recording()
    cut, goodbye = locate_items(recording, [sent["item_a1"], sent["item_a2"]])
    # Played up to the cut, exactly as sent; nothing of the rest; all of the goodbye.
    assert 0 < cut.played * 2 < len(sent["item_a1"])
    assert abs(truncate.event["audio_end_ms"] - cut.played_ms) <= PERIOD_MS
    assert goodbye.played * 2 == len(sent["item_a2"])
    assert silence_outside(recording, [cut, goodbye])


def test_speech_started_came_from_the_users_second_utterance(barge_in: LiveRun) -> None:
    [_, second] = barge_in.server.events_of("server_vad.speech_started")
    # "Stop, please." starts 3.74 s into the WAV, as the server heard it.
    assert abs(second.event["audio_start_ms"] - 3740) <= PERIOD_MS


# --- The log as a regression test -----------------------------------------------------------


def test_the_recorded_log_replays_and_passes(goodbye: LiveRun) -> None:
    succeeded(goodbye)
    replayed = convctl("replay", goodbye.log)
    assert replayed.returncode == 0, replayed.stdout
    assert replayed.stdout.splitlines()[0] == "PASS log"


def test_editing_one_recorded_control_event_makes_the_replay_fail(goodbye: LiveRun,
                                                                tmp_path: Path) -> None:
    succeeded(goodbye)
    edited = tmp_path / "edited.jsonl"
    lines = goodbye.log.read_text(encoding="utf-8").splitlines()
    n = next(i for i, line in enumerate(lines)
             if '"conversation.item.create"' in line and '"dir": "client"' in line)
    record = json.loads(lines[n])
    record["event"]["item"]["call_id"] = "call_forged"
    lines[n] = json.dumps(record)
    edited.write_text("\n".join(lines) + "\n", encoding="utf-8")
    replayed = convctl("replay", edited)
    assert replayed.returncode == 1
    assert replayed.stdout.startswith("FAIL edited: control event 2 differs from the "
                                      "recording"), replayed.stdout
    assert "call_forged" in replayed.stdout


def test_a_log_with_a_user_tool_replays_and_passes(weather: LiveRun) -> None:
    succeeded(weather)
    replayed = convctl("replay", weather.log)
    assert replayed.returncode == 0, replayed.stdout


def test_a_barge_in_log_replays_and_passes(barge_in: LiveRun) -> None:
    """Live audio moves in 20 ms periods, the replay's virtual speaker in exact ms: the
    replay accepts a truncate within one period of the recording (README, deviations)."""
    succeeded(barge_in)
    replayed = convctl("replay", "--json", barge_in.log)
    report = json.loads(replayed.stdout)
    assert report["passed"], report["failures"]
    assert report["states"] == ["Idle", "Connecting", "Listening", "Responding", "Listening",
                                "Responding", "ToolCall", "Finished"]
    [recorded] = barge_in.server.events_of("conversation.item.truncate")
    [again] = [e["event"] for e in report["client_events"]
               if e["event"]["type"] == "conversation.item.truncate"]
    assert abs(again["audio_end_ms"] - recorded.event["audio_end_ms"]) <= PERIOD_MS


# --- Ctrl-C and SIGTERM ----------------------------------------------------------------------


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_conversation_ends_cleanly_with_130(tmp_path: Path, stop: int) -> None:
    case = e2e_scenario("barge_in.yaml")
    log = tmp_path / "log.jsonl"
    with ScriptedServer(case.scenario) as server:
        process = subprocess.Popen(
            [*convctl_command(), "run", "--url", server.url, "--input", str(case.mic_wav),
             "--output", str(tmp_path / "out.wav"), "--record", str(log)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env())
        server.wait_for_event(APPEND, timeout=20)  # talking: the microphone streams
        process.send_signal(stop)
        _, stderr = process.communicate(timeout=20)
        server.wait_for_closes(1, timeout=5)
    assert process.returncode == 130, stderr
    assert server.client_closes == [1000]  # the socket was closed, not dropped
    last = read_log(log)[1][-1]
    assert last["state"]["to"] == "Finished"  # the log is complete up to the end
    assert "Traceback" not in stderr
