"""The run configuration: which value wins, and a message for every mistake a user can make."""

from __future__ import annotations

import struct
import wave
from pathlib import Path
from typing import Any

import pytest

from controller.config import CLI_OPTIONS, RunConfig, endpoint_from_config, load_run_config
from controller.errors import ConfigError

KEY = "sk-proj-SECRET-1f2e3d4c5b"
AZURE_KEY = "azure-SECRET-9a8b7c6d"
TOKEN = "eyJ.SECRET-entra.sig"
AZURE_ENV = {"AZURE_OPENAI_ENDPOINT": "https://myres.openai.azure.com/",
             "AZURE_OPENAI_API_KEY": AZURE_KEY, "AZURE_OPENAI_DEPLOYMENT": "rt-env"}


def options(**given: Any) -> dict[str, Any]:
    """The CLI's options: every flag present, None unless given."""
    return {name: given.get(name) for name in CLI_OPTIONS}


def load(env: dict[str, str] | None = None, **given: Any) -> RunConfig:
    return load_run_config(options(**given), env or {})


def config_file(tmp_path: Path, text: str, name: str = "run.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def fails(message: str, env: dict[str, str] | None = None, **given: Any) -> str:
    """Loading fails with a ConfigError containing ``message``; returns the full text."""
    with pytest.raises(ConfigError) as caught:
        load(env, **given)
    assert message in str(caught.value)
    return str(caught.value)


def write_wav(path: Path, *, rate: int = 16000, channels: int = 2) -> str:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\x00\x00" * channels * 160)
    return str(path)


# --- Which provider -----------------------------------------------------------------------


def test_with_nothing_set_the_provider_is_the_local_server_and_its_url_is_left_to_the_cli():
    cfg = load()
    assert (cfg.provider, cfg.url, cfg.dialect, cfg.model) == ("local", None, "ga",
                                                              "gpt-realtime")
    assert cfg.api_key is None


def test_an_openai_key_in_the_environment_chooses_openai():
    cfg = load({"OPENAI_API_KEY": KEY})
    assert (cfg.provider, cfg.api_key) == ("openai", KEY)
    assert endpoint_from_config(cfg).url == "wss://api.openai.com/v1/realtime?model=gpt-realtime"


def test_an_azure_endpoint_in_the_environment_wins_over_an_openai_key():
    cfg = load({**AZURE_ENV, "OPENAI_API_KEY": KEY})
    assert (cfg.provider, cfg.api_key, cfg.deployment) == ("azure", AZURE_KEY, "rt-env")
    endpoint = endpoint_from_config(cfg)
    assert endpoint.url == "wss://myres.openai.azure.com/openai/v1/realtime?model=rt-env"
    assert dict(endpoint.headers) == {"api-key": AZURE_KEY}


def test_empty_environment_variables_count_as_unset():
    assert load({"AZURE_OPENAI_ENDPOINT": "", "OPENAI_API_KEY": "  "}).provider == "local"


def test_an_entra_token_is_used_for_azure_and_the_api_version_for_its_preview_url():
    cfg = load({**AZURE_ENV, "AZURE_OPENAI_AD_TOKEN": TOKEN,
                "AZURE_OPENAI_API_VERSION": "2024-10-01-preview"}, dialect="beta")
    endpoint = endpoint_from_config(cfg)
    assert dict(endpoint.headers) == {"Authorization": f"Bearer {TOKEN}"}
    assert "api-version=2024-10-01-preview&deployment=rt-env" in endpoint.url


def test_an_azure_preview_url_implies_the_beta_dialect_unless_one_is_given():
    url = "wss://r.openai.azure.com/openai/realtime?api-version=2025-04-01-preview&deployment=d"
    assert load(url=url).dialect == "beta"
    assert load(url=url, dialect="ga").dialect == "ga"
    assert load(url="ws://127.0.0.1:9/v1/realtime").dialect == "ga"


# --- Precedence: flags, then the file, then the environment ------------------------------


def test_flags_win_over_the_file_and_the_file_over_the_environment(tmp_path):
    path = config_file(tmp_path, "provider: azure\ndeployment: rt-file\nmodel: m-file\n"
                                 "api_key: file-key-123\nvoice: cedar\nduplex: half\n"
                                 "tool_timeout: 4\nverbose: true\nmic_block_ms: 40\n")
    cfg = load(AZURE_ENV, config=path, deployment="rt-flag", voice="marin")
    assert cfg.deployment == "rt-flag"           # flag over file
    assert cfg.model == "m-file"                 # file over default
    assert cfg.api_key == "file-key-123"         # file over AZURE_OPENAI_API_KEY
    assert cfg.session.voice == "marin"          # settings flag over file
    assert cfg.controller.duplex == "half" and cfg.controller.tool_timeout == 4.0
    assert cfg.controller.mic_block_ms == 40
    assert cfg.verbose is True


def test_settings_flags_reach_the_session_without_a_file():
    cfg = load(instructions="Be brief.", turn_detection="none", duplex="half")
    assert cfg.session.instructions == "Be brief."
    assert cfg.session.turn_detection.mode == "none"
    assert cfg.controller.duplex == "half"


def test_the_file_holds_session_settings_in_full(tmp_path):
    path = config_file(tmp_path, "turn_detection: {type: semantic_vad, eagerness: low}\n"
                                 "transcription: null\nmax_duration: 90\n")
    cfg = load(config=path)
    assert cfg.session.turn_detection.mode == "semantic_vad"
    assert cfg.session.turn_detection.eagerness == "low"
    assert cfg.session.transcription is None and cfg.max_duration == 90.0


def test_relative_paths_in_the_file_are_relative_to_the_file(tmp_path):
    (tmp_path / "conf").mkdir()
    write_wav(tmp_path / "conf" / "hello.wav")
    path = config_file(tmp_path / "conf", "input: hello.wav\noutput: reply.wav\n"
                                          "record: log.jsonl\n")
    cfg = load(config=path)
    assert cfg.input == str(tmp_path / "conf" / "hello.wav")
    assert cfg.output == str(tmp_path / "conf" / "reply.wav")
    assert cfg.record == str(tmp_path / "conf" / "log.jsonl")


def test_an_environment_key_is_not_sent_to_an_explicit_url_unless_the_provider_is_named():
    url = "ws://127.0.0.1:8765/v1/realtime"
    assert load({"OPENAI_API_KEY": KEY}, url=url).api_key is None
    assert load({"OPENAI_API_KEY": KEY}, url=url, provider="openai").api_key == KEY
    assert load({"OPENAI_API_KEY": KEY}, url=url, api_key="given").api_key == "given"


def test_local_io_and_switches_are_carried(tmp_path):
    wav = write_wav(tmp_path / "in.wav")
    cfg = load(input=wav, output=str(tmp_path / "out.wav"), record=str(tmp_path / "l.jsonl"),
               record_audio=True, max_duration=30, output_device=None)
    assert (cfg.input, cfg.record_audio, cfg.max_duration) == (wav, True, 30.0)
    assert load(input_device=2, output_device=0).input_device == 2


def test_no_repr_of_the_config_shows_a_key():
    cfg = load({**AZURE_ENV, "AZURE_OPENAI_AD_TOKEN": TOKEN})
    assert AZURE_KEY not in repr(cfg) and TOKEN not in repr(cfg)
    assert set(cfg.secrets) == {AZURE_KEY, TOKEN}


# --- Every mistake has a message that says what to fix -----------------------------------


def test_openai_without_a_key_names_the_variable_and_the_flag():
    fails("set OPENAI_API_KEY or pass --api-key", provider="openai")


def test_azure_without_a_key_names_the_variables_and_the_flag():
    env = {k: v for k, v in AZURE_ENV.items() if k != "AZURE_OPENAI_API_KEY"}
    fails("set AZURE_OPENAI_API_KEY (or AZURE_OPENAI_AD_TOKEN for Entra ID) or pass "
          "--api-key", env)


def test_azure_without_an_endpoint_says_to_set_it():
    fails("set AZURE_OPENAI_ENDPOINT=https://<resource>.openai.azure.com",
          {"AZURE_OPENAI_API_KEY": AZURE_KEY}, provider="azure", deployment="d")


def test_azure_without_a_deployment_says_where_to_give_it():
    env = {k: v for k, v in AZURE_ENV.items() if k != "AZURE_OPENAI_DEPLOYMENT"}
    fails("set AZURE_OPENAI_DEPLOYMENT or pass --deployment", env)


def test_a_malformed_azure_endpoint_shows_the_expected_shape():
    fails("AZURE_OPENAI_ENDPOINT must look like https://<resource>.openai.azure.com",
          {**AZURE_ENV, "AZURE_OPENAI_ENDPOINT": "ftp://myres"})


def test_an_http_url_suggests_its_websocket_form():
    fails("--url must start with ws:// or wss://, got 'https://example.com/rt'; did you mean "
          "'wss://example.com/rt'?", url="https://example.com/rt")


def test_a_bad_url_in_the_file_names_the_file_key(tmp_path):
    path = config_file(tmp_path, "url: example.com\n")
    fails(f"'url' in {path} must be a ws:// or wss:// URL with a host", config=path)


def test_a_yaml_syntax_error_gives_the_line(tmp_path):
    path = config_file(tmp_path, "voice: marin\ninstructions: [unclosed\nduplex: half\n")
    message = fails(f"{path}: YAML syntax error at line 3", config=path)
    assert "flow sequence" in message


def test_a_tab_indented_file_gives_the_line(tmp_path):
    path = config_file(tmp_path, "voice: marin\nturn_detection:\n\ttype: server_vad\n")
    fails("YAML syntax error at line 3, column 1", config=path)


@pytest.mark.parametrize(("text", "message"), [
    ("voise: marin\n", "unknown key 'voise' in config; did you mean 'voice'?"),
    ("provder: openai\n", "unknown key 'provder' in config; did you mean 'provider'?"),
    ("max_duraton: 5\n", "unknown key 'max_duraton' in config; did you mean 'max_duration'?"),
    ("turn_detection: {type: server_vad, silence_ms: 200}\n",
     "unknown key 'silence_ms' in turn_detection; did you mean 'silence_duration_ms'?"),
])
def test_an_unknown_key_suggests_the_closest_one(tmp_path, text, message):
    path = config_file(tmp_path, text)
    fails(f"{path}: {message}", config=path)


@pytest.mark.parametrize(("text", "message"), [
    ("input_device: two\n", "'input_device' in {path} must be a device index"),
    ("output_device: -1\n", "'output_device' in {path} must be a device index"),
    ("max_duration: 0\n", "'max_duration' in {path} must be a number of seconds above 0"),
    ("record_audio: yes please\n", "'record_audio' in {path} must be true or false"),
    ("model: 4\n", "'model' in {path} must be text (put it in quotes in YAML); got 4"),
    ("tool_timeout: soon\n", "'tool_timeout' must be seconds (a number)"),
    ("duplex: both\n", "'duplex' must be one of full, half"),
    ("mic_block_ms: 0\n", "'mic_block_ms' must be a multiple of 20 from 20 to 1000"),
    ("mic_block_ms: 2000\n", "'mic_block_ms' must be a multiple of 20 from 20 to 1000"),
    ("mic_block_ms: fast\n", "'mic_block_ms' must be whole milliseconds, got 'fast'"),
    ("dialect: v1\n", "'dialect' in {path} must be one of ga, beta; got 'v1'"),
    ("provider: anthropic\n", "'provider' in {path} must be one of openai, azure, local"),
    ("tools: [get_weather]\n", "'tools' in {path} must be text"),
])
def test_a_value_of_the_wrong_kind_says_what_is_expected(tmp_path, text, message):
    path = config_file(tmp_path, text)
    fails(message.format(path=path), config=path)


def test_a_wrongly_typed_api_key_is_not_echoed(tmp_path):
    path = config_file(tmp_path, f"api_key: [{KEY}]\n")
    message = fails(f"'api_key' in {path} must be text; got a list", config=path)
    assert KEY not in message


def test_a_key_pasted_into_another_field_is_redacted_from_the_message(tmp_path):
    path = config_file(tmp_path, f"input_device: {KEY}\n")
    message = fails("must be a device index", {"OPENAI_API_KEY": KEY}, config=path)
    assert KEY not in message and "***" in message


def test_flags_are_named_as_flags_in_messages():
    fails("--max-duration must be a number of seconds above 0", max_duration=-3.0)
    fails("--dialect must be one of ga, beta", dialect="v2")
    fails("--provider must be one of openai, azure, local", provider="bard")


def test_the_config_file_must_exist_and_hold_a_mapping(tmp_path):
    fails("--config: /no/such/run.yaml does not exist", config="/no/such/run.yaml")
    path = config_file(tmp_path, "- provider: openai\n")
    fails(f"{path}: a config file holds `key: value` lines (a mapping), not a list",
          config=path)


def test_an_empty_config_file_changes_nothing(tmp_path):
    assert load(config=config_file(tmp_path, "# nothing yet\n")) == load()


# --- Files the run reads or writes -------------------------------------------------------


def test_a_missing_input_wav_is_named(tmp_path):
    fails(f"--input: {tmp_path / 'hello.wav'} does not exist", input=str(tmp_path / "hello.wav"))


@pytest.mark.parametrize(("content", "kind"), [
    (b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(100), "it is an MP3 file"),
    (b"fLaC\x00\x00\x00\x22" + bytes(100), "it is a FLAC file"),
    (b"OggS\x00\x02" + bytes(100), "it is an Ogg (Vorbis or Opus) file"),
    (b"hello, this is a transcript\n", "it is a text file"),
    (b"", "it is empty"),
    (b"RIFF\x24\x00\x00\x00AVI LIST" + bytes(40), "it is a RIFF file of type b'AVI ', not WAVE"),
])
def test_an_input_that_is_not_a_wav_says_what_it_is(tmp_path, content, kind):
    path = tmp_path / "input.wav"
    path.write_bytes(content)
    message = fails(f"--input: {path} is not a readable WAV file; {kind}", input=str(path))
    assert "Convert it first, for example: ffmpeg -i" in message


def test_a_wav_in_an_encoding_the_microphone_cannot_read_is_refused(tmp_path):
    path = tmp_path / "adpcm.wav"
    fmt = struct.pack("<HHIIHH", 2, 1, 24000, 12000, 256, 4)  # format 2: MS ADPCM
    data = bytes(400)
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE"
                     + b"fmt " + struct.pack("<I", len(fmt)) + fmt
                     + b"data" + struct.pack("<I", len(data)) + data)
    fails("it is a WAV file in an encoding convctl cannot read (it reads PCM and float)",
          input=str(path))


def test_a_directory_is_not_an_input(tmp_path):
    fails(f"--input: {tmp_path} is a directory; give a WAV file", input=str(tmp_path))


def test_input_and_input_device_together_are_refused(tmp_path):
    fails("give either --input or --input-device, not both",
          input=write_wav(tmp_path / "a.wav"), input_device=1)


def test_an_output_in_a_missing_directory_says_to_create_it(tmp_path):
    missing = tmp_path / "replies"
    fails(f"--output: the directory {missing} does not exist; create it (mkdir -p {missing})",
          output=str(missing / "out.wav"))
    fails(f"--record: the directory {missing} does not exist",
          record=str(missing / "log.jsonl"))


def test_an_output_that_is_a_directory_is_refused(tmp_path):
    fails(f"--output: {tmp_path} is a directory; give a file name inside it",
          output=str(tmp_path))


def test_a_missing_tools_file_is_named_but_a_module_name_is_left_to_the_loader(tmp_path):
    fails(f"--tools: the tools file {tmp_path / 'mine.py'} does not exist",
          tools=str(tmp_path / "mine.py"))
    assert load(tools="controller.demo_tools").tools == "controller.demo_tools"


def test_a_secret_in_a_url_is_not_echoed():
    message = fails("did you mean", url=f"https://gw.example/rt?api-key={KEY}")
    assert KEY not in message
