"""Every bad run configuration, through ``convctl run`` as a user meets it.

``tests/test_config.py`` checks ``load_run_config``'s messages in-process; here each case
goes through the installed command line: the message on stderr says what to fix, the exit
code is 2, stdout stays empty, and nothing started - the test server at the given URL never
sees a connection and no output file or log is created.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_helpers import E2E_DIR, clean_env, convctl
from scripted_server import ScriptedServer

from controller.scenario import Scenario

QUESTION = E2E_DIR / "audio" / "weather_question.wav"
AZURE = {"AZURE_OPENAI_ENDPOINT": "https://example.openai.azure.com",
         "AZURE_OPENAI_DEPLOYMENT": "gpt-realtime"}


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedServer]:
    """A live server that must never be reached by a run that was refused."""
    with ScriptedServer(Scenario(name="never reached", path="-")) as running:
        yield running
    assert running.connections == 0


def refused(folder: Path, *args: str | Path, env: dict[str, str] | None = None,
            config: str | None = None) -> str:
    """Run ``convctl run ARGS`` (with ``config`` as its --config file); assert it was
    refused before anything started; return its message."""
    if config is not None:
        path = folder / "config.yaml"
        path.write_text(config, encoding="utf-8")
        args = (*args, "--config", path)
    out, log = folder / "out.wav", folder / "log.jsonl"
    result = convctl("run", *args, "--output", out, "--record", log,
                     env=clean_env(**(env or {})), cwd=folder, timeout=30)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert not out.exists() and not log.exists()
    message = result.stderr.strip()
    assert message.startswith("convctl run: ") and "Traceback" not in message
    return message


# --- Where to connect --------------------------------------------------------------------


def test_the_openai_provider_without_a_key_names_the_variable_and_the_flag(tmp_path):
    message = refused(tmp_path, "--provider", "openai")
    assert "the openai provider needs an API key: set OPENAI_API_KEY or pass --api-key" \
        in message


def test_the_azure_provider_without_a_key_names_the_variables_and_the_flag(tmp_path):
    message = refused(tmp_path, "--provider", "azure", env=AZURE)
    assert "the azure provider needs a key: set AZURE_OPENAI_API_KEY (or " \
           "AZURE_OPENAI_AD_TOKEN for Entra ID) or pass --api-key" in message


def test_the_azure_provider_without_an_endpoint_says_to_set_it(tmp_path):
    message = refused(tmp_path, "--provider", "azure", "--api-key", "k" * 32)
    assert "Azure needs your resource endpoint: set AZURE_OPENAI_ENDPOINT" in message


def test_an_http_url_suggests_its_websocket_form(tmp_path, server):
    http = server.url.replace("ws://", "http://")
    message = refused(tmp_path, "--url", http)
    assert message == (f"convctl run: --url must start with ws:// or wss://, got {http!r}; "
                       f"did you mean {server.url!r}?")


@pytest.mark.parametrize(("url", "says"), [
    ("ws://", "--url must be a ws:// or wss:// URL with a host"),
    ("127.0.0.1:8765", "--url must be a ws:// or wss:// URL with a host"),
    ("ws://127.0.0.1:99999/v1/realtime", "--url is not a valid URL (Port out of range"),
])
def test_a_malformed_url_is_refused(tmp_path, url, says):
    assert says in refused(tmp_path, "--url", url)


def test_a_bad_url_in_the_config_file_names_the_file_key(tmp_path):
    message = refused(tmp_path, config="url: https://example.com/v1/realtime\n")
    assert "'url' in " in message and "did you mean 'wss://example.com/v1/realtime'?" \
        in message


# --- The --config file ----------------------------------------------------------------------


def test_a_missing_config_file_is_named(tmp_path, server):
    message = refused(tmp_path, "--url", server.url, "--config", tmp_path / "nope.yaml")
    assert message.endswith(f"--config: {tmp_path / 'nope.yaml'} does not exist")


def test_a_yaml_syntax_error_gives_the_line(tmp_path, server):
    message = refused(tmp_path, "--url", server.url,
                      config="voice: marin\nturn_detection: [server_vad\nduplex: full\n")
    assert re.search(r"config\.yaml: YAML syntax error at line 3, column \d+: ", message)
    assert "while parsing a flow sequence at line 2" in message


@pytest.mark.parametrize(("text", "says"), [
    ("voise: marin\n", "unknown key 'voise' in config; did you mean 'voice'?"),
    ("turn_detection: {type: server_vad, silence_ms: 300}\n",
     "unknown key 'silence_ms' in turn_detection; did you mean 'silence_duration_ms'?"),
    ("transcription: {model: whisper-1, langauge: en}\n",
     "unknown key 'langauge' in transcription; did you mean 'language'?"),
    ("max_duraton: 60\n", "unknown key 'max_duraton' in config; did you mean 'max_duration'?"),
])
def test_an_unknown_key_suggests_the_closest_one(tmp_path, server, text, says):
    assert says in refused(tmp_path, "--url", server.url, config=text)


@pytest.mark.parametrize(("text", "says"), [
    ("tool_timeout: soon\n", "'tool_timeout' must be seconds (a number), got 'soon'"),
    ("turn_detection: {interrupt_response: maybe}\n",
     "'turn_detection.interrupt_response' must be true or false, got 'maybe'"),
    ("duplex: both\n", "'duplex' must be one of full, half; got 'both'"),
    ("max_duration: forever\n", "must be a number of seconds above 0; got 'forever'"),
    ("input_device: first\n", "must be a device index (a whole number; see `convctl "
                              "devices`); got 'first'"),
    ("voice: 42\n", "'voice' must be a voice name such as marin, got 42"),
    ("mic_block_ms: 50\n", "'mic_block_ms' must be a multiple of 20 from 20 to 1000 (the "
                           "microphone is read in 20 ms frames), got 50"),
])
def test_a_value_of_the_wrong_type_says_what_is_expected(tmp_path, server, text, says):
    assert says in refused(tmp_path, "--url", server.url, config=text)


def test_a_flag_of_the_wrong_type_is_refused_by_the_command_line(tmp_path, server):
    result = convctl("run", "--url", server.url, "--input-device", "first", env=clean_env())
    assert result.returncode == 2
    assert "Invalid value for '--input-device': 'first' is not a valid integer" \
        in result.stderr


# --- Input and output files ----------------------------------------------------------------


def test_a_missing_input_wav_is_named(tmp_path, server):
    message = refused(tmp_path, "--url", server.url, "--input", tmp_path / "nowhere.wav")
    assert message.endswith(f"--input: {tmp_path / 'nowhere.wav'} does not exist")


@pytest.mark.parametrize(("content", "kind"), [
    (b"Remember to buy milk.\n", "it is a text file"),
    (b"ID3\x03\x00\x00\x00\x00\x00\x00", "it is an MP3 file"),
    (b"", "it is empty"),
])
def test_an_input_that_is_not_audio_says_what_it_is(tmp_path, server, content, kind):
    wav = tmp_path / "question.wav"
    wav.write_bytes(content)
    message = refused(tmp_path, "--url", server.url, "--input", wav)
    assert f"--input: {wav} is not a readable WAV file; {kind}. Convert it first" in message


def test_an_output_in_a_missing_directory_says_to_create_it(tmp_path, server):
    missing = tmp_path / "replies" / "reply.wav"
    result = convctl("run", "--url", server.url, "--input", QUESTION, "--output", missing,
                     env=clean_env())
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"convctl run: --output: the directory {missing.parent} does not exist; create it "
        f"(mkdir -p {missing.parent}) or choose another path")


def test_input_and_input_device_together_are_refused(tmp_path, server):
    message = refused(tmp_path, "--url", server.url, "--input", QUESTION,
                      "--input-device", "0")
    assert "give either --input or --input-device, not both" in message


def test_a_wav_the_microphone_reads_is_not_refused(tmp_path, server):
    """sox writes 24-bit and multichannel WAVs as WAVE_FORMAT_EXTENSIBLE; the microphone
    (controller.audio_convert) converts them, so ``--input`` must take them."""
    wav = tmp_path / "stereo24.wav"
    subprocess.run(["sox", QUESTION, "-b", "24", "-c", "2", "-r", "48000", wav], check=True)
    result = convctl("run", "--url", "ws://127.0.0.1:9/v1/realtime", "--input", wav,
                     "--output", tmp_path / "out.wav", env=clean_env())
    assert result.returncode != 2, result.stderr  # it starts (and then fails to connect)
