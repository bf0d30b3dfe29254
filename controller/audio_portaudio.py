"""PortAudio through PyAudio: loading it, listing devices, choosing one, opening streams.

PyAudio is optional (it needs the PortAudio headers to build), so it is imported only
when a sound device is actually used, and its absence is an ``AudioError`` that says how
to install it. ALSA and JACK print pages of harmless probing noise on stderr while
PortAudio starts; their error handlers are replaced by silent ones first.

Device indices are PortAudio's (what ``convctl devices`` prints). Every stream is
24 kHz mono int16 with the buffer size its port asks for (the speaker's and the
microphone's block sizes); input and output are always separate streams
(one full-duplex stream was measured to lose output samples without any error flag).

This module opens and describes devices; it never reads or writes audio.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from controller.audio_convert import CHANNELS, PERIOD_FRAMES, SAMPLE_RATE
from controller.errors import AudioError

INSTALL_HINT = "apt-get install portaudio19-dev && pip install 'convctl-voice[audio]'"

# ctypes callbacks must outlive every call into the libraries that hold them.
_SILENT_HANDLERS: list[Any] = []


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceInfo:
    """One PortAudio device as ``convctl devices`` lists it."""

    index: int
    name: str
    host_api: str
    max_input_channels: int
    max_output_channels: int
    default_sample_rate: float
    is_default_input: bool = False
    is_default_output: bool = False

    @property
    def can_record(self) -> bool:
        return self.max_input_channels > 0

    @property
    def can_play(self) -> bool:
        return self.max_output_channels > 0


def load_pyaudio() -> ModuleType:
    """The pyaudio module, or an AudioError that says how to get it."""
    try:
        import pyaudio
    except ImportError as exc:
        raise AudioError(
            "PyAudio is not installed, so sound devices cannot be used. Install it with: "
            f"{INSTALL_HINT} (or use --input/--output WAV files instead)") from exc
    return pyaudio


def silence_native_noise() -> None:
    """Swap ALSA's and JACK's stderr printers for silent handlers (once per process)."""
    if _SILENT_HANDLERS:
        return
    os.environ.setdefault("JACK_NO_START_SERVER", "1")
    alsa_handler = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                                    ctypes.c_int, ctypes.c_char_p)(_ignore)
    jack_handler = ctypes.CFUNCTYPE(None, ctypes.c_char_p)(_ignore)
    _SILENT_HANDLERS.extend([alsa_handler, jack_handler])
    _call_if_present("libasound.so.2", "snd_lib_error_set_handler", alsa_handler)
    _call_if_present("libjack.so.0", "jack_set_error_function", jack_handler)
    _call_if_present("libjack.so.0", "jack_set_info_function", jack_handler)


def _ignore(*_args: object) -> None:
    return None


def _call_if_present(library: str, function: str, handler: Any) -> None:
    # Not Linux, or PortAudio built without this backend: nothing to silence.
    with contextlib.suppress(OSError, AttributeError):
        getattr(ctypes.CDLL(library), function)(handler)


class PortAudio:
    """One initialised PortAudio; ``terminate()`` when its streams are closed."""

    def __init__(self) -> None:
        self.pyaudio = load_pyaudio()
        silence_native_noise()
        try:
            self._pa = self.pyaudio.PyAudio()
        except OSError as exc:
            raise AudioError(f"PortAudio could not start: {exc}") from exc

    def terminate(self) -> None:
        self._pa.terminate()

    def devices(self) -> list[DeviceInfo]:
        default_in = self._default_index("input")
        default_out = self._default_index("output")
        return [self._describe(i, default_in, default_out)
                for i in range(self._pa.get_device_count())]

    def input_device(self, index: int | None) -> DeviceInfo:
        """The device to record from: ``index`` or the default; AudioError if unusable."""
        return self._choose(index, "input")

    def output_device(self, index: int | None) -> DeviceInfo:
        return self._choose(index, "output")

    def open_input(self, device: DeviceInfo, frames_per_buffer: int = PERIOD_FRAMES) -> Any:
        return self._open(device, "input", frames_per_buffer)

    def open_output(self, device: DeviceInfo, frames_per_buffer: int = PERIOD_FRAMES) -> Any:
        return self._open(device, "output", frames_per_buffer)

    def drop_output(self, stream: Any, device: DeviceInfo, frames_per_buffer: int) -> Any:
        """Discard what an output stream holds, at once; returns the stream to go on with.

        PyAudio has ``stop_stream`` (which plays the buffer out first) but no abort, so
        PortAudio's ``Pa_AbortStream`` and ``Pa_StartStream`` are called through PyAudio's
        extension module on the stream it wraps (the stream's own running flag stays
        true, as the stream does run again). Measured on PulseAudio: ~1 ms, and exactly
        the unplayed samples are gone; the next write plays at once. A PyAudio without
        that module gets the public way: close the stream (closing a running stream
        discards its buffer) and open a new one."""
        native: Any = getattr(self.pyaudio, "pa", None)
        handle = getattr(stream, "_stream", None)
        if handle is not None and hasattr(native, "abort_stream"):
            native.abort_stream(handle)
            native.start_stream(handle)
            return stream
        stream.close()
        return self.open_output(device, frames_per_buffer)

    # --- Choosing ---

    def _choose(self, index: int | None, direction: str) -> DeviceInfo:
        devices = self.devices()
        usable = [d for d in devices if _can(d, direction)]
        if not usable:
            raise AudioError(_no_device_message(direction))
        if index is None:
            index = self._default_index(direction)
            if index is None:
                index = usable[0].index
        chosen = next((d for d in usable if d.index == index), None)
        if chosen is None:
            listing = ", ".join(f"{d.index} ({d.name})" for d in usable)
            raise AudioError(
                f"there is no audio {direction} device with index {index}; {direction} "
                f"devices: {listing}. Run `convctl devices` to see them all.")
        self._check_format(chosen, direction)
        return chosen

    def _check_format(self, device: DeviceInfo, direction: str) -> None:
        spec = {f"{direction}_device": device.index, f"{direction}_channels": CHANNELS,
                f"{direction}_format": self.pyaudio.paInt16}
        try:
            self._pa.is_format_supported(SAMPLE_RATE, **spec)
        except ValueError as exc:
            raise AudioError(
                f"{direction} device {device.index} ({device.name}) cannot handle "
                f"{SAMPLE_RATE} Hz mono 16-bit audio ({exc}); choose another with "
                f"--{direction}-device (the 'default' and 'pulse' devices convert rates)"
            ) from exc

    def _default_index(self, direction: str) -> int | None:
        getter = (self._pa.get_default_input_device_info if direction == "input"
                  else self._pa.get_default_output_device_info)
        try:
            return int(getter()["index"])
        except OSError:
            return None

    def _describe(self, index: int, default_in: int | None,
                  default_out: int | None) -> DeviceInfo:
        info = self._pa.get_device_info_by_index(index)
        host_api = self._pa.get_host_api_info_by_index(info["hostApi"])["name"]
        return DeviceInfo(index=index, name=str(info["name"]), host_api=str(host_api),
                          max_input_channels=int(info["maxInputChannels"]),
                          max_output_channels=int(info["maxOutputChannels"]),
                          default_sample_rate=float(info["defaultSampleRate"]),
                          is_default_input=index == default_in,
                          is_default_output=index == default_out)

    # --- Opening ---

    def _open(self, device: DeviceInfo, direction: str, frames_per_buffer: int) -> Any:
        try:
            return self._pa.open(rate=SAMPLE_RATE, channels=CHANNELS,
                                 format=self.pyaudio.paInt16,
                                 frames_per_buffer=frames_per_buffer,
                                 **{direction: True, f"{direction}_device_index": device.index})
        except (OSError, ValueError) as exc:
            raise AudioError(f"cannot open {direction} device {device.index} "
                             f"({device.name}): {exc}") from exc


def _can(device: DeviceInfo, direction: str) -> bool:
    return device.can_record if direction == "input" else device.can_play


def _no_device_message(direction: str) -> str:
    instead = ("--input FILE.wav to take the microphone audio from a WAV file"
               if direction == "input" else
               "--output FILE.wav to write the speaker audio to a WAV file")
    return (f"no audio {direction} device found (PortAudio sees no sound card or sound "
            f"server); use {instead} instead")


def list_devices() -> list[DeviceInfo]:
    """Every device PortAudio sees (possibly none); AudioError if PyAudio is missing."""
    portaudio = PortAudio()
    try:
        return portaudio.devices()
    finally:
        portaudio.terminate()


def describe_devices(devices: list[DeviceInfo]) -> str:
    """The text of ``convctl devices``: one line per device, defaults marked."""
    if not devices:
        return ("No audio devices found (PortAudio sees no sound card or sound server).\n"
                "Use --input FILE.wav and --output FILE.wav to talk through WAV files.")
    lines = ["index  in  out  rate    name"]
    for d in devices:
        marks = "".join(mark for flag, mark in ((d.is_default_input, " [default input]"),
                                                (d.is_default_output, " [default output]"))
                        if flag)
        lines.append(f"{d.index:>5}  {d.max_input_channels:>2}  {d.max_output_channels:>3}  "
                     f"{d.default_sample_rate:>6.0f}  {d.name} ({d.host_api}){marks}")
    return "\n".join(lines)
