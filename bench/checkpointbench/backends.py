"""The savers under test, each with what the bench needs around it: a way to
measure the bytes a thread's steps write, and a bulk-load mode."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import redis.asyncio
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from relaygraph.checkpoint import AsyncRedisSaver
from relaygraph_dev.servers import ServerProcess


class Backend:
    """A saver plus what the bench needs around it."""

    name: str
    saver: BaseCheckpointSaver
    concurrency: int = 1  # chains loaded at once

    async def probe(self, thread_id: str) -> dict[str, float]:
        """Counters whose difference over some steps of ``thread_id`` gives bytes."""
        raise NotImplementedError

    def bytes_method(self) -> str:
        raise NotImplementedError

    @contextlib.asynccontextmanager
    async def loading(self) -> AsyncIterator[None]:
        yield


class MemoryBackend(Backend):
    name = "InMemorySaver"

    def __init__(self) -> None:
        self.saver = InMemorySaver()

    async def probe(self, thread_id: str) -> dict[str, float]:
        s = self.saver
        total = _payload(s.storage.get(thread_id, {}))
        total += sum(_payload(v) for k, v in s.blobs.items() if k[0] == thread_id)
        total += sum(_payload(v) for k, v in s.writes.items() if k[0] == thread_id)
        return {"bytes": total}

    def bytes_method(self) -> str:
        return "serialized payload held"


def _payload(obj: Any) -> int:
    if isinstance(obj, bytes | bytearray):
        return len(obj)
    if isinstance(obj, dict):
        return sum(_payload(v) for v in obj.values())
    if isinstance(obj, tuple | list):
        return sum(_payload(v) for v in obj)
    return 0


class SqliteBackend(Backend):
    name = "AsyncSqliteSaver"

    def __init__(self, saver: AsyncSqliteSaver, path: Path) -> None:
        self.saver = saver
        self.path = path
        self.synchronous = ""

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, path: Path) -> AsyncIterator[SqliteBackend]:
        async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
            await saver.setup()
            backend = cls(saver, path)
            async with saver.conn.execute("PRAGMA synchronous") as cur:
                row = await cur.fetchone()
            backend.synchronous = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(
                row[0] if row else -1, "?"
            )
            yield backend

    async def probe(self, thread_id: str) -> dict[str, float]:
        async with self.saver.lock:
            await self.saver.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return {"bytes": await asyncio.to_thread(os.path.getsize, self.path)}

    def bytes_method(self) -> str:
        return "database file growth (after a WAL checkpoint)"

    @contextlib.asynccontextmanager
    async def loading(self) -> AsyncIterator[None]:
        """Bulk load without an fsync per commit (the saver's own code path)."""
        await self.saver.conn.execute("PRAGMA synchronous=OFF")
        try:
            yield
        finally:
            await self.saver.conn.execute(f"PRAGMA synchronous={self.synchronous}")


class RedisBackend(Backend):
    name = "AsyncRedisSaver"

    def __init__(
        self, saver: AsyncRedisSaver, admin: redis.asyncio.Redis, concurrency: int
    ) -> None:
        self.saver = saver
        self.admin = admin
        self.concurrency = concurrency

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, server: ServerProcess, concurrency: int) -> AsyncIterator[RedisBackend]:
        async with AsyncRedisSaver.from_conn_string(server.url) as saver:
            await saver.asetup()
            admin = redis.asyncio.Redis.from_url(server.url, decode_responses=True)
            try:
                yield cls(saver, admin, concurrency)
            finally:
                await admin.aclose()

    async def probe(self, thread_id: str) -> dict[str, float]:
        stats = await self.admin.info("stats")
        mem = await self.admin.info("memory")
        return {
            "bytes": float(stats["total_net_input_bytes"]),
            "used_memory": float(mem["used_memory"]),
        }

    def bytes_method(self) -> str:
        return "INFO total_net_input_bytes delta (what the client sent)"

    async def commandstats(self) -> dict[str, tuple[int, int]]:
        """command -> (calls, usec) from INFO commandstats."""
        info = await self.admin.info("commandstats")
        return {
            k.removeprefix("cmdstat_"): (int(v["calls"]), int(v["usec"])) for k, v in info.items()
        }


def per_op(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]], ops: int
) -> dict[str, tuple[float, float]]:
    """command -> (calls, server usec) per operation."""
    out = {}
    for cmd, (calls, usec) in after.items():
        if cmd.startswith("info") or cmd in ("script|load", "script"):
            continue
        calls0, usec0 = before.get(cmd, (0, 0))
        if calls - calls0:
            out[cmd] = ((calls - calls0) / ops, (usec - usec0) / ops)
    return dict(sorted(out.items()))
