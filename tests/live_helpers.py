"""Helpers for the live tests: running ``convctl`` as a user would, and reading what it left.

- ``convctl(...)`` runs the installed command line in a subprocess with an environment
  that holds no API key (so nothing can reach a real provider), with a timeout.
- ``locate_items(recording, items)`` finds the audio a server sent for each item inside a
  speaker recording (out.wav, or a capture of the virtual speaker) and says how much of
  each is there, sample-exact; ``silence_outside`` checks that nothing else was played.
- ``e2e_scenario(name)`` loads a live scenario of ``tests/e2e`` with its raw ``config``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from controller.scenario import Scenario, load_scenario

E2E_DIR = Path(__file__).resolve().parent / "e2e"
SAMPLES_PER_MS = 24
KEY_VARIABLES = ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT",
                 "AZURE_OPENAI_DEPLOYMENT", "AZURE_OPENAI_AD_TOKEN", "OPENAI_BASE_URL")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any provider credentials, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARIABLES}
    env.update(extra)
    return env


def convctl_command() -> list[str]:
    """The installed ``convctl`` next to this Python (the venv's), else ``-m``."""
    script = Path(sys.executable).parent / "convctl"
    return [str(script)] if script.exists() else [sys.executable, "-m", "controller.cli"]


def convctl(*args: str | Path, env: Mapping[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run ``convctl ARGS`` to the end; stdout and stderr are captured as text."""
    return subprocess.run([*convctl_command(), *map(str, args)], capture_output=True,
                          text=True, env=dict(env) if env is not None else clean_env(),
                          cwd=cwd, timeout=timeout)


@dataclass(frozen=True)
class E2eScenario:
    scenario: Scenario
    config: dict[str, Any]  # the raw `config:` mapping, as a --config file takes it

    @property
    def mic_wav(self) -> Path:
        assert self.scenario.mic_wav is not None, "live scenarios name their mic WAV"
        return self.scenario.mic_wav


def e2e_scenario(name: str) -> E2eScenario:
    path = E2E_DIR / name
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return E2eScenario(load_scenario(path), dict(raw.get("config") or {}))


def write_config(path: Path, config: Mapping[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(dict(config)), encoding="utf-8")
    return path


# --- What the speaker played -------------------------------------------------------------


@dataclass(frozen=True)
class Placed:
    """One item's audio inside a recording: where it starts and how many samples match."""

    start: int
    played: int

    @property
    def played_ms(self) -> float:
        return self.played / SAMPLES_PER_MS


def samples(pcm: bytes | bytearray) -> np.ndarray:
    return np.frombuffer(bytes(pcm[: len(pcm) - len(pcm) % 2]), "<i2")


def locate_items(recording: np.ndarray, items: Sequence[bytes | bytearray]) -> list[Placed]:
    """Where each item's audio (in play order) begins in ``recording``, and the length of
    the longest prefix of it found there sample for sample. An item that is not there at
    all raises AssertionError."""
    found = []
    position = 0
    for pcm in items:
        sent = samples(pcm)
        start = _find_start(recording, sent, position)
        span = min(len(sent), len(recording) - start)
        differ = np.flatnonzero(recording[start:start + span] != sent[:span])
        played = int(differ[0]) if differ.size else span
        found.append(Placed(start, played))
        position = start + played
    return found


def _find_start(recording: np.ndarray, sent: np.ndarray, position: int) -> int:
    lead = int(np.flatnonzero(sent)[0])  # the first audible sample pins the alignment
    probe = sent[lead:lead + 240]
    for at in np.flatnonzero(recording[position + lead:] == probe[0]):
        begin = position + lead + int(at)
        if np.array_equal(recording[begin:begin + len(probe)], probe):
            return begin - lead
    raise AssertionError("the item's audio does not appear in the recording")


def silence_outside(recording: np.ndarray, placed: Sequence[Placed]) -> bool:
    """True if every sample not belonging to a placed item is digital silence."""
    rest = recording.copy()
    for p in placed:
        rest[p.start:p.start + p.played] = 0
    return not rest.any()


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equally long signals."""
    x = a.astype(np.float64) - a.mean()
    y = b.astype(np.float64) - b.mean()
    return float((x @ y) / np.sqrt((x @ x) * (y @ y)))
