"""Every message that goes on the wire (NATS), as msgspec Structs, and nothing else.

New fields always get defaults, so old and new services can talk during a
rollout. Values that belong to the user's graph (inputs, outputs, state,
interrupt payloads) are plain JSON (``Any``).
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

import msgspec

RunStatus = Literal["pending", "running", "success", "error", "timeout", "interrupted"]
ThreadStatus = Literal["idle", "busy", "interrupted", "error"]
MultitaskStrategy = Literal["reject", "interrupt", "rollback", "enqueue"]


NULL = msgspec.Raw(b"null")


class Wire(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Base of every wire type."""


# -- run requests: gateway -> executors (JetStream work queue, or an owner) ---


class RunRequest(Wire, frozen=True, kw_only=True, omit_defaults=True):
    run_id: str
    thread_id: str
    assistant_id: str
    graph_id: str
    input: Any = None
    command: dict[str, Any] | None = None
    config: dict[str, Any] = {}
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] = {}
    stream_mode: list[str] = msgspec.field(default_factory=lambda: ["values"])
    stream_subgraphs: bool = False
    interrupt_before: list[str] | str | None = None
    interrupt_after: list[str] | str | None = None
    checkpoint_id: str | None = None
    checkpoint: dict[str, Any] | None = None
    durability: str | None = None
    temporary: bool = False
    """A stateless run: its thread is deleted when the run ends."""
    created_at: str = ""
    webhook: str | None = None
    """POSTed the finished run (``relaygraph.webhooks`` says where it may go)."""
    trace: str | None = None
    """W3C ``traceparent`` of the span that asked for the run (``relaygraph.tracing``)."""


class OwnerReply(Wire, frozen=True, kw_only=True, omit_defaults=True):
    """An owning executor's answer to a routed run: it took it, or not."""

    accepted: bool


# -- run events: executor -> gateway (JetStream, replayable) ------------------


class RunEvent(Wire, frozen=True, kw_only=True, omit_defaults=True):
    """One stream chunk. ``event`` is the SSE event name (``values``,
    ``updates|ns``, ``metadata``, ``error``...); ``END`` closes the run."""

    seq: int
    event: str
    data: msgspec.Raw = NULL


END_EVENT = "__end__"


class RunEnd(Wire, frozen=True, kw_only=True, omit_defaults=True):
    """Data of the closing ``__end__`` event."""

    status: RunStatus
    output: msgspec.Raw = NULL
    """What ``runs.wait`` returns: final values (with ``__interrupt__``) or ``{"__error__"}``."""


# -- interrupts: executor -> reviewers (public JetStream stream) -------------


class InterruptItem(Wire, frozen=True, kw_only=True, omit_defaults=True):
    id: str
    value: Any = None


class InterruptEvent(msgspec.Struct, frozen=True, kw_only=True):
    thread_id: str
    run_id: str
    assistant_id: str
    graph_id: str
    checkpoint_id: str
    interrupts: list[InterruptItem]
    created_at: str
    metadata: dict[str, Any] = {}
    """The run's metadata (with its thread's): whose it is, when custom auth
    stamps an owner there."""
    user_id: str = ""
    """The identity that started the run (custom auth), else empty."""
    trace: str | None = None
    """W3C ``traceparent`` of the run's span: a resume continues its trace."""


# -- resume over NATS: reviewers -> gateway (public request/reply) -----------


class ResumeRequest(Wire, frozen=True, kw_only=True, omit_defaults=True):
    """``resume`` answers the pause named by ``interrupt_id`` or
    ``checkpoint_id`` (from the interrupt event), or by its own keys when it
    is a map ``{interrupt_id: value}``; see :mod:`relaygraph.resumes`."""

    resume: Any = None
    reviewer: str | None = None
    interrupt_id: str | None = None
    checkpoint_id: str | None = None


class ResumeReply(msgspec.Struct, frozen=True, kw_only=True):
    run_id: str
    thread_id: str
    status: str


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    message: str


class ErrorReply(msgspec.Struct, frozen=True, kw_only=True):
    error: ErrorBody


# -- graph queries: gateway -> any executor (request/reply) ------------------

GraphOp = Literal[
    "get_state",
    "update_state",
    "history",
    "schemas",
    "graph",
    "subgraphs",
    "store_put",
    "store_search",
]
"""``store_*``: Store calls that need the embedding function (user code, which
only executors load); ``values`` holds the call's body."""


class GraphQuery(Wire, frozen=True, kw_only=True, omit_defaults=True):
    op: GraphOp
    graph_id: str
    thread_id: str | None = None
    config: dict[str, Any] = {}
    checkpoint_id: str | None = None
    checkpoint_ns: str = ""
    subgraphs: bool = False
    values: Any = None
    as_node: str | None = None
    limit: int = 10
    before: str | None = None
    filter: dict[str, Any] | None = None
    xray: bool | int = False


class GraphReply(Wire, frozen=True, kw_only=True, omit_defaults=True):
    result: msgspec.Raw = NULL
    error: ErrorBody | None = None


class StateUpdated(Wire, frozen=True, kw_only=True, omit_defaults=True):
    """The ``result`` of an ``update_state`` query: what the API answers
    (``checkpoint``) and the thread's state after it, which the gateway
    announces on the thread's stream without asking for it again."""

    checkpoint: msgspec.Raw
    state: msgspec.Raw = NULL


# -- cancels: gateway -> every executor (broadcast) --------------------------


class CancelRequest(Wire, frozen=True, kw_only=True, omit_defaults=True):
    thread_id: str
    run_id: str
    action: Literal["interrupt", "rollback"] = "interrupt"


_encoder = msgspec.json.Encoder()


def encode(obj: Any) -> bytes:
    return _encoder.encode(obj)


T = TypeVar("T")


def decode(data: bytes, type_: type[T]) -> T:
    return msgspec.json.decode(data, type=type_)
