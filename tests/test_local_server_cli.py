"""``convctl serve`` as a user runs it: it prints the URL, serves it, and Ctrl-C stops it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from click.testing import CliRunner
from test_local_server_client import RealtimeClient

from controller.local_server.cli import serve_command

SERVE = [sys.executable, "-c",
         "from controller.local_server.cli import serve_command; serve_command()"]


def test_serve_prints_its_url_serves_it_and_stops_on_ctrl_c():
    # Python ignores SIGINT in a child started from a shell without job control; restore it.
    process = subprocess.Popen(
        [*SERVE, "--port", "0", "--max-session-seconds", "600"], stdout=subprocess.PIPE,
        text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert process.stdout is not None
    try:
        banner = [process.stdout.readline() for _ in range(3)]
        url = banner[0].split(" on ")[1].strip()
        assert url.startswith("ws://127.0.0.1:") and url.endswith("/v1/realtime")
        assert "/openai/realtime?api-version=" in banner[1]
        client = RealtimeClient(url)
        session = client.expect("session.created")["session"]
        assert 500 < session["expires_at"] - time.time() <= 600
        client.close()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        assert "stopped" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_bad_brain_file_is_a_clear_error(tmp_path):
    brain = tmp_path / "brain.yaml"
    brain.write_text("intents:\n  - name: x\n    phrase: [hello]\n")
    result = CliRunner().invoke(serve_command, ["--port", "0", "--brain", str(brain)])
    assert result.exit_code == 1
    assert "unknown key 'phrase'" in result.output and "did you mean 'phrases'" in result.output
