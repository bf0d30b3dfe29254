"""``convctl run`` on real sound devices: PyAudio on a headless PulseAudio.

The virtual devices (``pulse_devices.virtual_audio``) give PortAudio a default microphone
and speaker. ``convctl run`` uses them (no --input/--output) against the scripted server:
the user's question is played into the virtual microphone once the controller streams,
the server hears it, answers, then says goodbye and ends the conversation; the speaker's
monitor is captured throughout. The conversation is held once per module; the tests check
that both directions carried the audio faithfully (correlation >= 0.99).
"""

from __future__ import annotations

import base64
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from live_helpers import (
    clean_env,
    convctl_command,
    correlation,
    e2e_scenario,
    samples,
    write_config,
)
from pulse_devices import VirtualAudio, virtual_audio  # noqa: F401 - the fixture
from scripted_server import APPEND, ScriptedServer

from controller.audio_convert import BYTES_PER_MS, read_wav

SAMPLES_PER_MS = 24
SEARCH_MS = 500  # how far around the first audible sample an alignment is looked for


def audible(signal: np.ndarray) -> np.ndarray:
    """``signal`` from its first to its last non-silent sample."""
    loud = np.flatnonzero(signal)
    return signal[loud[0]:loud[-1] + 1]


def best_alignment(recording: np.ndarray, signal: np.ndarray) -> tuple[int, float]:
    """The offset in ``recording`` where ``signal`` fits best, and the correlation there.

    The first audible samples give a rough offset; the best lag within ``SEARCH_MS`` of it
    is found by cross-correlation (a device may add latency or drop a few samples).
    """
    rough = int(np.flatnonzero(recording)[0]) - int(np.flatnonzero(signal)[0])
    low = max(0, rough - SEARCH_MS * SAMPLES_PER_MS)
    high = min(len(recording) - len(signal), rough + SEARCH_MS * SAMPLES_PER_MS)
    assert high >= low, "the recording is too short to hold the signal"
    window = recording[low:high + len(signal)].astype(np.float64)
    size = 1 << (len(window) + len(signal)).bit_length()
    spectrum = np.fft.rfft(window, size) * np.conj(np.fft.rfft(signal.astype(np.float64), size))
    lags = np.fft.irfft(spectrum, size)[:high - low + 1]
    offset = low + int(np.argmax(lags))
    return offset, correlation(recording[offset:offset + len(signal)], signal)


@dataclass
class DeviceRun:
    server: ScriptedServer
    returncode: int
    stdout: str
    stderr: str
    question: np.ndarray
    speaker: np.ndarray  # what the virtual speaker's monitor captured


@pytest.fixture(scope="module")
def device_run(virtual_audio: VirtualAudio, tmp_path_factory: pytest.TempPathFactory  # noqa: F811
               ) -> DeviceRun:
    case = e2e_scenario("devices_answer.yaml")
    question = read_wav(case.mic_wav)
    config = write_config(tmp_path_factory.mktemp("devices") / "config.yaml", case.config)
    speaker = virtual_audio.record_speaker()
    try:
        with ScriptedServer(case.scenario) as server:
            process = subprocess.Popen(
                [*convctl_command(), "run", "--url", server.url, "--config", str(config)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env())
            try:
                # The microphone is open once audio flows: now the user speaks.
                server.wait_for_event(APPEND, timeout=20)
                feeder = virtual_audio.feed_microphone(question)
                stdout, stderr = process.communicate(timeout=40)
                feeder.wait(timeout=10)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.communicate()
        # What was played reaches the capture a device latency later: record on for
        # another half second of the speaker's own clock.
        speaker.wait_for_samples(speaker.sample_count() + 12_000)
        captured = speaker.samples()
    finally:
        speaker.stop()
    return DeviceRun(server, process.returncode, stdout, stderr, samples(question), captured)


def test_convctl_run_holds_the_conversation_on_the_default_devices(device_run: DeviceRun
                                                                    ) -> None:
    assert device_run.server.failures == [], device_run.stderr
    assert device_run.returncode == 0, device_run.stderr
    assert device_run.stdout.splitlines()[:2] == ["user: What's the weather like in Paris?",
                                                  "assistant: It is sunny in Paris."]


def test_speech_played_into_the_virtual_microphone_reaches_the_server(device_run: DeviceRun
                                                                       ) -> None:
    heard = samples(device_run.server.appended_audio)
    _, score = best_alignment(heard, audible(device_run.question))
    assert score >= 0.99


def test_the_microphone_goes_up_in_100_ms_blocks_one_append_each(device_run: DeviceRun
                                                                  ) -> None:
    sizes = [len(base64.b64decode(r.event["audio"]))
             for r in device_run.server.events_of(APPEND)]
    assert len(sizes) > 10
    assert set(sizes) == {100 * BYTES_PER_MS}


def test_the_virtual_speaker_plays_what_the_server_sent(device_run: DeviceRun) -> None:
    answer = samples(device_run.server.sent_audio["item_a1"])
    _, score = best_alignment(device_run.speaker, answer)
    assert score >= 0.99


def test_the_goodbye_plays_to_its_end_before_the_hang_up(device_run: DeviceRun) -> None:
    answer = samples(device_run.server.sent_audio["item_a1"])
    goodbye = samples(device_run.server.sent_audio["item_a2"])
    offset, _ = best_alignment(device_run.speaker, answer)
    after_answer = device_run.speaker[offset + len(answer):]
    _, score = best_alignment(after_answer, goodbye)
    assert score >= 0.99


def test_a_conversation_recorded_on_the_devices_with_barge_ins_replays_and_passes(
        virtual_audio: VirtualAudio, tmp_path: Path) -> None:  # noqa: F811
    case = e2e_scenario("devices_barge_in.yaml")
    config = write_config(tmp_path / "config.yaml", case.config)
    log = tmp_path / "conversation.jsonl"
    with ScriptedServer(case.scenario) as server:
        run = subprocess.run([*convctl_command(), "run", "--url", server.url, "--config",
                              str(config), "--record", str(log)],
                             capture_output=True, text=True, env=clean_env(), timeout=60)
    assert server.failures == [] and run.returncode == 0, run.stderr
    cut = [r.event["item_id"] for r in server.events_of("conversation.item.truncate")]
    assert cut == ["item_a1", "item_a2"]

    # The replay's virtual speaker plays each answer from the moment its audio arrived;
    # the recorded truncates must say what the real speaker had played by then, within
    # one 20 ms frame - not what it had been handed (up to its buffer more).
    replay = subprocess.run([*convctl_command(), "replay", str(log)],
                            capture_output=True, text=True, env=clean_env(), timeout=60)
    assert replay.returncode == 0, replay.stdout + replay.stderr
