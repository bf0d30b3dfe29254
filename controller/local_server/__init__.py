"""convctl's built-in offline realtime server (``convctl serve``).

It speaks the OpenAI / Azure OpenAI Realtime websocket protocol - GA at ``/v1/realtime``,
beta at the Azure preview path - with real local speech components: Silero VAD for turn
detection, pocketsphinx for transcription, espeak-ng for the voice, and a YAML "brain" for
what the assistant says and which tools it calls. The controller talks to it exactly as it
talks to OpenAI. ``LocalServer`` is the whole public API.
"""

from controller.local_server.server import LocalServer

__all__ = ["LocalServer"]
