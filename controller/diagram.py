"""``convctl diagram``: the state machine drawn from the ``ConversationChart`` class itself.

Mermaid and DOT are text and need nothing else; SVG and PNG are rendered by Graphviz's
``dot``. ``highlight`` marks the states and transitions one replayed scenario or log
actually took, so a reviewer sees the path, not just the map.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from controller.errors import ConfigError
from controller.machine import STATE_NAMES, ConversationChart

FORMATS = ("mermaid", "dot", "svg", "png")
TAKEN_FILL = "#c6f6d5"
TAKEN_LINE = "#2f855a"
EVENT_NAMES = {event.id: event.name
               for event in ConversationChart.events}  # type: ignore[attr-defined]
STATE_IDS = {name: state_id for state_id, name in STATE_NAMES.items()}


@dataclass(frozen=True)
class Path:
    """States (display names) and transitions (source, target, trigger id) a run took."""

    states: frozenset[str] = frozenset()
    transitions: frozenset[tuple[str, str, str]] = field(default_factory=frozenset)

    @classmethod
    def from_report(cls, states: Iterable[str], transitions: Iterable[dict[str, object]]
                    ) -> Path:
        return cls(frozenset(states), frozenset(
            (str(t["source"]), str(t["target"]), str(t["event"])) for t in transitions))

    def edge_taken(self, source_id: str, target_id: str, label: str) -> bool:
        return any(STATE_IDS.get(s) == source_id and STATE_IDS.get(t) == target_id
                   and EVENT_NAMES.get(e, e) == label for s, t, e in self.transitions)


def render(fmt: str, path: Path | None = None) -> str | bytes:
    if fmt == "mermaid":
        return _mermaid(path)
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    graph = _dot_graph(path)
    if fmt == "dot":
        return str(graph.to_string())
    if shutil.which("dot") is None:
        raise ConfigError(
            f"--format {fmt} needs Graphviz's 'dot' program, which is not installed: "
            "run 'apt-get install graphviz' (Debian/Ubuntu) or 'brew install graphviz' "
            "(macOS), or use --format mermaid or dot")
    data: bytes = graph.create(format=fmt)
    return data.decode("utf-8") if fmt == "svg" else data


def _mermaid(path: Path | None) -> str:
    text = format(ConversationChart, "mermaid")
    if path is None:
        return text
    lines = text.rstrip("\n").split("\n")
    edge_pattern = re.compile(r"^\s*(\S+) --> (\S+)(?: : ([^\[]+?))?(?: \[.*\])?\s*$")
    taken_edges = []
    n = 0
    for line in lines:
        match = edge_pattern.match(line)
        if match is None:
            continue
        source, target, label = match.group(1), match.group(2), (match.group(3) or "")
        if path.edge_taken(source, target, label.strip()):
            taken_edges.append(n)
        n += 1
    taken_states = sorted(STATE_IDS[s] for s in path.states if s in STATE_IDS)
    lines.append(f"    classDef taken fill:{TAKEN_FILL},stroke:{TAKEN_LINE},stroke-width:3px")
    if taken_states:
        lines.append(f"    class {','.join(taken_states)} taken")
    if taken_edges:
        lines.append(f"    linkStyle {','.join(map(str, taken_edges))} "
                     f"stroke:{TAKEN_LINE},stroke-width:3px")
    return "\n".join(lines) + "\n"


def _dot_graph(path: Path | None) -> Any:
    try:
        from statemachine.contrib.diagram import DotGraphMachine
    except ImportError as exc:  # pydot comes with python-statemachine[diagrams]
        raise ConfigError(f"diagrams need pydot: pip install pydot ({exc})") from None
    graph = DotGraphMachine(ConversationChart).get_graph()
    if path is None:
        return graph
    taken_ids = {STATE_IDS[s] for s in path.states if s in STATE_IDS}
    for sub in [graph, *graph.get_subgraphs()]:
        for node in sub.get_nodes():
            if node.get_name() in taken_ids:
                node.set("fillcolor", TAKEN_FILL)
                node.set("color", TAKEN_LINE)
        for edge in sub.get_edges():
            label = re.sub(r"<[^>]+>", "", str(edge.get("label") or "")).strip("<> ")
            if path.edge_taken(edge.get_source(), edge.get_destination(), label):
                edge.set("color", TAKEN_LINE)
                edge.set("penwidth", "3")
    return graph
