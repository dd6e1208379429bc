"""Resumes, and a thread's next queued run, go to the executor that owns the
thread while it lives and answers within RELAYGRAPH_OWNER_TIMEOUT, and to the
shared queue, where another executor takes them, once it is frozen or gone."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.schema import Command
from redis.asyncio import Redis

from relaygraph.keys import Keys
from tests.system import System, assert_eventually, running_system

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """A gateway and two executor processes. A short ack wait: a run sent to
    the shared queue while an executor is frozen may be handed to the frozen
    one's pending pull; JetStream gives it to the other executor after the ack
    wait (30 s by default), as after any executor that stopped answering."""
    with running_system(
        Path(tmp_path_factory.mktemp("pair")),
        executors=2,
        extra_env={
            "RELAYGRAPH_OWNER_TIMEOUT": "1.5",
            "RELAYGRAPH_ACK_WAIT": "2",
            "RELAYGRAPH_HEARTBEAT_INTERVAL": "0.5",  # in-progress acks within the ack wait
        },
    ) as system:
        yield system


@pytest.fixture
async def c(pair: System) -> AsyncIterator[Any]:
    async with get_client(url=pair.url) as sdk:
        yield sdk


@pytest.fixture
async def redis(pair: System) -> AsyncIterator[Redis]:
    async with Redis.from_url(pair.redis.url) as r:
        yield r


async def run_owner(redis: Redis, thread_id: str, run_id: str) -> str:
    owner = await redis.hget(Keys().run(thread_id, run_id), "owner")  # type: ignore[misc]
    assert owner, f"run {run_id} has no owner"
    return owner.decode()  # type: ignore[no-any-return]


async def interrupted_threads(c: Any, redis: Redis) -> dict[str, str]:
    """Threads paused on an interrupt, until both executors own some: thread -> owner.
    (Which executor pulls a run is JetStream's choice, so batches run concurrently.)"""
    owners: dict[str, str] = {}

    async def one() -> None:
        tid = (await c.threads.create())["thread_id"]
        first = await c.runs.create(tid, "agent", input={"some_text": "a"})
        await c.runs.join(tid, first["run_id"])
        owners[tid] = await run_owner(redis, tid, first["run_id"])

    for _ in range(20):
        await asyncio.gather(*(one() for _ in range(4)))
        if len(set(owners.values())) == 2:
            return owners
    raise AssertionError(f"one executor took all {len(owners)} runs")


async def test_resumes_go_to_the_owner_while_it_lives(c: Any, redis: Redis) -> None:
    owners = await interrupted_threads(c, redis)
    for tid, owner in owners.items():
        run = await c.runs.create(tid, "agent", command=Command(resume="b"))
        assert (await c.runs.join(tid, run["run_id"])) == {"some_text": "b"}
        assert await run_owner(redis, tid, run["run_id"]) == owner


async def test_a_frozen_owner_is_waited_for_owner_timeout_then_bypassed(
    c: Any, redis: Redis, pair: System
) -> None:
    """SIGSTOP: the owner still counts as alive, but does not answer; the
    resume goes to the shared queue after RELAYGRAPH_OWNER_TIMEOUT (1.5 s)."""
    threads = await interrupted_threads(c, redis)
    tid, owner = next(iter(threads.items()))
    frozen = next(s for s in pair.services if s.env.get("RELAYGRAPH_EXECUTOR_ID") == owner)
    assert frozen.proc is not None
    frozen.proc.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        run = await c.runs.create(tid, "agent", command=Command(resume="meanwhile"))
        took = time.monotonic() - started
        assert (await c.runs.join(tid, run["run_id"])) == {"some_text": "meanwhile"}
        assert await run_owner(redis, tid, run["run_id"]) != owner
    finally:
        frozen.proc.send_signal(signal.SIGCONT)
    assert 1.5 <= took < 4


async def test_a_queued_run_handed_on_to_a_frozen_owner_goes_to_the_queue_after_owner_timeout(
    c: Any, redis: Redis, pair: System
) -> None:
    """The executor that ends a run sends the thread's next queued run to the
    thread's owner (``outcome.py``), not the gateway. A claim makes the executor
    running a run the owner, so that is normally the executor itself; to make
    the hand-on meet an owner that does not answer, the thread's owner is set
    to the other executor, frozen (SIGSTOP: alive by its liveness key, silent
    on NATS), while the first run runs. The hand-on asks it, waits
    RELAYGRAPH_OWNER_TIMEOUT (1.5 s; the default is 0.5), then queues the run,
    which the executor still running takes."""
    tid = (await c.threads.create())["thread_id"]
    first = await c.runs.create(tid, "slow", input={"seconds": 1.5})
    runner = await assert_eventually(lambda: run_owner(redis, tid, first["run_id"]))
    frozen = next(
        s
        for s in pair.services
        if s.name.startswith("executor") and s.env["RELAYGRAPH_EXECUTOR_ID"] != runner
    )
    frozen_id = frozen.env["RELAYGRAPH_EXECUTOR_ID"]
    seen: dict[str, list[tuple[str, float]]] = {}  # run id -> (subject, when) seen here

    async def note(msg: Any) -> None:
        seen.setdefault(json.loads(msg.data)["run_id"], []).append((msg.subject, time.monotonic()))

    nc = await nats.connect(pair.nats.url)
    assert frozen.proc is not None
    try:
        await nc.subscribe(f"relaygraph.owner.{frozen_id}.run", cb=note)  # never replies
        await nc.subscribe("relaygraph.runs.priority", cb=note)
        await nc.flush()
        frozen.proc.send_signal(signal.SIGSTOP)
        second = await c.runs.create(
            tid, "slow", input={"seconds": 0.01}, multitask_strategy="enqueue"
        )
        await redis.hset(Keys().thread(tid), "owner", frozen_id)  # type: ignore[misc]
        assert (await c.runs.get(tid, first["run_id"]))["status"] == "running", "set too late"
        assert (await c.runs.get(tid, second["run_id"]))["status"] == "pending"
        out = await asyncio.wait_for(c.runs.join(tid, second["run_id"]), 30)

        async def both_seen() -> None:  # this test's NATS connection may lag the join
            assert len(seen.get(second["run_id"], [])) == 2, seen

        await assert_eventually(both_seen, timeout=5)
    finally:
        frozen.proc.send_signal(signal.SIGCONT)
        await nc.close()
    assert out == {"seconds": 0.01, "done": True}
    assert await run_owner(redis, tid, second["run_id"]) == runner
    asked, queued = seen[second["run_id"]]
    assert asked[0] == f"relaygraph.owner.{frozen_id}.run"
    assert queued[0] == "relaygraph.runs.priority"
    waited = queued[1] - asked[1]
    assert 1.4 <= waited < 2.5, f"queued {waited:.2f}s after asking the owner"
    log = next(s for s in pair.services if s.env.get("RELAYGRAPH_EXECUTOR_ID") == runner).log
    assert f"owner {frozen_id} of thread {tid} did not take run {second['run_id']}" in (
        log.read_text()
    )


async def test_resume_after_the_owner_is_killed(c: Any, redis: Redis, pair: System) -> None:
    executors = [s for s in pair.services if s.name.startswith("executor")]
    threads = await interrupted_threads(c, redis)
    victim_tid, victim = next(iter(threads.items()))
    owner = await redis.hget(Keys().thread(victim_tid), "owner")  # type: ignore[misc]
    assert owner is not None and owner.decode() == victim

    # kill -9 the owner: its resumes now go to the shared queue.
    survivors = []
    for svc in executors:
        owned = svc.env.get("RELAYGRAPH_EXECUTOR_ID")
        if owned == victim:
            svc.kill()
        else:
            survivors.append(owned)
    run = await c.runs.create(victim_tid, "agent", command=Command(resume="after"))
    assert (await c.runs.join(victim_tid, run["run_id"])) == {"some_text": "after"}
    assert await run_owner(redis, victim_tid, run["run_id"]) in survivors
    assert (await c.threads.get(victim_tid))["status"] == "idle"
