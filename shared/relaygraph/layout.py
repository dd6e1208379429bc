"""The layout of relaygraph's records in Redis carries a version, and
:func:`setup` brings an older one up to date, one migration at a time (as
langgraph's Postgres saver applies its ``MIGRATIONS``).

The gateway and the executors call :func:`setup` at start. Migrations are
idempotent and run under a lock, so services starting together migrate once; a
record layout changes only together with a migration here. Records written by
a newer relaygraph than this one are refused (:class:`NewerLayout`): this code
cannot know what the newer layout moved.

The reviewer only reads the threads' records (``status``, ``outbox_run``,
``values``), which no migration has changed, and may use a Redis of its own:
it calls :func:`check`, which refuses a newer layout but writes nothing (no
layout version, no shard count it could pin for the other services).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import cast

import msgspec

from relaygraph.errors import InvalidInput
from relaygraph.keys import Keys
from relaygraph.lua import Lua, Script
from relaygraph.pipelining import Direct
from relaygraph.redis_client import RedisClient

log = logging.getLogger("relaygraph.layout")

Migration = Callable[[RedisClient, Keys], Awaitable[int]]
"""Brings the records one version up; returns how many it changed."""


async def _queued_requests(redis: RedisClient, keys: Keys) -> int:
    """v2: a queued run's request is also kept in its thread's QUEUED hash, so
    that handing a thread on reads only the thread's own keys."""
    changed = 0
    async for raw in redis.scan_iter(match=keys.thread_queue("*"), count=500):
        queue_key = raw.decode()
        thread_id = queue_key.split("{", 1)[1].rsplit("}", 1)[0]
        for run_id in await redis.lrange(queue_key, 0, -1):
            rid = cast(bytes, run_id).decode()
            request = await redis.hget(keys.run(thread_id, rid), "request")
            if request is not None:
                changed += await redis.hsetnx(keys.thread_queued(thread_id), rid, request)
    return changed


async def _sharded_indexes(redis: RedisClient, keys: Keys) -> int:
    """v3: each index that spans threads is split into ``keys.shards`` keys
    (``relaygraph.keys``), so that on Redis Cluster its traffic spreads."""
    p = keys.prefix

    def leases(member: str) -> str:
        return keys.leases(member.partition("/")[0])

    def store_namespaces(member: str) -> str:
        return keys.store_namespaces(tuple(member.split("\x00")))

    def store_expiry(member: str) -> str:
        return keys.store_expiry(tuple(msgspec.json.decode(member)[0]))

    moves: list[tuple[str, Callable[[str], str]]] = [
        (f"{p}:leases", leases),
        (f"{p}:threads", keys.threads_index),
        (f"{p}:threads:expiry", keys.threads_expiry),
        (f"{p}:store:namespaces", store_namespaces),
        (f"{p}:store:expiry", store_expiry),
    ]
    moved = 0
    for old, shard_of in moves:
        while batch := cast(
            list[tuple[bytes, float]], await redis.zrange(old, 0, 499, withscores=True)
        ):
            for raw, score in batch:
                member = raw.decode()
                await redis.zadd(shard_of(member), {member: score}, nx=True)
            await redis.zrem(old, *[raw for raw, _ in batch])
            moved += len(batch)
    return moved


_EPOCH_INTO_THREAD = Lua(
    "epoch_into_thread",
    keys=("EPOCH", "THREAD"),
    args=(),
    body=r"""
-- The higher epoch wins; a thread that is gone gets no record back.
local old = redis.call('GET', EPOCH)
if old and redis.call('EXISTS', THREAD) == 1 then
  local cur = tonumber(redis.call('HGET', THREAD, 'epoch') or '0')
  if tonumber(old) > cur then redis.call('HSET', THREAD, 'epoch', old) end
end
redis.call('DEL', EPOCH)
return 1
""",
)


async def _epoch_in_thread(redis: RedisClient, keys: Keys) -> int:
    """v4: a thread's fencing epoch is the ``epoch`` field of its record, not
    a key of its own (a claim then writes one key less, a finish reads one
    less)."""
    script = Script(redis, _EPOCH_INTO_THREAD)
    trips = Direct(redis)
    moved = 0
    async for raw in redis.scan_iter(match=f"{keys.prefix}:thread:*:epoch", count=500):
        name = raw.decode()
        thread_id = name[len(f"{keys.prefix}:thread:{{") : -len("}:epoch")]
        await trips.run([script.step(EPOCH=name, THREAD=keys.thread(thread_id))])
        moved += 1
    return moved


async def _no_run_index(redis: RedisClient, keys: Keys) -> int:
    """v4 too: a run's checkpoints are found through its thread, so the sets
    of threads per run (``cp:run:{<run_id>}:threads``) go."""
    gone = 0
    async for raw in redis.scan_iter(match=f"{keys.prefix}:cp:run:*:threads", count=500):
        gone += int(await redis.unlink(raw))
    return gone


async def _layout_4(redis: RedisClient, keys: Keys) -> int:
    return await _epoch_in_thread(redis, keys) + await _no_run_index(redis, keys)


MIGRATIONS: list[tuple[int, str, Migration]] = [
    (2, "queued runs' requests in the thread's QUEUED hash", _queued_requests),
    (3, "indexes that span threads split into shards", _sharded_indexes),
    (4, "threads' fencing epochs in their records; no index of threads by run", _layout_4),
]
LAYOUT_VERSION = MIGRATIONS[-1][0]
LOCK_SECONDS = 300


async def version(redis: RedisClient, keys: Keys) -> int:
    """The layout the records are in: 1 when relaygraph wrote records before
    layouts were versioned, the current one for an empty database."""
    raw = await redis.get(keys.layout)
    if raw is not None:
        return int(raw)
    async for key in redis.scan_iter(match=f"{keys.prefix}:*", count=100):
        if not key.decode().startswith(keys.layout):  # the layout's own keys
            return 1
    return LAYOUT_VERSION


class NewerLayout(InvalidInput):
    """The records were written by a newer relaygraph: a service refuses to
    start on them rather than misread or overwrite what it does not know."""

    def __init__(self, found: int, known: int, prefix: str) -> None:
        super().__init__(
            f"the records in Redis (key prefix {prefix!r}) were written by a newer "
            f"relaygraph: their layout is version {found}, this relaygraph knows up to "
            f"version {known}; run a relaygraph release that knows layout {found}"
        )
        self.found = found
        self.known = known


_RELEASE_LOCK = Lua(
    "layout_release_lock",
    keys=("LOCK",),
    args=("token",),
    body=r"""
-- Replies 1 when the lock was this caller's and is gone, 0 when it had
-- expired (a migration ran past LOCK_SECONDS) and is another's now, or no one's.
if redis.call('GET', LOCK) ~= token then return 0 end
redis.call('DEL', LOCK)
return 1
""",
)


async def check(redis: RedisClient, keys: Keys) -> int:
    """The records' layout version, read only; :class:`NewerLayout` when this
    code does not know it. An older one is left as it is (for :func:`setup`)."""
    current = await version(redis, keys)
    if current > LAYOUT_VERSION:
        raise NewerLayout(current, LAYOUT_VERSION, keys.prefix)
    return current


async def setup(redis: RedisClient, keys: Keys) -> None:
    """Migrate the records to :data:`LAYOUT_VERSION` (a no-op when they are);
    refuse a shard count other than the one the records were written with,
    and records of a newer layout (:class:`NewerLayout`, before any write)."""
    current = await check(redis, keys)
    await redis.set(keys.index_shards, keys.shards, nx=True)
    written = int(await redis.get(keys.index_shards) or keys.shards)
    if written != keys.shards:
        raise InvalidInput(
            f"REDIS_INDEX_SHARDS is {keys.shards}, but the records in Redis were written "
            f"with {written} shards: set REDIS_INDEX_SHARDS={written}"
        )
    if current == LAYOUT_VERSION:
        await redis.set(keys.layout, LAYOUT_VERSION, nx=True)
        return
    lock, token = keys.layout + ":lock", uuid.uuid4().hex
    while True:  # another service may be migrating: then nothing is left to do
        if await redis.set(lock, token, nx=True, ex=LOCK_SECONDS):
            break
        await asyncio.sleep(0.2)
    try:
        await _migrate(redis, keys, await check(redis, keys))
    finally:
        # Our lock only: past LOCK_SECONDS it expired, and another service
        # waiting for it may hold it now; deleting that would let a third in.
        release = Script(redis, _RELEASE_LOCK).step(LOCK=lock, token=token)
        (released,) = await Direct(redis).run([release])
        if not released:
            log.warning("the Redis layout lock expired during the migration (%ds)", LOCK_SECONDS)


async def _migrate(redis: RedisClient, keys: Keys, current: int) -> None:
    for target, what, migrate in MIGRATIONS:
        if current < target:
            changed = await migrate(redis, keys)
            await redis.set(keys.layout, target)
            log.info("Redis layout %d -> %d: %s (%d records)", current, target, what, changed)
            current = target
