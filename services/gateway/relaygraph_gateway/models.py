"""HTTP request bodies of the LangGraph Server API, as the official SDK sends them.

Unknown fields are accepted and ignored (newer SDKs send fields older servers
do not know); known fields are type-checked, so a wrong type is a 422 with the
field named in ``detail``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

StreamModeName = Literal[
    "values",
    "updates",
    "custom",
    "debug",
    "tasks",
    "checkpoints",
    "messages",
    "messages-tuple",
    "events",
]


MAX_OFFSET = 2**31 - 1
"""Largest ``offset`` a list or search takes (a larger one is a 422)."""
MAX_DELAY_SECONDS = 366 * 24 * 3600
"""Longest ``after_seconds`` a run may wait (a year)."""
MAX_TTL_MINUTES = 100 * 365 * 24 * 60
"""Longest TTL a thread or Store item may be given (a century)."""


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class SendBody(Body):
    """``goto`` to a node with an input of its own (LangGraph's ``Send``)."""

    node: str
    input: Any = None


class CommandBody(Body):
    resume: Any = None
    goto: str | SendBody | list[str] | list[SendBody] | None = None
    """Node names, or ``Send``s; not both in one list (as the reference)."""
    update: Any = None
    """A dict, or a list of ``[key, value]`` pairs."""


class RunCreate(Body):
    assistant_id: str
    input: Any = None
    command: CommandBody | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    stream_mode: StreamModeName | list[StreamModeName] = "values"
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    checkpoint_id: str | None = None
    checkpoint: dict[str, Any] | None = None
    multitask_strategy: Literal["reject", "interrupt", "rollback", "enqueue"] = "enqueue"
    if_not_exists: Literal["reject", "create"] = "reject"
    on_completion: Literal["delete", "keep"] | None = None
    on_disconnect: Literal["cancel", "continue"] | None = None
    durability: Literal["sync", "async", "exit"] | None = None
    after_seconds: float | None = Field(None, ge=0, le=MAX_DELAY_SECONDS)
    webhook: str | None = Field(None, min_length=1, max_length=65536)


class ThreadTTLBody(Body):
    strategy: Literal["delete", "keep_latest"] = "delete"
    ttl: float = Field(gt=0, le=MAX_TTL_MINUTES, description="Minutes after the last update")


class ThreadCreate(Body):
    thread_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    if_exists: Literal["raise", "do_nothing"] = "raise"
    ttl: ThreadTTLBody | None = None
    supersteps: list[dict[str, Any]] | None = None


class ThreadPatch(Body):
    metadata: dict[str, Any] = Field(default_factory=dict)
    ttl: ThreadTTLBody | None = None


ThreadStatusName = Literal["idle", "busy", "interrupted", "error"]
ThreadField = Literal[
    "thread_id",
    "created_at",
    "updated_at",
    "state_updated_at",
    "metadata",
    "config",
    "status",
    "values",
    "interrupts",
]


class ThreadCount(Body):
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    status: ThreadStatusName | None = None


class ThreadSearch(ThreadCount):
    ids: list[str] | None = None
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)
    sort_by: (
        Literal["thread_id", "status", "created_at", "updated_at", "state_updated_at"] | None
    ) = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[ThreadField] | None = None
    extract: dict[str, str] | None = None


class RunsCancel(Body):
    """``status``, or ``thread_id`` with ``run_ids`` (not both)."""

    status: Literal["pending", "running", "all"] | None = None
    thread_id: str | None = None
    run_ids: list[str] | None = None


class ThreadPrune(Body):
    thread_ids: list[str]
    strategy: Literal["delete", "keep_latest"] = "delete"


class StateUpdate(Body):
    """Unknown fields are refused here: a state update sent without its
    ``values`` wrapper would otherwise apply nothing and advance the thread."""

    model_config = ConfigDict(extra="forbid")

    values: Any = None
    as_node: str | None = None
    checkpoint_id: str | None = None
    checkpoint: dict[str, Any] | None = None


class StateAt(Body):
    checkpoint: dict[str, Any]
    subgraphs: bool = False


class HistoryQuery(Body):
    limit: int = Field(10, ge=1, le=1000)
    before: str | dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: dict[str, Any] | None = None


class RunnableConfigBody(Body):
    """What a config must look like where the reference checks it."""

    model_config = ConfigDict(extra="allow")

    tags: list[str] | None = None
    recursion_limit: int | None = None
    configurable: dict[str, Any] | None = None


def _checked_config(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value:
        try:
            RunnableConfigBody.model_validate(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValueError(f"config.{where}: {first['msg']}") from None
    return value


CheckedConfig = Annotated[dict[str, Any], AfterValidator(_checked_config)]


AssistantField = Literal[
    "assistant_id",
    "graph_id",
    "name",
    "description",
    "config",
    "context",
    "created_at",
    "updated_at",
    "metadata",
    "version",
]


class AssistantCreate(Body):
    graph_id: str
    assistant_id: str | None = None
    config: CheckedConfig = Field(default_factory=dict)
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    if_exists: Literal["raise", "do_nothing"] = "raise"
    name: str | None = None
    description: str | None = None


class AssistantPatch(Body):
    graph_id: str | None = None
    config: CheckedConfig | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    name: str | None = None
    description: str | None = None


class AssistantCount(Body):
    graph_id: str | None = None
    name: str | None = None
    metadata: dict[str, Any] | None = None


class AssistantSearch(AssistantCount):
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)
    sort_by: Literal["assistant_id", "created_at", "updated_at", "name", "graph_id"] | None = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[AssistantField] | None = None


class AssistantVersions(Body):
    metadata: dict[str, Any] | None = None
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class AssistantVersionChange(Body):
    version: int | None = None
