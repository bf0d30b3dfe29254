"""Where a conversation connects: the websocket URL and auth headers per provider.

This module owns the endpoint rules of PROTOCOL.md section 1 (OpenAI, Azure GA and Azure
preview, any other ``ws://``/``wss://`` server) and the redaction of secrets from text. It
does no I/O. It must never put a key in a repr, a message or a log line: ``Headers`` hides
the values of ``Authorization`` and ``api-key`` in its repr, and every message built from
user input goes through ``redact``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlencode, urlsplit

from controller.errors import ConfigError

Provider = Literal["openai", "azure", "local"]
Dialect = Literal["ga", "beta"]

PROVIDERS: tuple[Provider, ...] = ("openai", "azure", "local")
DIALECTS: tuple[Dialect, ...] = ("ga", "beta")
OPENAI_REALTIME_URL = "wss://api.openai.com/v1/realtime"
DEFAULT_MODEL = "gpt-realtime"
DEFAULT_AZURE_API_VERSION = "2025-04-01-preview"
BETA_HEADER = ("OpenAI-Beta", "realtime=v1")

REDACTED = "***"
SECRET_HEADER_NAMES = frozenset({"authorization", "api-key"})

# Credentials that may show up in text we did not write (an error body, a proxy message):
# "Bearer <token>" anywhere, and "api-key: <key>" / "api-key=<key>" / "'api-key': '<key>'".
_CREDENTIAL_PATTERNS = (
    re.compile(r"(?i)(\bbearer\s+)[^\s'\",;&]+"),
    re.compile(r"(?i)(\bapi[-_]?key['\"]?\s*[:=]\s*['\"]?)[^\s'\",;&]+"),
)


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret, bearer token and api-key value replaced by ``***``."""
    # Longest first, so a key that contains a shorter secret is still removed whole.
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    for pattern in _CREDENTIAL_PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    return text


class Headers(Mapping[str, str]):
    """Handshake headers whose repr shows ``***`` instead of credentials."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values = dict(values or {})

    def __getitem__(self, name: str) -> str:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        shown = {name: REDACTED if name.lower() in SECRET_HEADER_NAMES else value
                 for name, value in self._values.items()}
        return f"Headers({shown!r})"

    @property
    def secrets(self) -> tuple[str, ...]:
        """The credential values (and the bare token of a ``Bearer`` value)."""
        found: list[str] = []
        for name, value in self._values.items():
            if name.lower() in SECRET_HEADER_NAMES:
                found.append(value)
                scheme, _, token = value.partition(" ")
                if scheme.lower() == "bearer" and token:
                    found.append(token)
        return tuple(found)


@dataclass(frozen=True, repr=False)
class Endpoint:
    """A websocket URL, the headers of its handshake, and the dialect spoken there."""

    url: str
    headers: Headers = field(default_factory=Headers)
    dialect: Dialect = "ga"
    provider: Provider = "openai"

    def __repr__(self) -> str:
        # A key can hide in the URL too (Azure accepts ?api-key=).
        return (f"Endpoint(url={redact(self.url, self.secrets)!r}, headers={self.headers!r}, "
                f"dialect={self.dialect!r}, provider={self.provider!r})")

    @property
    def secrets(self) -> tuple[str, ...]:
        return self.headers.secrets


def endpoint_for(
    provider: Provider, *, dialect: Dialect = "ga", url: str | None = None,
    api_key: str | None = None, model: str | None = None, deployment: str | None = None,
    azure_endpoint: str | None = None, api_version: str | None = None,
    ad_token: str | None = None,
) -> Endpoint:
    """The endpoint for a provider; ``url`` (any ws:// or wss:// server) replaces its URL.

    Raises ``ConfigError`` saying what to set when the URL cannot be built.
    """
    if provider not in PROVIDERS:
        raise ConfigError(f"provider must be one of {', '.join(PROVIDERS)}; got {provider!r}")
    if dialect not in DIALECTS:
        raise ConfigError(f"dialect must be ga or beta; got {dialect!r}")
    if url is not None:
        target = check_ws_url(url)
    elif provider == "openai":
        target = f"{OPENAI_REALTIME_URL}?{urlencode({'model': model or DEFAULT_MODEL})}"
    elif provider == "azure":
        target = azure_realtime_url(azure_endpoint, deployment, dialect, api_version)
    else:
        raise ConfigError("the local provider needs the URL of the built-in server; "
                          "start it with `convctl serve` and pass --url ws://127.0.0.1:PORT")
    headers = _auth_headers(provider, dialect, api_key, ad_token)
    return Endpoint(url=target, headers=Headers(headers), dialect=dialect, provider=provider)


def _auth_headers(provider: Provider, dialect: Dialect, api_key: str | None,
                  ad_token: str | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if provider == "azure":
        # An Entra ID token replaces the key; Azure takes either, not both.
        if ad_token:
            headers["Authorization"] = f"Bearer {ad_token}"
        elif api_key:
            headers["api-key"] = api_key
    elif api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    # Azure's preview dialect is chosen by its URL; elsewhere beta is this header.
    if dialect == "beta" and provider != "azure":
        headers[BETA_HEADER[0]] = BETA_HEADER[1]
    return headers


def check_ws_url(url: str, *, what: str = "--url") -> str:
    """``url`` if it is a ws:// or wss:// URL with a host, else a ``ConfigError``."""
    shown = redact(url, ())
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - property access validates the port
    except ValueError as exc:
        raise ConfigError(f"{what} is not a valid URL ({exc}): {shown!r}") from None
    if parts.scheme in ("http", "https"):
        suggestion = ("ws" if parts.scheme == "http" else "wss") + shown[len(parts.scheme):]
        raise ConfigError(f"{what} must start with ws:// or wss://, got {shown!r}; "
                          f"did you mean {suggestion!r}?")
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ConfigError(f"{what} must be a ws:// or wss:// URL with a host, such as "
                          f"wss://example.com/v1/realtime; got {shown!r}")
    return url


def azure_base_url(azure_endpoint: str) -> str:
    """``wss://<resource>.openai.azure.com`` from an endpoint given as https://, wss://
    or a bare host; a trailing ``/openai`` or ``/openai/v1`` is dropped (added back later)."""
    text = azure_endpoint.strip()
    if "://" not in text:
        text = f"https://{text}"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - property access validates the port
    except ValueError:
        parts = urlsplit("invalid://")
    scheme = {"https": "wss", "wss": "wss", "http": "ws", "ws": "ws"}.get(parts.scheme)
    if scheme is None or not parts.hostname:
        shown = redact(azure_endpoint, ())
        raise ConfigError("AZURE_OPENAI_ENDPOINT must look like "
                          f"https://<resource>.openai.azure.com; got {shown!r}")
    path = parts.path.rstrip("/")
    for suffix in ("/openai/v1", "/openai"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    return f"{scheme}://{host}{path}"


def azure_realtime_url(azure_endpoint: str | None, deployment: str | None, dialect: Dialect,
                       api_version: str | None) -> str:
    """The GA ``/openai/v1/realtime?model=`` URL, or for beta the preview
    ``/openai/realtime?api-version=&deployment=`` one."""
    if not azure_endpoint:
        raise ConfigError("Azure needs your resource endpoint: set AZURE_OPENAI_ENDPOINT="
                          "https://<resource>.openai.azure.com (or pass --url)")
    if not deployment:
        raise ConfigError("Azure needs the name of your realtime deployment: set "
                          "AZURE_OPENAI_DEPLOYMENT or pass --deployment")
    base = azure_base_url(azure_endpoint)
    if dialect == "ga":
        return f"{base}/openai/v1/realtime?{urlencode({'model': deployment})}"
    query = urlencode({"api-version": api_version or DEFAULT_AZURE_API_VERSION,
                       "deployment": deployment})
    return f"{base}/openai/realtime?{query}"
