"""Waiting for another thread in a test: poll for the state, never sleep for a guess."""

from __future__ import annotations

import time
from collections.abc import Callable

WAIT = 5.0  # generous: for anything another thread should do "at once"


def eventually(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Return once ``condition()`` is true (polled every 5 ms); fail naming ``what`` if it
    is not within ``timeout``. For a state another thread reaches "soon", where a fixed
    sleep would be a guess about how busy the machine is."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.005)
