"""What goes into the graph for a run (its config, context and input), what
comes out of a state (its interrupts), and which failures are not the graph's.
"""

from __future__ import annotations

from typing import Any

from langgraph.types import Command, Send, StateSnapshot
from nats.errors import Error as NatsError
from opentelemetry import context as otel_context

from relaygraph import tracing
from relaygraph.checkpoint import FENCING_TOKEN
from relaygraph.contracts import RunRequest
from relaygraph.redis_client import REDIS_UNAVAILABLE
from relaygraph_executor.node_spans import NodeSpans


def run_context(req: RunRequest, keys: frozenset[str] | None) -> dict[str, Any]:
    """What the graph reads as ``Runtime.context``, built as LangGraph Server
    builds it: the run's ``context``, else its ``config["configurable"]``, with
    only the keys of the graph's context schema when it declares one. An empty
    context gives the graph its schema's defaults."""
    context = dict(req.context or (req.config or {}).get("configurable") or {})
    if keys is not None:
        context = {k: v for k, v in context.items() if k in keys}
    return context


def run_config(req: RunRequest, epoch: int | None) -> dict[str, Any]:
    cfg = dict(req.config or {})
    # A run's context is also seen in its configurable (LangGraph Server mirrors it).
    configurable = {**(req.context or {}), **(cfg.get("configurable") or {})}
    # Who the run is, as LangGraph Server tells a graph (config["configurable"]).
    configurable.update(
        run_id=req.run_id,
        thread_id=req.thread_id,
        graph_id=req.graph_id,
        assistant_id=req.assistant_id,
    )
    configurable.setdefault("checkpoint_ns", "")
    if req.checkpoint_id:
        configurable["checkpoint_id"] = req.checkpoint_id
    elif req.checkpoint and req.checkpoint.get("checkpoint_id"):
        configurable["checkpoint_id"] = req.checkpoint["checkpoint_id"]
    if epoch is not None:
        configurable[FENCING_TOKEN] = epoch
    cfg["configurable"] = configurable
    metadata = dict(cfg.get("metadata") or {})
    metadata.update(req.metadata or {})
    metadata.update(
        run_id=req.run_id,
        thread_id=req.thread_id,
        graph_id=req.graph_id,
        assistant_id=req.assistant_id,
    )
    cfg["metadata"] = metadata
    cfg["run_id"] = req.run_id
    if tracing.enabled():  # a span per node, under the run's (the current) span
        cfg["callbacks"] = [*(cfg.get("callbacks") or []), NodeSpans(otel_context.get_current())]
    return cfg


def graph_input(req: RunRequest) -> Any:
    if req.command:
        return to_command(req.command)
    return req.input


def to_command(cmd: dict[str, Any]) -> Command[Any]:
    """A run's ``command`` as LangGraph takes it, as the reference converts it:
    ``goto`` one or many nodes, ``{node, input}`` a ``Send``; ``update`` a
    dict or ``[key, value]`` pairs."""
    goto = cmd.get("goto")
    targets = goto if isinstance(goto, list) else [] if goto is None else [goto]
    update = cmd.get("update")
    if isinstance(update, list) and all(
        isinstance(p, list | tuple) and len(p) == 2 and isinstance(p[0], str) for p in update
    ):
        update = [tuple(p) for p in update]
    return Command(
        resume=cmd.get("resume"),
        goto=[t if isinstance(t, str) else Send(t["node"], t.get("input")) for t in targets],
        update=update,
    )


def interrupts_of(state: StateSnapshot) -> list[Any]:
    return [i for task in state.tasks for i in task.interrupts]


def thread_interrupts(state: StateSnapshot) -> dict[str, list[Any]]:
    """The thread's ``interrupts`` field: task id -> interrupts of that task."""
    return {task.id: list(task.interrupts) for task in state.tasks if task.interrupts}


def caused_by(exc: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, kinds):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False


# Failures of the infrastructure, not of the user's graph: the attempt is
# abandoned (and retried elsewhere), never recorded as the run's outcome.
INFRA_ERRORS: tuple[type[BaseException], ...] = (*REDIS_UNAVAILABLE, NatsError)
