"""What the inbox keeps of an interrupt: pending (with the answer taken for
it, if any) and answered."""

from __future__ import annotations

from typing import Any

import msgspec

from relaygraph.contracts import ErrorBody, InterruptEvent


class Claim(msgspec.Struct, kw_only=True):
    """The answer one reviewer took for a pending interrupt: no other may
    answer it while this one is sent, and a reviewer that died sending it
    sends it again when it comes back (the gateway resumes once per interrupt)."""

    by: str
    resume: Any
    """The value of the resume request (one interrupt's, or a map by id)."""
    at: str
    at_ms: int


class PendingItem(msgspec.Struct, kw_only=True):
    """An interrupt waiting for an answer."""

    msg_id: str
    event: InterruptEvent
    received_at: str
    last_error: ErrorBody | None = None
    """The error of the last resume attempt that failed, shown in the inbox."""
    deadline_ms: int | None = None
    """When the interrupt's own default answers it (``timeout_s``/``on_timeout``)."""
    on_timeout: Any = None
    """That default: the resume value (one interrupt's, or a map by id)."""
    claim: Claim | None = None

    @property
    def interrupt_ids(self) -> list[str]:
        return [item.id for item in self.event.interrupts]


class AnsweredItem(msgspec.Struct, kw_only=True):
    """An interrupt that was resumed: who answered what, and the run it started."""

    msg_id: str
    event: InterruptEvent
    reviewer: str
    resume: Any
    run_id: str
    status: str
    answered_at: str
