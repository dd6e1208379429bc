"""Which pause a resume answers, decided before it reaches Redis.

A resume names what it answers, or it does not:

- a map ``{interrupt_id: value}`` names each interrupt (``MAP``);
- over NATS, a value sent with the event's ``interrupt_id`` is that same map,
  and a value sent with the event's ``checkpoint_id`` answers the pause at
  that checkpoint (``CHECKPOINT``);
- a plain value names nothing. Over HTTP it answers what is pending now, as on
  LangGraph Server (``PENDING``). Over NATS, where clients retry a request whose
  reply they lost, it names the thread's first pause (``FIRST_PAUSE``): once
  that is answered, it returns the run that answered it, so a retry can never
  answer a later pause.

Whatever the form, an interrupt or a pause that was already answered returns
the run that answered it; the graph never runs twice for one answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from relaygraph.errors import InvalidInput

_INTERRUPT_ID = re.compile(r"^[0-9a-f]{32}$")


class ResumeMode(StrEnum):
    MAP = "map"
    PENDING = "pending"
    FIRST_PAUSE = "first_pause"
    CHECKPOINT = "checkpoint"


@dataclass(frozen=True, slots=True)
class ResumePlan:
    mode: ResumeMode
    value: Any
    """What the graph gets as ``Command(resume=...)``."""
    ids: tuple[str, ...] = ()
    """The interrupts it names (``MAP``)."""
    checkpoint_id: str = ""
    """The pause it names (``CHECKPOINT``)."""


def is_interrupt_map(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and bool(value)
        and all(isinstance(k, str) and _INTERRUPT_ID.match(k) for k in value)
    )


def over_http(value: Any) -> ResumePlan:
    """``Command(resume=value)`` sent to the HTTP API."""
    if is_interrupt_map(value):
        return ResumePlan(ResumeMode.MAP, value, tuple(value))
    return ResumePlan(ResumeMode.PENDING, value)


def over_nats(value: Any, interrupt_id: str | None, checkpoint_id: str | None) -> ResumePlan:
    """A ``relaygraph.resume.<thread_id>`` request."""
    if interrupt_id is not None and checkpoint_id is not None:
        raise InvalidInput("name the pause with `interrupt_id` or `checkpoint_id`, not both")
    if interrupt_id is not None:
        if not _INTERRUPT_ID.match(interrupt_id):
            raise InvalidInput(f"interrupt_id {interrupt_id!r} is not an interrupt id (32 hex)")
        return ResumePlan(ResumeMode.MAP, {interrupt_id: value}, (interrupt_id,))
    if is_interrupt_map(value):
        return ResumePlan(ResumeMode.MAP, value, tuple(value))
    if checkpoint_id is not None:
        if not checkpoint_id:
            raise InvalidInput("checkpoint_id is empty")
        return ResumePlan(ResumeMode.CHECKPOINT, value, checkpoint_id=checkpoint_id)
    return ResumePlan(ResumeMode.FIRST_PAUSE, value)
