"""Answers to what only the graph knows: state, history, update_state, schemas.

The gateway asks these by NATS request/reply (any executor answers); they read
and write checkpoints through the same Redis saver the runs use.
"""

from __future__ import annotations

import typing
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import StateSnapshot

from relaygraph.contracts import GraphQuery
from relaygraph.errors import BadRequest, InvalidInput, NotFound
from relaygraph.store import Store
from relaygraph_executor.graphs import GraphRegistry
from relaygraph_executor.runner import interrupts_of, thread_interrupts
from relaygraph_executor.serde import dumps


def _checkpoint(config: RunnableConfig | None) -> dict[str, Any] | None:
    if not config:
        return None
    conf = config.get("configurable", {})
    return {
        "thread_id": conf.get("thread_id"),
        "checkpoint_ns": conf.get("checkpoint_ns", ""),
        "checkpoint_id": conf.get("checkpoint_id"),
        "checkpoint_map": conf.get("checkpoint_map"),
    }


def state_json(state: StateSnapshot) -> dict[str, Any]:
    """A StateSnapshot as LangGraph Server's ThreadState."""
    checkpoint = _checkpoint(state.config)
    parent = _checkpoint(state.parent_config)
    return {
        "values": state.values,
        "next": list(state.next),
        "tasks": [
            {
                "id": t.id,
                "name": t.name,
                "path": list(t.path),
                "error": str(t.error) if t.error else None,
                "interrupts": list(t.interrupts),
                "checkpoint": _checkpoint(t.state) if isinstance(t.state, dict) else None,
                "state": state_json(t.state) if isinstance(t.state, StateSnapshot) else None,
                "result": t.result,
            }
            for t in state.tasks
        ],
        "metadata": state.metadata,
        "created_at": state.created_at,
        "checkpoint": checkpoint,
        "parent_checkpoint": parent,
        "checkpoint_id": checkpoint["checkpoint_id"] if checkpoint else None,
        "parent_checkpoint_id": parent["checkpoint_id"] if parent else None,
        "interrupts": interrupts_of(state),
    }


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


class Queries:
    def __init__(self, registry: GraphRegistry, store: Store) -> None:
        self.registry = registry
        self.store = store

    def _config(self, q: GraphQuery) -> RunnableConfig:
        configurable: dict[str, Any] = dict((q.config or {}).get("configurable") or {})
        if q.thread_id is not None:
            configurable["thread_id"] = q.thread_id
        if q.checkpoint_id:
            configurable["checkpoint_id"] = q.checkpoint_id
        configurable.setdefault("checkpoint_ns", q.checkpoint_ns or "")
        return {"configurable": configurable}

    async def answer(self, q: GraphQuery) -> bytes:
        graph = self.registry.get(q.graph_id)
        if q.op == "get_state":
            state = await graph.aget_state(self._config(q), subgraphs=q.subgraphs)
            return dumps(state_json(state))
        if q.op == "history":
            before = {"configurable": {"checkpoint_id": q.before}} if q.before else None
            items = [
                state_json(s)
                async for s in graph.aget_state_history(
                    self._config(q), limit=q.limit, before=before, filter=q.filter
                )  # type: ignore[arg-type]
            ]
            return dumps(items)
        if q.op == "update_state":
            return await self._update_state(q)
        if q.op == "schemas":
            return dumps(self._schemas(q.graph_id))
        if q.op == "graph":
            return dumps(graph.get_graph(xray=q.xray).to_json())
        raise BadRequest(f"unknown query {q.op!r}")

    async def _update_state(self, q: GraphQuery) -> bytes:
        assert q.thread_id is not None
        graph = self.registry.get(q.graph_id)
        if q.as_node is not None and q.as_node not in graph.nodes:
            raise InvalidInput(
                f"as_node {q.as_node!r} is not a node of graph {q.graph_id!r}; "
                f"nodes: {sorted(n for n in graph.nodes if not n.startswith('__'))}"
            )
        try:
            new_config = await graph.aupdate_state(self._config(q), q.values, as_node=q.as_node)
        except (ValueError, KeyError, TypeError) as exc:  # langgraph's own refusals
            raise InvalidInput(f"update_state refused: {exc}") from exc
        state = await graph.aget_state({"configurable": {"thread_id": q.thread_id}})
        status = "interrupted" if (state.next or interrupts_of(state)) else "idle"
        await self.store.set_thread_values(
            q.thread_id, dumps(state.values), status, dumps(thread_interrupts(state))
        )
        return dumps({"checkpoint": _checkpoint(new_config)})

    def _schemas(self, graph_id: str) -> dict[str, Any]:
        graph = self.registry.get(graph_id)

        def safe(fn: Any) -> Any:
            try:
                return fn()
            except Exception:  # a schema langgraph cannot express as JSON Schema
                return None

        return {
            "graph_id": graph_id,
            "input_schema": safe(graph.get_input_jsonschema) or hinted_schema(graph),
            "output_schema": safe(graph.get_output_jsonschema),
            "state_schema": safe(lambda: graph.get_input_jsonschema()),
            "config_schema": safe(graph.get_config_jsonschema),
            "context_schema": safe(graph.get_context_jsonschema),
        }

    def exists(self, graph_id: str) -> None:
        if graph_id not in self.registry.graphs:
            raise NotFound(f"Graph {graph_id!r} not found")
