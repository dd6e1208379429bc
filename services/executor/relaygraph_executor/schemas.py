"""A graph's JSON schemas as LangGraph Server gives them
(``GET /assistants/{id}/schemas``), computed once when the graph is loaded."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import TypeAdapter, create_model

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


_NOT_CONFIGURABLE = (
    "thread_id",
    "checkpoint_id",
    "checkpoint_ns",
    "__pregel_checkpointer",
    "__pregel_store",
)
"""Keys of ``configurable`` the server fills itself: not part of a graph's config schema."""


def state_schema(graph: Any) -> dict[str, Any]:
    """The state as the graph's channels take updates, every field optional:
    a model named after the graph (``get_name("State")``), a field per stream
    channel typed by what the channel accepts (``Any`` when pydantic cannot
    express it)."""
    fields: dict[str, Any] = {}
    for name in graph.stream_channels_list:
        update = graph.channels[name].UpdateType
        try:
            TypeAdapter(update).json_schema()
        except Exception:
            update = Any
        fields[name] = (update, None)
    model: Any = create_model(graph.get_name("State"), **fields)
    schema: dict[str, Any] = model.model_json_schema()
    return schema


def configurable_schema(graph: Any) -> dict[str, Any]:
    """The schema of ``config["configurable"]`` only (not of the whole
    RunnableConfig), without the keys the server fills, titled with the
    graph's config type when it has one."""
    model = graph.config_schema()
    field = getattr(model, "model_fields", {}).get("configurable")
    if field is None:
        return {}
    schema: dict[str, Any] = TypeAdapter(field.annotation).json_schema()
    for key in _NOT_CONFIGURABLE:
        schema.get("properties", {}).pop(key, None)
    config_type = getattr(graph, "config_type", None)
    if schema and config_type is not None:
        schema["title"] = getattr(config_type, "__name__", schema.get("title"))
    return schema


def graph_schemas(graph_id: str | None, graph: Any) -> dict[str, Any]:
    """``graph``: a compiled graph (``relaygraph_executor.graphs.Graph``).
    ``graph_id`` ``None``: a subgraph's schemas, which carry no graph id."""
    schemas = {
        "input_schema": _safe(graph.get_input_jsonschema) or hinted_schema(graph),
        "output_schema": _safe(graph.get_output_jsonschema),
        "state_schema": _safe(lambda: state_schema(graph)),
        "config_schema": _safe(lambda: configurable_schema(graph)),
        "context_schema": _safe(graph.get_context_jsonschema),
    }
    return schemas if graph_id is None else {"graph_id": graph_id, **schemas}


def context_keys(schemas: dict[str, Any]) -> frozenset[str] | None:
    """The keys a run's context may carry (the context schema's properties),
    or ``None`` when the graph declares none: then nothing is filtered."""
    schema = schemas.get("context_schema")
    props = schema.get("properties") if isinstance(schema, dict) else None
    return frozenset(props) if isinstance(props, dict) and props else None
