"""HTTP request bodies of the cron routes, as the official SDK sends them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from relaygraph_gateway.models import MAX_OFFSET, Body, StreamModeName

Strategy = Literal["reject", "interrupt", "rollback", "enqueue"]


class CronRun(Body):
    """What each fire's run is made of (the cron's ``payload``)."""

    input: Any = None
    metadata: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    webhook: str | None = Field(None, min_length=1, max_length=65536)
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    stream_mode: StreamModeName | list[StreamModeName] | None = None
    stream_subgraphs: bool | None = None
    stream_resumable: bool | None = None
    durability: Literal["sync", "async", "exit"] | None = None
    multitask_strategy: Strategy | None = None
    checkpoint_during: bool | None = None


class CronCreate(CronRun):
    assistant_id: str
    schedule: str = Field(min_length=1, max_length=256)
    timezone: str | None = Field(None, max_length=64)
    end_time: datetime | None = None
    enabled: bool = True
    on_run_completed: Literal["delete", "keep"] = "delete"


class CronPatch(CronRun):
    schedule: str | None = Field(None, min_length=1, max_length=256)
    timezone: str | None = Field(None, max_length=64)
    end_time: datetime | None = None
    """``null`` clears it; absent leaves it."""
    enabled: bool | None = None
    on_run_completed: Literal["delete", "keep"] | None = None


CronField = Literal[
    "cron_id",
    "assistant_id",
    "thread_id",
    "on_run_completed",
    "end_time",
    "schedule",
    "timezone",
    "created_at",
    "updated_at",
    "user_id",
    "payload",
    "next_run_date",
    "metadata",
    "enabled",
]


class CronCount(Body):
    assistant_id: str | None = None
    thread_id: str | None = None
    metadata: dict[str, Any] | None = None


class CronSearch(CronCount):
    enabled: bool | None = None
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)
    sort_by: (
        Literal[
            "cron_id",
            "assistant_id",
            "thread_id",
            "next_run_date",
            "end_time",
            "created_at",
            "updated_at",
        ]
        | None
    ) = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[CronField] | None = None
