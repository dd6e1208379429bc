"""A span per graph node, as children of the run's span: a LangChain
callback handler on the run's config (only when tracing is on).

LangGraph runs each node as a runnable named after the node, with the node's
name in its metadata (``langgraph_node``); runnables inside a node carry the
same metadata under other names, so only the node's own run opens a span. A
subgraph's nodes nest under the node that runs the subgraph.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler
from opentelemetry import trace
from opentelemetry.context import Context

from relaygraph import tracing


class NodeSpans(AsyncCallbackHandler):
    run_inline = True

    def __init__(self, parent: Context) -> None:
        self.parent = parent
        self.spans: dict[UUID, trace.Span] = {}
        self.parents: dict[UUID, UUID | None] = {}

    def _context(self, parent_run_id: UUID | None) -> Context:
        seen = parent_run_id
        while seen is not None:
            if seen in self.spans:
                return trace.set_span_in_context(self.spans[seen], self.parent)
            seen = self.parents.get(seen)
        return self.parent

    async def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.parents[run_id] = parent_run_id
        node = (metadata or {}).get("langgraph_node")
        if not node or kwargs.get("name") != node:
            return
        self.spans[run_id] = tracing.tracer.start_span(
            f"node {node}",
            context=self._context(parent_run_id),
            attributes={
                "langgraph.node": str(node),
                "langgraph.step": int((metadata or {}).get("langgraph_step", 0)),
            },
        )

    async def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.parents.pop(run_id, None)
        span = self.spans.pop(run_id, None)
        if span is not None:
            span.end()

    async def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self.parents.pop(run_id, None)
        span = self.spans.pop(run_id, None)
        if span is not None:
            # An interrupt is how a graph pauses, not a failure.
            if type(error).__name__ not in ("GraphInterrupt", "NodeInterrupt"):
                span.record_exception(error)
                span.set_status(trace.StatusCode.ERROR)
            span.end()
