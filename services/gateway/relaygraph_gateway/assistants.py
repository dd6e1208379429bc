"""Assistants in Redis: each one a hash (its current document and the highest
version written) and a hash of its versions, both under the assistant's hash
tag; a sorted set of every id serves search and count.

Writes are compare-and-set scripts on the assistant's own keys: a new version
is computed here from the one read and written only if no other write came
between (else it is computed again). The index is written before the record
on create and removed before it on delete, so a search may meet an id whose
record is not there (skipped), never a record it cannot find.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, cast

import msgspec

from relaygraph.config import Config, default_assistant_id
from relaygraph.errors import Conflict, NotFound
from relaygraph.keys import Keys
from relaygraph.lua import Lua, Script
from relaygraph.pipelining import RoundTrips
from relaygraph.redis_client import RedisClient
from relaygraph.runs import now_iso
from relaygraph_gateway.assistant_rules import mirrored, patched, restored, version_of

_CREATE = Lua(
    "create_assistant",
    keys=("ASSISTANT", "VERSIONS"),
    args=("doc", "version_doc"),
    body="""
-- Replies: created | exists
if redis.call('EXISTS', ASSISTANT) == 1 then return 'exists' end
redis.call('HSET', ASSISTANT, 'doc', doc, 'version', '1')
redis.call('HSET', VERSIONS, '1', version_doc)
return 'created'
""",
)
_WRITE = Lua(
    "write_assistant",
    keys=("ASSISTANT", "VERSIONS"),
    args=("expected", "doc", "version", "version_doc"),
    body="""
-- Replaces the document if the highest version is still `expected`; with a
-- `version_doc`, records it as version `version`. Replies: ok | changed | gone
local seen = redis.call('HGET', ASSISTANT, 'version')
if not seen then return 'gone' end
if seen ~= expected then return 'changed' end
redis.call('HSET', ASSISTANT, 'doc', doc)
if version_doc ~= '' then
  redis.call('HSET', ASSISTANT, 'version', version)
  redis.call('HSET', VERSIONS, version, version_doc)
end
return 'ok'
""",
)

_WRITE_ATTEMPTS = 20


def _json(raw: bytes) -> dict[str, Any]:
    return cast(dict[str, Any], msgspec.json.decode(raw))


class Assistants:
    def __init__(self, redis: RedisClient, keys: Keys, trips: RoundTrips, config: Config) -> None:
        self.redis = redis
        self.keys = keys
        self.trips = trips
        self.config = config
        self._create = Script(redis, _CREATE)
        self._write = Script(redis, _WRITE)
        self._system_ready = False

    # -- reading ---------------------------------------------------------------
    async def get(self, assistant_id: str) -> dict[str, Any] | None:
        (raw,) = await self.trips.run([("HGET", self.keys.assistant(assistant_id), "doc")])
        if raw is None and not self._system_ready and self._is_system(assistant_id):
            await self.ensure_system()
            (raw,) = await self.trips.run([("HGET", self.keys.assistant(assistant_id), "doc")])
        return None if raw is None else _json(raw)

    async def all(self) -> list[dict[str, Any]]:
        """Every assistant, in the index's order (oldest first)."""
        if not self._system_ready:
            await self.ensure_system()
        ids = cast(list[bytes], await self.redis.zrange(self.keys.assistants_index, 0, -1))
        if not ids:
            return []
        raws = await self.trips.run([("HGET", self.keys.assistant(i.decode()), "doc") for i in ids])
        return [_json(raw) for raw in raws if raw is not None]

    async def versions(self, assistant_id: str) -> list[dict[str, Any]]:
        """Every version, newest first (empty: no such assistant)."""
        raw = cast(
            dict[bytes, bytes], await self.redis.hgetall(self.keys.assistant_versions(assistant_id))
        )
        return sorted((_json(v) for v in raw.values()), key=lambda v: -int(v["version"]))

    # -- writing ---------------------------------------------------------------
    async def create(
        self,
        *,
        graph_id: str,
        assistant_id: str | None = None,
        config: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        name: str | None = None,
        description: str | None = None,
        if_exists: str = "raise",
    ) -> dict[str, Any]:
        aid = assistant_id or str(uuid.uuid4())
        cfg, ctx = mirrored(config or {}, context)
        now = now_iso()
        doc = {
            "assistant_id": aid,
            "graph_id": graph_id,
            "config": cfg,
            "context": ctx or {},
            "metadata": metadata or {},
            "name": name or "Untitled",
            "created_at": now,
            "updated_at": now,
            "version": 1,
            "description": description,
        }
        _, created = await self.trips.run(
            [
                ("ZADD", self.keys.assistants_index, "NX", int(time.time() * 1000), aid),
                self._create.step(
                    ASSISTANT=self.keys.assistant(aid),
                    VERSIONS=self.keys.assistant_versions(aid),
                    doc=msgspec.json.encode(doc),
                    version_doc=msgspec.json.encode(version_of(doc)),
                ),
            ]
        )
        if created == b"exists":
            if if_exists != "do_nothing":
                raise Conflict(f"Assistant {aid} already exists")
            existing = await self.get(aid)
            if existing is None:  # deleted in between: nothing to do nothing with
                raise NotFound(f"Assistant {aid} not found")
            return existing
        return doc

    async def patch(self, assistant_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """A new version from ``changes`` (graph_id, config, context, metadata,
        name, description), every time."""
        for _ in range(_WRITE_ATTEMPTS):
            current, top = await self._current(assistant_id)
            doc = patched(current, changes, top + 1, now_iso())
            if await self._replace(assistant_id, top, doc, new_version=True):
                return doc
        raise Conflict(f"Assistant {assistant_id} is being changed by others; try again")

    async def set_latest(self, assistant_id: str, version: int | None) -> dict[str, Any]:
        for _ in range(_WRITE_ATTEMPTS):
            current, top = await self._current(assistant_id)
            (raw,) = await self.trips.run(
                [("HGET", self.keys.assistant_versions(assistant_id), str(version))]
            )
            if raw is None:
                raise NotFound(f"Version {version} not found for assistant {assistant_id}")
            doc = restored(current, _json(raw), now_iso())
            if await self._replace(assistant_id, top, doc, new_version=False):
                return doc
        raise Conflict(f"Assistant {assistant_id} is being changed by others; try again")

    async def delete(self, assistant_id: str) -> bool:
        """Whether there was such an assistant (its versions go with it)."""
        keys = self.keys
        _, removed = await self.trips.run(
            [
                ("ZREM", keys.assistants_index, assistant_id),
                ("DEL", keys.assistant(assistant_id), keys.assistant_versions(assistant_id)),
            ]
        )
        return bool(removed)

    async def ensure_system(self) -> None:
        """One assistant per graph of ``langgraph.json`` with LangGraph
        Server's id (uuid5 of the graph id), made once: one that was changed
        keeps its changes, one that was deleted comes back at the next start."""
        for spec in self.config.graphs.values():
            await self.create(
                graph_id=spec.graph_id,
                assistant_id=spec.assistant_id,
                metadata={"created_by": "system"},
                name=spec.graph_id,
                description=spec.description,
                if_exists="do_nothing",
            )
        self._system_ready = True

    def _is_system(self, assistant_id: str) -> bool:
        return any(default_assistant_id(g) == assistant_id for g in self.config.graphs)

    async def _current(self, assistant_id: str) -> tuple[dict[str, Any], int]:
        doc, top = await self.trips.run(
            [
                ("HGET", self.keys.assistant(assistant_id), "doc"),
                ("HGET", self.keys.assistant(assistant_id), "version"),
            ]
        )
        if doc is None or top is None:
            raise NotFound(f"Assistant {assistant_id} not found")
        return _json(doc), int(top)

    async def _replace(
        self, assistant_id: str, top: int, doc: dict[str, Any], *, new_version: bool
    ) -> bool:
        (outcome,) = await self.trips.run(
            [
                self._write.step(
                    ASSISTANT=self.keys.assistant(assistant_id),
                    VERSIONS=self.keys.assistant_versions(assistant_id),
                    expected=str(top),
                    doc=msgspec.json.encode(doc),
                    version=str(doc["version"]),
                    version_doc=msgspec.json.encode(version_of(doc)) if new_version else b"",
                )
            ]
        )
        if outcome == b"gone":
            raise NotFound(f"Assistant {assistant_id} not found")
        return bool(outcome == b"ok")
