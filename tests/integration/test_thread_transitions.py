"""A thread's run-side transitions outside a run, against a real Valkey: the
state ``update_state`` writes is left alone once a run took the thread, and a
thread is forgotten with every record of its runs in one script, or not at all
(an expiry of a busy or updated thread, a run created while its runs were read)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
import redis.asyncio

from relaygraph.keys import Keys
from relaygraph.runs import (
    CancelAction,
    ClaimOutcome,
    ForgetOutcome,
    Runs,
    RunStatus,
    SetStateOutcome,
    Strategy,
    ThreadStatus,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def runs(rds: redis.asyncio.Redis) -> Runs:
    return Runs(rds, Keys(f"t{uuid4().hex[:8]}"))


async def create(runs: Runs, thread_id: str, run_id: str) -> None:
    await runs.create(
        thread_id=thread_id,
        run_id=run_id,
        run_json=b"{}",
        request=b"request",
        strategy=Strategy.ENQUEUE,
        create_thread=True,
        graph_id="g",
        assistant_id="a",
    )


async def thread(runs: Runs, thread_id: str) -> dict[bytes, Any]:
    return await runs.redis.hgetall(runs.keys.thread(thread_id))  # type: ignore[no-any-return]


async def test_set_state_writes_an_idle_thread_and_leaves_a_busy_one(runs: Runs) -> None:
    await create(runs, "t1", "r1")
    await runs.finish(
        thread_id="t1",
        run_id="r1",
        epoch=(await runs.claim("t1", "r1", "ex")).epoch,
        run_status=RunStatus.SUCCESS,
        thread_status=ThreadStatus.IDLE,
        values=b'{"a": 1}',
        interrupts=b"{}",
        result=b"{}",
    )
    outcome = await runs.set_state(
        "t1", b'{"a": 2}', ThreadStatus.INTERRUPTED, b'{"n": []}', pause_checkpoint="cp-2"
    )
    assert outcome is SetStateOutcome.SET
    row = await thread(runs, "t1")
    assert (row[b"values"], row[b"status"], row[b"pause_checkpoint"]) == (
        b'{"a": 2}',
        b"interrupted",
        b"cp-2",
    )

    await create(runs, "t1", "r2")  # a run takes the thread before the write lands
    assert (await runs.claim("t1", "r2", "ex")).outcome is ClaimOutcome.OK
    assert await runs.set_state("t1", b'{"a": 3}', ThreadStatus.IDLE) is SetStateOutcome.BUSY
    row = await thread(runs, "t1")
    assert (row[b"values"], row[b"status"]) == (b'{"a": 2}', b"busy")
    assert await runs.set_state("nope", b"{}", ThreadStatus.IDLE) is SetStateOutcome.GONE


async def test_forget_deletes_the_thread_with_every_run_but_the_kept_one(runs: Runs) -> None:
    for run_id in ("r1", "r2", "r3"):
        await create(runs, "t1", run_id)
    assert await runs.forget("t1", keep_run="r2", keep_for=60) is ForgetOutcome.FORGOTTEN
    k = runs.keys
    assert await runs.redis.exists(k.thread("t1"), k.thread_queue("t1"), k.thread_runs("t1")) == 0
    assert await runs.redis.exists(k.run("t1", "r1"), k.run("t1", "r3")) == 0
    assert 0 < await runs.redis.ttl(k.run("t1", "r2")) <= 60
    assert await runs.forget("t1") is ForgetOutcome.GONE


async def test_an_expiry_spares_a_busy_or_updated_thread(runs: Runs) -> None:
    await create(runs, "t1", "r1")
    seen = (await thread(runs, "t1"))[b"updated_at"]
    assert await runs.forget("t1", seen_updated_at=seen) is ForgetOutcome.BUSY
    await runs.cancel("t1", "r1", CancelAction.INTERRUPT)  # never claimed: ends here
    assert await runs.forget("t1", seen_updated_at=seen) is ForgetOutcome.CHANGED
    seen = (await thread(runs, "t1"))[b"updated_at"]
    assert await runs.forget("t1", seen_updated_at=seen) is ForgetOutcome.FORGOTTEN
    assert await runs.redis.exists(runs.keys.run("t1", "r1")) == 0


async def test_a_run_created_while_the_runs_were_read_is_forgotten_too(
    runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create(runs, "t1", "r1")
    reads = 0
    zrange = runs.redis.zrange

    async def read_then_create(*args: Any, **kwargs: Any) -> Any:
        nonlocal reads
        ids = await zrange(*args, **kwargs)
        reads += 1
        if reads == 1:  # a run lands between the read and the script
            await create(runs, "t1", "late")
        return ids

    monkeypatch.setattr(runs.redis, "zrange", read_then_create)
    assert await runs.forget("t1") is ForgetOutcome.FORGOTTEN
    assert reads == 2
    assert await runs.redis.exists(runs.keys.run("t1", "late"), runs.keys.run("t1", "r1")) == 0
