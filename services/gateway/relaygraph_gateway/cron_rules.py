"""What a cron is, as LangGraph Server shapes it: schedules (croniter's rules:
five fields, or six with seconds last), time zones, the Cron document, the
run each tick makes, and what a patch changes. Pure functions: no I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from relaygraph.errors import InvalidInput
from relaygraph_gateway.cron_models import CronCreate, CronPatch
from relaygraph_gateway.models import RunCreate

TICKS = uuid.UUID("3f0c9a52-4d8e-4e59-9a55-1c2b7f3e8d10")
"""Namespace of the ids a tick's run and thread get (uuid5 of cron and tick)."""

CRON_ONLY = ("schedule", "timezone", "end_time", "enabled", "on_run_completed", "assistant_id")
"""Fields of a cron body that are not its runs'."""

ORDER = (
    "cron_id",
    "assistant_id",
    "thread_id",
    "user_id",
    "end_time",
    "schedule",
    "timezone",
    "payload",
    "next_run_date",
    "metadata",
    "on_run_completed",
    "enabled",
    "created_at",
    "updated_at",
)


def check_schedule(schedule: str) -> None:
    if not croniter.is_valid(schedule):
        raise InvalidInput(
            f"Invalid cron schedule: '{schedule}'. Reason: Invalid cron schedule. Ensure the "
            "schedule uses the standard cron format (minute hour day_of_month month "
            "day_of_week). Example: '*/5 * * * *' for every 5 minutes."
        )


def check_timezone(timezone: str | None) -> None:
    if timezone is None:
        return
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"Invalid timezone: '{timezone}'. Use IANA timezone format (e.g. 'America/New_York')."
        ) from None


def next_fire(schedule: str, timezone: str | None, after_ms: int) -> int:
    """The schedule's first time strictly after ``after_ms`` (epoch ms), read as
    wall-clock time in ``timezone`` (UTC when ``None``)."""
    zone = ZoneInfo(timezone) if timezone else UTC
    base = datetime.fromtimestamp(after_ms / 1000, zone)
    try:
        at: datetime = croniter(schedule, base).get_next(datetime)
    except CroniterBadDateError:  # "0 0 30 2 *": no such day
        raise InvalidInput(f"Cron schedule '{schedule}' never fires: no date matches it") from None
    return int(at.timestamp() * 1000)


def ended(doc: dict[str, Any], now_ms: int) -> bool:
    """Past its ``end_time``: it fires no more (it stays, as in the reference)."""
    end = doc.get("end_time")
    return end is not None and datetime.fromisoformat(end).timestamp() * 1000 < now_ms


def iso(at: datetime | None) -> str | None:
    if at is None:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def payload_of(fields: dict[str, Any], assistant_id: str, cron_id: str) -> dict[str, Any]:
    """The body as given (``fields``: the keys sent), its assistant resolved and
    ``cron_id`` in its configurable (unless it runs with ``context``, which
    LangGraph takes instead of configurable)."""
    payload = {**fields, "assistant_id": assistant_id}
    if not payload.get("context"):
        config = dict(payload.get("config") or {})
        config["configurable"] = {**(config.get("configurable") or {}), "cron_id": cron_id}
        payload["config"] = config
    return payload


def new_cron(
    body: CronCreate,
    fields: dict[str, Any],
    *,
    cron_id: str,
    assistant_id: str,
    thread_id: str | None,
    now: str,
    user_id: str = "",
) -> dict[str, Any]:
    return {
        "cron_id": cron_id,
        "assistant_id": assistant_id,
        "thread_id": thread_id,
        "user_id": user_id,
        "end_time": iso(body.end_time),
        "schedule": body.schedule,
        "timezone": body.timezone,
        "payload": payload_of(fields, assistant_id, cron_id),
        "metadata": body.metadata or {},
        "on_run_completed": body.on_run_completed if thread_id is None else None,
        "enabled": body.enabled,
        "created_at": now,
        "updated_at": now,
    }


def shown(doc: dict[str, Any]) -> dict[str, Any]:
    """The Cron with the reference's key order."""
    return {key: doc.get(key) for key in ORDER}


def patched(
    doc: dict[str, Any], body: CronPatch, fields: dict[str, Any], now: str
) -> tuple[dict[str, Any], bool]:
    """The cron after a patch (shallow merges of metadata and payload, the
    assistant kept), and whether its next fire time must be computed again
    (a new schedule or time zone)."""
    new = dict(doc)
    if body.timezone is not None:
        new["timezone"] = body.timezone
    if body.schedule is not None:
        new["schedule"] = body.schedule
    if "end_time" in fields:
        new["end_time"] = iso(body.end_time)
    if body.enabled is not None:
        new["enabled"] = body.enabled
    if body.on_run_completed is not None:
        new["on_run_completed"] = body.on_run_completed
    if body.metadata is not None:
        new["metadata"] = {**doc["metadata"], **body.metadata}
    new["payload"] = payload_of({**doc["payload"], **fields}, doc["assistant_id"], doc["cron_id"])
    new["updated_at"] = now
    return new, body.schedule is not None or body.timezone is not None


def tick_ids(cron_id: str, tick: int) -> tuple[str, str]:
    """(thread id of a stateless cron's run, run id) of one tick: the same
    whoever fires it, so a tick fired twice is one run."""
    return (
        str(uuid.uuid5(TICKS, f"{cron_id}/{tick}/thread")),
        str(uuid.uuid5(TICKS, f"{cron_id}/{tick}")),
    )


def run_body(doc: dict[str, Any]) -> RunCreate:
    """The run a tick makes: the payload, the cron's metadata under the run's,
    ``enqueue`` unless the cron says otherwise, and a stateless cron's thread
    kept only when ``on_run_completed`` is ``keep``."""
    payload = {k: v for k, v in doc["payload"].items() if k not in CRON_ONLY and v is not None}
    payload["metadata"] = {**doc["metadata"], **(payload.get("metadata") or {})}
    payload["multitask_strategy"] = payload.get("multitask_strategy") or "enqueue"
    if doc.get("on_run_completed") == "keep":
        payload.setdefault("on_completion", "keep")
    return RunCreate.model_validate({**payload, "assistant_id": doc["assistant_id"]})
