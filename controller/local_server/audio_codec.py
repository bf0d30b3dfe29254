"""Conversion between the session's wire audio formats and internal 24 kHz pcm16.

Owns G.711 mu-law and A-law (8 kHz, one byte a sample, as telephony sends them) in both
directions, and the 3:1 rate change between 8 kHz and 24 kHz. Everything else in the
server works on 24 kHz pcm16 only. Pure numpy functions; no I/O.
"""

from __future__ import annotations

import numpy as np

_MU_BIAS = 0x84
_MU_CLIP = 32635
_RATE_FACTOR = 3  # 24 kHz / 8 kHz


def to_internal(data: bytes, audio_format: str) -> bytes:
    """Wire audio in ``audio_format`` as 24 kHz pcm16."""
    if audio_format == "pcm16":
        return data[: len(data) // 2 * 2]
    codes = np.frombuffer(data, dtype=np.uint8)
    narrow = _mulaw_decode(codes) if audio_format == "g711_ulaw" else _alaw_decode(codes)
    return _upsample(narrow).astype(np.int16).tobytes()


def from_internal(pcm: bytes, audio_format: str) -> bytes:
    """24 kHz pcm16 as wire audio in ``audio_format``."""
    if audio_format == "pcm16":
        return pcm
    narrow = _downsample(np.frombuffer(pcm, dtype=np.int16))
    codes = _mulaw_encode(narrow) if audio_format == "g711_ulaw" else _alaw_encode(narrow)
    return codes.tobytes()


def wire_bytes_per_ms(audio_format: str) -> int:
    """48 for pcm16 at 24 kHz, 8 for G.711 at 8 kHz."""
    return 48 if audio_format == "pcm16" else 8


def _upsample(samples: np.ndarray) -> np.ndarray:
    positions = np.arange(len(samples) * _RATE_FACTOR) / _RATE_FACTOR
    return np.interp(positions, np.arange(len(samples)), samples.astype(np.float64))


def _downsample(samples: np.ndarray) -> np.ndarray:
    usable = len(samples) // _RATE_FACTOR * _RATE_FACTOR
    # Averaging each group of three is a crude low-pass before dropping samples.
    grouped = samples[:usable].astype(np.int32).reshape(-1, _RATE_FACTOR)
    return grouped.mean(axis=1).astype(np.int32)


def _mulaw_decode(codes: np.ndarray) -> np.ndarray:
    inverted = ~codes.astype(np.int32) & 0xFF
    exponent = (inverted >> 4) & 0x07
    magnitude = ((((inverted & 0x0F) << 3) + _MU_BIAS) << exponent) - _MU_BIAS
    return np.where(inverted & 0x80, -magnitude, magnitude)


def _mulaw_encode(samples: np.ndarray) -> np.ndarray:
    sign = np.where(samples < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(samples), _MU_CLIP) + _MU_BIAS
    exponent = np.clip(np.floor(np.log2(magnitude)).astype(np.int32) - 7, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)


def _alaw_decode(codes: np.ndarray) -> np.ndarray:
    value = codes.astype(np.int32) ^ 0x55
    exponent = (value >> 4) & 0x07
    mantissa = value & 0x0F
    magnitude = np.where(exponent == 0, (mantissa << 4) + 8,
                         ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0))
    return np.where(value & 0x80, magnitude, -magnitude)


def _alaw_encode(samples: np.ndarray) -> np.ndarray:
    sign = np.where(samples >= 0, 0x80, 0)
    magnitude = np.minimum(np.abs(samples), 32767) >> 3
    exponent = np.where(magnitude < 32, 0,
                        np.floor(np.log2(np.maximum(magnitude, 1))).astype(np.int32) - 4)
    exponent = np.clip(exponent, 0, 7)
    mantissa = np.where(exponent == 0, magnitude >> 1,
                        magnitude >> np.maximum(exponent, 1)) & 0x0F
    return ((sign | (exponent << 4) | mantissa) ^ 0x55).astype(np.uint8)
