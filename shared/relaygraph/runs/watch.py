"""The watch index: every run that must still end, scored by the time (ms) the
sweeper should look at it (``Keys.leases``, in shards by thread).

It is outside the threads' hash slots, so it is written by separate
commands that go in the same round trip as the transition they guard, and
always before it (an entry too many is dropped by the sweeper; one too few
could strand a run). A run is watched from its creation until it ends; ended
runs are unwatched in batches soon after their end (one ZREM per shard).
"""

from __future__ import annotations

import asyncio
import logging

from relaygraph.keys import Keys
from relaygraph.pipelining import RoundTrips, Step
from relaygraph.redis_client import RedisClient
from relaygraph.sharded import ShardedIndex

log = logging.getLogger("relaygraph.runs")
UNWATCH_DELAY = 0.01
"""Seconds ended runs wait to be unwatched together, in one round trip."""


def member(thread_id: str, run_id: str) -> str:
    return f"{thread_id}/{run_id}"


class WatchIndex:
    def __init__(self, redis: RedisClient, keys: Keys, trips: RoundTrips) -> None:
        self.redis = redis
        self.keys = keys
        self.trips = trips
        self._shards = ShardedIndex(trips, keys.leases_shards())
        self._ended: dict[str, list[str]] = {}  # shard key -> members to drop
        self._flusher: asyncio.Task[None] | None = None

    def watch_step(self, thread_id: str, run_id: str, deadline_ms: int) -> Step:
        """Make the sweeper look at this run by ``deadline_ms``, as a step."""
        return ("ZADD", self.keys.leases(thread_id), deadline_ms, member(thread_id, run_id))

    async def watch(self, thread_id: str, run_id: str, deadline_ms: int) -> None:
        await self.trips.run([self.watch_step(thread_id, run_id, deadline_ms)])

    async def unwatch(self, thread_id: str, run_id: str) -> None:
        await self.trips.run([("ZREM", self.keys.leases(thread_id), member(thread_id, run_id))])

    def unwatch_soon(self, thread_id: str, run_id: str) -> None:
        """:meth:`unwatch`, batched with the other runs that end within
        :data:`UNWATCH_DELAY`: one round trip for all, none on the run's path.
        Nothing depends on it being prompt: until it is done the sweeper drops
        the ended run itself (or publishes its interrupt event again, which
        JetStream drops as a duplicate)."""
        self._ended.setdefault(self.keys.leases(thread_id), []).append(member(thread_id, run_id))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(UNWATCH_DELAY)
        await self.flush()

    async def flush(self) -> None:
        """Send what :meth:`unwatch_soon` collected (also on a graceful stop)."""
        ended, self._ended = self._ended, {}
        if not ended:
            return
        steps: list[Step] = [("ZREM", key, *names) for key, names in ended.items()]
        try:
            await self.trips.run(steps)
        except Exception as exc:  # Redis away: the sweeper drops them later
            log.warning("unwatching %d ended run(s) failed: %s", len(steps), exc)

    async def due(self, now_ms: int, limit: int) -> list[tuple[str, str]]:
        """(thread id, run id) of the runs whose time came, the longest due
        first, at most ``limit`` of them (from every shard)."""
        out = []
        for _, item in await self._shards.due(now_ms, limit):
            thread_id, _, run_id = item.decode().partition("/")
            out.append((thread_id, run_id))
        return out

    def keep_step(self, thread_id: str, run_id: str, until_ms: int | None) -> Step:
        """Look again at ``until_ms``, or (``None``) stop watching, as a step."""
        name = member(thread_id, run_id)
        if until_ms is None:
            return ("ZREM", self.keys.leases(thread_id), name)
        return ("ZADD", self.keys.leases(thread_id), until_ms, name)
