"""Fixtures shared by the test files."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from controller.local_server import LocalServer


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    """The built-in offline server on a free loopback port, speaking 20x faster than real
    time (a test module's own ``server`` fixture takes precedence)."""
    local = LocalServer(speech_speedup=20.0)
    local.start()
    yield local
    local.stop()
