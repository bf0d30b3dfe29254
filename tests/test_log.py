"""A conversation is recorded as JSONL (CONTRACT §3) and read back for replay."""

from __future__ import annotations

import base64
import json
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from controller.errors import ConfigError, ScenarioError
from controller.log import EventLog, NullRecorder, base64_size, read_log
from controller.ports import Recorder

API_KEY = "sk-test-THISISNOTAREALKEY1234567890"
AZURE_KEY = "0123456789abcdef0123456789abcdef"
HEADER = {"dialect": "ga", "provider": "openai", "url": "wss://api.openai.com/v1/realtime",
          "config": {"voice": "marin"}}


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def audio(byte_count: int) -> str:
    return base64.b64encode(bytes(range(256)) * (byte_count // 256) +
                            bytes(byte_count % 256)).decode("ascii")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "call.jsonl"


def test_the_header_comes_first_then_one_line_per_event_and_state(path: Path) -> None:
    with EventLog(path, header=HEADER) as log:
        log.state(0.0, "Idle", "Connecting", "connect")
        log.client(0.25, {"type": "session.update", "session": {"voice": "marin"}})
        log.server(0.5, {"type": "session.updated", "session": {}})
    header, *entries = lines_of(path)
    assert header["kind"] == "header" and header["version"] == 1
    assert {k: header[k] for k in HEADER} == HEADER
    datetime.fromisoformat(header["started_at"])
    assert entries == [
        {"t": 0.0, "dir": "local", "state": {"from": "Idle", "to": "Connecting",
                                             "trigger": "connect"}},
        {"t": 0.25, "dir": "client", "event": {"type": "session.update",
                                               "session": {"voice": "marin"}}},
        {"t": 0.5, "dir": "server", "event": {"type": "session.updated", "session": {}}},
    ]


def test_the_header_cannot_change_kind_or_version(path: Path) -> None:
    EventLog(path, header={**HEADER, "kind": "other", "version": 9}).close()
    header = lines_of(path)[0]
    assert (header["kind"], header["version"]) == ("header", 1)


def test_each_line_is_on_disk_as_soon_as_it_is_written(path: Path) -> None:
    log = EventLog(path, header=HEADER)
    assert len(lines_of(path)) == 1, "the header is flushed before any event"
    for number in range(1, 4):
        log.server(number / 10, {"type": "response.created", "response": {"id": f"r{number}"}})
        # Read through a separate handle while the log is still open: a crash now loses nothing.
        assert len(lines_of(path)) == 1 + number
    log.close()


@pytest.mark.parametrize("byte_count", [0, 1, 2, 3, 4800, 4801, 4802])
def test_base64_size_is_the_decoded_length(byte_count: int) -> None:
    assert base64_size(audio(byte_count)) == byte_count


@pytest.mark.parametrize(("event_type", "field"), [
    ("response.output_audio.delta", "delta"),
    ("response.audio.delta", "delta"),
    ("input_audio_buffer.append", "audio"),
])
def test_audio_is_replaced_by_its_byte_count(path: Path, event_type: str, field: str) -> None:
    event = {"type": event_type, "item_id": "item_a1", field: audio(4801)}
    with EventLog(path, header=HEADER) as log:
        log.server(1.0, event)
    assert lines_of(path)[1]["event"] == {"type": event_type, "item_id": "item_a1",
                                          field: {"elided_bytes": 4801}}
    assert isinstance(event[field], str), "the caller's event is not changed"


def test_audio_is_kept_when_asked_for(path: Path) -> None:
    payload = audio(960)
    with EventLog(path, header=HEADER, record_audio=True) as log:
        log.client(0.1, {"type": "input_audio_buffer.append", "audio": payload})
    assert lines_of(path)[1]["event"]["audio"] == payload


def test_other_events_with_a_delta_are_not_elided(path: Path) -> None:
    with EventLog(path, header=HEADER) as log:
        log.server(1.0, {"type": "response.output_audio_transcript.delta", "delta": "Hel"})
    assert lines_of(path)[1]["event"]["delta"] == "Hel"


def test_secrets_never_reach_the_file(path: Path) -> None:
    tricky = 'p"w\\d-with-quote'
    header = {**HEADER, "url": f"wss://x.openai.azure.com/openai/realtime?api-key={AZURE_KEY}",
              "config": {"api_key": API_KEY, "headers": {"Authorization": f"Bearer {API_KEY}",
                                                         "api-key": AZURE_KEY}}}
    with EventLog(path, header=header, secrets=[API_KEY, AZURE_KEY, tricky]) as log:
        log.server(0.1, {"type": "error", "error": {
            "message": f"Incorrect API key provided: {API_KEY}. Also {tricky}."}})
        log.client(0.2, {"type": "session.update", "session": {
            "instructions": f"the key is {AZURE_KEY[:8]}" + AZURE_KEY[8:]}})
        log.server(0.3, {"type": "session.created", "session": {
            "client_secret": {"value": "ek_ephemeral", "expires_at": 1}}})
        log.server(0.4, {"type": "x.custom", "note": "Authorization: Bearer "
                                                      "abcdefghijklmnopqrstuvwxyz0123"})
    text = path.read_text(encoding="utf-8")
    for secret in (API_KEY, AZURE_KEY, tricky, json.dumps(tricky)[1:-1], "ek_ephemeral",
                   "abcdefghijklmnopqrstuvwxyz0123"):
        assert secret not in text
    header_line, error, update, created, custom = lines_of(path)
    assert update["event"]["session"]["instructions"] == "the key is [redacted]"
    assert header_line["config"]["api_key"] == "[redacted]"
    assert header_line["config"]["headers"] == {"Authorization": "[redacted]",
                                                "api-key": "[redacted]"}
    assert header_line["url"].endswith("?api-key=[redacted]")
    assert error["event"]["error"]["message"].startswith("Incorrect API key provided: [redacted]")
    assert created["event"]["session"]["client_secret"] == "[redacted]"
    assert custom["event"]["note"] == "Authorization: Bearer [redacted]"


def test_ordinary_words_are_not_mistaken_for_credentials(path: Path) -> None:
    with EventLog(path, header=HEADER) as log:
        log.server(1.0, {"type": "response.output_audio_transcript.done",
                         "transcript": "The bearer of bad news asks about basic maths."})
    assert lines_of(path)[1]["event"]["transcript"] == (
        "The bearer of bad news asks about basic maths.")


def test_threads_can_record_at_once_without_mixing_lines(path: Path) -> None:
    log = EventLog(path, header=HEADER)

    def record(worker: int) -> None:
        for number in range(200):
            log.server(number / 100, {"type": "response.output_audio.delta",
                                      "item_id": f"w{worker}", "delta": audio(480)})

    threads = [threading.Thread(target=record, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    entries = lines_of(path)[1:]
    assert len(entries) == 800
    assert all(entry["event"]["delta"] == {"elided_bytes": 480} for entry in entries)


def test_lines_after_close_are_dropped(path: Path) -> None:
    log = EventLog(path, header=HEADER)
    log.close()
    log.server(1.0, {"type": "response.done"})  # a late report from an I/O thread
    assert len(lines_of(path)) == 1


class FullDisk:
    closed = False

    def write(self, text: str) -> int:
        raise OSError(28, "No space left on device")

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def test_a_failed_write_stops_the_log_without_ending_the_conversation(
        path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = EventLog(path, header=HEADER)
    real_file = log._file
    monkeypatch.setattr(log, "_file", FullDisk())
    log.server(1.0, {"type": "response.done"})  # must not raise into the controller thread
    assert log.failure is not None and "No space left on device" in log.failure
    log.close()
    real_file.close()


def test_a_log_that_cannot_be_written_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot write the event log .*missing"):
        EventLog(tmp_path / "missing" / "call.jsonl", header=HEADER)


def test_null_recorder_and_event_log_are_recorders(path: Path) -> None:
    null, log = NullRecorder(), EventLog(path, header=HEADER)
    recorders: list[Recorder] = [null, log]
    for recorder in recorders:
        recorder.state(0.0, "Idle", "Connecting", "connect")
    null.close()
    log.close()
    assert len(lines_of(path)) == 2


# --- Reading a log back ---------------------------------------------------------------------

def test_a_recorded_log_reads_back(path: Path) -> None:
    with EventLog(path, header=HEADER) as log:
        log.state(0.0, "Idle", "Connecting", "connect")
        log.server(0.5, {"type": "response.output_audio.delta", "delta": audio(48)})
    header, entries = read_log(path)
    assert header["provider"] == "openai"
    assert [entry["dir"] for entry in entries] == ["local", "server"]
    assert entries[1]["event"]["delta"] == {"elided_bytes": 48}


def write_log(path: Path, *lines: str, end: str = "\n") -> Path:
    path.write_text("\n".join(lines) + end, encoding="utf-8")
    return path


GOOD_HEADER = json.dumps({"kind": "header", "version": 1, "dialect": "ga"})
GOOD_EVENT = json.dumps({"t": 0.1, "dir": "server", "event": {"type": "session.created"}})


@pytest.mark.parametrize(("lines", "step", "field", "words"), [
    ((GOOD_HEADER, "{not json", GOOD_EVENT), 2, None, "line 2 is not JSON"),
    ((GOOD_EVENT,), 1, "kind", "should be the header"),
    (('{"kind": "header", "version": 2}',), 1, "version", "log version 2 is not supported"),
    ((GOOD_HEADER, GOOD_EVENT, '{"dir": "server", "event": {"type": "x"}}'), 3, "t",
     "'t' must be the seconds"),
    ((GOOD_HEADER, '{"t": 1, "dir": "sideways", "event": {"type": "x"}}'), 2, "dir",
     "'dir' must be server, client or local"),
    ((GOOD_HEADER, '{"t": 1, "dir": "client"}'), 2, "event", "needs an 'event' object"),
    ((GOOD_HEADER, '{"t": 1, "dir": "client", "event": {}}'), 2, "event.type", "no 'type'"),
    ((GOOD_HEADER, '{"t": 1, "dir": "local", "state": {"from": "Idle"}}'), 2, "state",
     "'state': {from, to, trigger}"),
    ((GOOD_HEADER, "[1, 2]"), 2, "line", "must be a JSON object"),
])
def test_a_bad_log_names_the_line_and_the_field(path: Path, lines: tuple[str, ...], step: int,
                                                field: str | None, words: str) -> None:
    write_log(path, *lines)
    with pytest.raises(ScenarioError) as caught:
        read_log(path)
    assert (caught.value.step, caught.value.field) == (step, field)
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"{path}: step {step}")


def test_the_unfinished_last_line_of_a_crashed_run_is_dropped(path: Path) -> None:
    write_log(path, GOOD_HEADER, GOOD_EVENT, '{"t": 0.2, "dir": "ser', end="")
    header, entries = read_log(path)
    assert header["dialect"] == "ga" and len(entries) == 1


def test_an_empty_or_missing_log_is_an_error(path: Path) -> None:
    path.write_text("", encoding="utf-8")
    with pytest.raises(ScenarioError, match="no header line"):
        read_log(path)
    with pytest.raises(ScenarioError, match="no such log file"):
        read_log(path.with_name("absent.jsonl"))


def test_a_log_that_is_not_utf8_names_the_line(path: Path) -> None:
    path.write_bytes(GOOD_HEADER.encode() + b"\n" + b'{"t": 1, "x": "\xff"}\n')
    with pytest.raises(ScenarioError, match="line 2 is not UTF-8") as caught:
        read_log(path)
    assert caught.value.step == 2
