"""Interrupt deadlines: an interrupt whose value says ``timeout_s`` and
``on_timeout`` is answered with that default once the time passes (the
reviewer's :meth:`~relaygraph_reviewer.service.Reviewer.look`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from relaygraph.contracts import InterruptEvent


def instant(stamp: str) -> datetime | str:
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def deadline_of(event: InterruptEvent) -> tuple[int, Any] | None:
    """When an interrupt answers itself, and with what: each of the event's
    interrupts has a value with ``timeout_s`` (seconds after the pause) and
    ``on_timeout`` (its answer then). The earliest deadline answers all of
    them, each with its own default (a map by id when there are several)."""
    defaults: dict[str, Any] = {}
    deadlines: list[float] = []
    paused = instant(event.created_at)
    if not isinstance(paused, datetime) or not event.interrupts:
        return None
    for item in event.interrupts:
        value = item.value
        if isinstance(value, list) and len(value) == 1:  # [HumanInterrupt], as Agent Inbox's
            value = value[0]
        if not isinstance(value, dict) or "on_timeout" not in value:
            return None
        seconds = value.get("timeout_s")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0:
            return None
        defaults[item.id] = value["on_timeout"]
        deadlines.append(paused.timestamp() + float(seconds))
    only = next(iter(defaults.values())) if len(defaults) == 1 else defaults
    return int(min(deadlines) * 1000), only
