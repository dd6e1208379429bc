"""Nothing lost, nothing applied twice, by breaking things on purpose: kill -9
an executor mid-run and while it owns a thread, SIGSTOP one past its lease,
SIGTERM one mid-run (drain), cancel from the gateway, a run that crashes every
executor that takes it. Real processes; short leases so failover is quick."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.schema import Command
from nats.js.api import DeliverPolicy
from redis.asyncio import Redis

from relaygraph.keys import Keys
from tests.system import Service, System, assert_eventually, running_system

pytestmark = pytest.mark.chaos
LEASE = 2.0
ENV = {
    "RELAYGRAPH_LEASE_TTL": str(LEASE),
    "RELAYGRAPH_DISPATCH_GRACE": "4",
    "RELAYGRAPH_SWEEP_INTERVAL": "0.2",
    "RELAYGRAPH_HEARTBEAT_INTERVAL": "0.5",
    "RELAYGRAPH_LIVENESS_TTL": "3",
    "RELAYGRAPH_DRAIN_GRACE": "0.5",
    "RELAYGRAPH_MAX_ATTEMPTS": "2",  # not the default 3: the crasher's count shows it
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    data = Path(tmp_path_factory.mktemp("failover"))
    effects = data / "effects.txt"
    effects.touch()
    with running_system(
        data, executors=2, extra_env={**ENV, "RELAYGRAPH_TEST_EFFECTS": str(effects)}
    ) as system:
        yield system


@pytest.fixture
async def c(cluster: System) -> AsyncIterator[Any]:
    async with get_client(url=cluster.url) as sdk:
        yield sdk


@pytest.fixture
async def redis(cluster: System) -> AsyncIterator[Redis]:
    async with Redis.from_url(cluster.redis.url) as r:
        yield r


def effects(cluster: System, thread_id: str) -> Counter[str]:
    lines = (cluster.data / "effects.txt").read_text().splitlines()
    return Counter(line.split()[1] for line in lines if line.startswith(f"{thread_id} "))


def executors(cluster: System) -> dict[str, Service]:
    return {
        s.env["RELAYGRAPH_EXECUTOR_ID"]: s
        for s in cluster.services
        if s.name.startswith("executor") and s.proc is not None and s.proc.poll() is None
    }


def keep_two(cluster: System) -> None:
    while len(executors(cluster)) < 2:
        cluster.executor()


async def run_field(redis: Redis, thread_id: str, run_id: str, field: str) -> str:
    value = await redis.hget(Keys().run(thread_id, run_id), field)  # type: ignore[misc]
    return value.decode() if value else ""


async def owner_after(cluster: System, redis: Redis, thread_id: str, run_id: str, node: str) -> str:
    """The executor running the run, once ``node`` has run (so it is checkpointed)."""

    async def ready() -> str:
        assert effects(cluster, thread_id)[node] >= 1
        owner = await run_field(redis, thread_id, run_id, "owner")
        assert owner in executors(cluster)
        return owner

    owner: str = await assert_eventually(ready, timeout=20)
    await asyncio.sleep(0.2)  # past the checkpoint written right after the node
    return owner


async def test_kill_9_mid_run_continues_from_the_last_checkpoint(
    c: Any, cluster: System, redis: Redis
) -> None:
    keep_two(cluster)
    tid = (await c.threads.create())["thread_id"]
    run = await c.runs.create(tid, "chaos", input={"n": 1, "delay": 1.0})
    owner = await owner_after(cluster, redis, tid, run["run_id"], "s1")
    executors(cluster)[owner].kill()
    killed_at = time.time()

    out = await c.runs.join(tid, run["run_id"])
    assert out["log"] == ["s1", "s2"]
    assert out["__interrupt__"][0]["value"] == {"n": 1, "question": "go on?"}
    assert await run_field(redis, tid, run["run_id"], "attempt") == "2"
    new_owner = await run_field(redis, tid, run["run_id"], "owner")
    assert new_owner != owner
    failover = int(await run_field(redis, tid, run["run_id"], "claimed_ms")) / 1000 - killed_at
    assert failover <= LEASE + 1.0, f"failover took {failover:.2f}s"
    seen = effects(cluster, tid)
    assert seen["s1"] == 1, "a checkpointed step ran again"
    assert seen["s2"] == 1
    # The stream's ids grow across the retry: resuming from the first
    # attempt's last id gives exactly the second attempt's events.
    replay = await _replay(cluster, tid, run["run_id"])
    ids = [i for i, _ in replay]
    assert ids == sorted(set(ids)), ids
    starts = [n for n, (_, event) in enumerate(replay) if event == "metadata"]
    assert len(starts) == 2, replay
    after_first = await _replay(cluster, tid, run["run_id"], after=replay[starts[1] - 1][0])
    assert after_first == replay[starts[1] :]
    keep_two(cluster)


async def _replay(cluster: System, tid: str, run_id: str, after: int = -1) -> list[tuple[int, str]]:
    """(id, event) of a finished run's stream, replayed after ``after``."""
    headers = {"Last-Event-ID": str(after)} if after >= 0 else {}
    async with httpx.AsyncClient(base_url=cluster.url) as http:
        r = await http.get(f"/threads/{tid}/runs/{run_id}/stream", headers=headers)
    out = []
    for frame in r.content.split(b"\r\n\r\n"):
        fields = dict(line.split(b": ", 1) for line in frame.split(b"\r\n") if b": " in line)
        if b"id" in fields:
            out.append((int(fields[b"id"]), fields[b"event"].decode()))
    return out


async def test_resume_to_an_owner_that_dies_mid_run_is_not_lost(
    c: Any, cluster: System, redis: Redis
) -> None:
    keep_two(cluster)
    tid = (await c.threads.create())["thread_id"]
    await c.runs.wait(tid, "chaos", input={"n": 2, "delay": 0.6})
    owner = (await redis.hget(Keys().thread(tid), "owner")).decode()  # type: ignore[misc]
    resume = await c.runs.create(tid, "chaos", command=Command(resume="yes"))
    assert await owner_after(cluster, redis, tid, resume["run_id"], "s3") == owner
    executors(cluster)[owner].kill()

    out = await c.runs.join(tid, resume["run_id"])
    assert out["log"] == ["s1", "s2", "ask", "s3", "s4"]
    assert out["answer"] == "yes"
    seen = effects(cluster, tid)
    assert seen["ask"] == 1 and seen["s3"] == 1 and seen["s4"] == 1
    keep_two(cluster)


async def test_sigstop_past_the_lease_then_sigcont(c: Any, cluster: System, redis: Redis) -> None:
    keep_two(cluster)
    tid = (await c.threads.create())["thread_id"]
    run = await c.runs.create(tid, "chaos", input={"n": 3, "delay": 1.0})
    owner = await owner_after(cluster, redis, tid, run["run_id"], "s1")
    paused = executors(cluster)[owner]
    assert paused.proc is not None
    os.kill(paused.proc.pid, signal.SIGSTOP)
    try:
        out = await asyncio.wait_for(c.runs.join(tid, run["run_id"]), 30)
        assert out["log"] == ["s1", "s2"]
        assert await run_field(redis, tid, run["run_id"], "owner") != owner
    finally:
        os.kill(paused.proc.pid, signal.SIGCONT)
    await asyncio.sleep(LEASE)  # the woken executor finds its lease gone and drops the run
    state = await c.threads.get_state(tid)
    assert state["values"]["log"] == ["s1", "s2"], "a stale executor changed the thread"
    assert (await c.threads.get(tid))["status"] == "interrupted"
    assert effects(cluster, tid)["s1"] == 1
    assert paused.proc.poll() is None  # it lives on and keeps serving
    out = await c.runs.wait(tid, "chaos", command=Command(resume="after"))
    assert out["log"] == ["s1", "s2", "ask", "s3", "s4"]


async def test_sigterm_drains_and_hands_the_run_over(c: Any, cluster: System, redis: Redis) -> None:
    keep_two(cluster)
    tid = (await c.threads.create())["thread_id"]
    run = await c.runs.create(tid, "chaos", input={"n": 4, "delay": 1.5})
    owner = await owner_after(cluster, redis, tid, run["run_id"], "s1")
    svc = executors(cluster)[owner]
    t0 = time.time()
    assert svc.proc is not None
    svc.proc.send_signal(signal.SIGTERM)
    out = await c.runs.join(tid, run["run_id"])
    assert out["log"] == ["s1", "s2"]
    assert svc.proc.wait(15) == 0
    # Handed over at once, not after a lease expiry: drain grace + the rest of the run.
    assert time.time() - t0 < 0.5 + 1.5 * 2 + LEASE
    assert await run_field(redis, tid, run["run_id"], "owner") != owner
    assert "draining" in svc.log.read_text()
    keep_two(cluster)


async def test_cancel_interrupt_and_rollback_from_the_gateway(c: Any, cluster: System) -> None:
    keep_two(cluster)
    tid = (await c.threads.create())["thread_id"]
    run = await c.runs.create(tid, "chaos", input={"n": 5, "delay": 2.0})
    await asyncio.sleep(0.5)
    await c.runs.cancel(tid, run["run_id"], wait=True)
    assert (await c.runs.get(tid, run["run_id"]))["status"] == "interrupted"
    assert (await c.threads.get(tid))["status"] in ("idle", "interrupted")

    tid = (await c.threads.create())["thread_id"]
    await c.runs.wait(tid, "chaos", input={"n": 6, "delay": 1.0})
    before = (await c.threads.get_state(tid))["values"]
    run = await c.runs.create(tid, "chaos", command=Command(resume="no"))
    await asyncio.sleep(0.05)
    await c.runs.cancel(tid, run["run_id"], wait=True, action="rollback")
    with pytest.raises(Exception, match="not found"):
        await c.runs.get(tid, run["run_id"])
    assert (await c.threads.get_state(tid))["values"] == before


async def test_a_run_that_crashes_every_executor_ends_in_error_and_dead_letter(
    c: Any, cluster: System, redis: Redis
) -> None:
    keep_two(cluster)
    tid = (await c.threads.create())["thread_id"]
    run = await c.runs.create(tid, "crasher", input={"n": 7})

    async def supervised_until_done() -> None:
        keep_two(cluster)  # a supervisor restarting crashed executors
        status = (await c.runs.get(tid, run["run_id"]))["status"]
        assert status == "error", status

    await assert_eventually(supervised_until_done, timeout=60, interval=0.3)
    assert effects(cluster, tid)["crash"] == 2  # RELAYGRAPH_MAX_ATTEMPTS
    thread = await c.threads.get(tid)
    assert thread["status"] == "error"
    out = await c.runs.join(tid, run["run_id"])
    assert out["__error__"]["error"] == "MaxAttemptsExceeded"
    assert "attempted 2 times" in out["__error__"]["message"]
    nc = await nats.connect(cluster.nats.url)
    try:
        sub = await nc.jetstream().subscribe(
            f"relaygraph.deadletter.{run['run_id']}", deliver_policy=DeliverPolicy.ALL
        )
        msg = await sub.next_msg(timeout=5)
        assert json.loads(msg.data)["run_id"] == run["run_id"]
        assert msg.headers and msg.headers["Relaygraph-Reason"] == "MaxAttemptsExceeded"
    finally:
        await nc.drain()
    keep_two(cluster)


async def test_resume_racing_a_cancel(c: Any, cluster: System) -> None:
    """A resume cancelled while it runs leaves the thread answerable; the answer
    that finally goes through is applied once."""
    keep_two(cluster)
    tid = (await c.threads.create())["thread_id"]
    await c.runs.wait(tid, "chaos", input={"n": 8, "delay": 0.5})
    nc = await nats.connect(cluster.nats.url)
    try:
        body = json.dumps({"resume": "first"}).encode()
        reply = json.loads((await nc.request(f"relaygraph.resume.{tid}", body, timeout=10)).data)
        await c.runs.cancel(tid, reply["run_id"], wait=True)  # races the resume's first steps
        status = (await c.runs.get(tid, reply["run_id"]))["status"]
        state = await c.threads.get_state(tid)
        if status == "interrupted" and state["values"].get("answer") is None:
            # Cancelled before the answer was applied: the interrupt is still open.
            assert (await c.threads.get(tid))["status"] == "interrupted"
            again = json.loads(
                (
                    await nc.request(
                        f"relaygraph.resume.{tid}",
                        json.dumps({"resume": "second"}).encode(),
                        timeout=10,
                    )
                ).data
            )
            assert again["run_id"] != reply["run_id"]
            out = await c.runs.join(tid, again["run_id"])
            assert out["answer"] == "second"
            # The cancel may have cut the node off after its side effect, before its
            # result was saved: that one step runs again, its result is saved once.
            assert effects(cluster, tid)["ask"] <= 2
        else:
            # The answer was applied before the cancel landed; finish the rest.
            out = await c.runs.wait(tid, "chaos", input=None)
            assert out["answer"] == "first"
            assert effects(cluster, tid)["ask"] == 1
        assert out["log"] == ["s1", "s2", "ask", "s3", "s4"]
    finally:
        await nc.drain()
