"""WAV files of any rate, channel count and sample format become 24 kHz mono pcm16."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from audio_helpers import noise, samples_of, tone, write_float_wav, write_wav

from controller.audio_convert import PERIOD_BYTES, SAMPLE_RATE, read_wav, resample
from controller.errors import AudioError


def dominant_frequency(samples: np.ndarray, rate: int = SAMPLE_RATE) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(samples, dtype=np.float64) ** 2)))


def test_a_24k_mono_16bit_file_passes_through_bit_exact(tmp_path: Path) -> None:
    original = noise(24000)
    path = write_wav(tmp_path / "same.wav", original, rate=24000)

    assert read_wav(path) == original.tobytes()


def test_16k_stereo_becomes_24k_mono_of_the_same_duration_and_pitch(tmp_path: Path) -> None:
    left = tone(440, 1.0, rate=16000)
    path = write_wav(tmp_path / "stereo16k.wav", np.stack([left, left], axis=1), rate=16000)

    converted = samples_of(read_wav(path))

    assert len(converted) == 24000
    assert dominant_frequency(converted) == pytest.approx(440, abs=2)
    assert rms(converted[1000:-1000]) == pytest.approx(rms(left), rel=0.03)


def test_stereo_channels_are_averaged(tmp_path: Path) -> None:
    left = np.full(2400, 10000.0)
    right = np.full(2400, -2000.0)
    path = write_wav(tmp_path / "lr.wav", np.stack([left, right], axis=1), rate=24000)

    assert set(samples_of(read_wav(path))) == {4000}


def test_48k_is_decimated_without_aliasing(tmp_path: Path) -> None:
    # 15 kHz is above the 12 kHz Nyquist of the target: it must vanish, not fold to 9 kHz.
    wanted = tone(1000, 0.5, rate=48000)
    unwanted = tone(15000, 0.5, rate=48000, level=8000)
    path = write_wav(tmp_path / "48k.wav", wanted + unwanted, rate=48000)

    converted = samples_of(read_wav(path)).astype(np.float64)

    assert len(converted) == 12000
    spectrum = np.abs(np.fft.rfft(converted * np.hanning(len(converted))))
    freqs = np.fft.rfftfreq(len(converted), 1 / SAMPLE_RATE)
    alias = spectrum[np.abs(freqs - 9000) < 200].max()
    assert alias < spectrum.max() / 100


@pytest.mark.parametrize("width", [1, 3, 4])
def test_8_24_and_32_bit_pcm_are_read_on_the_16_bit_scale(tmp_path: Path, width: int) -> None:
    signal = tone(300, 0.2, rate=24000)
    path = write_wav(tmp_path / f"w{width}.wav", signal, rate=24000, width=width)

    converted = samples_of(read_wav(path)).astype(np.float64)

    tolerance = 300 if width == 1 else 1
    assert np.max(np.abs(converted - signal)) <= tolerance


def test_float_wav_is_read(tmp_path: Path) -> None:
    signal = tone(500, 0.2, rate=22050)
    path = write_float_wav(tmp_path / "float.wav", signal, rate=22050)

    converted = samples_of(read_wav(path))

    assert len(converted) == round(len(signal) * 24000 / 22050)
    assert dominant_frequency(converted) == pytest.approx(500, abs=6)


def test_a_data_chunk_that_claims_more_than_the_file_holds_is_read_to_the_end(
        tmp_path: Path) -> None:
    original = noise(4800)
    path = write_wav(tmp_path / "cut.wav", original, rate=24000)
    raw = bytearray(path.read_bytes())
    data_at = raw.index(b"data")
    raw[data_at + 4: data_at + 8] = struct.pack("<I", 0xFFFFFFFF)  # a killed recorder
    path.write_bytes(bytes(raw))

    assert read_wav(path) == original.tobytes()


def test_not_a_wav_file_says_so_and_how_to_convert(tmp_path: Path) -> None:
    path = tmp_path / "speech.mp3"
    path.write_bytes(b"ID3\x03" + bytes(100))

    with pytest.raises(AudioError, match=r"not a WAV file .*sox"):
        read_wav(path)


def test_an_empty_wav_file_says_it_has_no_audio(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "empty.wav", np.zeros(0), rate=24000)

    with pytest.raises(AudioError, match="contains no audio"):
        read_wav(path)


def test_a_missing_file_is_an_audio_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match=r"cannot read the input WAV file .*nowhere\.wav"):
        read_wav(tmp_path / "nowhere.wav")


def test_an_unsupported_encoding_names_it(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "alaw.wav", noise(480), rate=8000)
    raw = bytearray(path.read_bytes())
    fmt_at = raw.index(b"fmt ")
    raw[fmt_at + 8: fmt_at + 10] = struct.pack("<H", 6)  # A-law
    path.write_bytes(bytes(raw))

    with pytest.raises(AudioError, match="format 6"):
        read_wav(path)


def test_resampling_keeps_the_length_ratio_for_odd_rates() -> None:
    assert len(resample(np.zeros(44100), 44100, 24000)) == 24000
    assert len(resample(np.zeros(11025), 11025, 24000)) == 24000
    assert PERIOD_BYTES == 960
