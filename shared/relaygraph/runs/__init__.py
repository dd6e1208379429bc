"""A run's life: its transitions (:class:`Runs`), what each decided
(:mod:`relaygraph.runs.outcomes`), and the index of runs that must still end
(:class:`WatchIndex`). Nothing else writes a run's record, a thread's queue,
a lease, an interrupt event's outbox, or the fields of a thread record a run's
decisions read (status, pause, interrupts, active run); ``tests/unit/
test_run_keys_owned.py`` holds the rest of the code to that."""

from relaygraph.runs._thread_scripts import FRESH_THREAD_FIELDS
from relaygraph.runs.clock import now_iso, now_ms
from relaygraph.runs.lifecycle import Runs
from relaygraph.runs.outcomes import (
    CancelAction,
    Cancelled,
    CancelOutcome,
    Claim,
    ClaimOutcome,
    Created,
    Decision,
    Due,
    Finished,
    FinishOutcome,
    ForgetOutcome,
    NextRun,
    ReleaseOutcome,
    RenewOutcome,
    RunStatus,
    SetStateOutcome,
    Strategy,
    SweepOutcome,
    ThreadStatus,
)
from relaygraph.runs.watch import WatchIndex

__all__ = [
    "FRESH_THREAD_FIELDS",
    "CancelAction",
    "CancelOutcome",
    "Cancelled",
    "Claim",
    "ClaimOutcome",
    "Created",
    "Decision",
    "Due",
    "FinishOutcome",
    "Finished",
    "ForgetOutcome",
    "NextRun",
    "ReleaseOutcome",
    "RenewOutcome",
    "RunStatus",
    "Runs",
    "SetStateOutcome",
    "Strategy",
    "SweepOutcome",
    "ThreadStatus",
    "WatchIndex",
    "now_iso",
    "now_ms",
]
