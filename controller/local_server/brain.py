"""The offline assistant's mind: from what the user said to what it says and calls.

Owns intent matching on a transcript (phrases with slots, or regular expressions), the
``Plan`` of a reply (text to speak, tool calls with arguments taken from the words), the
reply after a tool's output, and the phrases the speech recogniser should expect. It knows
nothing of the wire protocol, audio or threads: the response streamer turns a ``Plan``
into events.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.local_server.brain_file import BrainSpec, IntentSpec, load_brain_spec

_FIELD = re.compile(r"\{([A-Za-z_][\w.]*)\}")
_SLOT = re.compile(r"\{([A-Za-z_]\w*)\}")


def normalize(text: str) -> str:
    """Lower case, curly apostrophes straightened, punctuation dropped, spaces collapsed."""
    text = text.lower().replace("\u2019", "'")
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    return " ".join(word.strip("'") for word in text.split() if word.strip("'"))


@dataclass(frozen=True)
class PlannedCall:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Plan:
    """What one response says (may be empty) and which tools it calls, in that order."""

    say: str
    calls: tuple[PlannedCall, ...] = ()
    intent: str | None = None


@dataclass(frozen=True)
class Match:
    intent: IntentSpec
    slots: dict[str, str]
    length: int


@dataclass(frozen=True)
class PhraseShape:
    """A phrase as the recogniser sees it: words, and slot names standing for value lists."""

    parts: tuple[str, ...]
    slot_names: frozenset[str] = field(default_factory=frozenset)


class Brain:
    """Matches transcripts to intents and plans replies from a ``BrainSpec``."""

    def __init__(self, spec: BrainSpec) -> None:
        self.spec = spec
        # normalized value -> value as written in the brain file, per slot
        self._canonical = {name: {normalize(v): v for v in values}
                           for name, values in spec.slots.items()}
        self._matchers = [(intent, self._compile(intent)) for intent in spec.intents]

    @classmethod
    def load(cls, path: str | Path | None = None) -> Brain:
        return cls(load_brain_spec(path))

    # --- Understanding ------------------------------------------------------------------

    def match(self, transcript: str) -> Match | None:
        """The intent whose phrase covers most of the transcript (first listed wins ties)."""
        text = normalize(transcript)
        best: Match | None = None
        for intent, patterns in self._matchers:
            for pattern in patterns:
                found = pattern.search(text)
                if found and (best is None or len(found.group(0)) > best.length):
                    slots = {name: self._canonical.get(name, {}).get(value, value)
                             for name, value in found.groupdict().items() if value}
                    best = Match(intent=intent, slots=slots, length=len(found.group(0)))
        return best

    def phrase_shapes(self) -> list[PhraseShape]:
        """Every phrase whose slots all have value lists, for the recogniser's grammar."""
        shapes = []
        for intent in self.spec.intents:
            for phrase in intent.phrases:
                parts = tuple(_SLOT.sub(r" {\1} ", normalize_keeping_slots(phrase)).split())
                names = frozenset(p[1:-1] for p in parts if p.startswith("{"))
                if all(self.spec.slots.get(name) for name in names):
                    shapes.append(PhraseShape(parts=parts, slot_names=names))
        return shapes

    def _compile(self, intent: IntentSpec) -> list[re.Pattern[str]]:
        compiled = [re.compile(pattern) for pattern in intent.patterns]
        for phrase in intent.phrases:
            pieces = _SLOT.split(normalize_keeping_slots(phrase))
            regex = ""
            for index, piece in enumerate(pieces):
                if index % 2 == 0:
                    regex += r"\s+".join(re.escape(word) for word in piece.split())
                else:
                    regex += r"\s*" + self._slot_regex(piece, last=not pieces[index + 1].strip())
                    regex += r"\s*"
            compiled.append(re.compile(r"(?:^|(?<=\s))" + regex.strip() + r"(?=\s|$)"))
        return compiled

    def _slot_regex(self, name: str, *, last: bool) -> str:
        values = sorted(self._canonical.get(name, {}), key=len, reverse=True)
        if values:
            body = "|".join(r"\s+".join(map(re.escape, v.split())) for v in values)
        else:
            body = ".+" if last else ".+?"
        return f"(?P<{name}>{body})"

    def tidy_transcript(self, words: str) -> str:
        """Recogniser output made readable: slot values as written, a capital to start."""
        text = " " + normalize(words) + " "
        for values in self._canonical.values():
            for plain, written in sorted(values.items(), key=lambda v: -len(v[0])):
                text = text.replace(f" {plain} ", f" {written} ")
        text = text.replace(" i ", " I ").replace(" i'", " I'").strip()
        return text[:1].upper() + text[1:]

    # --- Replying -----------------------------------------------------------------------

    def greet(self) -> Plan:
        return Plan(say=render(self.spec.greeting, common_fields()) or "")

    def reply_to_user(self, transcript: str, *, tools: Mapping[str, Mapping[str, Any]],
                      calls_allowed: bool = True) -> Plan:
        """The reply to a user turn; calls only tools the response may use."""
        if not transcript.strip():
            # Silence (idle timeout) or nothing recognisable: prompt the user.
            return Plan(say=render(self.spec.idle_prompt, common_fields()) or "")
        fields = {**common_fields(), "transcript": transcript.strip()}
        found = self.match(transcript)
        if found is None:
            return Plan(say=render(self.spec.fallback, fields) or "")
        fields.update(found.slots)
        calls = []
        missing_tool = False
        for call in found.intent.calls:
            schema = tools.get(call.name)
            if schema is None or not calls_allowed:
                missing_tool = True
                continue
            arguments = {key: render(value, fields) or "" for key, value in
                         call.arguments.items()}
            calls.append(PlannedCall(call.name, fit_arguments(arguments, schema)))
        say = found.intent.say
        if missing_tool and found.intent.without_tool is not None:
            say = found.intent.without_tool
        return Plan(say=render(say, fields) or "", calls=tuple(calls),
                    intent=found.intent.name)

    def reply_to_tool_output(self, name: str, arguments: str, output: str) -> Plan:
        """What to say once a tool's output is in the conversation."""
        fields: dict[str, Any] = {**common_fields(), **_json_object(arguments)}
        fields["output"] = _parse_output(output)
        intent = next((i for i in self.spec.intents if any(c.name == name for c in i.calls)),
                      None)
        templates: list[str] = []
        if isinstance(fields["output"], Mapping) and "error" in fields["output"]:
            templates.append(self.spec.tool_error)
        if intent is not None:
            templates.extend(intent.after_call)
        templates.append(self.spec.tool_reply)
        for template in templates:
            said = render(template, fields)
            if said is not None:
                return Plan(say=said, intent=intent.name if intent else None)
        return Plan(say=speakable(fields["output"]))


def normalize_keeping_slots(phrase: str) -> str:
    """``normalize`` for a phrase template, leaving ``{slot}`` markers in place."""
    pieces = _SLOT.split(phrase)
    return " ".join(normalize(p) if i % 2 == 0 else "{" + p + "}"
                    for i, p in enumerate(pieces)).strip()


def fit_arguments(arguments: dict[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Rename a lone argument to the tool's lone parameter when the names differ.

    A brain says ``city``; a session's weather tool may call it ``location``.
    """
    properties = schema.get("parameters", {}).get("properties", {})
    if len(arguments) == 1 and len(properties) == 1:
        (value,), (wanted,) = arguments.values(), properties.keys()
        return {wanted: value}
    return arguments


def common_fields() -> dict[str, Any]:
    now = datetime.datetime.now()
    return {"time": now.strftime("%I:%M %p").lstrip("0"),
            "date": now.strftime("%A, %B ") + str(now.day)}


def render(template: str, fields: Mapping[str, Any]) -> str | None:
    """``template`` with every ``{field}`` filled, or None if a field is unknown."""
    missing = False

    def fill(found: re.Match[str]) -> str:
        nonlocal missing
        value: Any = fields
        for key in found.group(1).split("."):
            if not isinstance(value, Mapping) or key not in value:
                missing = True
                return ""
            value = value[key]
        return speakable(value)

    text = _FIELD.sub(fill, template)
    return None if missing else " ".join(text.split())


def speakable(value: Any) -> str:
    """A value read aloud: ``{"temp_c": 21}`` becomes ``temp c 21``."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.1f}".rstrip("0").rstrip(".")
    if isinstance(value, Mapping):
        return ", ".join(f"{str(k).replace('_', ' ')} {speakable(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(speakable(v) for v in value)
    return str(value)


def _parse_output(output: str) -> Any:
    try:
        return json.loads(output)
    except (json.JSONDecodeError, TypeError):
        return output


def _json_object(text: str) -> dict[str, Any]:
    parsed = _parse_output(text)
    return dict(parsed) if isinstance(parsed, Mapping) else {}
