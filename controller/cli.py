"""The ``convctl`` command line. Each command is a few lines that call the library.

Exit codes (CONTRACT §1): 0 success, 1 failure (Error reached, a scenario failed),
2 bad usage or configuration (nothing started), 130 interrupted.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from controller.errors import ConvctlError, ScenarioError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="convctl-voice", prog_name="convctl")
def main() -> None:
    """convctl: talk to the OpenAI / Azure OpenAI Realtime API, and test it offline.

    A voice conversation as an explicit state machine: Idle, Connecting, Listening,
    Responding, ToolCall, Finished, Error.
    """


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
