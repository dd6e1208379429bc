"""Thread records in Redis: created, copied, read, searched, updated, expired
and deleted here.

Values are stored as JSON text produced by the executor and handed to the
gateway as raw bytes: the gateway never decodes a user's state to serve it.
What runs on a thread (its queue, its runs, its active run) is the runs
package's (``relaygraph.runs``).

A thread with a TTL (its own, or ``checkpointer.ttl.default_ttl``) is in the
expiry set, scored by when the sweeper should look at it next: it expires
``ttl`` minutes after its last update, and never while a run is on it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

import msgspec

from relaygraph.config import ThreadTTL
from relaygraph.errors import Conflict, NotFound
from relaygraph.keys import Keys
from relaygraph.lua import Lua, Script
from relaygraph.pipelining import Step
from relaygraph.redis_client import RedisClient
from relaygraph.runs import FRESH_THREAD_FIELDS, ForgetOutcome, Runs, now_iso
from relaygraph.sharded import ShardedIndex

STATELESS_RESULT_TTL = 600.0
"""Seconds a stateless run's record outlives its thread: a waiter whose closing
event was lost reads the outcome there."""

_CREATE = Lua(
    "create_thread",
    keys=("THREAD",),
    args=(
        "thread_id",
        "now",
        "metadata",
        "if_exists",
        "graph_id",
        "ttl_strategy",
        "ttl_minutes",
        "fresh",
    ),
    variadic=True,
    body=r"""
-- fresh '1': an id just drawn at random, which cannot exist. The ARGV after
-- the named ones: the run-side fields of a fresh thread (``relaygraph.runs``).
-- Replies {outcome, row as HGETALL}: created | exists (if_exists do_nothing)
-- | conflict (no row).
if fresh ~= '1' and redis.call('EXISTS', THREAD) == 1 then
  if if_exists == 'do_nothing' then return {'exists', redis.call('HGETALL', THREAD)} end
  return {'conflict', {}}
end
local row = {'thread_id', thread_id, 'created_at', now, 'updated_at', now,
  'state_updated_at', now, 'metadata', metadata, 'status', 'idle', 'values', 'null',
  'interrupts', '{}'}
for i = NARGS + 1, #ARGV do row[#row + 1] = ARGV[i] end
if graph_id ~= '' then row[#row + 1] = 'graph_id'; row[#row + 1] = graph_id end
if ttl_minutes ~= '' then
  row[#row + 1] = 'ttl_strategy'; row[#row + 1] = ttl_strategy
  row[#row + 1] = 'ttl_minutes'; row[#row + 1] = ttl_minutes
end
redis.call('HSET', THREAD, unpack(row))
return {'created', redis.call('HGETALL', THREAD)}
""",
)


class Made(StrEnum):
    """``Threads.create``: what the script did."""

    CREATED = "created"
    EXISTS = "exists"
    CONFLICT = "conflict"


# What a copy takes from its source (the checkpoints are the saver's to copy).
_COPIED = ("metadata", "graph_id", "assistant_id", "values", "interrupts", "status")


@dataclass(frozen=True, slots=True)
class TTL:
    strategy: str
    minutes: float


TTL_FIELDS = ("ttl_strategy", "ttl_minutes")


def ttl_of(row: dict[str, bytes], default: ThreadTTL) -> TTL | None:
    """A thread's TTL: its own (``TTL_FIELDS`` of its record), else the
    configured default; ``None`` when it has neither."""
    own = row.get("ttl_minutes")
    minutes = float(own) if own else default.default_ttl
    if minutes is None:
        return None
    return TTL((row.get("ttl_strategy") or default.strategy.encode()).decode(), minutes)


class Threads:
    def __init__(self, redis: RedisClient, keys: Keys, runs: Runs) -> None:
        self.redis = redis
        self.keys = keys
        self.runs = runs
        self._index = ShardedIndex(runs.trips, keys.threads_index_shards())
        self._expiry = ShardedIndex(runs.trips, keys.threads_expiry_shards())
        self._create = Script(redis, _CREATE)

    async def create(
        self,
        thread_id: str,
        metadata: dict[str, Any],
        if_exists: str = "raise",
        *,
        ttl: TTL | None = None,
        expires_in: float | None = None,
        fresh: bool = False,
    ) -> dict[str, bytes]:
        """``ttl``: the thread's own; ``expires_in``: minutes until the
        sweeper looks at it (its own TTL or the default); ``fresh``: the id
        was just drawn at random (uuid4), so nobody else can hold it."""
        key = self.keys.thread(thread_id)
        graph_id = metadata.get("graph_id")
        fresh_fields = [x for kv in FRESH_THREAD_FIELDS.items() for x in kv]
        # One round trip: the script, the search index (outside the thread's
        # slot; NX keeps an existing thread's place), and the row.
        steps: list[Any] = [
            self._create.step(
                fresh_fields,
                THREAD=key,
                thread_id=thread_id,
                now=now_iso(),
                metadata=msgspec.json.encode(metadata),
                if_exists=if_exists,
                graph_id=graph_id if isinstance(graph_id, str) else "",
                ttl_strategy=ttl.strategy if ttl else "",
                ttl_minutes=repr(ttl.minutes) if ttl else "",
                fresh=fresh,
            ),
            ("ZADD", self.keys.threads_index(thread_id), "NX", time.time(), thread_id),
        ]
        if expires_in is not None:
            steps.append(self.expiry_step(thread_id, expires_in, only_new=True))
        word, flat = (await self.runs.trips.run(steps))[0]
        if Made(word.decode()) is Made.CONFLICT:
            raise Conflict(f"Thread with ID {thread_id} already exists")
        return {flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)}

    def expiry_step(self, thread_id: str, minutes: float, only_new: bool = False) -> Any:
        due = int((time.time() + minutes * 60) * 1000)
        flags = ["NX"] if only_new else []
        return ("ZADD", self.keys.threads_expiry(thread_id), *flags, due, thread_id)

    async def copy(self, source_id: str, target_id: str, expires_in: float | None) -> None:
        """A new thread with the source's metadata, graph, values and status
        (a busy source is copied as it was at its last checkpoint: idle)."""
        src = await self.get(source_id)
        now = now_iso()
        row: dict[str, bytes | str] = {k: src[k] for k in _COPIED if k in src}
        if row.get("status") == b"busy":
            row["status"] = src.get("rest_status", b"idle")
        if row.get("status") == b"interrupted" and "pause_checkpoint" in src:
            row["pause_checkpoint"] = src["pause_checkpoint"]
        for field in TTL_FIELDS:
            if field in src:
                row[field] = src[field]
        row |= {"thread_id": target_id, "created_at": now, "updated_at": now}
        row["state_updated_at"] = now
        steps: list[Any] = [
            ("HSET", self.keys.thread(target_id), *[x for kv in row.items() for x in kv]),
            ("ZADD", self.keys.threads_index(target_id), "NX", time.time(), target_id),
        ]
        if expires_in is not None:
            steps.append(self.expiry_step(target_id, expires_in))
        await self.runs.trips.run(steps)

    async def get(self, thread_id: str) -> dict[str, bytes]:
        raw = cast(dict[bytes, bytes], await self.redis.hgetall(self.keys.thread(thread_id)))
        if not raw:
            raise NotFound(f"Thread with ID {thread_id} not found")
        return {k.decode(): v for k, v in raw.items()}

    async def metadata_of(self, thread_id: str) -> dict[str, Any]:
        """A thread's metadata as the API shows it (with the graph and the
        assistant of its runs); ``{}`` for no such thread."""
        return (await self.paused(thread_id, False))[0]

    async def paused(
        self, thread_id: str, with_pause: bool = True
    ) -> tuple[dict[str, Any], Paused | None]:
        """:meth:`metadata_of`, and (``with_pause``) when and in which trace
        the thread last paused (its latest interrupt event, kept as its
        outbox), in the same command."""
        fields = ("metadata", "graph_id", "assistant_id", *(("outbox",) if with_pause else ()))
        ((meta, graph_id, assistant_id, *event),) = await self.runs.trips.run(
            [("HMGET", self.keys.thread(thread_id), *fields)]
        )
        pause = None
        if event and event[0]:
            try:
                pause = msgspec.json.decode(event[0], type=Paused)
            except msgspec.DecodeError:
                pause = None
        return self._metadata(meta, graph_id, assistant_id), pause

    @staticmethod
    def _metadata(
        meta: bytes | None, graph_id: bytes | None, assistant_id: bytes | None
    ) -> dict[str, Any]:
        found: dict[str, Any] = msgspec.json.decode(meta) if meta else {}
        if graph_id:
            found.setdefault("graph_id", graph_id.decode())
        if assistant_id:
            found.setdefault("assistant_id", assistant_id.decode())
        return found

    async def update(
        self,
        thread_id: str,
        metadata: dict[str, Any],
        ttl: TTL | None = None,
    ) -> None:
        """Metadata merged one level deep over the thread's; a ``ttl``
        replaces the thread's own and counts from now."""
        current = await self.get(thread_id)
        merged = {**msgspec.json.decode(current.get("metadata", b"{}")), **metadata}
        mapping: dict[str, Any] = {"metadata": msgspec.json.encode(merged), "updated_at": now_iso()}
        graph_id = merged.get("graph_id")
        if isinstance(graph_id, str) and "graph_id" not in current:
            mapping["graph_id"] = graph_id
        steps: list[Any] = []
        if ttl is not None:
            mapping |= {"ttl_strategy": ttl.strategy, "ttl_minutes": repr(ttl.minutes)}
            steps.append(self.expiry_step(thread_id, ttl.minutes))
        steps.insert(
            0, ("HSET", self.keys.thread(thread_id), *[x for kv in mapping.items() for x in kv])
        )
        await self.runs.trips.run(steps)

    # -- listing -------------------------------------------------------------------
    async def page_ids(self, offset: int, limit: int, oldest_first: bool = False) -> list[str]:
        """Thread ids in order of creation, newest first unless ``oldest_first``."""
        return await self._index.page(offset, limit, newest_first=not oldest_first)

    async def rows(
        self, ids: list[str], fields: tuple[str, ...] | None = None
    ) -> list[dict[str, bytes]]:
        """The records of these threads (only ``fields`` if given), in order;
        threads that do not exist are left out."""
        if not ids:
            return []
        if fields is None:
            raw = await self.runs.trips.run([("HGETALL", self.keys.thread(t)) for t in ids])
            return [{k.decode(): v for k, v in row.items()} for row in raw if row]
        raw = await self.runs.trips.run([("HMGET", self.keys.thread(t), *fields) for t in ids])
        return [
            {f: v for f, v in zip(fields, row, strict=True) if v is not None}
            for row in raw
            if any(v is not None for v in row)
        ]

    async def pages(
        self, fields: tuple[str, ...], oldest_first: bool = False, size: int = 500
    ) -> AsyncIterator[list[dict[str, bytes]]]:
        """Every thread's ``fields``, a page at a time in order of creation
        (newest first unless ``oldest_first``); filters are the caller's. A
        thread made meanwhile shifts the pages: none is given twice."""
        seen: set[str] = set()
        async for page in self._index.batches(size, newest_first=not oldest_first):
            fresh = [t for t in page if t not in seen]
            seen.update(fresh)
            yield await self.rows(fresh, tuple(dict.fromkeys(("thread_id", *fields))))

    async def count(self) -> int:
        return await self._index.count()

    # -- deleting --------------------------------------------------------------------
    async def delete(
        self, thread_id: str, keep_run: str | None = None, keep_for: float = 0.0
    ) -> None:
        """Delete the thread and its runs; ``keep_run``: that run's record stays
        ``keep_for`` seconds more (a stateless run's outcome, for a waiter
        whose end event was lost)."""
        outcome = await self.runs.forget(
            thread_id, keep_run=keep_run, keep_for=keep_for, then=self._unindex(thread_id)
        )
        if outcome is ForgetOutcome.GONE:
            raise NotFound(f"Thread with ID {thread_id} not found")
        if outcome is ForgetOutcome.RACED:
            raise Conflict(f"Thread {thread_id} is taking new runs; delete it again")

    def _unindex(self, thread_id: str) -> list[Step]:
        return [
            ("ZREM", self.keys.threads_index(thread_id), thread_id),
            ("ZREM", self.keys.threads_expiry(thread_id), thread_id),
        ]

    async def due(self, limit: int) -> list[str]:
        """Threads whose expiry the sweeper should look at now."""
        return [i.decode() for _, i in await self._expiry.due(int(time.time() * 1000), limit)]

    async def expire(self, thread_id: str, seen_updated_at: bytes) -> ForgetOutcome:
        """Delete an idle thread whose ``updated_at`` is still what the sweeper
        read, with its runs (its checkpoints are the caller's)."""
        return await self.runs.forget(
            thread_id, seen_updated_at=seen_updated_at, then=self._unindex(thread_id)
        )

    async def reschedule(self, thread_id: str, minutes: float) -> None:
        await self.runs.trips.run([self.expiry_step(thread_id, minutes)])

    async def forget_expiry(self, thread_id: str) -> None:
        await self.redis.zrem(self.keys.threads_expiry(thread_id), thread_id)


class Paused(msgspec.Struct):
    """What a resume needs of the thread's latest interrupt event."""

    created_at: str = ""
    trace: str | None = None
