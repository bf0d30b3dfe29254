"""Audio ports for live runs: the one place the CLI and the engine import audio from.

- Microphones: ``DeviceMicrophone`` (PortAudio input) and ``WavMicrophone`` (a WAV file
  at real-time pace, then silence). Frames are pcm16 24 kHz mono, 20 ms each.
- Speakers: ``DeviceSpeaker`` (PortAudio output) and ``WavSpeaker`` (a WAV recording of
  the speaker timeline, clocked in real time). ``played_bytes(item_id)`` is what barge-in
  truncation uses; ``stats()`` reports underruns and overflows.
- ``list_devices()`` / ``describe_devices()`` for ``convctl devices``.
- ``open_microphone()`` / ``open_speaker()`` choose between a file and a device the way
  ``--input`` / ``--input-device`` and ``--output`` / ``--output-device`` do.

The pieces live in ``audio_convert`` (format, WAV reading), ``audio_capture`` and
``audio_playback`` (the port threads), ``audio_portaudio`` (PyAudio), ``audio_devices``
and ``audio_files``. This module only re-exports and chooses; it holds no state.
"""

from __future__ import annotations

from pathlib import Path

from controller.audio_capture import CaptureLoop, MicrophoneStats
from controller.audio_convert import (
    BYTES_PER_MS,
    PERIOD_BYTES,
    PERIOD_FRAMES,
    PERIOD_MS,
    SAMPLE_RATE,
    read_wav,
)
from controller.audio_devices import MIC_BLOCK_MS, DeviceMicrophone, DeviceSpeaker
from controller.audio_files import Pacer, RealTimePacer, WavMicrophone, WavSpeaker
from controller.audio_playback import PlaybackLoop, SpeakerStats
from controller.audio_portaudio import (
    INSTALL_HINT,
    DeviceInfo,
    describe_devices,
    list_devices,
)
from controller.errors import ConfigError
from controller.ports import FrameSink, Inbox

__all__ = [
    "BYTES_PER_MS",
    "INSTALL_HINT",
    "PERIOD_BYTES",
    "PERIOD_FRAMES",
    "PERIOD_MS",
    "SAMPLE_RATE",
    "DeviceInfo",
    "DeviceMicrophone",
    "DeviceSpeaker",
    "MicrophoneStats",
    "Pacer",
    "RealTimePacer",
    "SpeakerStats",
    "WavMicrophone",
    "WavSpeaker",
    "describe_devices",
    "list_devices",
    "open_microphone",
    "open_speaker",
    "read_wav",
]


def open_microphone(sink: FrameSink, inbox: Inbox, *, wav: str | Path | None = None,
                    device_index: int | None = None,
                    block_ms: int = MIC_BLOCK_MS) -> CaptureLoop:
    """The microphone for ``--input FILE.wav`` or ``--input-device N`` (default device
    when neither; read ``block_ms`` at a time). Nothing flows until ``open()``;
    AudioError if it cannot be used."""
    if wav is not None and device_index is not None:
        raise ConfigError("--input and --input-device exclude each other: choose one")
    if wav is not None:
        return WavMicrophone(wav, sink, inbox)
    return DeviceMicrophone(sink, device_index=device_index, inbox=inbox, block_ms=block_ms)


def open_speaker(inbox: Inbox, *, wav: str | Path | None = None,
                 device_index: int | None = None) -> PlaybackLoop:
    """The speaker for ``--output FILE.wav`` or ``--output-device N`` (default device
    when neither). It runs (silence) from now until ``close()``."""
    if wav is not None and device_index is not None:
        raise ConfigError("--output and --output-device exclude each other: choose one")
    if wav is not None:
        return WavSpeaker(wav, inbox)
    return DeviceSpeaker(inbox, device_index=device_index)
