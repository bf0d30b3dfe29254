"""Offline speech-to-text for committed user audio (pocketsphinx, model inside its wheel).

Owns ``Transcriber``: it first decodes with a JSGF grammar built from the phrases the brain
knows (near perfect on those), and when the result is not one whole phrase of the grammar
it falls back to open vocabulary: Whisper where it is installed (``whisper_fallback``),
else pocketsphinx's own language model (rough, but it hears anything). One decoder is
shared by every session of a server, behind a lock, and loaded on first use. It never
emits events: the session turns transcripts into events.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping, Sequence

import numpy as np
from pocketsphinx import Decoder

from controller.local_server.brain import PhraseShape, normalize
from controller.local_server.whisper_fallback import WhisperFallback
from controller.local_server.wire import SAMPLE_RATE

log = logging.getLogger(__name__)

_DECODER_RATE = 16000
_GRAMMAR_SEARCH = "brain"
# pocketsphinx copes badly with digital silence: a faint, fixed dither and a short pad help.
_DITHER_LEVEL = 3.0
_PAD_SAMPLES = _DECODER_RATE // 4
_PIECE_BYTES = _DECODER_RATE // 10 * 2  # 100 ms of 16 kHz pcm16
# Trimming: 10 ms blocks at 24 kHz; "sound" is above 2 % of the loudest block (and above
# an absolute floor); 150 ms of margin stays on each side.
_TRIM_BLOCK = SAMPLE_RATE // 100
_TRIM_FLOOR = 300
_TRIM_RELATIVE = 0.02
_TRIM_MARGIN = SAMPLE_RATE * 150 // 1000
# A grammar phrase is believed only if its path scores this much better than what the
# open-vocabulary model heard; otherwise the grammar forced unrelated words onto it.
# Measured on espeak speech (3 voices): phrases of the brain score 1.09 to 1.8 times the
# open model, out-of-grammar sentences that the grammar bent into a phrase 0.9 to 1.65.
GRAMMAR_MARGIN = 1.08
# Caps the open-vocabulary search: same words on our test speech at about 60 % of the CPU.
_MAX_HMMS_PER_FRAME = 3000


class Transcriber:
    """Turns 24 kHz pcm16 speech into words, preferring the brain's phrases."""

    def __init__(self, shapes: Sequence[PhraseShape], slots: Mapping[str, Sequence[str]],
                 *, open_vocabulary: WhisperFallback | None = None) -> None:
        self._shapes = list(shapes)
        # Whisper, if installed, hears what the grammar does not; else pocketsphinx's model.
        self._open_vocabulary = open_vocabulary
        self._slots = {name: [normalize(v) for v in values] for name, values in slots.items()}
        self._lock = threading.Lock()
        self._decoder: Decoder | None = None
        # The cepstral mean the decoder starts every utterance from (see transcribe).
        self._initial_cmn = ""
        self._whole_phrase: re.Pattern[str] | None = None

    def warm_up(self) -> None:
        """Load the models now rather than on the first utterance."""
        with self._lock:
            self._ensure_decoder()

    def transcribe(self, pcm: bytes) -> str:
        """The words in ``pcm`` (24 kHz mono pcm16); ``""`` if none."""
        audio = _prepare(pcm)
        with self._lock:
            decoder = self._ensure_decoder()
            # pocketsphinx carries its cepstral mean over from the last utterance, so what
            # one session heard (even seconds of silence) changed what the next one heard:
            # start each utterance from the same mean.
            decoder.set_cmn(self._initial_cmn)
            open_words, open_score = self._decode(decoder, "_default", audio)
            phrase = self._grammar_phrase(decoder, audio, open_score)
        if phrase is not None:
            return phrase
        if self._open_vocabulary is not None:
            try:
                return self._open_vocabulary.transcribe(pcm)
            except Exception:  # a broken optional model falls back to pocketsphinx
                log.exception("Whisper transcription failed; using pocketsphinx's words")
        return open_words

    def _grammar_phrase(self, decoder: Decoder, audio: bytes, open_score: float) -> str | None:
        """The brain's phrase heard in ``audio``, if the grammar's result is believable."""
        if self._whole_phrase is None:
            return None
        phrase, phrase_score = self._decode(decoder, _GRAMMAR_SEARCH, audio)
        if self._whole_phrase.fullmatch(phrase) and phrase_score >= GRAMMAR_MARGIN * open_score:
            return phrase
        return None

    def _decode(self, decoder: Decoder, search: str, audio: bytes) -> tuple[str, float]:
        """Words and path score (higher is better) of one search over ``audio``."""
        decoder.activate_search(search)
        decoder.start_utt()
        # Small pieces: the decoder keeps the GIL while it works, and other sessions'
        # threads (VAD, streaming) must get to run between pieces.
        for start in range(0, len(audio), _PIECE_BYTES):
            decoder.process_raw(audio[start:start + _PIECE_BYTES])
        decoder.end_utt()
        hypothesis = decoder.hyp()
        if hypothesis is None:
            return "", 0.0
        # Filler tokens such as <sil> or [noise] are not words.
        words = [w for w in hypothesis.hypstr.split() if not w.startswith(("<", "[", "++"))]
        return " ".join(words), float(hypothesis.score)

    def _ensure_decoder(self) -> Decoder:
        if self._decoder is None:
            decoder = Decoder(samprate=_DECODER_RATE, loglevel="FATAL",
                              maxhmmpf=_MAX_HMMS_PER_FRAME)
            grammar, phrases = self._grammar(decoder)
            if grammar:
                decoder.add_jsgf_string(_GRAMMAR_SEARCH, grammar)
                self._whole_phrase = re.compile("|".join(phrases))
            self._initial_cmn = decoder.get_cmn()
            self._decoder = decoder
        return self._decoder

    def _grammar(self, decoder: Decoder) -> tuple[str, list[str]]:
        """A JSGF grammar of the phrases whose words the dictionary knows, and their regexes."""
        def known(text: str) -> bool:
            return all(decoder.lookup_word(word) is not None for word in text.split())

        slot_values = {name: [v for v in values if known(v)]
                       for name, values in self._slots.items()}
        rules, regexes = [], []
        for shape in self._shapes:
            words = [p for p in shape.parts if not p.startswith("{")]
            if not known(" ".join(words)) or any(not slot_values.get(n)
                                                 for n in shape.slot_names):
                log.info("phrase %r left out of the grammar: a word is not in the dictionary",
                         " ".join(shape.parts))
                continue
            rules.append(" ".join(f"<slot_{p[1:-1]}>" if p.startswith("{") else p
                                  for p in shape.parts))
            regexes.append(" ".join(
                "(?:" + "|".join(map(re.escape, slot_values[p[1:-1]])) + ")"
                if p.startswith("{") else re.escape(p) for p in shape.parts))
        if not rules:
            return "", []
        used = sorted({name for shape in self._shapes for name in shape.slot_names})
        lines = ["#JSGF V1.0;", "grammar brain;",
                 "public <utterance> = " + " | ".join(f"( {r} )" for r in rules) + ";"]
        lines += [f"<slot_{name}> = " + " | ".join(slot_values[name]) + ";"
                  for name in used if slot_values.get(name)]
        return "\n".join(lines) + "\n", regexes


def trim_silence(samples: np.ndarray) -> np.ndarray:
    """``samples`` without the quiet before and after the sound, keeping a short margin.

    Long silence around an utterance (prefix padding, the VAD's silence window) ruins
    pocketsphinx: measured on 69 espeak utterances, 0.5 s before and 1.5 s after cut the
    phrases recognised from 41 to 16 of 45; trimming brings back 40.
    """
    blocks = len(samples) // _TRIM_BLOCK
    if blocks == 0:
        return samples
    peaks = np.abs(samples[:blocks * _TRIM_BLOCK]).reshape(blocks, _TRIM_BLOCK).max(axis=1)
    # The cut is placed on the first and last loud *sample*, not on a block edge, so the
    # decoder's frames line up with the speech wherever the turn's audio happened to start
    # (on a block grid, 3 of 26 shifts of one utterance were heard differently).
    loud = np.flatnonzero(np.abs(samples) > max(_TRIM_FLOOR, peaks.max() * _TRIM_RELATIVE))
    if len(loud) == 0:
        return samples
    start = max(0, loud[0] - _TRIM_MARGIN)
    end = min(len(samples), loud[-1] + 1 + _TRIM_MARGIN)
    return samples[start:end]


def _prepare(pcm: bytes) -> bytes:
    """24 kHz pcm16 to trimmed, padded, faintly dithered 16 kHz pcm16 for the decoder."""
    samples = trim_silence(np.frombuffer(pcm, dtype=np.int16).astype(np.float64))
    count = len(samples) * _DECODER_RATE // SAMPLE_RATE
    resampled = np.interp(np.arange(count) * (SAMPLE_RATE / _DECODER_RATE),
                          np.arange(len(samples)), samples) if count else np.zeros(0)
    padded = np.concatenate([np.zeros(_PAD_SAMPLES), resampled, np.zeros(_PAD_SAMPLES)])
    dither = np.random.default_rng(0).normal(0.0, _DITHER_LEVEL, len(padded))
    return np.clip(padded + dither, -32768, 32767).astype(np.int16).tobytes()
