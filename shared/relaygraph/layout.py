"""The layout of relaygraph's records in Redis carries a version, and
:func:`setup` brings an older one up to date, one migration at a time (as
langgraph's Postgres saver applies its ``MIGRATIONS``).

Every service calls :func:`setup` at start. Migrations are idempotent and run
under a lock, so services starting together migrate once; a record layout
changes only together with a migration here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from relaygraph.subjects import Keys

log = logging.getLogger("relaygraph.layout")

Migration = Callable[[Redis, Keys], Awaitable[int]]
"""Brings the records one version up; returns how many it changed."""


async def _queued_requests(redis: Redis, keys: Keys) -> int:
    """v2: a queued run's request is also kept in its thread's QUEUED hash, so
    that handing a thread on reads only the thread's own keys."""
    changed = 0
    async for raw in redis.scan_iter(match=keys.thread_queue("*"), count=500):
        queue_key = raw.decode()
        thread_id = queue_key.split("{", 1)[1].rsplit("}", 1)[0]
        for run_id in await redis.lrange(queue_key, 0, -1):
            rid = run_id.decode()
            request = await redis.hget(keys.run(thread_id, rid), "request")
            if request is not None:
                changed += await redis.hsetnx(keys.thread_queued(thread_id), rid, request)
    return changed


MIGRATIONS: list[tuple[int, str, Migration]] = [
    (2, "queued runs' requests in the thread's QUEUED hash", _queued_requests),
]
LAYOUT_VERSION = MIGRATIONS[-1][0]
LOCK_SECONDS = 300


async def version(redis: Redis, keys: Keys) -> int:
    """The layout the records are in: 1 when relaygraph wrote records before
    layouts were versioned, the current one for an empty database."""
    raw = await redis.get(keys.layout)
    if raw is not None:
        return int(raw)
    async for _ in redis.scan_iter(match=f"{keys.prefix}:*", count=100):
        return 1
    return LAYOUT_VERSION


async def setup(redis: Redis, keys: Keys) -> None:
    """Migrate the records to :data:`LAYOUT_VERSION` (a no-op when they are)."""
    current = await version(redis, keys)
    if current >= LAYOUT_VERSION:
        if current == LAYOUT_VERSION:
            await redis.set(keys.layout, LAYOUT_VERSION, nx=True)
        return
    lock = keys.layout + ":lock"
    while True:  # another service may be migrating: then nothing is left to do
        if await redis.set(lock, b"1", nx=True, ex=LOCK_SECONDS):
            break
        await asyncio.sleep(0.2)
    try:
        current = await version(redis, keys)
        for target, what, migrate in MIGRATIONS:
            if current < target:
                changed = await migrate(redis, keys)
                await redis.set(keys.layout, target)
                log.info("Redis layout %d -> %d: %s (%d records)", current, target, what, changed)
                current = target
    finally:
        await redis.delete(lock)
