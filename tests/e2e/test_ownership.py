"""Resumes go to the executor that owns the thread while it lives, and to the
shared queue, where another executor takes them, once it is gone (kill -9)."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_client
from langgraph_sdk.schema import Command
from redis.asyncio import Redis

from relaygraph.keys import Keys
from tests.system import System, running_system

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """A gateway and two executor processes."""
    with running_system(
        Path(tmp_path_factory.mktemp("pair")),
        executors=2,
        extra_env={"RELAYGRAPH_OWNER_TIMEOUT": "1.5"},
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
