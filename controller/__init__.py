"""convctl: a voice conversation controller for the OpenAI and Azure OpenAI Realtime API.

The public API, imported lazily so that ``convctl --help`` stays fast::

    from controller import Conversation, SessionSettings, ControllerSettings, tool
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "tool": "controller.tools",
    "Conversation": "controller.conversation",
    "Outcome": "controller.conversation",
    "SessionSettings": "controller.settings",
    "ControllerSettings": "controller.settings",
    "TurnDetection": "controller.settings",
    "Transcription": "controller.settings",
    "ToolSpec": "controller.settings",
    "ConvctlError": "controller.errors",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'controller' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = ["tool", *_LAZY]
