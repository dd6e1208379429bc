"""Answers to what only the graph knows: state, history, update_state, schemas.

The gateway asks these by NATS request/reply (any executor answers); they read
and write checkpoints through the same Redis saver the runs use.
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.errors import InvalidUpdateError
from langgraph.store.base import NOT_PROVIDED, BaseStore
from langgraph.types import StateSnapshot

from relaygraph.contracts import GraphQuery
from relaygraph.errors import BadRequest, Conflict, InvalidInput
from relaygraph.runs import SetStateOutcome, ThreadStatus
from relaygraph.threads import Threads
from relaygraph_executor.graph_io import interrupts_of, thread_interrupts
from relaygraph_executor.graphs import GraphRegistry
from relaygraph_executor.schemas import graph_schemas
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
    # A thread that never ran has no checkpoint: null, as LangGraph Server says.
    saved = state.config and state.config.get("configurable", {}).get("checkpoint_id")
    checkpoint = _checkpoint(state.config) if saved else None
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


class Queries:
    def __init__(self, registry: GraphRegistry, threads: Threads, store: BaseStore) -> None:
        self.registry = registry
        self.threads = threads
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
        if q.op in ("store_put", "store_search"):
            try:
                return await self._store(q.op, q.values)
            except ValueError as exc:  # the store's namespace and filter rules
                raise BadRequest(str(exc)) from None
        graph = self.registry.get(q.graph_id)
        if q.op == "get_state":
            state = await graph.aget_state(self._config(q), subgraphs=q.subgraphs)
            return dumps(state_json(state))
        if q.op == "history":
            before: RunnableConfig | None = (
                {"configurable": {"checkpoint_id": q.before}} if q.before else None
            )
            items = [
                state_json(s)
                async for s in graph.aget_state_history(
                    self._config(q), limit=q.limit, before=before, filter=q.filter
                )
            ]
            return dumps(items)
        if q.op == "update_state":
            return await self._update_state(q)
        if q.op == "schemas":
            return dumps(self.registry.loaded_graph(q.graph_id).schemas)
        if q.op == "graph":
            return dumps(graph.get_graph(xray=q.xray).to_json())
        if q.op == "subgraphs":
            found = {
                ns: graph_schemas(None, sub)
                async for ns, sub in graph.aget_subgraphs(
                    namespace=q.checkpoint_ns or None, recurse=q.subgraphs
                )
            }
            return dumps(found)
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
        except (ValueError, KeyError, TypeError, InvalidUpdateError) as exc:  # langgraph's refusals
            raise InvalidInput(f"update_state refused: {exc}") from exc
        state = await graph.aget_state({"configurable": {"thread_id": q.thread_id}})
        paused = bool(state.next or interrupts_of(state))
        outcome = await self.threads.runs.set_state(
            q.thread_id,
            dumps(state.values),
            ThreadStatus.INTERRUPTED if paused else ThreadStatus.IDLE,
            dumps(thread_interrupts(state)),
            pause_checkpoint=state.config["configurable"].get("checkpoint_id", ""),
        )
        if outcome is SetStateOutcome.BUSY:
            # A run took the thread between the gateway's check and this
            # write: its checkpoint is written, the run's end sets the state.
            raise Conflict(f"Thread {q.thread_id} got a run while its state was updated")
        return dumps({"checkpoint": _checkpoint(new_config), "state": state_json(state)})

    async def _store(self, op: str, body: dict[str, Any]) -> bytes:
        """The Store calls the gateway hands over (they need the embedding function)."""
        if op == "store_put":
            await self.store.aput(
                tuple(body["namespace"]),
                body["key"],
                body["value"],
                index=body.get("index"),
                ttl=body.get("ttl", NOT_PROVIDED),
            )
            return dumps(None)
        found = await self.store.asearch(
            tuple(body.get("namespace_prefix") or ()),
            query=body.get("query"),
            filter=body.get("filter"),
            limit=body.get("limit", 10),
            offset=body.get("offset", 0),
            refresh_ttl=body.get("refresh_ttl"),
        )
        return dumps([item.dict() for item in found])
