"""What a person running ``convctl run`` sees: transcript on stdout, the rest on stderr.

stdout carries only the conversation, one line each (``user: ...``, ``assistant: ...``,
``tool: name(args) -> result``), so it can be piped; state changes and diagnostics go to
stderr, more of them with ``-v``. Library users get the same moments as callbacks.

It never prints a key: every line goes through ``redact`` with the conversation's secrets
(a server's error message may quote the key it refused).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from controller.endpoint import redact

TranscriptCallback = Callable[[str, str, bool], None]
StateCallback = Callable[[str, str, str], None]

LEVELS = {"debug": 0, "info": 1, "warning": 2, "error": 3}


class TerminalConsole:
    """Prints the conversation; calls the embedding app's callbacks too."""

    def __init__(self, *, verbose: bool = False, out: TextIO | None = None,
                 err: TextIO | None = None, on_transcript: TranscriptCallback | None = None,
                 on_state: StateCallback | None = None, quiet: bool = False,
                 secrets: Sequence[str] = ()) -> None:
        self._secrets = tuple(secrets)
        self._out = out or sys.stdout
        self._err = err or sys.stderr
        self._min_level = LEVELS["debug" if verbose else "info"]
        self._on_transcript = on_transcript
        self._on_state = on_state
        self._quiet = quiet

    def transcript(self, role: str, text: str, *, interrupted: bool = False) -> None:
        if self._on_transcript is not None:
            self._on_transcript(role, text, interrupted)
        if not self._quiet:
            suffix = " [interrupted]" if interrupted else ""
            self._print(f"{role}: {text}{suffix}", self._out)

    def tool(self, name: str, arguments: Any, output: str) -> None:
        if not self._quiet:
            args = json.dumps(arguments, ensure_ascii=False)
            self._print(f"tool: {name}({args}) -> {output}", self._out)

    def state(self, source: str, target: str, event: str) -> None:
        if self._on_state is not None:
            self._on_state(source, target, event)
        if not self._quiet:
            self._print(f"[{target}] ({source} --{event}-->)", self._err)

    def diagnostic(self, message: str, *, level: str = "info") -> None:
        if self._quiet or LEVELS.get(level, 1) < self._min_level:
            return
        prefix = "" if level == "info" else f"{level}: "
        self._print(f"convctl: {prefix}{message}", self._err)

    def _print(self, line: str, stream: TextIO) -> None:
        print(redact(line, self._secrets), file=stream, flush=True)
