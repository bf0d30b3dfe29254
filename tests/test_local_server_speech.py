"""What the server hears, measured against audio whose truth we know.

Every WAV in scenarios/audio and a few more utterances in other espeak voices go through
the real socket with server VAD (prefix padding 300 ms, silence 500 ms). The speech in
them is found independently, by energy: 10 ms blocks within 40 dB of the loudest block,
runs closer than 400 ms merged (so a comma does not split a sentence). Then:

- every turn's ``audio_start_ms`` + prefix padding and ``audio_end_ms`` - silence window
  lie within 100 ms of where the speech starts and ends;
- the transcripts of the bundled utterances are at least 90 % of words right (word
  accuracy: 1 - word edit distance / reference words).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from test_local_server_client import AUDIO_DIR, RealtimeClient, silence, wav_pcm

from controller.local_server import LocalServer
from controller.local_server.brain import Brain
from controller.local_server.transcriber import Transcriber
from controller.local_server.tts import synthesize

PREFIX_PADDING_MS = 300
SILENCE_MS = 500
TOLERANCE_MS = 100
BLOCK_MS = 10
SPEECH_RANGE_DB = 40
MERGE_GAP_MS = 400

# What is said in each bundled WAV, turn by turn. A new WAV must be listed here.
UTTERANCES = {
    "weather_then_goodbye.wav": ["What's the weather in Paris?", "Thank you, goodbye."],
    "demo_weather_conversation.wav": ["What's the weather in Paris?", "Thank you, goodbye."],
    "weather_paris.wav": ["What's the weather in Paris?"],
    "goodbye.wav": ["Thank you, goodbye."],
    "tell_me_a_story.wav": ["Tell me a story."],
    "hello.wav": ["Hello there."],
    "weather_and_time_tokyo.wav": ["What's the weather and the time in Tokyo?"],
    "ptt_question.wav": ["What time is it in Tokyo?"],
    "ptt_barge_in.wav": ["Tell me about the sea.", "Stop, shorter please."],
}
# Every bundled utterance is something the default brain knows (the push-to-talk
# scenarios' "Tell me about the sea" / "Stop, shorter please" included), so all of them
# count towards the word accuracy.
OUT_OF_VOCABULARY: set[str] = set()
# Other voices and harder edges (a fricative start, a quiet ending) for the VAD timing.
MORE_VOICES = [("Stop, shorter please.", "coral"), ("Thank you, goodbye.", "verse"),
               ("Seven sisters sang softly.", "ash"), ("Shh, the baby is sleeping.", "sage")]


@dataclass(frozen=True)
class Turn:
    """One user turn as the server reported it."""

    audio_start_ms: int
    audio_end_ms: int
    transcript: str


def speech_spans(pcm: bytes) -> list[tuple[int, int]]:
    """(start_ms, end_ms) of the speech in ``pcm``, found by energy alone."""
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    size = 24 * BLOCK_MS
    count = len(samples) // size
    rms = np.sqrt((samples[:count * size].reshape(count, size) ** 2).mean(axis=1))
    loud = np.flatnonzero(rms > rms.max() * 10 ** (-SPEECH_RANGE_DB / 20))
    spans: list[list[int]] = []
    for block in loud:
        start, end = int(block) * BLOCK_MS, (int(block) + 1) * BLOCK_MS
        if spans and start - spans[-1][1] < MERGE_GAP_MS:
            spans[-1][1] = end
        else:
            spans.append([start, end])
    return [(start, end) for start, end in spans]


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


def word_errors(reference: list[str], heard: list[str]) -> int:
    """Word edit distance (substitutions, deletions, insertions)."""
    row = list(range(len(heard) + 1))
    for i, ref_word in enumerate(reference, 1):
        previous, row[0] = row[0], i
        for j, heard_word in enumerate(heard, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1,
                                           previous + (ref_word != heard_word))
    return row[-1]


def hear(server: LocalServer, pcm: bytes, turns: int) -> list[Turn]:
    """Stream ``pcm`` (then silence) to a fresh session; the first ``turns`` turns."""
    client = RealtimeClient(server.url)
    client.expect("session.created")
    updated = client.update_session({"audio": {"input": {
        "transcription": {"model": "whisper-1"},
        "turn_detection": {"type": "server_vad", "create_response": False,
                           "prefix_padding_ms": PREFIX_PADDING_MS,
                           "silence_duration_ms": SILENCE_MS}}}})
    assert updated["type"] == "session.updated", updated
    client.append_audio(pcm + silence(SILENCE_MS + 500), chunk_ms=20)
    for _ in range(turns):
        client.expect("conversation.item.input_audio_transcription.completed")
    client.close()
    events = {kind: [e for e in client.seen if e["type"] == kind] for kind in (
        "input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
        "conversation.item.input_audio_transcription.completed")}
    starts, stops, completed = events.values()
    transcripts = {e["item_id"]: e["transcript"] for e in completed}
    return [Turn(start["audio_start_ms"], stop["audio_end_ms"], transcripts[stop["item_id"]])
            for start, stop in zip(starts, stops, strict=True)]


def timing_errors(spans: list[tuple[int, int]], turns: list[Turn]) -> list[tuple[int, int]]:
    """(onset error, end error) in ms for each turn against the speech it should cover."""
    assert len(turns) == len(spans), f"{len(turns)} turns for {len(spans)} utterances"
    return [(turn.audio_start_ms + PREFIX_PADDING_MS - max(start, PREFIX_PADDING_MS),
             turn.audio_end_ms - SILENCE_MS - end)
            for (start, end), turn in zip(spans, turns, strict=True)]


@pytest.fixture(scope="module")
def bundled(server) -> dict[str, list[Turn]]:
    """Every bundled WAV, heard once by the server."""
    return {name: hear(server, wav_pcm(name), len(said)) for name, said in UTTERANCES.items()}


def test_every_bundled_wav_says_what_the_list_says():
    assert {path.name for path in Path(AUDIO_DIR).glob("*.wav")} == set(UTTERANCES)
    for name, said in UTTERANCES.items():
        assert len(speech_spans(wav_pcm(name))) == len(said), name


def test_the_energy_measure_finds_the_documented_speech():
    # scenarios/README.md: ptt_barge_in.wav has speech at 0.54-1.64 s and 4.44-5.86 s.
    spans = speech_spans(wav_pcm("ptt_barge_in.wav"))
    documented = [(540, 1640), (4440, 5860)]
    assert all(abs(a - b) <= 20 for span, doc in zip(spans, documented, strict=True)
               for a, b in zip(span, doc, strict=True)), spans


def test_vad_turns_of_the_bundled_wavs_are_within_100_ms_of_the_speech(bundled):
    for name, turns in bundled.items():
        errors = timing_errors(speech_spans(wav_pcm(name)), turns)
        assert all(abs(e) <= TOLERANCE_MS for pair in errors for e in pair), (name, errors)


def test_vad_turns_in_other_voices_are_within_100_ms_of_the_speech(server):
    gap = silence(1500)
    pcm = gap + gap.join(synthesize(text, voice).audio for text, voice in MORE_VOICES) + gap
    turns = hear(server, pcm, len(MORE_VOICES))
    errors = timing_errors(speech_spans(pcm), turns)
    assert all(abs(e) <= TOLERANCE_MS for pair in errors for e in pair), errors


def test_the_bundled_utterances_are_transcribed_at_least_90_percent_right(bundled):
    total = wrong = 0
    for name, said in UTTERANCES.items():
        if name in OUT_OF_VOCABULARY:
            continue
        for reference, turn in zip(said, bundled[name], strict=True):
            total += len(words(reference))
            wrong += word_errors(words(reference), words(turn.transcript))
    assert total >= 30
    assert 1 - wrong / total >= 0.90, f"{wrong} of {total} words wrong"


def test_word_errors_counts_substitutions_deletions_and_insertions():
    assert word_errors(words("thank you goodbye"), words("Thank you, goodbye!")) == 0
    assert word_errors(words("thank you goodbye"), words("thank you bye")) == 1
    assert word_errors(words("tell me a story"), words("tell a story")) == 1
    assert word_errors(words("hello there"), words("hello out there now")) == 2


def test_what_one_turn_was_does_not_change_how_the_next_is_heard():
    brain = Brain.load()
    transcriber = Transcriber(brain.phrase_shapes(), brain.spec.slots)
    hello = wav_pcm("hello.wav")
    fresh = transcriber.transcribe(hello)
    # Seconds of silence committed by a client once left the decoder hearing "oh you".
    transcriber.transcribe(silence(3000))
    assert transcriber.transcribe(hello) == fresh == "hello there"
