"""What each transition of a run decided: enums, one per transition, and the
results that carry them. The enum values are the words the Lua scripts reply
with (``relaygraph.runs._scripts``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    ERROR = "error"
    TIMEOUT = "timeout"
    INTERRUPTED = "interrupted"

    @property
    def ended(self) -> bool:
        return self not in (RunStatus.PENDING, RunStatus.RUNNING)


class ThreadStatus(StrEnum):
    IDLE = "idle"
    BUSY = "busy"
    INTERRUPTED = "interrupted"
    ERROR = "error"


class Strategy(StrEnum):
    """``create``: what a new run does to a thread that has an active run
    (LangGraph's ``multitask_strategy``)."""

    REJECT = "reject"
    INTERRUPT = "interrupt"
    ROLLBACK = "rollback"
    ENQUEUE = "enqueue"


class CancelAction(StrEnum):
    """``cancel``: a claimed run stops and keeps its checkpoints, or they go too."""

    INTERRUPT = "interrupt"
    ROLLBACK = "rollback"


class Decision(StrEnum):
    """``create``: what happens to the new run."""

    DISPATCH = "dispatch"
    """The thread was free: send it now."""
    QUEUED = "queued"
    """Behind the active run; sent when the thread is handed on to it."""
    DELAYED = "delayed"
    """The thread's active run, but delayed (``after_seconds``): the sweeper
    sends it when it is due."""
    DUPLICATE = "duplicate"
    """A resume of a pause already answered (or a run id that exists):
    nothing created, the run that answered it is returned."""


class Refusal(StrEnum):
    """``create``: why no run was created (each is a 4xx)."""

    NOT_FOUND = "not_found"
    NOT_INTERRUPTED = "not_interrupted"
    BUSY = "busy"
    OTHER_PAUSE = "other_pause"
    UNNAMED = "unnamed"
    UNKNOWN_IDS = "unknown_ids"
    MANY_PENDING = "many_pending"


class ClaimOutcome(StrEnum):
    OK = "ok"
    CANCELLED = "cancelled"
    """A cancel came first: record it, run nothing."""
    EXHAUSTED = "exhausted"
    """Attempted ``max_attempts`` times already: it ends in error."""
    HELD = "held"
    DONE = "done"
    GONE = "gone"
    NOT_ACTIVE = "not_active"

    @property
    def claimed(self) -> bool:
        return self in (ClaimOutcome.OK, ClaimOutcome.CANCELLED, ClaimOutcome.EXHAUSTED)


class RenewOutcome(StrEnum):
    RENEWED = "renewed"
    LOST = "lost"


class ReleaseOutcome(StrEnum):
    RELEASED = "released"
    NOT_HELD = "not_held"


class FinishOutcome(StrEnum):
    RECORDED = "recorded"
    HANDED_ON = "handed_on"
    """Recorded, and the thread went to its next queued run (to dispatch)."""
    STALE = "stale"
    """The attempt lost its lease: nothing was written."""


class CancelOutcome(StrEnum):
    DEQUEUED = "dequeued"
    CANCELLED = "cancelled"
    """Dispatched but never claimed: ended in Redis, the thread handed on."""
    FLAGGED = "flagged"
    DONE = "done"
    GONE = "gone"

    @property
    def ended_here(self) -> bool:
        """The run ended in Redis: no executor will announce its end."""
        return self in (CancelOutcome.DEQUEUED, CancelOutcome.CANCELLED)


class SweepOutcome(StrEnum):
    DROP = "drop"
    LATER = "later"
    REDISPATCH = "redispatch"
    DUE = "due"
    """A delayed run's time came: send it."""
    PUBLISH = "publish"


class SetStateOutcome(StrEnum):
    """``set_state``: the thread's state after ``update_state``."""

    SET = "set"
    BUSY = "busy"
    """A run took the thread meanwhile: its end writes the state."""
    GONE = "gone"


class ForgetOutcome(StrEnum):
    """``forget``: a thread deleted with its runs."""

    FORGOTTEN = "forgotten"
    GONE = "gone"
    BUSY = "busy"
    """(an expiry) A run is on the thread."""
    CHANGED = "changed"
    """(an expiry) The thread was updated since the sweeper read it."""
    RACED = "raced"
    """A run was created while its runs were read: read again."""


@dataclass(frozen=True, slots=True)
class Created:
    decision: Decision
    run_id: str
    active_run: str = ""
    owner: str = ""
    """The executor that last ran the thread (resumes go to it while it lives)."""


@dataclass(frozen=True, slots=True)
class Claim:
    outcome: ClaimOutcome
    epoch: int = 0
    attempt: int = 0
    detail: str = ""
    """The cancel action (``cancelled``), or the status (``done``)."""
    latest: Any = None
    """Once claimed, the thread's latest root checkpoint as the checkpointer's
    ``get`` script returns it (``None``: none)."""

    @property
    def claimed(self) -> bool:
        return self.outcome.claimed


@dataclass(frozen=True, slots=True)
class NextRun:
    """The run a thread was handed on to: send it."""

    run_id: str
    request: bytes


@dataclass(frozen=True, slots=True)
class Finished:
    outcome: FinishOutcome
    next_run: NextRun | None = None


@dataclass(frozen=True, slots=True)
class Cancelled:
    outcome: CancelOutcome
    next_run: NextRun | None = None


@dataclass(frozen=True, slots=True)
class Due:
    thread_id: str
    run_id: str
    outcome: SweepOutcome
    request: bytes | None = None
    until: int = 0
