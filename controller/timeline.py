"""``convctl replay --timeline``: the states each scenario went through, drawn over time.

Drawn with Graphviz (one row per scenario, one box per state, its width the time spent in
it), so it needs only what ``convctl diagram`` needs.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from controller.errors import ConfigError

COLOURS = {"Idle": "#e2e8f0", "Connecting": "#bee3f8", "Listening": "#c6f6d5",
           "Responding": "#fefcbf", "ToolCall": "#fbd38d", "Finished": "#9ae6b4",
           "Error": "#feb2b2"}
INCHES_PER_SECOND = 0.5


def timeline_dot(reports: Sequence[dict[str, Any]]) -> str:
    rows = []
    for n, report in enumerate(reports):
        cells = []
        spans = _spans(report)
        for state, start, end in spans:
            width = max(0.4, (end - start) * INCHES_PER_SECOND) * 72
            cells.append(f'<td bgcolor="{COLOURS.get(state, "#ffffff")}" width="{width:.0f}">'
                         f'{state}<br/><font point-size="8">{start:.2f} s</font></td>')
        label = report["scenario"].replace("&", "&amp;").replace("<", "&lt;")
        verdict = "PASS" if report["passed"] else "FAIL"
        rows.append(f'r{n} [label=<<table border="0" cellspacing="0" cellborder="1"><tr>'
                    f'<td width="220" align="left">{verdict} {label}</td>{"".join(cells)}'
                    f'</tr></table>>];')
    body = "\n  ".join(rows)
    return f"digraph timeline {{\n  node [shape=plaintext, fontname=Helvetica, fontsize=10];\n" \
           f"  rankdir=TB;\n  {body}\n}}\n"


def _spans(report: dict[str, Any]) -> list[tuple[str, float, float]]:
    transitions = report["transitions"]
    spans = []
    state, start = "Idle", 0.0
    for tr in transitions:
        spans.append((state, start, float(tr["t"])))
        state, start = tr["target"], float(tr["t"])
    end = max([start, *(float(e["t"]) for e in report["client_events"])])
    spans.append((state, start, end))
    return spans


def draw_timeline(reports: Sequence[dict[str, Any]], path: Path) -> None:
    dot = shutil.which("dot")
    if dot is None:
        raise ConfigError("--timeline needs Graphviz's 'dot' program: apt-get install graphviz")
    import subprocess

    result = subprocess.run([dot, "-Tpng", "-o", str(path)], input=timeline_dot(reports),
                            text=True, capture_output=True, check=False)
    if result.returncode != 0:
        raise ConfigError(f"Graphviz could not draw the timeline: {result.stderr.strip()}")
