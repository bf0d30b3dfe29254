"""Endpoint rules per provider, and keeping secrets out of text."""

from __future__ import annotations

import pytest

from controller.endpoint import Endpoint, Headers, azure_base_url, endpoint_for, redact
from controller.errors import ConfigError

KEY = "sk-proj-SECRET-0a1b2c3d4e"
TOKEN = "eyJhbGciOi.SECRET-entra.signature"


# --- OpenAI ------------------------------------------------------------------------------


def test_openai_defaults_to_the_ga_url_with_gpt_realtime():
    endpoint = endpoint_for("openai", api_key=KEY)
    assert endpoint.url == "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    assert dict(endpoint.headers) == {"Authorization": f"Bearer {KEY}"}
    assert (endpoint.dialect, endpoint.provider) == ("ga", "openai")


def test_openai_model_is_url_encoded_and_beta_adds_the_header():
    endpoint = endpoint_for("openai", api_key=KEY, model="my model/1", dialect="beta")
    assert endpoint.url == "wss://api.openai.com/v1/realtime?model=my+model%2F1"
    assert endpoint.headers["OpenAI-Beta"] == "realtime=v1"


# --- Azure -------------------------------------------------------------------------------


@pytest.mark.parametrize("given", [
    "https://myres.openai.azure.com",
    "https://myres.openai.azure.com/",
    "wss://myres.openai.azure.com/openai/v1",
    "myres.openai.azure.com",
    "  https://myres.openai.azure.com/openai/  ",
])
def test_the_azure_endpoint_may_be_given_as_https_wss_or_a_bare_host(given):
    assert azure_base_url(given) == "wss://myres.openai.azure.com"


def test_an_azure_gateway_prefix_and_port_are_kept():
    assert azure_base_url("http://gw.local:8080/aoai/") == "ws://gw.local:8080/aoai"


def test_azure_ga_uses_the_v1_path_and_the_api_key_header():
    endpoint = endpoint_for("azure", api_key=KEY, deployment="rt-1",
                            azure_endpoint="https://myres.openai.azure.com/")
    assert endpoint.url == "wss://myres.openai.azure.com/openai/v1/realtime?model=rt-1"
    assert dict(endpoint.headers) == {"api-key": KEY}


def test_azure_beta_uses_the_preview_path_with_the_default_api_version():
    endpoint = endpoint_for("azure", api_key=KEY, deployment="rt-1", dialect="beta",
                            azure_endpoint="https://myres.openai.azure.com")
    assert endpoint.url == ("wss://myres.openai.azure.com/openai/realtime"
                            "?api-version=2025-04-01-preview&deployment=rt-1")
    assert "OpenAI-Beta" not in endpoint.headers


def test_azure_beta_takes_a_given_api_version():
    endpoint = endpoint_for("azure", api_key=KEY, deployment="d", dialect="beta",
                            api_version="2024-10-01-preview", azure_endpoint="myres.x.com")
    assert "api-version=2024-10-01-preview&deployment=d" in endpoint.url


def test_an_entra_token_replaces_the_azure_key():
    endpoint = endpoint_for("azure", api_key=KEY, ad_token=TOKEN, deployment="d",
                            azure_endpoint="https://myres.openai.azure.com")
    assert dict(endpoint.headers) == {"Authorization": f"Bearer {TOKEN}"}


def test_azure_without_an_endpoint_says_which_variable_to_set():
    with pytest.raises(ConfigError, match="set AZURE_OPENAI_ENDPOINT=https://<resource>"):
        endpoint_for("azure", api_key=KEY, deployment="d")


def test_azure_without_a_deployment_names_the_variable_and_the_flag():
    with pytest.raises(ConfigError, match="AZURE_OPENAI_DEPLOYMENT or pass --deployment"):
        endpoint_for("azure", api_key=KEY, azure_endpoint="https://myres.openai.azure.com")


@pytest.mark.parametrize("given", ["ftp://myres.example.com", "https://", "https://h:99999"])
def test_a_malformed_azure_endpoint_shows_the_expected_shape(given):
    with pytest.raises(ConfigError, match=r"must look like https://<resource>\.openai"):
        azure_base_url(given)


# --- Any other server --------------------------------------------------------------------


def test_a_url_replaces_the_provider_url_but_keeps_its_auth_style():
    endpoint = endpoint_for("azure", url="wss://gw.example/openai/v1/realtime?model=x",
                            api_key=KEY)
    assert endpoint.url == "wss://gw.example/openai/v1/realtime?model=x"
    assert dict(endpoint.headers) == {"api-key": KEY}


def test_a_local_url_without_a_key_has_no_headers():
    assert dict(endpoint_for("local", url="ws://127.0.0.1:8765").headers) == {}


def test_local_without_a_url_says_how_to_get_one():
    with pytest.raises(ConfigError, match="convctl serve"):
        endpoint_for("local")


@pytest.mark.parametrize(("url", "message"), [
    ("https://api.example.com/v1/realtime", "did you mean 'wss://api.example.com/v1/realtime'"),
    ("http://127.0.0.1:8765", "did you mean 'ws://127.0.0.1:8765'"),
    ("127.0.0.1:8765", "must be a ws:// or wss:// URL with a host"),
    ("ws://", "must be a ws:// or wss:// URL with a host"),
    ("ws://localhost:70000/", "is not a valid URL"),
])
def test_a_url_that_is_not_a_websocket_url_is_refused_with_a_hint(url, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        endpoint_for("openai", url=url)


def test_unknown_provider_and_dialect_are_refused():
    with pytest.raises(ConfigError, match="provider must be one of openai, azure, local"):
        endpoint_for("anthropic", api_key=KEY)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="dialect must be ga or beta"):
        endpoint_for("openai", dialect="v2", api_key=KEY)  # type: ignore[arg-type]


# --- Secrets -----------------------------------------------------------------------------


def test_no_repr_of_an_endpoint_or_its_headers_shows_a_secret():
    for endpoint in (endpoint_for("openai", api_key=KEY),
                     endpoint_for("azure", api_key=KEY, deployment="d", azure_endpoint="r.io"),
                     endpoint_for("azure", ad_token=TOKEN, deployment="d", azure_endpoint="r.io")):
        for text in (repr(endpoint), str(endpoint), repr(endpoint.headers)):
            assert KEY not in text and TOKEN not in text and "***" in text


def test_a_key_in_the_url_query_is_hidden_from_the_repr():
    endpoint = endpoint_for("azure", url=f"wss://gw.example/openai/v1/realtime?api-key={KEY}")
    assert KEY not in repr(endpoint) and "api-key=***" in repr(endpoint)


def test_the_endpoint_knows_its_secrets_including_the_bare_bearer_token():
    assert endpoint_for("openai", api_key=KEY).secrets == (f"Bearer {KEY}", KEY)
    assert Endpoint(url="ws://h", headers=Headers({"X-Trace": "1"})).secrets == ()


def test_redact_removes_given_secrets_and_credentials_it_recognises():
    text = (f"key {KEY} failed; headers: {{'api-key': 'other-key-123', "
            f"'Authorization': 'Bearer tok.en-9'}}; url ?api-key=qs-key&x=1")
    cleaned = redact(text, [KEY, None, ""])
    for secret in (KEY, "other-key-123", "tok.en-9", "qs-key"):
        assert secret not in cleaned
    assert cleaned.startswith("key *** failed") and "&x=1" in cleaned
