"""Indexes split into shards answer as one sorted set would; older records move
into the shards once; a shard count other than the records' is refused; and on
Redis Cluster a request whose steps span slots keeps its order and stops at
its first failed piece."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
import redis.asyncio

from relaygraph import layout
from relaygraph.errors import InvalidInput
from relaygraph.keys import Keys
from relaygraph.pipelining import Direct, execute
from relaygraph.sharded import ShardedIndex
from relaygraph_dev.valkey_cluster import ValkeyCluster

pytestmark = pytest.mark.integration


@pytest.fixture
def keys() -> Keys:
    return Keys(f"t{uuid4().hex[:8]}", shards=5)


async def test_shards_answer_as_one_sorted_set(rds: redis.asyncio.Redis, keys: Keys) -> None:
    rng = random.Random(7)
    whole = f"{keys.prefix}:whole"
    members = {f"thread-{i}": float(rng.randrange(50)) for i in range(230)}  # ties too
    for member, score in members.items():
        await rds.zadd(keys.threads_index(member), {member: score})
        await rds.zadd(whole, {member: score})
    index = ShardedIndex(Direct(rds), keys.threads_index_shards())
    assert len({keys.shard_of(m) for m in members}) == 5

    async def reference(start: int, stop: int, rev: bool) -> list[str]:
        raw = await rds.zrange(whole, start, stop, desc=rev, withscores=True)
        # one sorted set orders ties by member; so does the merge
        return [m.decode() for m, _ in raw]

    assert await index.count() == 230
    for offset, limit in [(0, 10), (17, 40), (200, 50), (230, 5)]:
        for rev in (False, True):
            want = await reference(offset, offset + limit - 1, rev)
            assert await index.page(offset, limit, newest_first=rev) == want
    for rev in (False, True):
        seen = [m async for batch in index.batches(size=16, newest_first=rev) for m in batch]
        assert seen == await reference(0, -1, rev)
    due = await index.due(10, limit=7)
    want = await rds.zrangebyscore(whole, "-inf", 10, start=0, num=7, withscores=True)
    assert [(s, m) for s, m in due] == [(s, m) for m, s in want]


async def test_namespaces_merge_in_lexicographic_order(
    rds: redis.asyncio.Redis, keys: Keys
) -> None:
    names = [("a",), ("a", "b"), ("b", "x"), ("a", "c", "d"), ("z",)]
    for ns in names:
        await rds.zadd(keys.store_namespaces(ns), {"\x00".join(ns): 0})
    index = ShardedIndex(Direct(rds), keys.store_namespaces_shards())
    everything = await index.lex_range("-", "+")
    assert everything == sorted("\x00".join(ns).encode() for ns in names)
    assert await index.lex_range("[a", "(a\x01") == [b"a", b"a\x00b", b"a\x00c\x00d"]


async def test_older_single_key_indexes_move_into_shards_once(
    rds: redis.asyncio.Redis, keys: Keys
) -> None:
    p = keys.prefix
    await rds.set(keys.layout, 2)
    await rds.zadd(f"{p}:leases", {"t1/r1": 5, "t2/r2": 6})
    await rds.zadd(f"{p}:threads", {f"t{i}": i for i in range(700)})  # more than one batch
    await rds.zadd(f"{p}:threads:expiry", {"t3": 9})
    await rds.zadd(f"{p}:store:namespaces", {"a\x00b": 0})
    await rds.zadd(f"{p}:store:expiry", {'[["a","b"],"k"]': 11})
    await layout.setup(rds, keys)
    await layout.setup(rds, keys)  # once only
    assert await layout.version(rds, keys) == layout.LAYOUT_VERSION
    for old in ("leases", "threads", "threads:expiry", "store:namespaces", "store:expiry"):
        assert not await rds.exists(f"{p}:{old}")
    assert await rds.zscore(keys.leases("t1"), "t1/r1") == 5
    assert await ShardedIndex(Direct(rds), keys.threads_index_shards()).count() == 700
    assert await rds.zscore(keys.threads_index("t42"), "t42") == 42
    assert await rds.zscore(keys.threads_expiry("t3"), "t3") == 9
    assert await rds.zscore(keys.store_namespaces(("a", "b")), "a\x00b") == 0
    assert await rds.zscore(keys.store_expiry(("a", "b")), '[["a","b"],"k"]') == 11


async def test_a_different_shard_count_is_refused(rds: redis.asyncio.Redis, keys: Keys) -> None:
    await layout.setup(rds, keys)
    with pytest.raises(InvalidInput, match="REDIS_INDEX_SHARDS=5"):
        await layout.setup(rds, Keys(keys.prefix, shards=8))


@pytest.fixture
async def crc(redis_cluster: ValkeyCluster) -> AsyncIterator[redis.asyncio.RedisCluster]:
    client = redis.asyncio.RedisCluster.from_url(redis_cluster.url)
    try:
        yield client
    finally:
        await client.aclose()


async def test_cluster_requests_keep_their_order_across_slots(
    crc: redis.asyncio.RedisCluster, keys: Keys
) -> None:
    script = crc.register_script("return redis.call('GET', KEYS[1])")
    guard, guarded = keys.leases("t-a"), keys.run("t-a", "r1")
    assert crc.keyslot(guard) != crc.keyslot(guarded)
    ok = [("SET", guard, "written first"), (script, [guard], []), ("SET", guarded, "x")]
    # A guard whose command fails: the steps after it, on other slots, are not sent.
    failing = [("HSET", guard, "f", "v"), ("SET", keys.run("t-b", "r2"), "must not be set")]
    replies = await execute(crc, [ok, failing])
    assert replies[0] == [True, b"written first", True]
    assert all(isinstance(r, redis.exceptions.ResponseError) for r in replies[1])
    assert not await crc.exists(keys.run("t-b", "r2"))


async def test_cluster_reads_of_many_slots_go_out_together(
    crc: redis.asyncio.RedisCluster, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    from relaygraph import pipelining

    sent: list[int] = []
    real = pipelining._send

    async def counting(client: object, steps: list) -> list:  # type: ignore[type-arg]
        sent.append(len(steps))
        return await real(client, steps)  # type: ignore[arg-type]

    monkeypatch.setattr(pipelining, "_send", counting)
    index = ShardedIndex(Direct(crc), keys.leases_shards())
    assert await index.count() == 0
    assert sent == [keys.shards]  # one pipeline, not one per shard
    sent.clear()
    await execute(crc, [[("SET", keys.leases("a"), 1), ("SET", keys.run("a", "r"), 1)]])
    assert sent == [1, 1]  # a write, then what follows it on another slot
