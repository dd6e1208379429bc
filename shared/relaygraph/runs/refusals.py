"""The 4xx each refusal of ``create`` means (``Refusal``), worded for the
person who sent the run."""

from __future__ import annotations

import msgspec

from relaygraph.errors import BadRequest, Conflict, NotFound
from relaygraph.runs.outcomes import Refusal


def refused(refusal: Refusal, thread_id: str, detail: str, extra: str) -> Exception:
    """The 4xx a refusal of ``create`` means."""
    if refusal is Refusal.NOT_FOUND:
        return NotFound(f"Thread with ID {thread_id} not found")
    if refusal is Refusal.NOT_INTERRUPTED:
        if detail == "busy":
            return Conflict(f"Thread {thread_id} is busy; resume it once its run pauses")
        return BadRequest(f"Thread {thread_id} is {detail}, not interrupted: nothing to resume")
    if refusal is Refusal.UNKNOWN_IDS:
        return BadRequest(
            f"interrupt id(s) {msgspec.json.decode(detail)} are not pending on thread "
            f"{thread_id}; pending: {msgspec.json.decode(extra)}"
        )
    if refusal is Refusal.OTHER_PAUSE:
        return Conflict(
            f"Thread {thread_id} is paused at checkpoint {detail or '(none)'}, not at the "
            "checkpoint this resume names: answer the newer interrupt event"
        )
    if refusal is Refusal.UNNAMED:
        return BadRequest(
            f"Thread {thread_id} was resumed before: a plain resume over NATS could be a "
            "retry meant for an earlier pause. Name the pause: send the event's "
            "`interrupt_id` or `checkpoint_id` with the value"
        )
    if refusal is Refusal.MANY_PENDING:
        pending = msgspec.json.decode(detail)
        return BadRequest(
            f"{len(pending)} interrupts are pending on thread {thread_id}: resume with a map "
            f"{{interrupt_id: value}} naming each of {pending}"
        )
    return Conflict(
        f"Thread {thread_id} is busy with run {detail}; "
        "multitask_strategy 'reject' refuses a second run"
    )
