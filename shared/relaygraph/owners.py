"""Which executor owns a thread (the one that ran it last), and whether it
lives: each executor refreshes a liveness key with a TTL while it runs."""

from __future__ import annotations

from typing import cast

from relaygraph.keys import Keys
from relaygraph.redis_client import RedisClient


class Owners:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def heartbeat(self, executor_id: str, ttl: float) -> None:
        await self.redis.set(self.keys.executor(executor_id), b"1", px=int(ttl * 1000))

    async def alive(self, executor_id: str) -> bool:
        return bool(await self.redis.exists(self.keys.executor(executor_id)))

    async def forget(self, executor_id: str) -> None:
        await self.redis.delete(self.keys.executor(executor_id))

    async def of_thread(self, thread_id: str) -> str | None:
        owner = await self.redis.hget(self.keys.thread(thread_id), "owner")
        return cast(bytes, owner).decode() if owner else None
