"""A thread's runs as records: read, listed, deleted one by one, and the two
transitions of a thread's run-side state outside a run (``set_state`` after
``update_state``, ``forget`` when the thread goes). Part of :class:`Runs`."""

from __future__ import annotations

from typing import cast

from relaygraph.errors import NotFound
from relaygraph.keys import Keys
from relaygraph.lua import Script
from relaygraph.pipelining import RoundTrips, Step
from relaygraph.redis_client import RedisClient
from relaygraph.runs import _thread_scripts as lua
from relaygraph.runs.clock import now_iso
from relaygraph.runs.outcomes import ForgetOutcome, SetStateOutcome, ThreadStatus

FORGET_TRIES = 5
"""Reads of a thread's runs ``forget`` makes while runs are being created on it."""


class RunRecords:
    redis: RedisClient
    keys: Keys
    trips: RoundTrips
    _scripts: dict[str, Script]

    # -- reads -----------------------------------------------------------------------
    async def get(self, thread_id: str, run_id: str) -> dict[str, bytes]:
        raw = cast(dict[bytes, bytes], await self.redis.hgetall(self.keys.run(thread_id, run_id)))
        if not raw:
            raise NotFound(f"Run {run_id} not found")
        return {k.decode(): v for k, v in raw.items()}

    async def fields(self, thread_id: str, run_id: str, *names: str) -> list[bytes | None]:
        """Some fields of a run's record (``None``: not there)."""
        return cast(
            list[bytes | None], await self.redis.hmget(self.keys.run(thread_id, run_id), names)
        )

    async def page(self, thread_id: str, offset: int, limit: int) -> list[dict[str, bytes]]:
        """The thread's runs, newest first."""
        ids = cast(
            list[bytes],
            await self.redis.zrevrange(
                self.keys.thread_runs(thread_id), offset, offset + limit - 1
            ),
        )
        if not ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for rid in ids:
            pipe.hgetall(self.keys.run(thread_id, rid.decode()))
        rows = await pipe.execute()
        expired = [rid for rid, row in zip(ids, rows, strict=True) if not row]
        if expired:  # their records ran out (RELAYGRAPH_RUN_RECORD_TTL)
            await self.redis.zrem(self.keys.thread_runs(thread_id), *expired)
        return [{k.decode(): v for k, v in row.items()} for row in rows if row]

    async def queued(self, thread_id: str) -> list[str]:
        """The runs waiting behind the thread's active run, in order."""
        ids = await self.redis.lrange(self.keys.thread_queue(thread_id), 0, -1)
        return [cast(bytes, i).decode() for i in ids]

    async def count(self, thread_id: str) -> int:
        """How many runs the thread's list holds."""
        return int(await self.redis.zcard(self.keys.thread_runs(thread_id)))

    async def delete(self, thread_id: str, run_id: str) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(self.keys.run(thread_id, run_id))
        pipe.zrem(self.keys.thread_runs(thread_id), run_id)
        await pipe.execute()

    # -- a thread's run-side state ---------------------------------------------------
    async def set_state(
        self,
        thread_id: str,
        values: bytes,
        status: ThreadStatus | None,
        interrupts: bytes = b"{}",
        pause_checkpoint: str = "",
    ) -> SetStateOutcome:
        """The thread's state after ``update_state`` wrote a checkpoint:
        ``values``, and with a ``status``, its interrupts (and the pause a
        resume answers). Left alone while a run is on the thread."""
        step = self._scripts["set_state"].step(
            THREAD=self.keys.thread(thread_id),
            values=values,
            status=status or "",
            interrupts=interrupts,
            pause_checkpoint=pause_checkpoint,
            now=now_iso(),
        )
        (word,) = (await self.trips.run([step]))[0]
        return SetStateOutcome(word.decode())

    async def forget(
        self,
        thread_id: str,
        *,
        seen_updated_at: bytes = b"",
        keep_run: str | None = None,
        keep_for: float = 0.0,
        then: list[Step] | None = None,
    ) -> ForgetOutcome:
        """Delete the thread's record and every record of its runs, in one
        script. ``seen_updated_at`` (an expiry): only if the thread is idle
        and unchanged since then. ``keep_run``: that run's record stays
        ``keep_for`` seconds more (a stateless run's outcome, for a waiter
        whose end event was lost). ``then``: steps of the same round trip
        (the thread's indexes, outside its slot), sent unless it was busy or
        changed."""
        k = self.keys
        for _ in range(FORGET_TRIES):
            listed = cast(list[bytes], await self.redis.zrange(k.thread_runs(thread_id), 0, -1))
            run_ids = [r.decode() for r in listed]
            kept = [keep_run] if keep_run in run_ids else []
            records = [k.run(thread_id, r) for r in kept + [r for r in run_ids if r != keep_run]]
            step = self._scripts["forget"].step(
                (),
                records,
                THREAD=k.thread(thread_id),
                QUEUE=k.thread_queue(thread_id),
                QUEUED=k.thread_queued(thread_id),
                RUNS=k.thread_runs(thread_id),
                RESUMES=k.thread_resumes(thread_id),
                EPOCH=k.thread_epoch(thread_id),
                seen_updated_at=seen_updated_at,
                run_count=len(run_ids),
                keep_for=max(1, int(keep_for)) if kept else "",
            )
            (word,) = (await self.trips.run([step]))[0]
            outcome = ForgetOutcome(word.decode())
            if outcome is ForgetOutcome.RACED:
                continue
            if outcome in (ForgetOutcome.FORGOTTEN, ForgetOutcome.GONE) and then:
                await self.trips.run(then)
            return outcome
        return ForgetOutcome.RACED


SCRIPTS = lua.ALL
