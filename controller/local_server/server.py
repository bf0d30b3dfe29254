"""The built-in offline realtime server: a real websocket server on the loopback.

Owns ``LocalServer``: it loads the brain (``--brain`` or the built-in one) and the speech
recogniser once, listens with the ``websockets`` sync server, routes the GA path
(``/v1/realtime``, also Azure's ``/openai/v1/realtime``) and the Azure preview beta path
(``/openai/realtime?api-version=...&deployment=...``) to a ``Connection`` in the matching
dialect, refuses other paths with HTTP 404, and answers the ``OpenAI-Beta`` header on the
GA path the way OpenAI does today (``beta_api_shape_disabled``, close 4000). Start and
stop are bounded: ``stop()`` closes every connection and joins its threads.
"""

from __future__ import annotations

import json
import logging
import threading
from urllib.parse import parse_qs, urlsplit

from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from controller.local_server.brain import Brain
from controller.local_server.connection import Connection
from controller.local_server.dialect import BETA, GA, Dialect
from controller.local_server.session import RealtimeSession
from controller.local_server.transcriber import Transcriber
from controller.local_server.whisper_fallback import default_open_vocabulary
from controller.local_server.wire import new_id

log = logging.getLogger(__name__)

GA_PATHS = ("/v1/realtime", "/openai/v1/realtime")
BETA_PATH = "/openai/realtime"
BETA_API_VERSION = "2025-04-01-preview"
# An append may carry 15 MiB of audio; base64 and JSON make that about 20 MiB.
_MAX_MESSAGE_BYTES = 32 * 1024 * 1024
_JOIN_SECONDS = 1.0
_CLOSE_SECONDS = 0.5


class LocalServer:
    """An offline stand-in for the OpenAI / Azure OpenAI Realtime websocket API."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, brain_path: str | None = None,
                 max_session_seconds: float = 3600.0, *, speech_speedup: float = 4.0) -> None:
        self.host = host
        self.requested_port = port
        self.max_session_seconds = max_session_seconds
        self.speech_speedup = speech_speedup
        self.brain = Brain.load(brain_path)
        self.transcriber = Transcriber(self.brain.phrase_shapes(), self.brain.spec.slots,
                                       open_vocabulary=default_open_vocabulary())
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._warm_up: threading.Thread | None = None
        self._stopped = threading.Event()

    # --- Addresses ----------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the local server is not started; call start() first")
        return int(self._server.socket.getsockname()[1])

    @property
    def url(self) -> str:
        """The GA endpoint, e.g. ``ws://127.0.0.1:54321/v1/realtime``."""
        return f"ws://{self.host}:{self.port}/v1/realtime"

    @property
    def beta_url(self) -> str:
        """The Azure-preview-style endpoint, which speaks the beta dialect."""
        return (f"ws://{self.host}:{self.port}{BETA_PATH}?api-version={BETA_API_VERSION}"
                "&deployment=gpt-realtime")

    # --- Life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Listen and serve in background threads; returns once the port is bound."""
        if self._server is not None:
            return
        self._server = serve(self._serve_connection, self.host, self.requested_port,
                             process_request=_check_route, compression=None,
                             max_size=_MAX_MESSAGE_BYTES, close_timeout=_CLOSE_SECONDS,
                             server_header="convctl-local-realtime")
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="convctl-local-server")
        self._thread.start()
        # Load the recogniser now, so the first user turn is not slower than the rest.
        self._warm_up = threading.Thread(target=self.transcriber.warm_up, daemon=True,
                                         name="convctl-asr-warm-up")
        self._warm_up.start()
        log.info("local realtime server listening on %s", self.url)

    def stop(self) -> None:
        """Close every connection (1001) and join the server's threads."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        for thread in (self._thread, self._warm_up):
            if thread is not None:
                thread.join(_JOIN_SECONDS)
        self._stopped.set()

    def serve_forever(self) -> None:
        """Serve until Ctrl-C (or ``stop()`` from another thread), then stop cleanly."""
        self.start()
        try:
            while not self._stopped.wait(0.5):
                pass
        except KeyboardInterrupt:
            log.info("local realtime server stopping")
        finally:
            self.stop()

    # --- Connections --------------------------------------------------------------------

    def _serve_connection(self, websocket: ServerConnection) -> None:
        request = websocket.request
        assert request is not None
        route = urlsplit(request.path)
        query = parse_qs(route.query)
        dialect: Dialect = BETA if route.path == BETA_PATH else GA
        if dialect is GA and request.headers.get("OpenAI-Beta", "").startswith("realtime"):
            _refuse_beta_header(websocket)
            return
        names = query.get("deployment") or query.get("model")
        model = names[0] if names else None

        def make_session(**outlets: object) -> RealtimeSession:
            return RealtimeSession(dialect=dialect, brain=self.brain,
                                   transcriber=self.transcriber,
                                   max_session_seconds=self.max_session_seconds,
                                   model=model, speedup=self.speech_speedup,
                                   **outlets)  # type: ignore[arg-type]

        Connection(websocket, make_session).serve()


def _check_route(connection: ServerConnection, request: Request) -> Response | None:
    """HTTP refusals before the upgrade: unknown paths, or beta without ``api-version``."""
    route = urlsplit(request.path)
    if route.path in GA_PATHS:
        return None
    if route.path == BETA_PATH:
        if "api-version" not in parse_qs(route.query):
            return connection.respond(400, "Missing required query parameter 'api-version' "
                                      f"(for example api-version={BETA_API_VERSION}).\n")
        return None
    return connection.respond(404, f"Not found: {route.path}. This local realtime server "
                              f"serves {GA_PATHS[0]} (GA) and {BETA_PATH}?api-version=..."
                              "&deployment=... (beta).\n")


def _refuse_beta_header(websocket: ServerConnection) -> None:
    """What OpenAI answers to ``OpenAI-Beta: realtime=v1`` since the beta shape was removed."""
    websocket.send(json.dumps({"type": "error", "event_id": new_id("event"), "error": {
        "type": "invalid_request_error", "code": "beta_api_shape_disabled",
        "message": "The Realtime Beta API is no longer supported. Please use /v1/realtime "
                   "for the GA API, or the beta path /openai/realtime?api-version=... on "
                   "this server.",
        "param": None, "event_id": None}}))
    websocket.close(4000, "beta_api_shape_disabled")
