"""Checks of the files a run names, made before anything starts.

The input WAV must be a WAV the microphone can read - checked with the very reader the
microphone uses (when it is not, the message says what the file looks like instead);
outputs and the event log must go to a directory that exists; a tools ``.py`` file must
exist. Each failure is a ``ConfigError`` naming the flag or key (``where``) and what to
do. Reads files; writes nothing.
"""

from __future__ import annotations

from pathlib import Path

from controller.audio_convert import read_wav
from controller.errors import AudioError, ConfigError

CONVERT_HINT = "Convert it first, for example: ffmpeg -i {path} -ac 1 -ar 24000 out.wav"

# Leading bytes of formats people hand to --input by mistake.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"ID3", "an MP3 file"),
    (b"\xff\xfb", "an MP3 file"),
    (b"\xff\xf3", "an MP3 file"),
    (b"\xff\xf2", "an MP3 file"),
    (b"fLaC", "a FLAC file"),
    (b"OggS", "an Ogg (Vorbis or Opus) file"),
    (b"\x1a\x45\xdf\xa3", "a WebM/Matroska file"),
    (b"FORM", "an AIFF file"),
    (b"\x89PNG", "a PNG image"),
    (b"%PDF", "a PDF document"),
)


def describe_file_kind(head: bytes) -> str:
    """What a file looks like from its first bytes: ``"an MP3 file"``, ``"empty"``..."""
    if not head:
        return "empty"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "a WAV file in an encoding convctl cannot read (it reads PCM and float)"
    if head.startswith(b"RIFF"):
        return f"a RIFF file of type {head[8:12]!r}, not WAVE"
    if head[4:8] == b"ftyp":
        return "an MP4/M4A file"
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"not audio convctl recognises (it starts with bytes {head[:8].hex(' ')})"
    return "a text file" if text.isprintable() or "\n" in text else "unrecognised data"


def check_input_wav(path: str, where: str) -> None:
    """``path`` is a WAV file the microphone can read, else a ``ConfigError``."""
    file = Path(path)
    if not file.exists():
        raise ConfigError(f"{where}: {path} does not exist")
    if file.is_dir():
        raise ConfigError(f"{where}: {path} is a directory; give a WAV file")
    try:
        read_wav(file)
    except AudioError as exc:
        try:
            with file.open("rb") as raw:
                kind = describe_file_kind(raw.read(64))
        except OSError as os_exc:
            raise ConfigError(f"{where}: cannot read {path}: {os_exc.strerror}") from None
        if kind.startswith("a WAV file"):
            kind += f" ({exc})"
        raise ConfigError(f"{where}: {path} is not a readable WAV file; it is {kind}. "
                          f"{CONVERT_HINT.format(path=path)}") from None


def check_output_path(path: str, where: str) -> None:
    """``path`` can be created: its directory exists and it is not itself a directory."""
    file = Path(path)
    if file.is_dir():
        raise ConfigError(f"{where}: {path} is a directory; give a file name inside it")
    parent = file.parent
    if not parent.is_dir():
        raise ConfigError(f"{where}: the directory {parent} does not exist; create it "
                          f"(mkdir -p {parent}) or choose another path")


def check_tools(spec: str, where: str) -> None:
    """A ``.py`` tools file must exist; a module name is left to the tools loader."""
    if spec.endswith(".py") and not Path(spec).is_file():
        raise ConfigError(f"{where}: the tools file {spec} does not exist")
