"""The run configuration: flags, a ``--config`` YAML file and the environment, merged and
checked before anything starts.

This module owns ``RunConfig``, ``load_run_config`` (command-line flags win over the file,
the file over the environment, the environment over defaults; relative paths in the file
are relative to the file) and ``endpoint_from_config``.
Every mistake a user can make here is a ``ConfigError`` that names the flag, key or
variable to fix (the CLI exits 2). It reads files only to check them (the YAML, the input
WAV's header, that output directories exist); it never opens a device or a socket, and
never puts a key in a message or a repr.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from controller.config_checks import check_input_wav, check_output_path, check_tools
from controller.endpoint import (
    DEFAULT_MODEL,
    DIALECTS,
    PROVIDERS,
    Dialect,
    Endpoint,
    Provider,
    check_ws_url,
    endpoint_for,
    redact,
)
from controller.errors import ConfigError
from controller.settings import ControllerSettings, SessionSettings, settings_from_mapping

if TYPE_CHECKING:
    import yaml

# Flags that are session/controller settings; settings_from_mapping reads and checks them.
SETTINGS_OPTIONS = frozenset({"instructions", "voice", "turn_detection", "duplex"})
# Run options a --config file may hold (the flags minus --config and the settings above),
# plus two that have no flag because they normally come from the environment.
FILE_RUN_KEYS = frozenset({
    "provider", "url", "model", "deployment", "dialect", "api_key", "input", "input_device",
    "output", "output_device", "record", "record_audio", "tools", "verbose", "max_duration",
    "azure_endpoint", "api_version",
})
CLI_OPTIONS = (FILE_RUN_KEYS - {"azure_endpoint", "api_version"}) | SETTINGS_OPTIONS | {"config"}
ENV_KEY_FOR = {"openai": "OPENAI_API_KEY", "azure": "AZURE_OPENAI_API_KEY"}
SECRET_ENV = ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_AD_TOKEN")
SECRET_KEYS = frozenset({"api_key"})


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Everything ``convctl run`` needs, checked. ``url`` is None for the local provider
    until the CLI has started the built-in server."""

    provider: Provider = "local"
    url: str | None = None
    model: str = DEFAULT_MODEL
    deployment: str | None = None
    dialect: Dialect = "ga"
    api_version: str | None = None
    api_key: str | None = field(default=None, repr=False)
    azure_endpoint: str | None = None
    ad_token: str | None = field(default=None, repr=False)
    input: str | None = None
    input_device: int | None = None
    output: str | None = None
    output_device: int | None = None
    record: str | None = None
    record_audio: bool = False
    tools: str | None = None
    verbose: bool = False
    max_duration: float | None = None
    session: SessionSettings = field(default_factory=SessionSettings)
    controller: ControllerSettings = field(default_factory=ControllerSettings)

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.api_key, self.ad_token) if s)


def endpoint_from_config(cfg: RunConfig) -> Endpoint:
    """Where ``cfg`` connects (``ConfigError`` for the local provider without a URL)."""
    return endpoint_for(cfg.provider, dialect=cfg.dialect, url=cfg.url, api_key=cfg.api_key,
                        model=cfg.model, deployment=cfg.deployment,
                        azure_endpoint=cfg.azure_endpoint, api_version=cfg.api_version,
                        ad_token=cfg.ad_token)


def load_run_config(options: Mapping[str, Any], env: Mapping[str, str]) -> RunConfig:
    """The checked run configuration from CLI ``options`` (None: not given) and ``env``."""
    unknown = set(options) - CLI_OPTIONS
    if unknown:
        raise ValueError(f"not run options: {', '.join(sorted(unknown))}")
    flags = {name: value for name, value in options.items() if value is not None}
    secrets = [flags.get("api_key"), *(env.get(name) for name in SECRET_ENV)]
    try:
        return _load(flags, env, secrets)
    except ConfigError as exc:
        # A key may hide in a value the user mistyped or quoted: never echo it.
        raise ConfigError(redact(str(exc), secrets)) from None


def _load(flags: dict[str, Any], env: Mapping[str, str], secrets: list[Any]) -> RunConfig:
    config_path = flags.pop("config", None)
    file = read_config_file(str(config_path)) if config_path is not None else {}
    if isinstance(file.get("api_key"), str):
        secrets.append(file["api_key"])
    given = _Given(flags, {k: v for k, v in file.items() if v is not None}, config_path)
    session, controller = _settings(flags, file, config_path)
    cfg = RunConfig(**_connection(given, env), **_local_io(given), session=session,
                    controller=controller)
    if cfg.url is not None or cfg.provider != "local":
        endpoint_from_config(cfg)  # raises what is missing to build the URL
    _check_credentials(cfg, given)
    return cfg


# --- Reading the file ------------------------------------------------------------------


def read_config_file(path: str) -> dict[str, Any]:
    """The mapping in a ``--config`` YAML file, or a ``ConfigError`` saying what is wrong."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"--config: {path} does not exist") from None
    except UnicodeDecodeError:
        raise ConfigError(f"--config: {path} is not UTF-8 text; give a YAML file") from None
    except OSError as exc:
        raise ConfigError(f"--config: cannot read {path}: {exc.strerror}") from None
    import yaml  # only when there is a config file: start-up counts (bench_live.py)

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_error(path, exc)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config file holds `key: value` lines (a mapping), "
                          f"not a {type(data).__name__}")
    for key in data:
        if not isinstance(key, str):
            raise ConfigError(f"{path}: keys must be names, got {key!r}")
    if "config" in data:
        raise ConfigError(f"{path}: a config file cannot name another one; remove 'config'")
    return data


def _yaml_error(path: str, exc: yaml.YAMLError) -> str:
    # Built from the parser's description and position only: its snippet of the offending
    # line could hold a key.
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    message = f"{path}: YAML syntax error{where}: {getattr(exc, 'problem', None) or exc}"
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and context_mark:
        message += f" ({context} at line {context_mark.line + 1})"
    return message


# --- Picking and checking values --------------------------------------------------------


class _Given:
    """The value of a run option from the flags or else the file, and where it came from,
    so that a message names the flag or the file key the user has to fix."""

    def __init__(self, flags: Mapping[str, Any], file: Mapping[str, Any],
                 path: str | None) -> None:
        self._flags, self._file, self._path = flags, file, path

    def has(self, name: str) -> bool:
        return name in self._flags or name in self._file

    def where(self, name: str) -> str:
        if name in self._flags:
            return "--" + name.replace("_", "-")
        return f"'{name}' in {self._path}"

    def _value(self, name: str) -> Any:
        return self._flags.get(name, self._file.get(name))

    def _wrong(self, name: str, what: str) -> ConfigError:
        value = self._value(name)
        shown = f"a {type(value).__name__}" if name in SECRET_KEYS else repr(value)
        hint = " (put it in quotes in YAML)" if what == "text" and isinstance(
            value, (int, float)) else ""
        return ConfigError(f"{self.where(name)} must be {what}{hint}; got {shown}")

    def text(self, name: str) -> str | None:
        value = self._value(name)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self._wrong(name, "text")
        return value

    def path(self, name: str) -> str | None:
        """A file path; relative paths in the config file are relative to that file."""
        value = self.text(name)
        if value is None or name in self._flags or self._path is None:
            return value
        if name == "tools" and not value.endswith(".py"):
            return value  # a module name
        return str(Path(self._path).parent / Path(value).expanduser())

    def choice(self, name: str, choices: tuple[str, ...]) -> Any:
        value = self._value(name)
        if value is not None and value not in choices:
            raise self._wrong(name, "one of " + ", ".join(choices))
        return value

    def device(self, name: str) -> int | None:
        value = self._value(name)
        if value is not None and (type(value) is not int or value < 0):
            raise self._wrong(name, "a device index (a whole number; see `convctl devices`)")
        return value

    def switch(self, name: str) -> bool:
        value = self._value(name)
        if value is not None and not isinstance(value, bool):
            raise self._wrong(name, "true or false")
        return bool(value)

    def seconds(self, name: str) -> float | None:
        value = self._value(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise self._wrong(name, "a number of seconds above 0")
        return float(value)


def _settings(flags: Mapping[str, Any], file: Mapping[str, Any], path: str | None,
              ) -> tuple[SessionSettings, ControllerSettings]:
    merged = {**file, **{k: v for k, v in flags.items() if k in SETTINGS_OPTIONS}}
    try:
        return settings_from_mapping(merged, extra_keys=set(FILE_RUN_KEYS))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}" if path else str(exc)) from None


# --- Where to connect -------------------------------------------------------------------


def _env(env: Mapping[str, str], name: str) -> str | None:
    return (env.get(name) or "").strip() or None


def _default_provider(env: Mapping[str, str]) -> Provider:
    if _env(env, "AZURE_OPENAI_ENDPOINT"):
        return "azure"
    if _env(env, "OPENAI_API_KEY"):
        return "openai"
    return "local"


def _dialect_of_url(url: str | None) -> Dialect:
    """Azure preview URLs (``/openai/realtime?api-version=``) speak beta; all else GA."""
    if url is None:
        return "ga"
    parts = urlsplit(url)
    return "beta" if parts.path.endswith("/openai/realtime") and "api-version=" in parts.query \
        else "ga"


def _connection(given: _Given, env: Mapping[str, str]) -> dict[str, Any]:
    provider: Provider = given.choice("provider", PROVIDERS) or _default_provider(env)
    url = given.text("url")
    if url is not None:
        check_ws_url(url, what=given.where("url"))
    # A key from the environment goes to the provider's own endpoint, or to --url only
    # when the provider was named too: a test server never gets your real key by accident.
    use_env = url is None or given.has("provider")
    env_key = _env(env, ENV_KEY_FOR[provider]) if provider in ENV_KEY_FOR else None
    return {
        "provider": provider, "url": url,
        "dialect": given.choice("dialect", DIALECTS) or _dialect_of_url(url),
        "model": given.text("model") or DEFAULT_MODEL,
        "deployment": given.text("deployment") or _env(env, "AZURE_OPENAI_DEPLOYMENT"),
        "api_version": given.text("api_version") or _env(env, "AZURE_OPENAI_API_VERSION"),
        "azure_endpoint": given.text("azure_endpoint") or _env(env, "AZURE_OPENAI_ENDPOINT"),
        "api_key": given.text("api_key") or (env_key if use_env else None),
        "ad_token": (_env(env, "AZURE_OPENAI_AD_TOKEN")
                     if provider == "azure" and use_env else None),
    }


def _check_credentials(cfg: RunConfig, given: _Given) -> None:
    # Any other server (--url) may need no key; the providers' own endpoints always do.
    if cfg.url is not None or cfg.api_key or cfg.ad_token:
        return
    if cfg.provider == "openai":
        raise ConfigError("the openai provider needs an API key: set OPENAI_API_KEY or pass "
                          "--api-key (or use --provider local for the offline server)")
    if cfg.provider == "azure":
        raise ConfigError("the azure provider needs a key: set AZURE_OPENAI_API_KEY (or "
                          "AZURE_OPENAI_AD_TOKEN for Entra ID) or pass --api-key")


# --- Local input and output -------------------------------------------------------------


def _local_io(given: _Given) -> dict[str, Any]:
    io: dict[str, Any] = {}
    for side in ("input", "output"):
        path, device = given.path(side), given.device(f"{side}_device")
        if path is not None and device is not None:
            raise ConfigError(f"give either {given.where(side)} or "
                              f"{given.where(side + '_device')}, not both")
        io[side], io[f"{side}_device"] = path, device
    if io["input"] is not None:
        check_input_wav(io["input"], given.where("input"))
    if io["output"] is not None:
        check_output_path(io["output"], given.where("output"))
    record = given.path("record")
    if record is not None:
        check_output_path(record, given.where("record"))
    tools = given.path("tools")
    if tools is not None:
        check_tools(tools, given.where("tools"))
    return {**io, "record": record, "record_audio": given.switch("record_audio"),
            "tools": tools, "verbose": given.switch("verbose"),
            "max_duration": given.seconds("max_duration")}
