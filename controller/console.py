"""What a person running ``convctl run`` sees: transcript on stdout, the rest on stderr.

stdout carries only the conversation, one line each (``user: ...``, ``assistant: ...``,
``tool: name(args) -> result``), so it can be piped; state changes and diagnostics go to
stderr, more of them with ``-v``. Library users get the same moments as callbacks.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

TranscriptCallback = Callable[[str, str, bool], None]
StateCallback = Callable[[str, str, str], None]

LEVELS = {"debug": 0, "info": 1, "warning": 2, "error": 3}


class TerminalConsole:
    """Prints the conversation; calls the embedding app's callbacks too."""

    def __init__(self, *, verbose: bool = False, out: TextIO | None = None,
                 err: TextIO | None = None, on_transcript: TranscriptCallback | None = None,
                 on_state: StateCallback | None = None, quiet: bool = False) -> None:
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
            print(f"{role}: {text}{suffix}", file=self._out, flush=True)

    def tool(self, name: str, arguments: Any, output: str) -> None:
        if not self._quiet:
            args = json.dumps(arguments, ensure_ascii=False)
            print(f"tool: {name}({args}) -> {output}", file=self._out, flush=True)

    def state(self, source: str, target: str, event: str) -> None:
        if self._on_state is not None:
            self._on_state(source, target, event)
        if not self._quiet:
            print(f"[{target}] ({source} --{event}-->)", file=self._err, flush=True)

    def diagnostic(self, message: str, *, level: str = "info") -> None:
        if self._quiet or LEVELS.get(level, 1) < self._min_level:
            return
        prefix = "" if level == "info" else f"{level}: "
        print(f"convctl: {prefix}{message}", file=self._err, flush=True)
