"""LangGraph's stream chunks as LangGraph Server names and frames them.

- Each mode's chunk is an event of that mode's name; a subgraph's (with
  ``stream_subgraphs``) is named ``mode|<node>:<task id>|...``.
- ``messages-tuple`` is sent as ``messages`` events of ``[chunk, metadata]``.
- ``messages`` (when ``messages-tuple`` is not asked for too) accumulates each
  message: ``messages/metadata`` ``{id: {"metadata": ...}}`` when a message id is
  first seen, then ``messages/partial`` (a chunk: the message so far) or
  ``messages/complete`` (a whole message), each a one-element list. These are
  never namespaced.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.messages import (
    AIMessageChunk,
    BaseMessage,
    BaseMessageChunk,
    ToolMessageChunk,
    convert_to_messages,
    message_chunk_to_message,
)

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


class Framer:
    """One run's framing: asked modes in, (event name, data) out."""

    def __init__(self, modes: list[str]) -> None:
        self.modes = modes
        self.tuples = "messages-tuple" in modes
        self._messages: dict[str | None, BaseMessage] = {}

    @property
    def graph_modes(self) -> list[str]:
        return list(dict.fromkeys(MODES[m] for m in self.modes))

    def frames(self, ns: tuple[str, ...], mode: str, chunk: Any) -> Iterator[tuple[str, Any]]:
        suffix = f"|{'|'.join(ns)}" if ns else ""
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
