"""A graph's JSON schemas as LangGraph Server gives them
(``GET /assistants/{id}/schemas``), computed once when the graph is loaded."""

from __future__ import annotations

import typing
from typing import Any

_JSON_TYPES = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    list: "array",
    dict: "object",
}


def hinted_schema(graph: Any) -> dict[str, Any] | None:
    """A shallow JSON Schema of a StateGraph's input from its type hints, for
    states pydantic cannot express (``typing.TypedDict`` on Python < 3.12)."""
    schema = getattr(getattr(graph, "builder", None), "input_schema", None)
    if schema is None:
        return None
    try:
        hints = typing.get_type_hints(schema)
    except Exception:
        return None
    props: dict[str, Any] = {}
    for key, hint in hints.items():
        base = typing.get_origin(hint) or hint
        if base is typing.Annotated:  # a channel with a reducer: its input shape varies
            props[key] = {}
            continue
        props[key] = {"type": _JSON_TYPES[base]} if base in _JSON_TYPES else {}
    return {"type": "object", "title": getattr(schema, "__name__", "Input"), "properties": props}


def _safe(fn: Any) -> Any:
    try:
        return fn()
    except Exception:  # a schema langgraph cannot express as JSON Schema
        return None


def graph_schemas(graph_id: str, graph: Any) -> dict[str, Any]:
    """``graph``: a compiled graph (``relaygraph_executor.graphs.Graph``)."""
    return {
        "graph_id": graph_id,
        "input_schema": _safe(graph.get_input_jsonschema) or hinted_schema(graph),
        "output_schema": _safe(graph.get_output_jsonschema),
        "state_schema": _safe(graph.get_input_jsonschema),
        "config_schema": _safe(graph.get_config_jsonschema),
        "context_schema": _safe(graph.get_context_jsonschema),
    }


def context_keys(schemas: dict[str, Any]) -> frozenset[str] | None:
    """The keys a run's context may carry (the context schema's properties),
    or ``None`` when the graph declares none: then nothing is filtered."""
    schema = schemas.get("context_schema")
    props = schema.get("properties") if isinstance(schema, dict) else None
    return frozenset(props) if isinstance(props, dict) and props else None
