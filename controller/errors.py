"""The one exception tree of convctl.

Every error a user can cause is a ``ConvctlError`` whose message says what happened and
what to do about it. Tracebacks are for bugs, so nothing else should reach a user.
Messages never contain secrets: the transport and the log writer redact them at the edge.
"""

from __future__ import annotations


class ConvctlError(Exception):
    """Base of every error convctl raises on purpose."""


class ConfigError(ConvctlError):
    """Bad configuration, flags, scenario or tool definitions: nothing was started."""


class ScenarioError(ConfigError):
    """A scenario or log file is invalid; the message names the file, the step and the field."""

    def __init__(self, path: str, message: str, *, step: int | None = None,
                 field: str | None = None) -> None:
        where = path
        if step is not None:
            where += f": step {step}"
        if field:
            where += f": {field}"
        super().__init__(f"{where}: {message}")
        self.path = path
        self.step = step
        self.field = field


class ProtocolError(ConvctlError):
    """The server said something the conversation cannot go on from (a fatal error event)."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransportError(ConvctlError):
    """The websocket could not be opened, or closed in a way that ends the conversation."""

    def __init__(self, message: str, *, close_code: int | None = None) -> None:
        super().__init__(message)
        self.close_code = close_code


class AudioError(ConvctlError):
    """A microphone, speaker or audio file could not be used."""


class ToolError(ConvctlError):
    """A tool could not be loaded or defined.

    A tool that fails at run time is answered with an error output, not raised."""
