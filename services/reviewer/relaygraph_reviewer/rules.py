"""Rule-based auto-review: a JSON file of rules, the first match answers.

The file (``REVIEWER_RULES``) holds a list of rules::

    [
      {"graph_id": "agent", "match": {"action.tool": "search"}, "resume": {"approved": true}},
      {"graph_id": "*", "match": {"kind": "notice"}, "resume": null}
    ]

``graph_id`` is a graph id, or ``"*"`` (or absent) for every graph. ``match``
maps a dotted path into the interrupt value (numbers index lists) to the value
expected there; every entry must hold, and an empty ``match`` holds always.
``resume`` is the value sent back. An event with several interrupts is
answered by rules only when each of its interrupts matches one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relaygraph.contracts import InterruptEvent
from relaygraph.errors import InvalidInput

_MISSING = object()
_KEYS = {"graph_id", "match", "resume", "description"}


@dataclass(frozen=True)
class Rule:
    graph_id: str | None
    """None: every graph."""
    match: dict[str, Any]
    resume: Any
    description: str = ""

    def matches(self, graph_id: str, value: Any) -> bool:
        if self.graph_id is not None and self.graph_id != graph_id:
            return False
        for path, expected in self.match.items():
            found = lookup(value, path)
            if found is _MISSING or not _equal(found, expected):
                return False
        return True


def _equal(found: Any, expected: Any) -> bool:
    # JSON equality: true is not 1, as in the file the rule came from.
    if isinstance(found, bool) or isinstance(expected, bool):
        return type(found) is type(expected) and found == expected
    return bool(found == expected)


def lookup(value: Any, path: str) -> Any:
    """The value at a dotted path (``a.b.0.c``), or ``_MISSING``."""
    current = value
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif (
            isinstance(current, list) and part.lstrip("-").isascii() and part.lstrip("-").isdigit()
        ):
            index = int(part)
            if not -len(current) <= index < len(current):
                return _MISSING
            current = current[index]
        else:
            return _MISSING
    return current


@dataclass(frozen=True)
class Rules:
    rules: tuple[Rule, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.rules)

    def first(self, graph_id: str, value: Any) -> Rule | None:
        return next((r for r in self.rules if r.matches(graph_id, value)), None)

    def answer(self, event: InterruptEvent) -> dict[str, Any] | None:
        """Interrupt id -> resume value when every interrupt matches a rule, else None."""
        if not event.interrupts:
            return None
        answers: dict[str, Any] = {}
        for item in event.interrupts:
            rule = self.first(event.graph_id, item.value)
            if rule is None:
                return None
            answers[item.id] = rule.resume
        return answers


def parse_rules(raw: Any, source: str = "rules") -> Rules:
    """Check the rules' shape; each error names the rule and the field."""
    if not isinstance(raw, list):
        raise InvalidInput(f"{source}: must be a JSON list of rules, got {type(raw).__name__}")
    rules: list[Rule] = []
    for index, entry in enumerate(raw):
        where = f"{source}: rule #{index}"
        if not isinstance(entry, dict):
            raise InvalidInput(f"{where}: must be an object, got {type(entry).__name__}")
        unknown = set(entry) - _KEYS
        if unknown:
            raise InvalidInput(
                f"{where}: unknown field(s) {sorted(unknown)}; allowed: {sorted(_KEYS)}"
            )
        if "resume" not in entry:
            raise InvalidInput(f"{where}: needs `resume`, the value sent back")
        graph_id = entry.get("graph_id", "*")
        if not isinstance(graph_id, str) or not graph_id:
            raise InvalidInput(f'{where}: `graph_id` must be a graph id or "*"')
        match = entry.get("match", {})
        if not isinstance(match, dict):
            raise InvalidInput(
                f"{where}: `match` must be an object of dotted path -> expected value"
            )
        for path in match:
            if not path or any(not part for part in path.split(".")):
                raise InvalidInput(f"{where}: `match` path {path!r} is not a dotted path")
        description = entry.get("description", "")
        if not isinstance(description, str):
            raise InvalidInput(f"{where}: `description` must be a string")
        rules.append(
            Rule(
                graph_id=None if graph_id == "*" else graph_id,
                match=dict(match),
                resume=entry["resume"],
                description=description,
            )
        )
    return Rules(tuple(rules))


def load_rules(path: str | Path | None) -> Rules:
    """Read ``REVIEWER_RULES``; no path means no rules."""
    if not path:
        return Rules()
    file = Path(path)
    source = f"REVIEWER_RULES={file}"
    try:
        text = file.read_text()
    except OSError as exc:
        raise InvalidInput(f"{source}: cannot read the rules file ({exc.strerror})") from exc
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{source}: not valid JSON ({exc})") from exc
    return parse_rules(raw, source)
