"""A run's life: its transitions (:class:`Runs`), what each decided
(:mod:`relaygraph.runs.outcomes`), and the index of runs that must still end
(:class:`WatchIndex`). Nothing else writes a run's record, a thread's queue,
a lease or an interrupt event's outbox."""

from relaygraph.runs.lifecycle import Runs, now_iso, now_ms
from relaygraph.runs.outcomes import (
    Cancelled,
    CancelOutcome,
    Claim,
    ClaimOutcome,
    Created,
    Decision,
    Due,
    Finished,
    FinishOutcome,
    NextRun,
    ReleaseOutcome,
    RenewOutcome,
    RunStatus,
    SweepOutcome,
    ThreadStatus,
)
from relaygraph.runs.watch import WatchIndex

__all__ = [
    "CancelOutcome",
    "Cancelled",
    "Claim",
    "ClaimOutcome",
    "Created",
    "Decision",
    "Due",
    "FinishOutcome",
    "Finished",
    "NextRun",
    "ReleaseOutcome",
    "RenewOutcome",
    "RunStatus",
    "Runs",
    "SweepOutcome",
    "ThreadStatus",
    "WatchIndex",
    "now_iso",
    "now_ms",
]
