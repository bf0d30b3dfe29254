"""How fast convctl's codec parses a realistic server event stream, against two yardsticks.

Usage: python benchmarks/bench_codec.py [--events N] [--repeat R]

The mix is what a spoken conversation sends (GA names): per user turn the VAD events and
the input transcription, per answer the response lifecycle events, 20 ms audio deltas
(960 pcm bytes, base64) that dominate the stream, and audio transcript deltas between
them. The same list of frames is parsed three ways:

- floor:  bare ``json.loads`` plus a base64 decode of each audio delta (no checks at all);
- codec:  ``controller.protocol.parse_server_event`` (typed, checked events);
- openai: the openai package's typed parse,
          ``pydantic.TypeAdapter(openai.types.realtime.RealtimeServerEvent).validate_json``.

Targets: codec >= 5x the openai typed parse, and codec >= 0.5x the floor. The machine may
be shared, so floor and codec take turns chunk by chunk and each chunk counts with its
best of R timings; the openai parse, an order of magnitude slower, runs once.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from controller.protocol import parse_server_event

PCM_BYTES_PER_20MS = 960
AUDIO_DELTAS_PER_ANSWER = 200  # four seconds of speech
TRANSCRIPT_DELTA_EVERY = 6  # one transcript delta per ~120 ms of audio


class Ids:
    """Realistic-looking ids: a prefix and 21 random characters."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def __call__(self, prefix: str) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return prefix + "".join(self._rng.choice(alphabet) for _ in range(21))


def user_turn(ids: Ids, start_ms: int) -> Iterator[dict[str, Any]]:
    item, previous = ids("item_"), ids("item_")
    yield {"type": "input_audio_buffer.speech_started", "event_id": ids("event_"),
           "audio_start_ms": start_ms, "item_id": item}
    yield {"type": "input_audio_buffer.speech_stopped", "event_id": ids("event_"),
           "audio_end_ms": start_ms + 1800, "item_id": item}
    yield {"type": "input_audio_buffer.committed", "event_id": ids("event_"),
           "previous_item_id": previous, "item_id": item}
    user_item = {"id": item, "type": "message", "status": "completed", "role": "user",
                 "content": [{"type": "input_audio", "transcript": None}]}
    for kind in ("conversation.item.added", "conversation.item.done"):
        yield {"type": kind, "event_id": ids("event_"), "previous_item_id": previous,
               "item": user_item}
    words = ["What's", " the", " weather", " in", " Paris", " today?"]
    for word in words:
        yield {"type": "conversation.item.input_audio_transcription.delta",
               "event_id": ids("event_"), "item_id": item, "content_index": 0,
               "delta": word, "obfuscation": "aLxx0jTEciOGe"}
    yield {"type": "conversation.item.input_audio_transcription.completed",
           "event_id": ids("event_"), "item_id": item, "content_index": 0,
           "transcript": "".join(words),
           "usage": {"type": "tokens", "total_tokens": 22, "input_tokens": 13,
                     "input_token_details": {"text_tokens": 0, "audio_tokens": 13},
                     "output_tokens": 9}}


def answer(ids: Ids, rng: random.Random) -> Iterator[dict[str, Any]]:
    response_id, item_id = ids("resp_"), ids("item_")
    stream = {"response_id": response_id, "item_id": item_id, "output_index": 0,
              "content_index": 0}
    response = {"object": "realtime.response", "id": response_id, "status": "in_progress",
                "status_details": None, "output": [], "conversation_id": ids("conv_"),
                "output_modalities": ["audio"], "max_output_tokens": "inf",
                "audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000},
                                     "voice": "marin"}},
                "usage": None, "metadata": None}
    yield {"type": "response.created", "event_id": ids("event_"), "response": response}
    item = {"id": item_id, "object": "realtime.item", "type": "message",
            "status": "in_progress", "role": "assistant", "content": []}
    yield {"type": "response.output_item.added", "event_id": ids("event_"),
           "response_id": response_id, "output_index": 0, "item": item}
    yield {"type": "conversation.item.added", "event_id": ids("event_"),
           "previous_item_id": None, "item": item}
    part = {"type": "audio", "transcript": ""}
    yield {"type": "response.content_part.added", "event_id": ids("event_"), **stream,
           "part": part}
    for index in range(AUDIO_DELTAS_PER_ANSWER):
        pcm = rng.randbytes(PCM_BYTES_PER_20MS)
        yield {"type": "response.output_audio.delta", "event_id": ids("event_"), **stream,
               "delta": base64.b64encode(pcm).decode("ascii")}
        if index % TRANSCRIPT_DELTA_EVERY == 0:
            yield {"type": "response.output_audio_transcript.delta",
                   "event_id": ids("event_"), **stream, "delta": " sunny",
                   "obfuscation": "Qk3x9"}
    transcript = "It is sunny in Paris today."
    yield {"type": "response.output_audio.done", "event_id": ids("event_"), **stream}
    yield {"type": "response.output_audio_transcript.done", "event_id": ids("event_"),
           **stream, "transcript": transcript}
    yield {"type": "response.content_part.done", "event_id": ids("event_"), **stream,
           "part": {"type": "audio", "transcript": transcript}}
    done_item = {**item, "status": "completed",
                 "content": [{"type": "output_audio", "transcript": transcript}]}
    yield {"type": "conversation.item.done", "event_id": ids("event_"),
           "previous_item_id": None, "item": done_item}
    yield {"type": "response.output_item.done", "event_id": ids("event_"),
           "response_id": response_id, "output_index": 0, "item": done_item}
    usage = {"total_tokens": 253, "input_tokens": 132, "output_tokens": 121,
             "input_token_details": {"text_tokens": 119, "audio_tokens": 13,
                                     "cached_tokens": 64},
             "output_token_details": {"text_tokens": 30, "audio_tokens": 91}}
    yield {"type": "response.done", "event_id": ids("event_"),
           "response": {**response, "status": "completed", "output": [done_item],
                        "usage": usage}}
    yield {"type": "rate_limits.updated", "event_id": ids("event_"),
           "rate_limits": [{"name": "tokens", "limit": 15000000, "remaining": 14999000,
                            "reset_seconds": 0.001}]}


def build_mix(count: int, seed: int = 7) -> list[str]:
    """At least ``count`` frames of whole conversation turns, as the server sends them."""
    rng = random.Random(seed)
    ids = Ids(rng)
    frames: list[str] = []
    start_ms = 1000
    while len(frames) < count:
        for event in (*user_turn(ids, start_ms), *answer(ids, rng)):
            frames.append(json.dumps(event, separators=(",", ":")))
        start_ms += 9000
    return frames


# --- The three ways to parse ------------------------------------------------------------


def parse_floor(frames: list[str]) -> None:
    loads, decode = json.loads, base64.b64decode
    for frame in frames:
        event = loads(frame)
        if event["type"] == "response.output_audio.delta":
            decode(event["delta"])


def parse_codec(frames: list[str]) -> None:
    parse = parse_server_event
    for frame in frames:
        parse(frame)


def openai_parser() -> Callable[[list[str]], None]:
    import pydantic
    from openai.types.realtime import RealtimeServerEvent

    adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(RealtimeServerEvent)

    def parse_openai(frames: list[str]) -> None:
        validate = adapter.validate_json
        for frame in frames:
            validate(frame)

    return parse_openai


def rate(parse: Callable[[list[str]], None], frames: list[str]) -> float:
    started = time.perf_counter()
    parse(frames)
    return len(frames) / (time.perf_counter() - started)


def race(parsers: dict[str, Callable[[list[str]], None]], frames: list[str], repeat: int,
         chunk: int = 4000) -> dict[str, float]:
    """Events per second for each parser, robust against a busy machine: the frames are
    cut into chunks, the parsers take turns on each chunk, and each chunk counts with
    the best of ``repeat`` timings per parser."""
    chunks = [frames[start:start + chunk] for start in range(0, len(frames), chunk)]
    best = {name: [float("inf")] * len(chunks) for name in parsers}
    for turn in range(repeat):
        for index, part in enumerate(chunks):
            names = list(parsers) if (turn + index) % 2 == 0 else list(reversed(parsers))
            for name in names:
                started = time.perf_counter()
                parsers[name](part)
                best[name][index] = min(best[name][index], time.perf_counter() - started)
    return {name: len(frames) / sum(times) for name, times in best.items()}


def check_mix(frames: list[str], parse_openai: Callable[[list[str]], None]) -> None:
    """The mix must be valid for both parsers, or the race is not fair."""
    from controller.events import Malformed, Unrecognized

    first_of_type: dict[str, str] = {}
    for frame in frames:
        first_of_type.setdefault(json.loads(frame)["type"], frame)
    for wire_type, sample in first_of_type.items():
        event = parse_server_event(sample)
        if isinstance(event, (Malformed, Unrecognized)):
            raise SystemExit(f"bad benchmark mix: {wire_type} parsed as {event!r}")
        parse_openai([sample])


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--events", type=int, default=120_000,
                         help="how many server frames to parse (default 120000)")
    options.add_argument("--repeat", type=int, default=3,
                         help="timings per chunk for floor and codec, best taken "
                              "(default 3)")
    args = options.parse_args(argv)

    frames = build_mix(args.events)
    audio = sum('"response.output_audio.delta"' in frame for frame in frames)
    print(f"mix: {len(frames)} frames, {audio / len(frames):.0%} audio deltas, "
          f"{sum(map(len, frames)) / len(frames):.0f} bytes/frame on average")
    parse_openai = openai_parser()
    check_mix(frames, parse_openai)

    rates = race({"floor": parse_floor, "codec": parse_codec}, frames, max(1, args.repeat))
    floor_rate, codec_rate = rates["floor"], rates["codec"]
    openai_rate = rate(parse_openai, frames)

    print(f"floor  (json.loads + b64decode): {floor_rate:>10,.0f} events/s")
    print(f"codec  (parse_server_event):     {codec_rate:>10,.0f} events/s")
    print(f"openai (TypeAdapter.validate_json): {openai_rate:>7,.0f} events/s")
    vs_openai, vs_floor = codec_rate / openai_rate, codec_rate / floor_rate
    fast_enough = vs_openai >= 5.0
    near_floor = vs_floor >= 0.5
    print(f"codec / openai = {vs_openai:.1f}x (target >= 5x): "
          f"{'PASS' if fast_enough else 'FAIL'}")
    print(f"codec / floor  = {vs_floor:.2f} (target >= 0.5): "
          f"{'PASS' if near_floor else 'FAIL'}")
    return 0 if fast_enough and near_floor else 1


if __name__ == "__main__":
    sys.exit(main())
