"""The README's embedding example, run as written against the scripted local server.

The example lives twice - in ``controller/conversation.py``'s docstring and in README.md
under "Embedding convctl" - and the two must be the same code. It is run in a fresh Python
with only its URL pointed at the test server and its WAV files in a scratch folder: the
user's question goes in, the tool is called, the answer comes out, and it ends Finished.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from live_helpers import clean_env, e2e_scenario, locate_items, samples, silence_outside
from scripted_server import ScriptedServer

import controller.conversation
from controller.audio_convert import read_wav

README = Path(__file__).resolve().parent.parent / "README.md"
EXAMPLE_URL = "ws://127.0.0.1:8765/v1/realtime"


def readme_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Embedding convctl\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def docstring_example() -> str:
    doc = controller.conversation.__doc__ or ""
    indented = [line for line in doc.splitlines() if line.startswith("    ") or not line]
    code = "\n".join(indented).strip("\n")
    return textwrap.dedent(code) + "\n"


def test_the_readme_and_the_docstring_show_the_same_example() -> None:
    assert readme_example() == docstring_example()


def test_the_embedding_example_holds_a_conversation(tmp_path: Path) -> None:
    case = e2e_scenario("weather_and_goodbye.yaml")
    shutil.copy(case.mic_wav, tmp_path / "question.wav")
    with ScriptedServer(case.scenario) as server:
        code = readme_example().replace(EXAMPLE_URL, server.url)
        assert code != readme_example(), "the example no longer names its server URL"
        result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=clean_env(),
                                capture_output=True, text=True, timeout=60)
    assert server.failures == [], result.stderr
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["user What's the weather like in Paris?",
                         "assistant It is sunny and 22 degrees in Paris. Goodbye!"]
    assert lines[2].startswith("Finished ") and "120 tokens" in lines[2]
    assert len(lines) == 3  # quiet: the console printed nothing of its own
    output = server.client_events()[1]["item"]["output"]
    assert output == '{"city": "Paris", "sky": "sunny"}'  # the example's own tool ran
    recording = samples(read_wav(tmp_path / "reply.wav"))
    [answer] = locate_items(recording, [server.sent_audio["item_a1"]])
    assert answer.played * 2 == len(server.sent_audio["item_a1"])
    assert silence_outside(recording, [answer])
