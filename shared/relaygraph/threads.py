"""Thread records in Redis: created, read, searched, updated and deleted here.

Values are stored as JSON text produced by the executor and handed to the
gateway as raw bytes: the gateway never decodes a user's state to serve it.
What runs on a thread (its queue, its runs, its active run) is the runs
package's (``relaygraph.runs``).
"""

from __future__ import annotations

import time
from typing import Any, cast

import msgspec
from redis.asyncio import Redis

from relaygraph.errors import Conflict, NotFound
from relaygraph.runs import Runs, now_iso
from relaygraph.subjects import Keys

STATELESS_RESULT_TTL = 600.0
"""Seconds a stateless run's record outlives its thread: a waiter whose closing
event was lost reads the outcome there."""

_CREATE = """
-- KEYS: thread ; ARGV: thread_id, now, metadata_json, if_exists
-- Replies: created | exists | conflict
if redis.call('EXISTS', KEYS[1]) == 1 then
  if ARGV[4] == 'do_nothing' then return 'exists' end
  return 'conflict'
end
redis.call('HSET', KEYS[1], 'thread_id', ARGV[1], 'created_at', ARGV[2], 'updated_at', ARGV[2],
  'metadata', ARGV[3], 'status', 'idle', 'values', 'null', 'interrupts', '{}')
return 'created'
"""


class Threads:
    def __init__(self, redis: Redis, keys: Keys, runs: Runs) -> None:
        self.redis = redis
        self.keys = keys
        self.runs = runs
        self._create = redis.register_script(_CREATE)

    async def create(
        self, thread_id: str, metadata: dict[str, Any], if_exists: str = "raise"
    ) -> dict[str, bytes]:
        key = self.keys.thread(thread_id)
        # One round trip: the script, the search index (one key outside the
        # thread's slot; NX keeps an existing thread's place), and the row.
        res, _, raw = await self.runs.trips.run(
            [
                (
                    self._create,
                    [key],
                    [thread_id, now_iso(), msgspec.json.encode(metadata), if_exists],
                ),
                ("ZADD", self.keys.threads_index, "NX", time.time(), thread_id),
                ("HGETALL", key),
            ],
        )
        if res == b"conflict":
            raise Conflict(f"Thread {thread_id} already exists")
        if not raw:  # the script was reloaded, so it ran after the read
            return await self.get(thread_id)
        return {k.decode(): v for k, v in raw.items()}

    async def get(self, thread_id: str) -> dict[str, bytes]:
        raw = cast(dict[bytes, bytes], await self.redis.hgetall(self.keys.thread(thread_id)))
        if not raw:
            raise NotFound(f"Thread {thread_id} not found")
        return {k.decode(): v for k, v in raw.items()}

    async def metadata_of(self, thread_id: str) -> dict[str, Any]:
        """A thread's metadata as the API shows it (with the graph and the
        assistant of its runs); ``{}`` for no such thread."""
        ((meta, graph_id, assistant_id),) = await self.runs.trips.run(
            [("HMGET", self.keys.thread(thread_id), "metadata", "graph_id", "assistant_id")]
        )
        found: dict[str, Any] = msgspec.json.decode(meta) if meta else {}
        if graph_id:
            found.setdefault("graph_id", graph_id.decode())
        if assistant_id:
            found.setdefault("assistant_id", assistant_id.decode())
        return found

    async def update_metadata(self, thread_id: str, metadata: dict[str, Any]) -> None:
        current = await self.get(thread_id)
        merged = {**msgspec.json.decode(current.get("metadata", b"{}")), **metadata}
        await self.redis.hset(
            self.keys.thread(thread_id),
            mapping={
                "metadata": msgspec.json.encode(merged),
                "updated_at": now_iso(),
            },
        )

    async def set_values(
        self,
        thread_id: str,
        values: bytes,
        status: str | None,
        interrupts: bytes | None = None,
        pause_checkpoint: str = "",
    ) -> None:
        """The thread's state after ``update_state`` (no run active)."""
        mapping: dict[str, bytes | str] = {"values": values, "updated_at": now_iso()}
        if status:
            mapping["status"] = status
        if status == "interrupted":
            mapping["pause_checkpoint"] = pause_checkpoint
        if interrupts is not None:
            mapping["interrupts"] = interrupts
        await self.redis.hset(self.keys.thread(thread_id), mapping=mapping)  # type: ignore[arg-type]

    async def search(self, offset: int, limit: int) -> list[dict[str, bytes]]:
        """Threads newest first; filters are applied by the caller."""
        ids = await self.redis.zrevrange(self.keys.threads_index, offset, offset + limit - 1)
        if not ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for tid in ids:
            pipe.hgetall(self.keys.thread(tid.decode()))
        rows = await pipe.execute()
        return [{k.decode(): v for k, v in row.items()} for row in rows if row]

    async def count(self) -> int:
        return int(await self.redis.zcard(self.keys.threads_index))

    async def delete(
        self, thread_id: str, keep_run: str | None = None, keep_for: float = 0.0
    ) -> None:
        """Delete the thread and its runs; ``keep_run``: that run's record stays
        ``keep_for`` seconds more (a stateless run's outcome, for a waiter
        whose end event was lost)."""
        k = self.keys
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(k.thread(thread_id), *await self.runs.keys_of_thread(thread_id, keep_run))
        if keep_run is not None:
            pipe.expire(k.run(thread_id, keep_run), max(1, int(keep_for)))
        pipe.zrem(k.threads_index, thread_id)
        removed = (await pipe.execute())[0]
        if not removed:
            raise NotFound(f"Thread {thread_id} not found")
