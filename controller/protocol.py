"""The Realtime API wire protocol, sans I/O: the one import other parts need.

Server frames go in as text and come out as typed events (``parse_server_event``); client
events come out of ``ClientEvents`` as JSON-ready dicts for the chosen dialect (GA by
default, beta for legacy Azure preview URLs and older servers). Everything about the
difference between the two dialects lives behind this facade. No websocket, pyaudio or
threading here: callers own the socket.
"""

from __future__ import annotations

from controller.codec_build import ClientEvents, Dialect
from controller.codec_parse import SERVER_EVENT_TYPES, parse_server_event

__all__ = ["SERVER_EVENT_TYPES", "ClientEvents", "Dialect", "parse_server_event"]
