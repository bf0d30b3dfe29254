"""The ``convctl`` command line. Each command is a few lines that call the library.

Exit codes (CONTRACT §1): 0 success, 1 failure (Error reached, a scenario failed),
2 bad usage or configuration (nothing started), 130 interrupted.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from controller.errors import ConvctlError, ScenarioError

# convctl never multiplies matrices. OpenBLAS would start one thread per core when numpy
# loads (WAV conversion, replay, the offline server) and spend ~0.1 s of CPU doing it;
# set before any command imports numpy. An explicit setting in the environment wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


class _LazyGroup(click.Group):
    """Commands that live in heavier modules are imported only when used, so that
    ``convctl --help`` starts fast."""

    lazy = {"serve": ("controller.local_server.cli", "serve_command")}
    lazy_help = {"serve": "Run the built-in offline realtime server (no API key needed)."}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            import importlib

            module, attribute = self.lazy[cmd_name]
            command: click.Command = getattr(importlib.import_module(module), attribute)
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            if name in self.lazy_help:
                rows.append((name, self.lazy_help[name]))
                continue
            command = super().get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(formatter.width - 6 - len(name))))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="convctl-voice", prog_name="convctl")
def main() -> None:
    """convctl: talk to the OpenAI / Azure OpenAI Realtime API, and test it offline.

    A voice conversation as an explicit state machine: Idle, Connecting, Listening,
    Responding, ToolCall, Finished, Error.
    """


# --- run ------------------------------------------------------------------------------


@main.command()
@click.option("--provider", type=click.Choice(["openai", "azure", "local"]),
              help="Who to talk to; default: azure if AZURE_OPENAI_ENDPOINT is set, else "
                   "openai if OPENAI_API_KEY is set, else the built-in offline server.")
@click.option("--url", help="An explicit ws:// or wss:// endpoint (self-hosted, test servers).")
@click.option("--model", help="OpenAI model (default gpt-realtime).")
@click.option("--deployment", help="Azure deployment (default AZURE_OPENAI_DEPLOYMENT).")
@click.option("--dialect", type=click.Choice(["ga", "beta"]),
              help="Wire dialect (default ga; beta for legacy Azure preview URLs).")
@click.option("--api-key", help="Overrides OPENAI_API_KEY / AZURE_OPENAI_API_KEY; never "
                                "printed or logged.")
@click.option("--config", type=click.Path(dir_okay=False),
              help="YAML file with these options and the session settings; flags win.")
@click.option("--input", help="Microphone from a WAV file (any rate/channels), real-time pace.")
@click.option("--input-device", type=int, help="Microphone device index (convctl devices).")
@click.option("--output", help="Speaker to a WAV file (24 kHz mono s16).")
@click.option("--output-device", type=int, help="Speaker device index (convctl devices).")
@click.option("--record", help="Write the event log (JSONL) here.")
@click.option("--record-audio", is_flag=True, default=None,
              help="Keep the audio in the event log.")
@click.option("--tools", help="Your tools: a FILE.py or an importable module.")
@click.option("-v", "--verbose", is_flag=True, default=None, help="More diagnostics on stderr.")
@click.option("--instructions", help="What the model is told to be and do.")
@click.option("--voice", help="The model's voice (e.g. marin, cedar, alloy).")
@click.option("--turn-detection", type=click.Choice(["server_vad", "semantic_vad", "none"]),
              help="Who ends the user's turn: the server's VAD, or push-to-talk (none).")
@click.option("--duplex", type=click.Choice(["full", "half"]),
              help="full: barge-in works (use a headset); half: mic gated while the "
                   "assistant speaks (open speakers).")
@click.option("--max-duration", type=float, help="End the conversation after this many seconds.")
def run(**options: Any) -> None:
    """Hold a live spoken conversation (microphone/speaker or WAV files).

    The transcript goes to stdout; state changes and diagnostics to stderr. Exit codes:
    0 finished, 1 error, 2 bad configuration, 130 interrupted.
    """
    import os

    from controller.config import load_run_config

    try:
        cfg = load_run_config(options, os.environ)
    except ConvctlError as exc:
        click.echo(f"convctl run: {exc}", err=True)
        sys.exit(2)
    from controller.run import run_conversation

    sys.exit(run_conversation(cfg))


# --- devices ----------------------------------------------------------------------------


@main.command()
def devices() -> None:
    """List audio input and output devices (index, name, channels, default rate)."""
    from controller.audio import describe_devices, list_devices

    try:
        click.echo(describe_devices(list_devices()))
    except ConvctlError as exc:
        click.echo(f"convctl devices: {exc}", err=True)
        sys.exit(2)


# --- replay ---------------------------------------------------------------------------


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report instead of lines.")
@click.option("--realtime", is_flag=True, help="Pace the replay in real time.")
@click.option("--timeline", type=click.Path(dir_okay=False),
              help="Draw the states each scenario went through over time to this PNG.")
@click.option("-v", "--verbose", is_flag=True, help="Show diagnostics of failing scenarios.")
def replay(paths: tuple[str, ...], as_json: bool, realtime: bool, timeline: str | None,
           verbose: bool) -> None:
    """Replay scenarios (.yaml) or recorded logs (.jsonl) against the real state machine,
    with scripted I/O on a virtual clock, and check their expectations."""
    from controller.replay_files import load_replayable, run_replayable

    try:
        loaded = [load_replayable(path) for path in paths]
    except ScenarioError as exc:
        click.echo(f"convctl replay: {exc}", err=True)
        sys.exit(2)
    reports = [run_replayable(item, realtime=realtime) for item in loaded]
    if timeline:
        from controller.timeline import draw_timeline

        try:
            draw_timeline(reports, Path(timeline))
        except ConvctlError as exc:
            click.echo(f"convctl replay: {exc}", err=True)
            sys.exit(2)
    if as_json:
        click.echo(json.dumps(reports[0] if len(paths) == 1 else reports, indent=2))
    else:
        for report in reports:
            _print_result(report, verbose)
        failed = sum(not r["passed"] for r in reports)
        click.echo(f"{len(reports) - failed} passed, {failed} failed")
    sys.exit(0 if all(r["passed"] for r in reports) else 1)


def _print_result(report: dict[str, Any], verbose: bool) -> None:
    if report["passed"]:
        click.echo(f"PASS {report['scenario']}")
        return
    click.echo(f"FAIL {report['scenario']}: {'; '.join(report['failures'])}")
    if verbose:
        for t, level, message in report.get("diagnostics", []):
            click.echo(f"    [{t:8.3f}] {level}: {message}")


# --- diagram --------------------------------------------------------------------------


@main.command()
@click.option("--format", "fmt", default="mermaid", show_default=True,
              type=click.Choice(["mermaid", "dot", "svg", "png"]), help="Output format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write to this file (default: stdout for text formats).")
@click.option("--highlight", type=click.Path(dir_okay=False),
              help="Mark the states and transitions this scenario or log actually took.")
def diagram(fmt: str, output: str | None, highlight: str | None) -> None:
    """Export the conversation state machine, generated from the StateChart class."""
    from controller.diagram import Path as TakenPath
    from controller.diagram import render

    taken = None
    try:
        if highlight:
            from controller.replay_files import load_replayable, run_replayable

            report = run_replayable(load_replayable(highlight))
            taken = TakenPath.from_report(report["states"], report["transitions"])
        data = render(fmt, taken)
    except ConvctlError as exc:
        click.echo(f"convctl diagram: {exc}", err=True)
        sys.exit(2)
    if output:
        mode = "wb" if isinstance(data, bytes) else "w"
        with open(output, mode) as fh:
            fh.write(data)
    elif isinstance(data, bytes):
        click.echo("convctl diagram: --format png is binary; give -o FILE.png", err=True)
        sys.exit(2)
    else:
        click.echo(data, nl=not data.endswith("\n"))


if __name__ == "__main__":  # pragma: no cover
    main()
