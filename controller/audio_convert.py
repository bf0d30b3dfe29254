"""The one audio format convctl speaks, and WAV files converted into it.

Everything that crosses a port is pcm16 little-endian, 24 kHz, mono, moved in 20 ms
periods (480 samples, 960 bytes): that is what the Realtime API takes and sends. This
module owns those constants and the conversion of any PCM or float WAV file (any rate,
any channel count, 8/16/24/32-bit integer or 32/64-bit float) into that format with numpy.

It reads files and does arithmetic only: no devices, no threads, no clocks here. numpy
is imported by the functions that convert, so a conversation on sound devices, which only
needs the constants, never loads it (start-up CPU counts in benchmarks/bench_live.py).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from controller.errors import AudioError

if TYPE_CHECKING:
    import numpy as np

SAMPLE_RATE = 24_000
CHANNELS = 1
SAMPLE_WIDTH = 2
PERIOD_MS = 20
PERIOD_SECONDS = PERIOD_MS / 1000
PERIOD_FRAMES = SAMPLE_RATE * PERIOD_MS // 1000
PERIOD_BYTES = PERIOD_FRAMES * SAMPLE_WIDTH * CHANNELS
BYTES_PER_MS = SAMPLE_RATE * SAMPLE_WIDTH * CHANNELS // 1000
SILENT_PERIOD = bytes(PERIOD_BYTES)

_PCM = 1
_FLOAT = 3
_EXTENSIBLE = 0xFFFE
_INT16_FULL_SCALE = 32768.0
_FILTER_HALF_TAPS = 32


@dataclass(frozen=True, slots=True)
class WavLayout:
    """What the fmt chunk says, and the bytes of the data chunk."""

    encoding: int
    channels: int
    rate: int
    sample_bytes: int
    data: bytes


def read_wav(path: str | Path) -> bytes:
    """The audio of a WAV file as pcm16 24 kHz mono; AudioError if it has none."""
    raw = _read_bytes(Path(path))
    layout = parse_wav(raw, name=str(path))
    samples = _decode(layout, name=str(path))
    if samples.shape[0] == 0:
        raise AudioError(f"{path} contains no audio (its data chunk is empty); "
                         "record or choose a file with sound in it")
    mono = samples.mean(axis=1) if layout.channels > 1 else samples[:, 0]
    if _already_target_format(layout):
        return layout.data[: samples.shape[0] * SAMPLE_WIDTH]
    return to_pcm16(resample(mono, layout.rate, SAMPLE_RATE))


def parse_wav(raw: bytes, *, name: str) -> WavLayout:
    """Walk the RIFF chunks; tolerate a data chunk whose size field overstates the file
    (a recorder killed before it finished the header)."""
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise AudioError(f"{name} is not a WAV file (no RIFF/WAVE header); convert it "
                         f"first, e.g. `sox {name} -r 24000 -c 1 -b 16 converted.wav`")
    fmt: bytes | None = None
    data: bytes | None = None
    offset = 12
    while offset + 8 <= len(raw) and (fmt is None or data is None):
        chunk_id, size = struct.unpack_from("<4sI", raw, offset)
        body = raw[offset + 8: offset + 8 + size]
        if chunk_id == b"fmt ":
            fmt = body
        elif chunk_id == b"data":
            data = body
        offset += 8 + size + (size & 1)
    if fmt is None or data is None or len(fmt) < 16:
        raise AudioError(f"{name} is a damaged WAV file (no fmt or data chunk)")
    return _layout_from_fmt(fmt, data, name=name)


def _layout_from_fmt(fmt: bytes, data: bytes, *, name: str) -> WavLayout:
    encoding, channels, rate, _, block_align, _ = struct.unpack_from("<HHIIHH", fmt)
    if encoding == _EXTENSIBLE and len(fmt) >= 26:
        # The sub-format GUID starts with the plain format code.
        (encoding,) = struct.unpack_from("<H", fmt, 24)
    if channels == 0 or rate == 0 or block_align == 0 or block_align % channels:
        raise AudioError(f"{name} is a damaged WAV file (its fmt chunk says "
                         f"{channels} channels at {rate} Hz, {block_align}-byte frames)")
    return WavLayout(encoding=encoding, channels=channels, rate=rate,
                     sample_bytes=block_align // channels, data=data)


def _decode(layout: WavLayout, *, name: str) -> np.ndarray:
    """Samples as float64 on the int16 scale, shaped (frames, channels)."""
    import numpy as np
    frame_bytes = layout.sample_bytes * layout.channels
    usable = len(layout.data) - len(layout.data) % frame_bytes
    raw = layout.data[:usable]
    kind = (layout.encoding, layout.sample_bytes)
    if kind == (_PCM, 1):
        values = (np.frombuffer(raw, np.uint8).astype(np.float64) - 128.0) * 256.0
    elif kind == (_PCM, 2):
        values = np.frombuffer(raw, "<i2").astype(np.float64)
    elif kind == (_PCM, 3):
        values = _decode_int24(raw)
    elif kind == (_PCM, 4):
        values = np.frombuffer(raw, "<i4").astype(np.float64) / 65536.0
    elif kind in ((_FLOAT, 4), (_FLOAT, 8)):
        dtype = "<f4" if layout.sample_bytes == 4 else "<f8"
        values = np.frombuffer(raw, dtype).astype(np.float64) * _INT16_FULL_SCALE
    else:
        raise AudioError(
            f"{name} uses a WAV encoding convctl cannot read (format {layout.encoding}, "
            f"{layout.sample_bytes * 8}-bit); supported: 8/16/24/32-bit PCM and 32/64-bit "
            f"float. Convert it, e.g. `sox {name} -r 24000 -c 1 -b 16 converted.wav`")
    return values.reshape(-1, layout.channels)


def _decode_int24(raw: bytes) -> np.ndarray:
    import numpy as np
    triples = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
    values = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
    values = np.where(values >= 1 << 23, values - (1 << 24), values)
    return values.astype(np.float64) / 256.0


def _already_target_format(layout: WavLayout) -> bool:
    return (layout.encoding, layout.sample_bytes, layout.channels, layout.rate) == (
        _PCM, SAMPLE_WIDTH, CHANNELS, SAMPLE_RATE)


def resample(signal: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited linear resampling: a windowed-sinc low-pass below the lower Nyquist
    (before decimating, after interpolating) so neither aliases nor images are audible."""
    import numpy as np
    if rate_in == rate_out or signal.size == 0:
        return signal
    n_out = max(1, round(signal.size * rate_out / rate_in))
    if rate_in > rate_out:
        signal = _low_pass(signal, 0.5 * rate_out / rate_in)
    positions = np.arange(n_out) * (rate_in / rate_out)
    out = np.interp(positions, np.arange(signal.size), signal)
    if rate_in < rate_out:
        out = _low_pass(out, 0.5 * rate_in / rate_out)
    return out


def _low_pass(signal: np.ndarray, cutoff: float) -> np.ndarray:
    """FIR low-pass with ``cutoff`` in cycles per sample (0.5 = Nyquist), zero delay."""
    import numpy as np
    taps = np.arange(-_FILTER_HALF_TAPS, _FILTER_HALF_TAPS + 1)
    # Cut a little below the new Nyquist so the transition band stays out of the alias zone.
    kernel = 2 * cutoff * 0.92 * np.sinc(2 * cutoff * 0.92 * taps) * np.blackman(taps.size)
    kernel /= kernel.sum()
    return np.convolve(signal, kernel, mode="same")


def to_pcm16(samples: np.ndarray) -> bytes:
    """Float samples on the int16 scale to pcm16 LE bytes, rounded and clipped."""
    import numpy as np
    return np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes()


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise AudioError(f"cannot read the input WAV file {path}: "
                         f"{exc.strerror or exc}") from exc
