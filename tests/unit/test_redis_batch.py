"""One round trip for several commands and a script (``AutoPipeline``, and the
savers' scripts): the server runs them in order, and a script it forgot (a
restart, SCRIPT FLUSH) is loaded and run, never lost. Against a real
valkey-server."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest
import redis
import redis.asyncio
from langgraph.checkpoint.base import empty_checkpoint

from relaygraph import pipelining
from relaygraph.checkpoint import AsyncRedisSaver, RedisSaver
from relaygraph.keys import Keys
from relaygraph.pipelining import AutoPipeline, Direct
from relaygraph.runs.watch import UNWATCH_DELAY, WatchIndex
from relaygraph_dev.servers import ServerProcess


async def test_commands_then_script_in_order(rds: redis.asyncio.Redis) -> None:
    key = f"k:{uuid4().hex}"
    script = rds.register_script("return redis.call('GET', KEYS[1])")
    await rds.script_flush()  # the server does not know the script yet
    trips = AutoPipeline(rds)
    results = await trips.run([("SET", key, "before"), (script, [key], []), ("SET", key, "after")])
    # Loaded and run again alone, so it ran after the command that followed it.
    assert results[0] is True and results[2] is True
    assert results[1] == b"after"
    # Known now: run in its place.
    results = await trips.run([("SET", key, "one"), (script, [key], []), ("SET", key, "two")])
    assert results[1] == b"one"
    assert await rds.get(key) == b"two"


async def test_a_failed_command_raises(rds: redis.asyncio.Redis) -> None:
    key = f"k:{uuid4().hex}"
    await rds.set(key, "text")
    for trips in (AutoPipeline(rds), Direct(rds)):
        with pytest.raises(redis.exceptions.ResponseError):
            await trips.run([("INCR", key)])


def _put_args(run_id: str) -> tuple[dict, dict, dict, dict]:
    config = {"configurable": {"thread_id": f"t-{uuid4().hex}", "checkpoint_ns": ""}}
    checkpoint = empty_checkpoint()
    checkpoint["channel_values"] = {"x": 1}
    checkpoint["channel_versions"] = {"x": "00000000000000000000000000000001.0"}
    metadata = {"run_id": run_id, "source": "input", "step": -1}
    return config, checkpoint, metadata, dict(checkpoint["channel_versions"])


async def test_async_saver_put_after_script_flush(
    rds: redis.asyncio.Redis,
) -> None:
    saver = AsyncRedisSaver(rds, key_prefix=f"p{uuid4().hex[:6]}")
    run_id = str(uuid4())
    config, checkpoint, metadata, versions = _put_args(run_id)
    await rds.script_flush()
    saved = await saver.aput(config, checkpoint, metadata, versions)
    got = await saver.aget_tuple(saved)
    assert got is not None and got.checkpoint["channel_values"] == {"x": 1}
    await rds.script_flush()
    await saver.adelete_for_runs([run_id])  # found by a scan of the threads
    assert await saver.aget_tuple(config) is None


def test_sync_saver_put_after_script_flush(valkey: ServerProcess) -> None:
    client = redis.Redis.from_url(valkey.url)
    try:
        saver = RedisSaver(client, key_prefix=f"p{uuid4().hex[:6]}")
        run_id = str(uuid4())
        config, checkpoint, metadata, versions = _put_args(run_id)
        client.script_flush()
        saved = saver.put(config, checkpoint, metadata, versions)
        assert saver.get_tuple(saved) is not None
        client.script_flush()
        saver.delete_for_runs([run_id], thread_id=config["configurable"]["thread_id"])
        assert saver.get_tuple(config) is None
    finally:
        client.close()


async def test_ended_runs_are_unwatched_together(rds: redis.asyncio.Redis) -> None:
    keys = Keys(f"p{uuid4().hex[:6]}")
    watching = WatchIndex(rds, keys, AutoPipeline(rds))
    runs = [(f"t{i % 2}", f"r{i}") for i in range(4)]  # two runs of each thread
    for tid, rid in runs:
        await watching.watch(tid, rid, 0)
    await rds.config_resetstat()
    for tid, rid in runs:
        watching.unwatch_soon(tid, rid)
    watched = {keys.leases(tid) for tid, _ in runs}
    assert sum([await rds.zcard(k) for k in watched]) == 4  # not yet: batched
    await asyncio.sleep(UNWATCH_DELAY * 5)
    assert sum([await rds.zcard(k) for k in watched]) == 0
    stats = await rds.info("commandstats")
    assert stats["cmdstat_zrem"]["calls"] <= len(watched)  # one per shard


async def test_concurrent_requests_share_a_pipeline_and_keep_their_errors(
    rds: redis.asyncio.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[int] = []
    real = pipelining._pipeline

    async def counting(client: object, steps: list) -> list:
        sent.append(len(steps))
        return await real(client, steps)  # type: ignore[arg-type]

    monkeypatch.setattr(pipelining, "_pipeline", counting)
    base = f"k:{uuid4().hex}"
    await rds.set(f"{base}:text", "not a number")

    trips = AutoPipeline(rds)

    async def one(i: int) -> list:
        return await trips.run([("INCR", f"{base}:n"), ("SET", f"{base}:{i}", i)])

    async def failing() -> list:
        return await trips.run([("INCR", f"{base}:text")])

    results = await asyncio.gather(*(one(i) for i in range(50)), failing(), return_exceptions=True)
    assert sent == [101]  # 51 requests, 101 steps, one round trip
    assert isinstance(results[-1], redis.exceptions.ResponseError)
    counters = sorted(r[0] for r in results[:-1])  # type: ignore[index]
    assert counters == list(range(1, 51))  # each request's own replies, none lost
    assert await rds.get(f"{base}:49") == b"49"
