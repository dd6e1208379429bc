"""Input a graph can take, by the input schema its executors published
(the graph catalog): checked before a run is recorded, without an executor."""

from __future__ import annotations

from typing import Any

from relaygraph.catalog import GraphEntry
from relaygraph.errors import InvalidInput


def check_input(graph_id: str, value: Any, entry: GraphEntry | None) -> None:
    """Refuse input the graph cannot take: not an object, unknown keys, or a
    top-level scalar of the wrong JSON type (by the graph's published input
    schema)."""
    if entry is None or entry.schemas is None:
        return  # never published (no executor yet), or did not load: run it unchecked
    schema = entry.schemas.get("input_schema") or {}
    props = schema.get("properties")
    if schema.get("type") != "object" or not isinstance(props, dict):
        return
    if not isinstance(value, dict):
        raise InvalidInput(
            f"input of graph {graph_id!r} must be an object with keys {sorted(props)}"
        )
    unknown = sorted(set(value) - set(props))
    if unknown:
        raise InvalidInput(
            f"input key(s) {unknown} are not in graph {graph_id!r}'s input schema; "
            f"it accepts {sorted(props)}"
        )
    # Scalars only: reducers (add_messages...) accept more shapes than a
    # schema's array/object says, and LangGraph itself does not check them.
    types: dict[str, type | tuple[type, ...]] = {
        "string": str,
        "integer": int,
        "number": (int, float),
        "boolean": bool,
    }
    for key, item in value.items():
        expected = props[key].get("type") if isinstance(props[key], dict) else None
        py = types.get(expected) if isinstance(expected, str) else None
        if py is None or item is None:
            continue
        if not isinstance(item, py) or (
            expected in ("integer", "number") and isinstance(item, bool)
        ):
            raise InvalidInput(
                f"input key {key!r} must be of type {expected}, got {type(item).__name__}"
            )
