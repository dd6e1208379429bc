"""A run's life, as typed transitions: the only code that writes a run's
record, a thread's queue, the lease of an attempt, or the outbox of an
interrupt event (``docs/architecture.md`` draws the states).

- **create** (gateway): record the run and decide, atomically with the
  thread's other runs, whether it is dispatched, queued or refused.
- **claim** (executor): an attempt takes the run with a lease and a fencing
  epoch; **renew** keeps the lease; **release** hands it back uncounted.
- **finish** (executor): record the outcome (and the interrupt event to
  publish), then hand the thread to its next queued run.
- **cancel** (gateway): a queued or never-claimed run ends at once; a claimed
  one is flagged for its executor.
- **sweep** (every executor): runs whose lease or dispatch grace ran out are
  sent again; delayed runs whose time came are sent; interrupt events never
  published are published.
- **set_state** (executor, after ``update_state``) and **forget** (gateway:
  a thread deleted; executor: a thread expired) are the thread's own
  (``records``).

Every transition is one Lua script on one thread's keys (``_scripts``); the
watch index (``watch``) is updated in the same round trip, before it.
"""

from __future__ import annotations

import time
from typing import Any, cast

import msgspec

from relaygraph.keys import Keys
from relaygraph.lua import Script
from relaygraph.pipelining import Direct, RoundTrips, Step
from relaygraph.redis_client import RedisClient
from relaygraph.resumes import ResumePlan
from relaygraph.runs import _scripts as lua
from relaygraph.runs import records
from relaygraph.runs.clock import now_iso, now_ms
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
    NextRun,
    Refusal,
    ReleaseOutcome,
    RenewOutcome,
    RunStatus,
    Strategy,
    SweepOutcome,
    ThreadStatus,
)
from relaygraph.runs.records import RunRecords
from relaygraph.runs.refusals import refused
from relaygraph.runs.watch import WatchIndex

SWEEP_BATCH = 100
"""Watched runs one sweep takes (a full batch: the sweeper goes on at once)."""


class Runs(RunRecords):
    def __init__(
        self,
        redis: RedisClient,
        keys: Keys,
        *,
        lease_ttl: float = 10.0,
        grace: float = 30.0,
        max_attempts: int = 3,
        owner_timeout: float = 0.5,
        record_ttl: float = 0.0,
        trips: RoundTrips | None = None,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.trips = trips or Direct(redis)
        """Where requests go (the service's ``AutoPipeline``)."""
        self.lease_ms = int(lease_ttl * 1000)
        self.grace_ms = int(grace * 1000)
        self.max_attempts = max_attempts
        self.owner_timeout = owner_timeout
        self.record_ttl = int(record_ttl)
        self.watching = WatchIndex(redis, keys, self.trips)
        self._scripts = {s.name: Script(redis, s) for s in (*lua.ALL, *records.SCRIPTS)}

    def _thread_keys(self, thread_id: str) -> dict[str, str]:
        k = self.keys
        return {
            "THREAD": k.thread(thread_id),
            "QUEUE": k.thread_queue(thread_id),
            "QUEUED": k.thread_queued(thread_id),
            "RUNS": k.thread_runs(thread_id),
            "RESUMES": k.thread_resumes(thread_id),
            "EPOCH": k.thread_epoch(thread_id),
            "IDS": k.checkpoint_ids(thread_id),
            "CPS": k.checkpoint_records(thread_id),
            "REFS": k.checkpoint_refs(thread_id),
            "BLOBS": k.checkpoint_blobs(thread_id),
            "WIDS": k.checkpoint_write_ids(thread_id),
            "WRITES": k.checkpoint_writes(thread_id),
        }

    def _step(
        self, name: str, thread: str, run: str, /, rest: list[Any] | None = None, **args: Any
    ) -> Step:
        """Script ``name`` on the keys of ``thread`` and ``run``, with ``args``
        (and ``rest``, for a script that takes more)."""
        script = self._scripts[name]
        keys = {**self._thread_keys(thread), "RUN": self.keys.run(thread, run)}
        return script.step(rest or (), **{k: keys[k] for k in script.lua.keys}, **args)

    # -- create ------------------------------------------------------------------
    async def create(
        self,
        *,
        thread_id: str,
        run_id: str,
        run_json: bytes,
        request: bytes,
        strategy: Strategy,
        create_thread: bool,
        graph_id: str,
        assistant_id: str,
        thread_metadata: dict[str, Any] | None = None,
        resume: ResumePlan | None = None,
        due_ms: int | None = None,
        then: list[Step] | None = None,
        fresh_id: bool = False,
    ) -> Created:
        """Decide and record a run in one round trip, watched from the start
        (so no crash can strand it). ``resume``: which pause a resume answers
        (:mod:`relaygraph.resumes`). A repeat of a resume returns the run that
        answered it (``DUPLICATE``), as does a run id that exists already; a
        refusal raises the 4xx it means. ``due_ms``: a delayed run, sent when
        due. ``then``: steps sent right after the script in the same round
        trip (a cron marks its tick fired there). ``fresh_id``: ``run_id`` was
        just drawn at random (uuid4), so it cannot exist."""
        now = now_ms()
        # The first look comes by the end of a lease from now: a claim soon
        # after then needs no watch of its own (see ``claim``).
        look = now + min(self.lease_ms, self.grace_ms)
        first_look = look if due_ms is None else min(due_ms, look)
        steps: list[Step] = [
            self.watching.watch_step(thread_id, run_id, first_look),
            self._step(
                "create",
                thread_id,
                run_id,
                thread_id=thread_id,
                run_id=run_id,
                run_json=run_json,
                request=request,
                strategy=strategy,
                now=now_iso(),
                now_ms=now,
                score=time.time(),
                create_thread=create_thread,
                thread_metadata=msgspec.json.encode(thread_metadata or {}),
                graph_id=graph_id,
                assistant_id=assistant_id,
                lease_until=now + self.grace_ms,
                watch_ms=first_look,
                due_ms="" if due_ms is None else due_ms,
                fresh_id=fresh_id,
                **_resume_args(resume),
            ),
        ]
        if create_thread and resume is None:  # the search index (outside the slot)
            steps.append(("ZADD", self.keys.threads_index(thread_id), "NX", time.time(), thread_id))
        steps += then or []
        return _created((await self.trips.run(steps))[1], thread_id, run_id)

    # -- an attempt ----------------------------------------------------------------
    async def claim(self, thread_id: str, run_id: str, executor_id: str) -> Claim:
        """Claim the run for an attempt; a claim brings the thread's latest
        checkpoint (``Claim.latest``), the attempt's first read."""
        now = now_ms()
        steps = [
            self._step(
                "claim",
                thread_id,
                run_id,
                run_id=run_id,
                executor_id=executor_id,
                now=now_iso(),
                now_ms=now,
                lease_ms=self.lease_ms,
                max_attempts=self.max_attempts,
            ),
        ]
        word, epoch, attempt, detail, latest, watch = (await self.trips.run(steps))[0]
        outcome = ClaimOutcome(word.decode())
        if outcome.claimed and (not watch or int(watch) > now + self.lease_ms):
            # The sweeper would look later than the lease ends: bring it forward,
            # so a crash of this attempt is seen as soon as its lease runs out.
            await self.watching.watch(thread_id, run_id, now + self.lease_ms)
        return Claim(outcome, int(epoch), int(attempt), detail.decode(), latest)

    async def renew(self, thread_id: str, run_id: str, epoch: int) -> tuple[RenewOutcome, str]:
        """The lease goes on while the epoch is ours; and the cancel action
        asked for, if any."""
        deadline = now_ms() + self.lease_ms
        steps = [
            self.watching.watch_step(thread_id, run_id, deadline),
            self._step(
                "renew", thread_id, run_id, epoch=epoch, now_ms=now_ms(), lease_ms=self.lease_ms
            ),
        ]
        outcome, cancel = (await self.trips.run(steps))[1]
        return RenewOutcome(outcome.decode()), cancel.decode()

    async def release(self, thread_id: str, run_id: str, epoch: int) -> ReleaseOutcome:
        """Give the run back at once, the attempt uncounted (a graceful stop, or
        an attempt cut off by NATS or Redis)."""
        steps = [
            self.watching.watch_step(thread_id, run_id, now_ms()),
            self._step("release", thread_id, run_id, epoch=epoch, now=now_iso()),
        ]
        (outcome,) = (await self.trips.run(steps))[1]
        return ReleaseOutcome(outcome.decode())

    async def finish(
        self,
        *,
        thread_id: str,
        run_id: str,
        epoch: int,
        run_status: RunStatus,
        thread_status: ThreadStatus | None,
        values: bytes,
        interrupts: bytes,
        result: bytes,
        outbox: bytes = b"",
        pause_checkpoint: str = "",
        checkpoint_writes: tuple[Any, list[Any]] = ("", []),
    ) -> Finished:
        """Record a run's outcome and hand the thread to its next queued run.
        ``thread_status`` ``None``: back to what it was before the run; ``values`` /
        ``interrupts`` empty: left as they are. ``outbox``: the interrupt event,
        kept until :meth:`WatchIndex.unwatch` says it was published.
        ``checkpoint_writes``: (ttl, operations of the checkpointer's ``batch``),
        the attempt's checkpoint writes not sent yet: written first, fenced alike."""
        step = self._step(
            "finish",
            thread_id,
            run_id,
            run_id=run_id,
            epoch=epoch,
            run_status=run_status,
            thread_status=thread_status or "",
            values=values,
            interrupts=interrupts,
            result=result,
            now=now_iso(),
            now_ms=now_ms(),
            outbox=outbox,
            pause_checkpoint=pause_checkpoint,
            record_ttl=self.record_ttl,
            checkpoint_ttl=checkpoint_writes[0],
            rest=checkpoint_writes[1],
        )
        word, request, next_id, due = (await self.trips.run([step]))[0]
        outcome = FinishOutcome(word.decode())
        if outcome is not FinishOutcome.HANDED_ON:
            return Finished(outcome)
        return Finished(outcome, await self._next(thread_id, next_id.decode(), request, due))

    async def _next(
        self, thread_id: str, run_id: str, request: bytes, due: bytes
    ) -> NextRun | None:
        """The run the thread was handed on to, to send now; ``None`` for a
        delayed run not yet due (the sweeper sends it: it is looked at when due)."""
        if due:
            await self.watching.watch(thread_id, run_id, int(due))
            return None
        if not request:  # queued by an older layout: its request is on the run
            stored = await self.redis.hget(self.keys.run(thread_id, run_id), "request")
            request = cast(bytes, stored or b"")
        return NextRun(run_id, request)

    # -- cancel --------------------------------------------------------------------
    async def cancel(self, thread_id: str, run_id: str, action: CancelAction) -> Cancelled:
        step = self._step(
            "cancel",
            thread_id,
            run_id,
            run_id=run_id,
            now=now_iso(),
            now_ms=now_ms(),
            action=action,
            record_ttl=self.record_ttl,
        )
        word, request, next_id, due = (await self.trips.run([step]))[0]
        outcome = CancelOutcome(word.decode())
        if not next_id:
            return Cancelled(outcome)
        return Cancelled(outcome, await self._next(thread_id, next_id.decode(), request, due))

    # -- the sweeper -----------------------------------------------------------------
    async def sweep(self, limit: int = SWEEP_BATCH) -> list[Due]:
        """Take the watched runs whose time came and decide each atomically:
        their scripts go in one round trip, then their next looks in another."""
        due = await self.watching.due(now_ms(), limit)
        if not due:
            return []
        now = now_ms()
        steps = [
            self._step("sweep", t, r, run_id=r, now_ms=now, grace_ms=self.grace_ms) for t, r in due
        ]
        out: list[Due] = []
        keep: list[Step] = []
        for (thread_id, run_id), (word, request, until) in zip(
            due, await self.trips.run(steps), strict=True
        ):
            outcome = SweepOutcome(word.decode())
            look = None if outcome is SweepOutcome.DROP else int(until)
            keep.append(self.watching.keep_step(thread_id, run_id, look))
            carries = outcome in (SweepOutcome.REDISPATCH, SweepOutcome.DUE, SweepOutcome.PUBLISH)
            out.append(Due(thread_id, run_id, outcome, request if carries else None, int(until)))
        await self.trips.run(keep)
        return out


def _resume_args(resume: ResumePlan | None) -> dict[str, Any]:
    """What ``create`` tells its script of the pause a resume answers."""
    return {
        "resume_ids": msgspec.json.encode(list(resume.ids) if resume else []),
        "resume_mode": str(resume.mode) if resume else "",
        "resume_checkpoint": resume.checkpoint_id if resume else "",
    }


def _created(reply: list[bytes], thread_id: str, run_id: str) -> Created:
    """``create``'s decision, or the 4xx its refusal means."""
    word, detail, extra = (x.decode() for x in reply)
    if word in Decision._value2member_map_:
        decision = Decision(word)
        if decision is Decision.DUPLICATE:
            return Created(decision, detail)
        return Created(decision, run_id, detail, extra)
    raise refused(Refusal(word), thread_id, detail, extra)
