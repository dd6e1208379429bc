"""The run transitions against a real Valkey, without NATS or an executor: the
decisions each script replies with, the hand-on of a thread's queue (also for
runs queued by the older layout), and the layout's migration."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import msgspec
import pytest
import redis.asyncio

from relaygraph import layout
from relaygraph.keys import Keys
from relaygraph.lua import Script
from relaygraph.runs import (
    CancelOutcome,
    ClaimOutcome,
    Decision,
    FinishOutcome,
    ReleaseOutcome,
    RenewOutcome,
    Runs,
    SweepOutcome,
)
from relaygraph.runs import _scripts as lua

pytestmark = pytest.mark.integration


@pytest.fixture
def keys() -> Keys:
    return Keys(f"t{uuid4().hex[:8]}")


def runs_of(rds: redis.asyncio.Redis, keys: Keys, **settings: float) -> Runs:
    return Runs(rds, keys, lease_ttl=settings.get("lease_ttl", 10), grace=settings.get("grace", 30))


async def create(runs: Runs, thread_id: str, run_id: str) -> Decision:
    created = await runs.create(
        thread_id=thread_id,
        run_id=run_id,
        run_json=b"{}",
        request=f"request of {run_id}".encode(),
        strategy="enqueue",
        create_thread=True,
        graph_id="g",
        assistant_id="a",
    )
    return created.decision


async def test_a_threads_runs_go_one_after_the_other(rds, keys: Keys) -> None:
    runs = runs_of(rds, keys)
    assert await create(runs, "t1", "r1") is Decision.DISPATCH
    assert await create(runs, "t1", "r2") is Decision.QUEUED
    claim = await runs.claim("t1", "r1", "ex-1")
    assert claim.outcome is ClaimOutcome.OK and claim.attempt == 1
    assert (await runs.claim("t1", "r2", "ex-1")).outcome is ClaimOutcome.NOT_ACTIVE
    assert (await runs.claim("t1", "r1", "ex-2")).outcome is ClaimOutcome.HELD
    assert (await runs.renew("t1", "r1", claim.epoch))[0] is RenewOutcome.RENEWED
    finished = await runs.finish(
        thread_id="t1",
        run_id="r1",
        epoch=claim.epoch,
        run_status="success",
        thread_status="idle",
        values=b'{"x": 1}',
        interrupts=b"{}",
        result=b'{"x": 1}',
    )
    assert finished.outcome is FinishOutcome.HANDED_ON
    assert finished.next_run is not None
    assert (finished.next_run.run_id, finished.next_run.request) == ("r2", b"request of r2")
    assert (await rds.hget(keys.thread("t1"), "active_run")) == b"r2"
    # The first attempt's lease is gone with its epoch: nothing more of it counts.
    assert (await runs.renew("t1", "r1", claim.epoch))[0] is RenewOutcome.LOST


async def test_a_run_queued_by_the_older_layout_is_handed_on(rds, keys: Keys) -> None:
    runs = runs_of(rds, keys)
    await create(runs, "t2", "r1")
    await create(runs, "t2", "r2")
    await rds.delete(keys.thread_queued("t2"))  # as an older relaygraph left it
    claim = await runs.claim("t2", "r1", "ex-1")
    finished = await runs.finish(
        thread_id="t2",
        run_id="r1",
        epoch=claim.epoch,
        run_status="success",
        thread_status="idle",
        values=b"",
        interrupts=b"",
        result=b"{}",
    )
    assert finished.next_run is not None and finished.next_run.request == b"request of r2"


async def test_cancel_where_a_run_stands(rds, keys: Keys) -> None:
    runs = runs_of(rds, keys)
    await create(runs, "t3", "r1")
    await create(runs, "t3", "r2")
    await create(runs, "t3", "r3")
    assert (await runs.cancel("t3", "r2", "interrupt")).outcome is CancelOutcome.DEQUEUED
    # r1 was dispatched, never claimed: it ends here and r3 (not r2) is next.
    cancelled = await runs.cancel("t3", "r1", "interrupt")
    assert cancelled.outcome is CancelOutcome.CANCELLED
    assert cancelled.next_run is not None and cancelled.next_run.run_id == "r3"
    assert (await runs.claim("t3", "r1", "ex-1")).outcome is ClaimOutcome.DONE
    claim = await runs.claim("t3", "r3", "ex-1")
    assert (await runs.cancel("t3", "r3", "rollback")).outcome is CancelOutcome.FLAGGED
    assert await runs.renew("t3", "r3", claim.epoch) == (RenewOutcome.RENEWED, "rollback")
    assert (await runs.release("t3", "r3", claim.epoch)) is ReleaseOutcome.RELEASED
    assert (await runs.cancel("t3", "r9", "interrupt")).outcome is CancelOutcome.GONE


async def test_the_sweeper_sends_again_what_nobody_claimed(rds, keys: Keys) -> None:
    runs = runs_of(rds, keys, lease_ttl=0.05, grace=0.05)
    await create(runs, "t4", "r1")
    await asyncio.sleep(0.1)
    due = await runs.sweep()
    assert [(d.run_id, d.outcome, d.request) for d in due] == [
        ("r1", SweepOutcome.REDISPATCH, b"request of r1")
    ]
    claim = await runs.claim("t4", "r1", "ex-1")
    await asyncio.sleep(0.1)  # the lease runs out: sent again, a new epoch wins
    assert [d.outcome for d in await runs.sweep()] == [SweepOutcome.REDISPATCH]
    again = await runs.claim("t4", "r1", "ex-2")
    assert again.epoch > claim.epoch and again.attempt == 2


async def test_a_claim_brings_a_later_look_forward_to_its_leases_end(rds, keys: Keys) -> None:
    runs = runs_of(rds, keys, lease_ttl=0.2, grace=2.0)
    await create(runs, "t8", "r1")
    member = "t8/r1"
    created = await rds.zscore(keys.leases("t8"), member)
    await asyncio.sleep(0.25)  # first look, by a lease from the creation: not claimed yet
    assert [d.outcome for d in await runs.sweep()] == [SweepOutcome.LATER]
    later = await rds.zscore(keys.leases("t8"), member)
    assert later >= created + 1500  # the dispatch grace
    await runs.claim("t8", "r1", "ex-1")
    claimed = await rds.zscore(keys.leases("t8"), member)
    assert claimed < later - 1000  # now the lease's end


async def test_the_sweeper_publishes_an_interrupt_event_left_behind(rds, keys: Keys) -> None:
    runs = runs_of(rds, keys, lease_ttl=0.05, grace=0.05)
    await create(runs, "t9", "r1")
    claim = await runs.claim("t9", "r1", "ex-1")
    await runs.finish(
        thread_id="t9",
        run_id="r1",
        epoch=claim.epoch,
        run_status="success",
        thread_status="interrupted",
        values=b"{}",
        interrupts=b"{}",
        result=b"{}",
        outbox=b"the event",
    )
    await asyncio.sleep(0.1)  # its executor died before it published and unwatched
    due = await runs.sweep()
    assert [(d.outcome, d.request) for d in due] == [(SweepOutcome.PUBLISH, b"the event")]


def test_a_script_is_called_by_names() -> None:
    class Fake:
        def register_script(self, source: str) -> object:
            assert "local THREAD = KEYS[1]" in source and "local run_id = ARGV[1]" in source
            return object()

    script = Script(Fake(), lua.CLAIM)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"missing \['max_attempts'\], unknown \['max'\]"):
        script.step(
            THREAD="t",
            RUN="r",
            EPOCH="e",
            **dict.fromkeys(("IDS", "CPS", "REFS", "BLOBS", "WIDS", "WRITES"), "c"),
            run_id="1",
            executor_id="x",
            now="n",
            now_ms=1,
            lease_ms=1,
            max=3,
        )


async def test_setup_migrates_an_older_layout_once(rds, keys: Keys) -> None:
    assert await layout.version(rds, keys) == layout.LAYOUT_VERSION  # nothing stored yet
    # What relaygraph wrote before layouts had versions: a queued run whose
    # request is only on its record.
    await rds.rpush(keys.thread_queue("t5"), "r2")
    await rds.hset(keys.run("t5", "r2"), mapping={"request": b"old request", "status": "pending"})
    # Fencing epochs in keys of their own (layout 3), one of a deleted thread.
    await rds.hset(keys.thread("t6"), mapping={"thread_id": "t6", "status": "idle"})
    await rds.set(keys.thread_epoch("t6"), 7)
    await rds.set(keys.thread_epoch("t7"), 3)
    await rds.sadd(f"{keys.prefix}:cp:run:{{r9}}:threads", "t6")  # the old run index
    assert await layout.version(rds, keys) == 1
    await asyncio.gather(layout.setup(rds, keys), layout.setup(rds, keys))
    assert await layout.version(rds, keys) == layout.LAYOUT_VERSION
    assert await rds.hget(keys.thread_queued("t5"), "r2") == b"old request"
    assert await rds.hget(keys.thread("t6"), "epoch") == b"7"
    assert await rds.exists(keys.thread_epoch("t6"), keys.thread_epoch("t7")) == 0
    assert await rds.exists(keys.thread("t7")) == 0
    assert await rds.exists(f"{keys.prefix}:cp:run:{{r9}}:threads") == 0
    assert msgspec.json.decode(await rds.get(keys.layout)) == layout.LAYOUT_VERSION
