"""The event log of ``--record`` (CONTRACT §3): writing it, and reading it back for replay.

``EventLog`` is the live ``Recorder`` port: a header line, then one JSON line per wire
event and per state change, flushed as it goes so a crash loses at most the last line.
Audio payloads become ``{"elided_bytes": N}`` unless audio recording was asked for.
``read_log`` checks a log file and returns its header and entries, or raises a
``ScenarioError`` naming the line. ``NullRecorder`` is the port when nothing is recorded.

What it must never do: write a secret. The given secrets are scrubbed from every line
(before and after encoding), and header-like fields (``Authorization``, ``api-key``,
``client_secret``, ...), bearer tokens, ``sk-`` keys and ``api-key=`` URL parameters are
redacted wherever they appear. Writing never raises into the conversation: a failed write
stops the log and is kept in ``failure``.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from controller.errors import ConfigError, ScenarioError

LOG_VERSION = 1
REDACTED = "[redacted]"

# Where the wire carries base64 audio, by event type.
AUDIO_FIELDS = {
    "response.output_audio.delta": "delta",  # GA
    "response.audio.delta": "delta",         # beta
    "input_audio_buffer.append": "audio",
}
# Field names whose values are credentials, compared without case, '-' and '_'.
_SECRET_KEYS = {"authorization", "apikey", "xapikey", "clientsecret", "password",
                "ocpapimsubscriptionkey"}
_SECRET_PATTERNS = (
    # Long enough not to eat "the bearer of bad news" or "basic math" in a transcript.
    (re.compile(r"\b(Bearer|Basic) +[A-Za-z0-9._~+/=-]{16,}"), r"\1 " + REDACTED),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"), REDACTED),
    (re.compile(r"(?i)([?&](?:api-key|api_key|key|access_token|client_secret)=)[^&\s\"']+"),
     r"\1" + REDACTED),
)


def base64_size(text: str) -> int:
    """The number of bytes a base64 text decodes to, without decoding it."""
    body = text.strip()
    padding = len(body) - len(body.rstrip("="))
    return len(body) * 3 // 4 - padding


def elide_audio(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The event with its base64 audio replaced by ``{"elided_bytes": N}`` (a copy)."""
    field = AUDIO_FIELDS.get(str(event.get("type")))
    if field is None or not isinstance(event.get(field), str):
        return event
    return {**event, field: {"elided_bytes": base64_size(event[field])}}


class Redactor:
    """Removes secrets from values and from encoded lines."""

    def __init__(self, secrets: Sequence[str] = ()) -> None:
        # Longest first, so a secret that contains another is removed whole.
        self.secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(key)): REDACTED if _is_secret_key(key) else self.value(item)
                    for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(item) for item in value]
        return value

    def text(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        for pattern, replacement in _SECRET_PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def line(self, line: str) -> str:
        """A safety net on the encoded line: a secret as JSON escapes would spell it."""
        for secret in self.secrets:
            line = line.replace(json.dumps(secret, ensure_ascii=False)[1:-1], REDACTED)
            line = line.replace(json.dumps(secret)[1:-1], REDACTED)
        return line


def _is_secret_key(key: object) -> bool:
    return str(key).lower().replace("-", "").replace("_", "") in _SECRET_KEYS


class EventLog:
    """The JSONL event log; thread-safe, one line per call, flushed per line."""

    def __init__(self, path: str | Path, *, header: Mapping[str, Any],
                 record_audio: bool = False, secrets: Sequence[str] = ()) -> None:
        self.path = Path(path)
        self.record_audio = record_audio
        self.failure: str | None = None
        self._redactor = Redactor(secrets)
        self._lock = threading.Lock()
        try:
            self._file = self.path.open("w", encoding="utf-8", newline="\n")
        except OSError as exc:
            raise ConfigError(f"cannot write the event log {self.path}: {exc.strerror}; check "
                              "that its folder exists and is writable") from None
        first: dict[str, Any] = {"kind": "header", "version": LOG_VERSION,
                                 "started_at": datetime.now(timezone.utc).isoformat()}
        first.update((k, v) for k, v in header.items() if k not in ("kind", "version"))
        self._write(first)

    # --- The Recorder port -----------------------------------------------------------------

    def server(self, t: float, event: Mapping[str, Any]) -> None:
        self._write({"t": _seconds(t), "dir": "server", "event": self._audio(event)})

    def client(self, t: float, event: Mapping[str, Any]) -> None:
        self._write({"t": _seconds(t), "dir": "client", "event": self._audio(event)})

    def state(self, t: float, source: str, target: str, trigger: str) -> None:
        self._write({"t": _seconds(t), "dir": "local",
                     "state": {"from": source, "to": target, "trigger": trigger}})

    def signal(self, t: float, name: str) -> None:
        """Something local that changed what the controller did (the input file ran
        out, the push-to-talk detector heard a turn start or end, Ctrl-C), so a replay
        of the log can give the same signal at the same time."""
        self._write({"t": _seconds(t), "dir": "local", "signal": name})

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.close()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- Writing -------------------------------------------------------------------------------

    def _audio(self, event: Mapping[str, Any]) -> Mapping[str, Any]:
        return event if self.record_audio else elide_audio(event)

    def _write(self, record: Mapping[str, Any]) -> None:
        with self._lock:
            if self._file.closed or self.failure is not None:
                return  # late reports from I/O threads after close are dropped
            line = json.dumps(self._redactor.value(record), ensure_ascii=False, default=str)
            try:
                self._file.write(self._redactor.line(line) + "\n")
                self._file.flush()
            except (OSError, ValueError) as exc:
                self.failure = f"writing the event log {self.path} failed: {exc}"


def _seconds(t: float) -> float:
    return round(float(t), 6)


class NullRecorder:
    """The Recorder when nothing is recorded."""

    def server(self, t: float, event: Mapping[str, Any]) -> None:
        pass

    def client(self, t: float, event: Mapping[str, Any]) -> None:
        pass

    def state(self, t: float, source: str, target: str, trigger: str) -> None:
        pass

    def signal(self, t: float, name: str) -> None:
        pass

    def close(self) -> None:
        pass


# --- Reading a log back --------------------------------------------------------------------

def read_log(path: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header and the entries of a log; ``ScenarioError`` (step = line number) if bad.

    A crash can cut the last line short, so a final line that has no newline and is not
    JSON is dropped; anywhere else a bad line is an error.
    """
    name = str(path)
    text = _read_text(name)
    lines = text.split("\n")
    header: dict[str, Any] | None = None
    entries: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines):
                break  # the unfinished last line of a crashed run
            raise ScenarioError(name, f"line {number} is not JSON ({exc.msg})",
                                step=number) from None
        if header is None:
            header = _check_header(name, number, record)
        else:
            entries.append(_check_entry(name, number, record))
    if header is None:
        raise ScenarioError(name, "the log is empty: it has no header line", step=1)
    return header, entries


def _read_text(name: str) -> str:
    try:
        data = Path(name).read_bytes()
    except FileNotFoundError:
        raise ScenarioError(name, "no such log file") from None
    except OSError as exc:
        raise ScenarioError(name, f"cannot read the log: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ScenarioError(name, f"line {line} is not UTF-8 text", step=line) from None


def _check_header(name: str, number: int, record: Any) -> dict[str, Any]:
    if not isinstance(record, dict) or record.get("kind") != "header":
        raise ScenarioError(name, f'line {number} should be the header {{"kind": "header", '
                            '"version": 1, ...}; is this a convctl event log?',
                            step=number, field="kind")
    version = record.get("version")
    if version != LOG_VERSION or isinstance(version, bool):
        raise ScenarioError(name, f"log version {version!r} is not supported; this convctl "
                            f"reads version {LOG_VERSION}", step=number, field="version")
    return record


def _check_entry(name: str, number: int, record: Any) -> dict[str, Any]:
    def bad(field: str, message: str) -> ScenarioError:
        return ScenarioError(name, f"line {number}: {message}", step=number, field=field)

    if not isinstance(record, dict):
        raise bad("line", "each line must be a JSON object")
    t = record.get("t")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t < 0:
        raise bad("t", f"'t' must be the seconds since the start (a number >= 0), got {t!r}")
    direction = record.get("dir")
    if direction in ("server", "client"):
        event = record.get("event")
        if not isinstance(event, dict):
            raise bad("event", f"a {direction} line needs an 'event' object")
        if not isinstance(event.get("type"), str):
            raise bad("event.type", "the event has no 'type'")
    elif direction == "local":
        if "signal" in record:
            if not isinstance(record["signal"], str):
                raise bad("signal", "a local signal must be a name (string)")
            return record
        state = record.get("state")
        if not isinstance(state, dict) or not all(
                isinstance(state.get(key), str) for key in ("from", "to", "trigger")):
            raise bad("state", "a local line needs 'state': {from, to, trigger} (strings) "
                      "or 'signal': name")
    else:
        raise bad("dir", f"'dir' must be server, client or local, got {direction!r}")
    return record
