"""Small wire-level pieces shared by the local server: ids, client errors, error events.

Owns the shape of an ``error`` server event and the ``ClientError`` exception a handler
raises when a client event is refused (the connection turns it into an ``error`` event and
the session goes on). No sockets, no threads, no session state here.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

_ID_ALPHABET = string.ascii_letters + string.digits

# 24 kHz mono pcm16: 48 bytes per millisecond (the only internal audio format).
SAMPLE_RATE = 24000
BYTES_PER_MS = 48


def new_id(prefix: str) -> str:
    """An id like the real service's: ``item_`` + 21 random letters and digits."""
    return prefix + "_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(21))


class ClientError(Exception):
    """A client event the server refuses; becomes an ``error`` event, not a disconnect."""

    def __init__(self, code: str, message: str, *, param: str | None = None,
                 error_type: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param
        self.error_type = error_type


def error_event(error: ClientError, *, client_event_id: str | None = None) -> dict[str, Any]:
    """The ``error`` server event for ``error``, echoing the client's ``event_id``."""
    return {
        "type": "error",
        "error": {
            "type": error.error_type,
            "code": error.code,
            "message": error.message,
            "param": error.param,
            "event_id": client_event_id,
        },
    }


def describe_json_type(value: Any) -> str:
    """How the real service names a JSON value's type in its error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "decimal"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
