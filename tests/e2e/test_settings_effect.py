"""Settings do what the README says, proven by their effect on real processes.

The services run with non-default values given through ``env`` of their
``langgraph.json`` (so that path is proven too: the gateway and the executor
read their settings after applying it). Which test proves which setting is
listed in ``tests/unit/test_settings_documented.py``.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.errors import NotFoundError
from nats.js.api import DiscardPolicy
from redis.asyncio import Redis

from relaygraph.keys import Keys
from relaygraph_dev.servers import free_port
from tests.system import Service, System, graphs_config, running_system

pytestmark = pytest.mark.e2e

TUNED = {
    "NATS_PREFIX": "tuned",
    "NATS_EVENTS_MAX_AGE": "900",
    "NATS_STREAM_MAX_BYTES": "67108864",
    "REDIS_KEY_PREFIX": "tk",
    "REDIS_MAX_CONNECTIONS": "2",
    "REDIS_INDEX_SHARDS": "4",
    "RELAYGRAPH_QUERY_TIMEOUT": "1.5",
    "RELAYGRAPH_MAX_CONCURRENT_RUNS": "1",
    "RELAYGRAPH_HEARTBEAT_INTERVAL": "0.5",
    "RELAYGRAPH_ACK_WAIT": "2",
    "RELAYGRAPH_LIVENESS_TTL": "4",
    "RELAYGRAPH_DISPATCH_GRACE": "7",
    "RELAYGRAPH_RUN_RECORD_TTL": "3",
    "RELAYGRAPH_CHECKPOINT_WRITE_WINDOW": "30",
    "BG_JOB_TIMEOUT_SECS": "6",  # LangGraph Server's name of RELAYGRAPH_RUN_TIMEOUT
}


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    data = Path(tmp_path_factory.mktemp("tuned"))
    with running_system(
        data,
        config=graphs_config(data / "project", env=TUNED),
        extra_env={"RELAYGRAPH_LOG_LEVEL": "DEBUG"},
    ) as system:
        yield system


@pytest.fixture
async def c(tuned: System) -> AsyncIterator[Any]:
    async with get_client(url=tuned.url, timeout=60) as sdk:
        yield sdk


@pytest.fixture
async def redis(tuned: System) -> AsyncIterator[Redis]:
    async with Redis.from_url(tuned.redis.url) as r:
        yield r


async def test_prefixes_name_every_stream_subject_and_key(
    tuned: System, c: Any, redis: Redis
) -> None:
    nc = await nats.connect(tuned.nats.url)
    try:
        js = nc.jetstream()
        sub = await js.subscribe("tuned.interrupts.agent.*")
        tid = (await c.threads.create())["thread_id"]
        await c.runs.wait(tid, "agent", input={"some_text": "x"})
        event = json.loads((await sub.next_msg(timeout=10)).data)
        assert event["thread_id"] == tid
        names = {s.config.name for s in await js.streams_info()}
        assert {"TUNED_RUNS", "TUNED_EVENTS", "TUNED_INTERRUPTS", "TUNED_DEADLETTER"} <= names
        assert not any(n.startswith("RELAYGRAPH_") for n in names)
        events = await js.stream_info("TUNED_EVENTS")
        assert events.config.max_age == 900.0
        for name in ("TUNED_RUNS", "TUNED_EVENTS", "TUNED_INTERRUPTS", "TUNED_DEADLETTER"):
            info = await js.stream_info(name)
            assert info.config.max_bytes == 64 << 20, name
        assert (await js.stream_info("TUNED_RUNS")).config.discard == DiscardPolicy.NEW
    finally:
        await nc.close()
    keys = [k.decode() async for k in redis.scan_iter(count=1000)]
    assert keys and all(k.startswith("tk:") for k in keys), keys[:5]


async def test_redis_connections_stay_within_the_cap(tuned: System, c: Any, redis: Redis) -> None:
    async def burst() -> None:
        tid = (await c.threads.create())["thread_id"]
        await c.threads.get(tid)
        await c.threads.search(limit=5)

    await asyncio.gather(*(burst() for _ in range(60)))
    clients = await redis.client_list()
    by_name: dict[str, int] = {}
    for conn in clients:
        by_name[conn["name"]] = by_name.get(conn["name"], 0) + 1
    gateway = by_name.get("relaygraph-gateway", 0)
    executors = {n: k for n, k in by_name.items() if n.startswith("relaygraph-executor-")}
    assert 1 <= gateway <= 2, by_name
    assert executors and all(k <= 2 for k in executors.values()), by_name


async def test_one_run_at_a_time_per_executor(c: Any) -> None:
    threads = [(await c.threads.create())["thread_id"] for _ in range(2)]
    started = time.monotonic()
    await asyncio.gather(*(c.runs.wait(t, "slow", input={"seconds": 1.0}) for t in threads))
    assert time.monotonic() - started >= 2.0


async def test_heartbeats_keep_a_run_longer_than_ack_wait_from_redelivery(
    tuned: System, c: Any
) -> None:
    tid = (await c.threads.create())["thread_id"]
    chunks = [
        chunk
        async for chunk in c.runs.stream(tid, "slow", input={"seconds": 4.0}, stream_mode="values")
    ]
    assert chunks[0].event == "metadata" and chunks[0].data["attempt"] == 1
    assert chunks[-1].data == {"seconds": 4.0, "done": True}
    nc = await nats.connect(tuned.nats.url)
    try:
        info = await nc.jetstream().consumer_info("TUNED_RUNS", "tuned-executors")
    finally:
        await nc.close()
    assert info.config.ack_wait == 2.0
    assert info.num_redelivered == 0
    assert info.num_ack_pending == 0


async def test_a_finished_run_is_kept_as_long_as_the_setting(c: Any, redis: Redis) -> None:
    tid = (await c.threads.create())["thread_id"]
    run = await c.runs.create(tid, "slow", input={"seconds": 0.01})
    await c.runs.join(tid, run["run_id"])
    ttl = await redis.ttl(f"tk:run:{{{tid}}}:{run['run_id']}")
    assert 0 < ttl <= 3, ttl
    await asyncio.sleep(3.5)
    assert await c.runs.list(tid) == []
    with pytest.raises(NotFoundError):
        await c.runs.get(tid, run["run_id"])
    assert (await c.threads.get(tid))["values"] == {"seconds": 0.01, "done": True}


async def test_checkpoints_wait_for_the_write_window_or_the_end_of_the_run(
    c: Any, redis: Redis
) -> None:
    tid = (await c.threads.create())["thread_id"]
    run = await c.runs.create(tid, "slow", input={"seconds": 1.5})
    await asyncio.sleep(0.8)  # the node sleeps; its input checkpoints are held
    assert (await c.runs.get(tid, run["run_id"]))["status"] == "running"
    assert await redis.exists(f"tk:cp:{{{tid}}}:ids") == 0
    await c.runs.join(tid, run["run_id"])  # the outcome comes after its checkpoints
    assert await redis.zcard(f"tk:cp:{{{tid}}}:ids") == 3
    assert (await c.threads.get_state(tid))["values"] == {"seconds": 1.5, "done": True}


async def test_a_run_that_runs_out_of_time_ends_timeout(c: Any) -> None:
    tid = (await c.threads.create())["thread_id"]
    began = time.monotonic()
    out = await c.runs.wait(tid, "slow", input={"seconds": 30}, raise_error=False)
    assert 5.5 <= time.monotonic() - began < 15
    assert out == {"__error__": {"error": "TimeoutError", "message": ""}}
    (run,) = await c.runs.list(tid)
    assert run["status"] == "timeout"
    thread = await c.threads.get(tid)
    assert thread["status"] == "error"


async def test_liveness_key_lives_as_long_as_the_setting(tuned: System, redis: Redis) -> None:
    executor_id = next(s for s in tuned.services if s.name.startswith("executor")).env[
        "RELAYGRAPH_EXECUTOR_ID"
    ]
    ttl = await redis.pttl(f"tk:executor:{executor_id}")
    assert 0 < ttl <= 4000


async def test_dispatch_grace_is_how_long_a_run_may_wait_to_be_claimed(
    c: Any, redis: Redis
) -> None:
    tid = (await c.threads.create())["thread_id"]
    busy = await c.runs.create(tid, "slow", input={"seconds": 1.0})
    sent_ms = time.time() * 1000
    queued = await c.runs.create(tid, "slow", input={"seconds": 0.1})
    lease_until = int(await redis.hget(f"tk:run:{{{tid}}}:{queued['run_id']}", "lease_until"))
    assert 6000 <= lease_until - sent_ms <= 8000
    await c.runs.join(tid, queued["run_id"])
    await c.runs.join(tid, busy["run_id"])


async def restart_executors(tuned: System, **env: str) -> None:
    """Stop the system's executors; start one with ``env`` (variables of its own,
    which win over langgraph.json's), once it serves."""
    for executor in [s for s in tuned.services if s.name.startswith("executor")]:
        executor.stop()
        tuned.services.remove(executor)
    svc = tuned.executor(**env)
    deadline = time.monotonic() + 30
    while "serving graphs" not in (svc.log.read_text() if svc.log.exists() else ""):
        assert svc.proc is not None and svc.proc.poll() is None, svc.log.read_text()
        assert time.monotonic() < deadline, svc.log.read_text()
        await asyncio.sleep(0.1)


async def test_run_timeout_by_its_own_name_wins_over_langgraph_servers(
    tuned: System, c: Any
) -> None:
    """RELAYGRAPH_RUN_TIMEOUT=2 in the executor's environment; the
    BG_JOB_TIMEOUT_SECS=6 of langgraph.json's env is read only without it."""
    await restart_executors(tuned, RELAYGRAPH_RUN_TIMEOUT="2")
    tid = (await c.threads.create())["thread_id"]
    began = time.monotonic()
    out = await c.runs.wait(tid, "slow", input={"seconds": 30}, raise_error=False)
    assert 1.8 <= time.monotonic() - began < 5
    assert out == {"__error__": {"error": "TimeoutError", "message": ""}}
    assert (await c.runs.list(tid))[0]["status"] == "timeout"


async def test_indexes_are_split_into_the_shard_count_and_another_count_is_refused(
    tuned: System, c: Any, redis: Redis, tmp_path: Path
) -> None:
    """REDIS_INDEX_SHARDS=4 (langgraph.json's env): the thread list is 4 keys;
    a gateway started with the default 16 on these records refuses to start."""
    four = Keys("tk", shards=4)
    on_each: dict[int, str] = {}
    while len(on_each) < 4:  # a thread on each shard
        tid = str(uuid.uuid4())
        on_each.setdefault(four.shard_of(tid), tid)
    for tid in on_each.values():
        await c.threads.create(thread_id=tid)
    index = {k.decode() async for k in redis.scan_iter(match="tk:threads:{i*}", count=1000)}
    assert index == set(four.threads_index_shards())
    for tid in on_each.values():
        assert await redis.zscore(four.threads_index(tid), tid) is not None
    env = {**tuned.env, "REDIS_INDEX_SHARDS": "16"}
    args = ["gateway", "--config", str(tuned.config), "--port", str(free_port())]
    gateway = Service("gateway-16", args, env, tmp_path / "gw.log").start()
    assert gateway.proc is not None
    try:
        assert gateway.proc.wait(30) != 0
    finally:
        gateway.kill()
    assert "set REDIS_INDEX_SHARDS=4" in gateway.log.read_text()


def test_debug_log_level(tuned: System) -> None:
    assert " DEBUG relaygraph." in (tuned.data / "executor-0.log").read_text()


async def test_a_changed_ack_wait_updates_the_consumer(tuned: System) -> None:
    await restart_executors(tuned, RELAYGRAPH_ACK_WAIT="3")

    async def updated() -> float:
        nc = await nats.connect(tuned.nats.url)
        try:
            info = await nc.jetstream().consumer_info("TUNED_RUNS", "tuned-executors")
        finally:
            await nc.close()
        return float(info.config.ack_wait)

    deadline = time.monotonic() + 30
    while await updated() != 3.0:
        assert time.monotonic() < deadline, "the consumer kept its old ack_wait"
        await asyncio.sleep(0.2)


async def test_state_reads_wait_for_an_executor_up_to_the_query_timeout(
    tuned: System, c: Any
) -> None:
    tid = (await c.threads.create())["thread_id"]
    await c.runs.wait(tid, "agent", input={"some_text": "x"})
    for svc in [s for s in tuned.services if s.name.startswith("executor")]:
        svc.stop()
    async with httpx.AsyncClient(base_url=tuned.url, timeout=30) as http:
        started = time.monotonic()
        r = await http.get(f"/threads/{tid}/state")
        took = time.monotonic() - started
    assert r.status_code == 503
    assert "within 1.5s" in r.json()["detail"]
    assert 1.4 <= took < 5


def test_host_and_port_from_the_environment(tmp_path: Path, tuned: System) -> None:
    port = free_port()
    env = {**tuned.env, "RELAYGRAPH_HOST": "127.0.0.2", "RELAYGRAPH_PORT": str(port)}
    gateway = Service(
        "gateway-env", ["gateway", "--config", str(tuned.config)], env, tmp_path / "gw.log"
    ).start()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                assert httpx.get(f"http://127.0.0.2:{port}/ok", timeout=1).json() == {"ok": True}
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, (tmp_path / "gw.log").read_text()
                time.sleep(0.1)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/ok", timeout=1)
    finally:
        gateway.stop()
