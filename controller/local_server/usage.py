"""Token accounting for the local server's responses, shaped like the real service's.

Owns the estimate of a response's ``usage`` (input: the instructions and every item in
the conversation; output: the words and audio produced) and the ``rate_limits.updated``
payload. Rates follow the real service's order of magnitude: about 4 text tokens per 3
words, 10 audio tokens per second of user audio and 20 per second of assistant audio.
Pure functions of the session state; no I/O.
"""

from __future__ import annotations

from typing import Any

from controller.local_server.conversation import Item
from controller.local_server.response_state import Response
from controller.local_server.session_state import SessionState

TOKEN_LIMIT = 15_000_000
REQUEST_LIMIT = 10_000


def text_tokens(text: str) -> int:
    words = len(text.split())
    return (words * 4 + 2) // 3


def _item_tokens(item: Item) -> tuple[int, int]:
    """(text tokens, audio tokens) an item costs as input."""
    if item.type == "function_call":
        return text_tokens(f"{item.name} {item.arguments}"), 0
    if item.type == "function_call_output":
        return text_tokens(item.output or ""), 0
    text = sum(text_tokens(part.words()) for part in item.content if part.text is not None)
    per_second = 20 if item.role == "assistant" else 10
    audio = sum(part.audio_ms * per_second // 1000 for part in item.content if part.audio)
    return text, audio


def response_usage(state: SessionState, response: Response) -> dict[str, Any]:
    produced = set(map(id, response.output))
    text_in = text_tokens(response.instructions)
    audio_in = 0
    for item in state.conversation.items:
        if id(item) not in produced:
            text, audio = _item_tokens(item)
            text_in, audio_in = text_in + text, audio_in + audio
    text_out = audio_out = 0
    for item in response.output:
        if item.type == "message":
            text_out += sum(text_tokens(part.words()) for part in item.content)
            audio_out += sum(part.audio_ms * 20 // 1000 for part in item.content)
        else:
            text_out += _item_tokens(item)[0]
    input_tokens, output_tokens = text_in + audio_in, text_out + audio_out
    input_details: dict[str, Any] = {"text_tokens": text_in, "audio_tokens": audio_in,
                                     "cached_tokens": 0}
    if state.dialect.name == "ga":  # beta's usage has no image or cache breakdown
        input_details.update(image_tokens=0, cached_tokens_details={
            "text_tokens": 0, "audio_tokens": 0, "image_tokens": 0})
    return {
        "total_tokens": input_tokens + output_tokens,
        "input_tokens": input_tokens, "output_tokens": output_tokens,
        "input_token_details": input_details,
        "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
    }


def rate_limits(state: SessionState) -> list[dict[str, Any]]:
    """GA reports tokens only (as observed live); beta also reports requests."""
    limits = [{"name": "tokens", "limit": TOKEN_LIMIT,
               "remaining": max(0, TOKEN_LIMIT - state.tokens_used), "reset_seconds": 0.001}]
    if state.dialect.name == "beta":
        limits.insert(0, {"name": "requests", "limit": REQUEST_LIMIT,
                          "remaining": REQUEST_LIMIT - 1, "reset_seconds": 0.006})
    return limits
