"""The graph catalog: what executors publish about the graphs they load, read
by gateways, so that accepting a run never needs a live executor.

When an executor starts, it publishes one entry per graph of its
``langgraph.json``: the graph's JSON schemas (input, output, state, config,
context), or the error that kept the graph from loading. Entries are keyed by
the graph id and a hash of what the executor loaded, so versions that run side
by side during a rolling deploy do not overwrite each other; the graph's
*current* entry is the one published last. A gateway checks a run's input
against the current entry; a graph no executor has published yet is accepted
unchecked (its run waits in JetStream for an executor like any other).
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

import msgspec
from redis import Redis as SyncRedis

from relaygraph.keys import Keys
from relaygraph.redis_client import RedisClient

log = logging.getLogger("relaygraph.catalog")

KEEP_VERSIONS = 8
"""Versions kept per graph (older ones are dropped when a new one is published)."""

_CURRENT = b"current"


class GraphEntry(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One published version of a graph."""

    graph_id: str
    version: str
    """Hash of the schemas and node names the executor loaded."""
    schemas: dict[str, Any] | None = None
    """``{graph_id, input_schema, output_schema, state_schema, config_schema,
    context_schema}``, as ``GET /assistants/{id}/schemas`` returns them."""
    nodes: list[str] = []
    error: str | None = None
    """Why the graph could not be loaded (its runs end in ``error``)."""
    executor_id: str = ""
    published_at: float = 0.0


def graph_version(schemas: dict[str, Any] | None, nodes: list[str], error: str | None) -> str:
    """A short, stable hash of what defines a graph to the API."""
    doc = msgspec.json.encode({"schemas": schemas, "nodes": sorted(nodes), "error": error})
    return hashlib.sha256(doc).hexdigest()[:16]


class Catalog:
    """The graph catalog in Redis (one hash per graph, see :meth:`Keys.graph_catalog`)."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def publish(self, entries: list[GraphEntry]) -> None:
        """Make each entry its graph's current version, and drop the oldest
        versions beyond :data:`KEEP_VERSIONS`."""
        pipe = self.redis.pipeline(transaction=False)
        for entry in entries:
            key = self.keys.graph_catalog(entry.graph_id)
            pipe.hset(
                key,
                mapping={entry.version: msgspec.json.encode(entry), _CURRENT: entry.version},
            )
            pipe.hgetall(key)
        replies = await pipe.execute()
        stale: list[tuple[str, list[bytes]]] = []
        for entry, stored in zip(entries, replies[1::2], strict=True):
            versions = {k: v for k, v in stored.items() if k != _CURRENT}
            if len(versions) <= KEEP_VERSIONS:
                continue
            by_age = sorted(
                versions,
                key=lambda v: msgspec.json.decode(versions[v], type=GraphEntry).published_at,
            )
            stale.append((entry.graph_id, by_age[: len(versions) - KEEP_VERSIONS]))
        for graph_id, fields in stale:
            await self.redis.hdel(self.keys.graph_catalog(graph_id), *fields)

    async def current(self, graph_id: str) -> GraphEntry | None:
        """The graph's most recently published entry, or ``None``."""
        key = self.keys.graph_catalog(graph_id)
        version = await self.redis.hget(key, _CURRENT)
        if version is None:
            return None
        raw = await self.redis.hget(key, version)
        return None if raw is None else msgspec.json.decode(raw, type=GraphEntry)

    async def current_many(self, graph_ids: list[str]) -> dict[str, GraphEntry]:
        """The current entry of each graph that has one."""
        out: dict[str, GraphEntry] = {}
        for graph_id in graph_ids:
            entry = await self.current(graph_id)
            if entry is not None:
                out[graph_id] = entry
        return out


def load_errors(redis: SyncRedis, keys: Keys, graph_ids: list[str]) -> dict[str, str]:
    """Graphs whose current entry is a load error, and the error (a blocking
    read, for ``relaygraph dev``'s start-up report)."""
    errors: dict[str, str] = {}
    for graph_id in graph_ids:
        key = keys.graph_catalog(graph_id)
        version = redis.hget(key, _CURRENT)
        raw = redis.hget(key, version) if version else None
        if raw:
            entry = msgspec.json.decode(raw, type=GraphEntry)
            if entry.error:
                errors[graph_id] = entry.error
    return errors


class CatalogCache:
    """A gateway's view of the catalog: each graph's current entry, read again
    after ``ttl`` seconds (a new deploy shows within that), and a missing one
    after ``miss_ttl`` (a first executor's publication shows almost at once)."""

    def __init__(self, catalog: Catalog, ttl: float = 5.0, miss_ttl: float = 1.0) -> None:
        self.catalog = catalog
        self.ttl = ttl
        self.miss_ttl = miss_ttl
        self._seen: dict[str, tuple[float, GraphEntry | None]] = {}

    async def get(self, graph_id: str) -> GraphEntry | None:
        now = time.monotonic()
        seen = self._seen.get(graph_id)
        if seen is not None:
            at, entry = seen
            if now - at < (self.ttl if entry is not None else self.miss_ttl):
                return entry
        entry = await self.catalog.current(graph_id)
        self._seen[graph_id] = (now, entry)
        return entry

    def forget(self, graph_id: str) -> None:
        """Read the graph's entry again next time (an executor answered for
        it, so it has published it by now)."""
        self._seen.pop(graph_id, None)
