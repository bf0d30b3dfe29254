"""The API key never shows: not on stdout, stderr, in the event log, or in exception text.

Keys are given the two ways users give them - ``OPENAI_API_KEY`` in the environment and
``--api-key`` - to ``convctl run -v`` (every diagnostic on), in a conversation that works
(the server must receive the key, or the test would prove nothing) and in ones that fail:
the connection refused, the websocket upgrade refused with a body that echoes the key,
and an ``invalid_api_key`` error event quoting it before a fatal close.
"""

from __future__ import annotations

import socket
from pathlib import Path

from live_helpers import clean_env, convctl, e2e_scenario, write_config
from scripted_server import Rejection, ScriptedServer

from controller.conversation import Conversation
from controller.endpoint import endpoint_for
from controller.scenario import Scenario, scenario_from_mapping

ENV_KEY = "sk-test-SECRET123456789"
FLAG_KEY = "sk-test-SECRET987654321"
SECRET_PARTS = ("SECRET123456789", "SECRET987654321", "123456789", "987654321")
QUESTION = e2e_scenario("short_goodbye.yaml").mic_wav


def keys_env() -> dict[str, str]:
    return clean_env(OPENAI_API_KEY=ENV_KEY)


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for part in SECRET_PARTS:
            assert part not in text, f"a key leaked: ...{text[max(0, text.find(part) - 80):]}"


def run_with_keys(folder: Path, url: str, *extra: str | Path) -> tuple[str, str, str, int]:
    """``convctl run -v`` with both keys given, the question WAV as the microphone;
    (stdout, stderr, log text, exit code)."""
    log = folder / "log.jsonl"
    result = convctl("run", "-v", "--provider", "openai", "--url", url, "--api-key", FLAG_KEY,
                     "--record", log, "--input", QUESTION, "--output", folder / "out.wav",
                     *extra, env=keys_env(), timeout=60)
    text = log.read_text(encoding="utf-8") if log.exists() else ""
    return result.stdout, result.stderr, text, result.returncode


def test_a_whole_conversation_shows_no_key_though_the_server_got_it(tmp_path: Path) -> None:
    case = e2e_scenario("short_goodbye.yaml")
    config = write_config(tmp_path / "config.yaml", case.config)
    with ScriptedServer(case.scenario) as server:
        stdout, stderr, log, code = run_with_keys(
            tmp_path, server.url, "--config", config, "--record-audio")
    assert code == 0, stderr
    assert server.handshake_headers[0]["Authorization"] == f"Bearer {FLAG_KEY}"
    assert log.count('"dir"') > 100  # the log has the whole conversation in it
    assert_no_secret(stdout, stderr, log)


def test_a_refused_connection_shows_no_key(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stdout, stderr, log, code = run_with_keys(tmp_path, f"ws://127.0.0.1:{port}/v1/realtime")
    assert code == 1
    assert "connection refused" in stderr
    assert stderr.count("convctl: error:") == 1
    assert_no_secret(stdout, stderr, log)


def test_an_upgrade_refused_with_the_key_in_the_body_shows_no_key(tmp_path: Path) -> None:
    body = f'{{"error": {{"message": "Incorrect API key provided: {FLAG_KEY}."}}}}'
    scenario = scenario_from_mapping({"name": "reject", "steps": []}, "-", base_dir=tmp_path)
    with ScriptedServer(scenario, reject=Rejection(401, body)) as server:
        stdout, stderr, log, code = run_with_keys(tmp_path, server.url)
    assert code == 1
    assert "HTTP 401 (check the API key)" in stderr and "Incorrect API key provided" in stderr
    assert_no_secret(stdout, stderr, log)


def bad_key_scenario(folder: Path) -> Scenario:
    """The server refuses the key the way OpenAI does: an error event quoting it, then a
    fatal close."""
    error = {"type": "error", "event_id": "ev_2", "error": {
        "type": "invalid_request_error", "code": "invalid_api_key", "param": None,
        "message": f"Incorrect API key provided: {FLAG_KEY}. You can find your API key at "
                   "https://platform.openai.com/account/api-keys."}}
    return scenario_from_mapping({"name": "bad key", "steps": [
        {"server": {"type": "session.created", "event_id": "ev_1", "session": {"id": "s"}}},
        {"server": error},
        {"close": {"code": 3000, "reason": f"invalid key {FLAG_KEY}"}},
    ]}, "-", base_dir=folder)


def test_an_error_event_quoting_the_key_shows_no_key(tmp_path: Path) -> None:
    with ScriptedServer(bad_key_scenario(tmp_path)) as server:
        stdout, stderr, log, code = run_with_keys(tmp_path, server.url)
    assert code == 1
    assert "Incorrect API key provided" in stderr
    assert '"invalid_api_key"' in log  # the error is in the log, without the key
    assert_no_secret(stdout, stderr, log)


def test_a_malformed_url_holding_a_key_is_not_echoed(tmp_path: Path) -> None:
    url = f"https://example.com/v1/realtime?api-key={FLAG_KEY}"
    result = convctl("run", "--url", url, "--api-key", FLAG_KEY, env=keys_env())
    assert result.returncode == 2
    assert "--url must start with ws:// or wss://" in result.stderr
    assert_no_secret(result.stdout, result.stderr)


def test_the_outcome_of_a_refused_key_holds_no_key(tmp_path: Path) -> None:
    with ScriptedServer(bad_key_scenario(tmp_path)) as server:
        outcome = embedded_conversation(tmp_path, server.url).run()
    assert outcome.state == "Error" and "Incorrect API key provided" in str(outcome.reason)
    assert_no_secret(repr(outcome))


def test_the_outcome_of_a_refused_connection_holds_no_key(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"ws://127.0.0.1:{probe.getsockname()[1]}/v1/realtime?api-key={FLAG_KEY}"
    conversation = embedded_conversation(tmp_path, url)
    outcome = conversation.run()
    assert outcome.state == "Error" and "connection refused" in str(outcome.reason)
    assert_no_secret(repr(outcome), repr(conversation.endpoint), repr(conversation.transport))


def embedded_conversation(folder: Path, url: str) -> Conversation:
    endpoint = endpoint_for("openai", url=url, api_key=FLAG_KEY)
    return Conversation(endpoint=endpoint, input=QUESTION, output=folder / "out.wav",
                        quiet=True)
