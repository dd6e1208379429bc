"""LangGraph's stream chunks as LangGraph Server names and frames them.

- Each mode's chunk is an event of that mode's name; a subgraph's (with
  ``stream_subgraphs``) is named ``mode|<node>:<task id>|...``.
- ``messages-tuple`` is sent as ``messages`` events of ``[chunk, metadata]``.
- ``messages`` (when ``messages-tuple`` is not asked for too) accumulates each
  message: ``messages/metadata`` ``{id: {"metadata": ...}}`` when a message id is
  first seen, then ``messages/partial`` (a chunk: the message so far) or
  ``messages/complete`` (a whole message), each a one-element list. These are
  never namespaced.
- ``events``: the run goes through ``astream_events`` (v2); every event is an
  ``events`` event but the root's own ``on_chain_stream``, which carries the
  other modes' chunks. The root's ``name`` is the graph id and its ``run_id``
  the run's (as in the reference).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.messages import (
    AIMessageChunk,
    BaseMessage,
    BaseMessageChunk,
    ToolMessageChunk,
    convert_to_messages,
    message_chunk_to_message,
)

from relaygraph.checkpoint import FENCING_TOKEN

# API stream modes -> the langgraph stream mode each needs.
MODES = {
    "values": "values",
    "updates": "updates",
    "custom": "custom",
    "debug": "debug",
    "tasks": "tasks",
    "checkpoints": "checkpoints",
    "messages-tuple": "messages",
    "messages": "messages",
    "events": None,
}


def _message(raw: Any) -> tuple[BaseMessage, bool]:
    """A message of a ``messages`` chunk, and whether it is a chunk."""
    if not isinstance(raw, dict):
        return raw, isinstance(raw, BaseMessageChunk)
    kind = f"{raw.get('type', '')} {raw.get('role', '')}".lower()
    if "chunk" in kind:
        fields = {k: v for k, v in raw.items() if k not in ("type", "role")}
        if "ai" in kind:
            return AIMessageChunk(**fields), True
        if "tool" in kind:
            return ToolMessageChunk(**fields), True
        return BaseMessageChunk(**fields), True
    return convert_to_messages([raw])[0], False


def _checkpoint_of(config: Any) -> dict[str, Any] | None:
    """``{checkpoint_id, thread_id, checkpoint_ns[, checkpoint_map]}`` of a config."""
    conf = (config or {}).get("configurable") or {}
    if not conf.get("thread_id") or not conf.get("checkpoint_id"):
        return None
    out = {"checkpoint_id": conf["checkpoint_id"], "thread_id": conf["thread_id"]}
    if "checkpoint_ns" in conf:
        out["checkpoint_ns"] = conf["checkpoint_ns"] or ""
    if "checkpoint_map" in conf:
        out["checkpoint_map"] = conf["checkpoint_map"]
    return out


def _shown_configs(payload: Any) -> Any:
    """A checkpoint payload without the attempt's fencing token in its configs
    (relaygraph's own key: the API never shows it)."""
    if not isinstance(payload, dict):
        return payload
    out = dict(payload)
    for key in ("config", "parent_config"):
        conf = (out.get(key) or {}).get("configurable")
        if isinstance(conf, dict) and FENCING_TOKEN in conf:
            rest = {k: v for k, v in conf.items() if k != FENCING_TOKEN}
            out[key] = {**out[key], "configurable": rest}
    return out


def _debug_checkpoint(payload: Any) -> Any:
    """A ``debug`` checkpoint as the reference adds to it: ``checkpoint`` and
    ``parent_checkpoint``, and a task's ``state`` config as its ``checkpoint``."""
    if not isinstance(payload, dict):
        return payload
    tasks = []
    for task in payload.get("tasks") or []:
        state = task.get("state") if isinstance(task, dict) else None
        if isinstance(state, dict) and state.get("configurable"):
            task = {k: v for k, v in task.items() if k != "state"}
            task["checkpoint"] = state["configurable"]
        tasks.append(task)
    return {
        **payload,
        "checkpoint": _checkpoint_of(payload.get("config")),
        "parent_checkpoint": _checkpoint_of(payload.get("parent_config")),
        "tasks": tasks,
    }


class Framer:
    """One run's framing: asked modes in, (event name, data) out."""

    def __init__(self, modes: list[str], graph_id: str) -> None:
        self.modes = modes
        self.graph_id = graph_id
        self.tuples = "messages-tuple" in modes
        self._messages: dict[str | None, BaseMessage] = {}

    @property
    def graph_modes(self) -> list[str]:
        """The langgraph stream modes to ask for (one at least: ``events``
        alone still needs the graph streamed)."""
        asked = [mode for m in self.modes if (mode := MODES[m]) is not None]
        return list(dict.fromkeys(asked)) or ["values"]

    @property
    def events(self) -> bool:
        return "events" in self.modes

    def frames(self, ns: tuple[str, ...], mode: str, chunk: Any) -> Iterator[tuple[str, Any]]:
        suffix = f"|{'|'.join(ns)}" if ns else ""
        if not any(MODES[m] == mode for m in self.modes):
            return  # streamed for ``events`` only
        if mode == "debug" and isinstance(chunk, dict) and chunk.get("type") == "checkpoint":
            chunk = {**chunk, "payload": _debug_checkpoint(_shown_configs(chunk["payload"]))}
        elif mode == "checkpoints":
            chunk = _shown_configs(chunk)
        if mode != "messages":
            yield mode + suffix, chunk
        elif self.tuples:
            yield "messages" + suffix, chunk
        else:
            yield from self._accumulated(chunk)

    def _accumulated(self, chunk: Any) -> Iterator[tuple[str, Any]]:
        raw, metadata = chunk
        msg, is_chunk = _message(raw)
        if msg.id in self._messages:
            self._messages[msg.id] = self._messages[msg.id] + msg  # type: ignore[assignment]
        else:
            self._messages[msg.id] = msg
            yield "messages/metadata", {msg.id: {"metadata": metadata}}
        so_far = self._messages[msg.id]
        shown = so_far if is_chunk and isinstance(raw, dict) else message_chunk_to_message(so_far)
        event = "messages/partial" if isinstance(msg, BaseMessageChunk) else "messages/complete"
        yield event, [shown]


async def framed(
    framer: Framer, graph: Any, graph_input: Any, config: dict[str, Any], **kwargs: Any
) -> AsyncIterator[tuple[str, Any]]:
    """The run's events, each (name, data), from ``astream`` (or, with
    ``events``, ``astream_events``); ``kwargs`` go to ``astream``."""
    subgraphs = bool(kwargs.get("subgraphs"))
    modes = framer.graph_modes
    if not framer.events:
        async for part in graph.astream(graph_input, config, stream_mode=modes, **kwargs):
            ns, (mode, chunk) = (part[0], part[1:]) if subgraphs else ((), part)
            for frame in framer.frames(ns, mode, chunk):
                yield frame
        return
    root = config["run_id"]
    config = {**config, "run_name": config.get("run_name") or framer.graph_id}
    stream = graph.astream_events(graph_input, config, version="v2", stream_mode=modes, **kwargs)
    async for event in stream:
        if "langsmith:hidden" in (event.get("tags") or ()):
            continue
        if event["event"] == "on_chain_stream" and event["run_id"] == root:
            part = event["data"]["chunk"]
            ns, (mode, chunk) = (part[0], part[1:]) if subgraphs else ((), part)
            for frame in framer.frames(ns, mode, chunk):
                yield frame
        else:
            yield "events", event
