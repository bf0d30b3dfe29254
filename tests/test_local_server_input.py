"""The user's side: the input buffer, server VAD on real (espeak) speech, and transcription.

The WAVs come from scenarios/audio/make_audio.sh: 0.5 s of silence, the utterance, 1 s of
silence. In weather_paris.wav the sound of "What's the weather in Paris?" runs from 500 ms
to 1780 ms of the session's audio clock (measured: first and last 10 ms block above 1 %).
"""

from __future__ import annotations

import base64

import numpy as np
from test_local_server_client import RealtimeClient, silence, types_of, wav_pcm

from controller.local_server.audio_codec import from_internal

SPEECH_START_MS = 500
SPEECH_END_MS = 1780
# VAD decisions are made on 32 ms frames; allow a few frames either way.
TOLERANCE_MS = 130


def connect(server, **turn_detection) -> RealtimeClient:
    client = RealtimeClient(server.url)
    client.expect("session.created")
    turn = {"type": "server_vad", "create_response": False, **turn_detection}
    updated = client.update_session({"audio": {"input": {
        "transcription": {"model": "whisper-1"}, "turn_detection": turn}}})
    assert updated["type"] == "session.updated", updated
    return client


def test_a_commit_of_less_than_100_ms_is_refused(server):
    client = connect(server)
    client.send({"type": "input_audio_buffer.commit", "event_id": "c1"})
    error = client.expect("error")["error"]
    assert error["code"] == "input_audio_buffer_commit_empty"
    assert error["event_id"] == "c1"
    assert "0.00ms" in error["message"]
    client.append_audio(silence(60))
    client.send({"type": "input_audio_buffer.commit"})
    assert "60.00ms" in client.expect("error")["error"]["message"]
    client.close()


def test_vad_finds_the_utterance_where_the_audio_has_it(server):
    client = connect(server, silence_duration_ms=500, prefix_padding_ms=300)
    client.append_audio(wav_pcm("weather_paris.wav"))
    started = client.expect("input_audio_buffer.speech_started")
    stopped = client.expect("input_audio_buffer.speech_stopped")
    committed = client.expect("input_audio_buffer.committed")
    assert abs(started["audio_start_ms"] - (SPEECH_START_MS - 300)) <= TOLERANCE_MS
    # The end includes the silence window that confirmed it.
    assert abs(stopped["audio_end_ms"] - (SPEECH_END_MS + 500)) <= TOLERANCE_MS
    assert started["item_id"] == stopped["item_id"] == committed["item_id"]
    added = client.expect("conversation.item.added")["item"]
    assert added["id"] == committed["item_id"] and added["role"] == "user"
    assert added["content"] == [{"type": "input_audio", "transcript": None}]
    client.close()


def test_prefix_padding_moves_the_reported_start(server):
    starts = []
    for padding in (100, 400):
        client = connect(server, prefix_padding_ms=padding)
        client.append_audio(wav_pcm("weather_paris.wav"))
        starts.append(client.expect("input_audio_buffer.speech_started")["audio_start_ms"])
        client.close()
    assert starts[0] - starts[1] == 300


def test_a_silence_longer_than_the_gap_keeps_two_sentences_in_one_turn(server):
    # weather_then_goodbye.wav has 2 s between its two sentences.
    short = connect(server, silence_duration_ms=500)
    short.append_audio(wav_pcm("weather_then_goodbye.wav"))
    short.until("input_audio_buffer.speech_stopped")
    assert short.until("input_audio_buffer.speech_stopped")[-1]["audio_end_ms"] > 4000
    short.close()
    long = connect(server, silence_duration_ms=2500)
    long.append_audio(wav_pcm("weather_then_goodbye.wav") + silence(1000))
    events = long.until("input_audio_buffer.speech_stopped")
    assert types_of(events).count("input_audio_buffer.speech_started") == 1
    assert events[-1]["audio_end_ms"] > 7000
    long.close()


def test_a_threshold_above_any_probability_hears_nothing(server):
    client = connect(server, threshold=1.0)
    client.append_audio(wav_pcm("weather_paris.wav"))
    client.send({"type": "input_audio_buffer.commit"})
    events = client.until("input_audio_buffer.committed")
    assert "input_audio_buffer.speech_started" not in types_of(events)
    client.close()


def test_a_noise_burst_is_not_speech(server):
    client = connect(server)
    rng = np.random.default_rng(7)
    burst = rng.normal(0, 3000, 24000 // 2).clip(-32768, 32767).astype(np.int16)
    client.append_audio(silence(500) + burst.tobytes() + silence(1000))
    client.send({"type": "input_audio_buffer.commit"})
    events = client.until("input_audio_buffer.committed")
    assert "input_audio_buffer.speech_started" not in types_of(events)
    client.close()


def test_committed_speech_is_transcribed(server):
    client = connect(server, silence_duration_ms=500)
    client.append_audio(wav_pcm("weather_paris.wav"))
    item_id = client.expect("input_audio_buffer.committed")["item_id"]
    events = client.until("conversation.item.input_audio_transcription.completed")
    completed = events[-1]
    assert completed["item_id"] == item_id and completed["content_index"] == 0
    assert completed["transcript"] == "What's the weather in Paris"
    deltas = [e["delta"] for e in events
              if e["type"] == "conversation.item.input_audio_transcription.delta"]
    assert "".join(deltas) == completed["transcript"]
    assert completed["usage"]["type"] == "tokens"
    client.close()


def test_push_to_talk_has_no_vad_events_and_commits_by_hand(server):
    client = RealtimeClient(server.url)
    client.expect("session.created")
    client.update_session({"audio": {"input": {"turn_detection": None,
                                               "transcription": {"model": "whisper-1"}}}})
    client.append_audio(wav_pcm("goodbye.wav"))
    client.send({"type": "input_audio_buffer.commit"})
    events = client.until("conversation.item.input_audio_transcription.completed")
    assert events[-1]["transcript"] == "Thank you goodbye"
    # A response only when asked for: an automatic one would make this create collide.
    client.send({"type": "response.create"})
    client.expect("response.done")
    assert not [t for t in types_of(client.seen) if t.startswith("input_audio_buffer.speech")]
    assert types_of(client.seen).count("response.created") == 1
    assert "error" not in types_of(client.seen)
    client.close()


def test_clear_drops_the_buffer(server):
    client = RealtimeClient(server.url)
    client.expect("session.created")
    client.update_session({"audio": {"input": {"turn_detection": None}}})
    client.append_audio(silence(500))
    client.send({"type": "input_audio_buffer.clear"})
    client.expect("input_audio_buffer.cleared")
    client.send({"type": "input_audio_buffer.commit"})
    assert client.expect("error")["error"]["code"] == "input_audio_buffer_commit_empty"
    client.close()


def test_without_transcription_config_no_transcription_events_are_sent(server):
    client = RealtimeClient(server.url)
    client.expect("session.created")
    client.update_session({"audio": {"input": {"turn_detection": {
        "type": "server_vad", "silence_duration_ms": 500}}}})
    client.append_audio(wav_pcm("hello.wav"))
    # The turn is still heard and answered; only the transcription events are missing.
    events = client.until("response.done")
    assert not [t for t in types_of(events) if "input_audio_transcription" in t]
    transcript = [e for e in events if e["type"] == "response.output_audio_transcript.done"]
    assert transcript[0]["transcript"] == "Hello! How can I help you?"
    client.close()


def test_g711_mu_law_input_is_heard_like_pcm16(server):
    client = RealtimeClient(server.url)
    client.expect("session.created")
    client.update_session({"audio": {"input": {
        "format": {"type": "audio/pcmu"}, "transcription": {"model": "whisper-1"},
        "turn_detection": {"type": "server_vad", "silence_duration_ms": 500,
                           "create_response": False}}}})
    pcm = wav_pcm("weather_paris.wav")
    telephone = from_internal(pcm, "g711_ulaw")
    assert len(telephone) == len(pcm) // 6  # 8 kHz, one byte a sample
    for start in range(0, len(telephone), 800):  # 100 ms of 8 kHz mu-law
        client.send({"type": "input_audio_buffer.append",
                     "audio": base64.b64encode(telephone[start:start + 800]).decode()})
    started = client.expect("input_audio_buffer.speech_started")
    assert abs(started["audio_start_ms"] - (SPEECH_START_MS - 300)) <= TOLERANCE_MS
    done = client.expect("conversation.item.input_audio_transcription.completed")
    # Telephone bandwidth blurs "what's" and "what is"; the question itself survives.
    assert done["transcript"] in ("What's the weather in Paris", "What is the weather in Paris")
    client.close()
