"""The shared state of one local realtime session and the ways out of it.

Owns ``SessionState``: the lock every handler holds while it reads or changes the session,
the effective config, the conversation, the active response, and the two exits - ``emit``
(send a server event, GA-named; called with the lock held so events leave in the order the
state changed) and ``schedule`` (run slow work - transcription, a response - on the
session's worker thread, in order). It holds no behaviour of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from controller.local_server.brain import Brain
from controller.local_server.conversation import Conversation
from controller.local_server.dialect import Dialect
from controller.local_server.response_state import Response
from controller.local_server.session_config import SessionConfig
from controller.local_server.transcriber import Transcriber

Emit = Callable[[dict[str, Any]], None]
Schedule = Callable[[Callable[[], None]], None]


@dataclass
class SessionState:
    """Everything one connection's handlers share; guard it with ``lock``."""

    config: SessionConfig
    dialect: Dialect
    brain: Brain
    transcriber: Transcriber
    emit: Emit
    schedule: Schedule
    lock: threading.RLock = field(default_factory=threading.RLock)
    conversation: Conversation = field(default_factory=Conversation)
    # The response writing to the default conversation, if any (one at a time).
    active_response: Response | None = None
    # Out-of-band responses (conversation "none") still running, by id.
    side_responses: dict[str, Response] = field(default_factory=dict)
    # Once the assistant has spoken, the voice can no longer change.
    assistant_spoke: bool = False
    # Token budget reported in rate_limits.updated.
    tokens_used: int = 0
    # The input audio clock: bytes of 24 kHz pcm16 received since the session began.
    received_bytes: int = 0
    # Where on that clock the last response's audio would have finished playing; silence
    # from there on counts towards idle_timeout_ms (None: nothing to wait for).
    idle_from_ms: int | None = None
