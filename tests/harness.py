"""A conversation on a virtual clock, driven event by event from a test.

Tests tell a story: the server says this, time passes, the user speaks; then they look at
the states entered and the client events sent. Same engine and states as a live run, no
threads, no sleeping.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from controller.protocol import parse_server_event
from controller.replay import Replay
from controller.replay_ports import ticks
from controller.scenario import scenario_from_mapping


class Story:
    """One conversation under test."""

    def __init__(self, *, config: Mapping[str, Any] | None = None,
                 tools: list[Mapping[str, Any]] | None = None, dialect: str = "ga") -> None:
        doc = {"name": "story", "dialect": dialect, "config": dict(config or {}),
               "tools": list(tools or []), "steps": []}
        scenario = scenario_from_mapping(doc, "story", base_dir=Path("."))
        self.replay = Replay(scenario)
        self.engine = self.replay.engine
        self.engine.start()
        self.replay._drain()

    # --- Acting ---------------------------------------------------------------------------

    def server(self, type: str, **fields: Any) -> Story:
        self.replay.inbox.post(parse_server_event(json.dumps({"type": type, **fields})))
        self.replay._drain()
        return self

    def raw(self, text: str) -> Story:
        self.replay.inbox.post(parse_server_event(text))
        self.replay._drain()
        return self

    def post(self, item: Any) -> Story:
        self.replay.inbox.post(item)
        self.replay._drain()
        return self

    def wait(self, seconds: float) -> Story:
        """Let virtual time pass, running whatever falls due."""
        clock = self.replay.clock
        until = clock.tick + ticks(seconds)
        while (due := clock.next_due()) is not None and due <= until:
            clock.run_next()
            self.replay._drain()
        clock.tick = until
        return self

    def settle(self, limit: float = 60.0) -> Story:
        """Run until no timer, tool or playback is pending (or ``limit`` seconds pass)."""
        clock = self.replay.clock
        end = clock.tick + ticks(limit)
        while clock.has_live_entries and (due := clock.next_due()) is not None and due <= end:
            clock.run_next()
            self.replay._drain()
        return self

    # --- Shortcuts for common server sequences --------------------------------------------

    def connect(self) -> Story:
        self.server("session.created", session={"id": "sess_1"})
        return self.server("session.updated", session={})

    def response_started(self, response_id: str = "resp_1") -> Story:
        return self.server("response.created", response={"id": response_id,
                                                         "status": "in_progress"})

    def audio(self, ms: int, *, item_id: str = "item_a1", response_id: str = "resp_1") -> Story:
        pcm = bytes(ms * 48)
        return self.server("response.output_audio.delta", response_id=response_id,
                           item_id=item_id, output_index=0, content_index=0,
                           delta=base64.b64encode(pcm).decode())

    def response_done(self, response_id: str = "resp_1", status: str = "completed",
                      output: list[Any] | None = None) -> Story:
        return self.server("response.done", response={"id": response_id, "status": status,
                                                      "output": output or []})

    def speech_started(self, at_ms: int = 1000) -> Story:
        return self.server("input_audio_buffer.speech_started", audio_start_ms=at_ms,
                           item_id="item_u2")

    def function_call(self, call_id: str, name: str, arguments: str, *,
                      response_id: str = "resp_1", status: str = "completed") -> Story:
        return self.server("response.output_item.done", response_id=response_id,
                           output_index=0, item={"id": f"item_{call_id}",
                                                 "type": "function_call", "status": status,
                                                 "call_id": call_id, "name": name,
                                                 "arguments": arguments})

    # --- Looking ----------------------------------------------------------------------------

    @property
    def state(self) -> str:
        return self.engine.state

    @property
    def states(self) -> list[str]:
        return list(self.engine.states_entered)

    @property
    def sent(self) -> list[dict[str, Any]]:
        return [e["event"] for e in self.replay.client_events]

    def sent_types(self) -> list[str]:
        return [e["type"] for e in self.sent]

    def sent_of(self, type: str) -> list[dict[str, Any]]:
        return [e for e in self.sent if e["type"] == type]

    @property
    def report(self) -> dict[str, Any]:
        return self.replay.report()
