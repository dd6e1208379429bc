"""What a run creation body becomes: the request an executor runs (the wire
``RunRequest``) and the Run object the API shows (and reads back from a
run's record). Pure functions: no I/O."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from relaygraph.contracts import RunRequest
from relaygraph.errors import BadRequest, InvalidInput
from relaygraph.threads import Paused
from relaygraph_gateway.models import RunCreate


def check_run_body(body: RunCreate) -> None:
    # Refused rather than ignored: a client relying on them must know.
    if body.input is not None and body.command is not None:
        raise InvalidInput("a run takes `input` or `command`, not both")
    if body.context and (body.config or {}).get("configurable"):
        raise BadRequest(
            "a run takes `context` or `config.configurable`, not both: put the values in "
            "`context` (LangGraph >= 0.6 reads them as the graph's Runtime.context)"
        )


def is_resume(body: RunCreate) -> bool:
    return body.command is not None and "resume" in body.command.model_fields_set


@dataclass(frozen=True, slots=True)
class StartTime:
    """When a run may start: now, or ``after_seconds`` from now (a delayed run)."""

    iso: str
    ms: int | None
    """Epoch milliseconds of a delayed run's start; ``None``: at once."""

    @classmethod
    def after(cls, seconds: float | None) -> StartTime:
        now = time.time()
        at = now + (seconds or 0)
        return cls(datetime.fromtimestamp(at, UTC).isoformat(), int(at * 1000) if seconds else None)


@dataclass(frozen=True, slots=True)
class NewRun:
    """Who a new run is: its ids, its graph, when it was asked for."""

    run_id: str
    thread_id: str
    assistant_id: str
    graph_id: str
    created_at: str
    temporary: bool
    """A stateless run: its thread goes when it ends."""


@dataclass(frozen=True, slots=True)
class Draft:
    """A run as it is to be recorded (``Gateway.create_run``)."""

    new: NewRun
    body: RunCreate
    """As authorised: with what the caller's auth stamped on it."""
    request: bytes
    """The encoded ``RunRequest``."""
    run: dict[str, Any]
    """The Run object."""
    thread_metadata: dict[str, Any]
    """The metadata of a thread the run creates."""
    paused: Paused | None
    """The thread's pause, read for a resume."""
    due_ms: int | None
    """A delayed run's start (``StartTime.ms``)."""


def run_request(
    new: NewRun,
    body: RunCreate,
    config: dict[str, Any],
    context: dict[str, Any],
    metadata: dict[str, Any],
) -> RunRequest:
    """``config``, ``context`` and ``metadata``: the run's merged with its
    assistant's (``assistant_rules.for_run``)."""
    modes = body.stream_mode if isinstance(body.stream_mode, list) else [body.stream_mode]
    return RunRequest(
        run_id=new.run_id,
        thread_id=new.thread_id,
        assistant_id=new.assistant_id,
        graph_id=new.graph_id,
        input=body.input,
        command=body.command.model_dump(exclude_unset=True) if body.command else None,
        config=config,
        context=context,
        metadata=metadata,
        stream_mode=list(modes),
        stream_subgraphs=body.stream_subgraphs,
        interrupt_before=body.interrupt_before,
        interrupt_after=body.interrupt_after,
        checkpoint_id=body.checkpoint_id,
        checkpoint=body.checkpoint,
        durability=body.durability,
        temporary=new.temporary and body.on_completion != "keep",
        created_at=new.created_at,
        webhook=body.webhook,
    )


def run_object(new: NewRun, body: RunCreate, req: RunRequest) -> dict[str, Any]:
    """The Run as the API shows it (its status is added where it is read)."""
    return {
        "run_id": new.run_id,
        "thread_id": new.thread_id,
        "assistant_id": new.assistant_id,
        "created_at": new.created_at,
        "updated_at": new.created_at,
        "metadata": req.metadata,
        "multitask_strategy": body.multitask_strategy,
        "kwargs": {
            "input": body.input,
            "command": req.command,
            "config": req.config,
            "context": req.context,
            "stream_mode": body.stream_mode
            if isinstance(body.stream_mode, list)
            else [body.stream_mode],
            "interrupt_before": body.interrupt_before,
            "interrupt_after": body.interrupt_after,
            "webhook": body.webhook,
        },
    }


def run_from_row(row: dict[str, bytes]) -> dict[str, Any]:
    """The Run object of a run's record, with its status and last update."""
    run: dict[str, Any] = msgspec.json.decode(row["run"])
    run["status"] = row["status"].decode()
    run["updated_at"] = row["updated_at"].decode()
    return run
