"""LangGraph's ``BaseStore`` on plain Redis (no modules).

A namespace's items live under one hash tag (values, metadata, order,
vectors: ``Keys.store_*``); a sorted set of every namespace, all scored 0,
turns a namespace prefix into a lexicographic range; a sorted set of expiries
is what the sweeper reads. Items keep the order they were first put in; a
search lists namespaces in lexicographic order and each one's items in that
order.

Writes put the namespace in the index before and after the item, and the
sweeper drops an empty namespace from it only after checking again, so an item
never sits outside the index. Expired items are never returned, swept or not.

The store is asynchronous; its synchronous methods (``get``, ``put``, ...)
work from other threads (sync graph nodes run in a thread pool) by running
the call on the store's event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from datetime import datetime
from typing import cast

import msgspec
from langchain_core.embeddings import Embeddings
from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
)

from relaygraph.keys import Keys
from relaygraph.lua import Script
from relaygraph.pipelining import Direct, RoundTrips
from relaygraph.redis_client import RedisClient
from relaygraph.runs import now_iso
from relaygraph.sharded import ShardedIndex
from relaygraph.store import _scripts
from relaygraph.store.embedding import pack, texts_of, unpack
from relaygraph.store.matching import (
    check_filter,
    cosine,
    literal_prefix,
    matches_filter,
    namespace_matches,
)

_SEP = "\x00"
_PAGE = 500


def _joined(namespace: tuple[str, ...]) -> str:
    return _SEP.join(namespace)


def _meta(raw: bytes) -> tuple[str, str, float | None, int | None]:
    created, updated, ttl, expires = raw.decode().split("\t")
    return created, updated, float(ttl) if ttl else None, int(expires) if expires else None


def _now_ms() -> int:
    return int(time.time() * 1000)


class RedisStore(BaseStore):
    supports_ttl = True

    def __init__(
        self,
        redis: RedisClient,
        keys: Keys,
        *,
        trips: RoundTrips | None = None,
        ttl: TTLConfig | None = None,
        embeddings: Embeddings | None = None,
        index_fields: tuple[str, ...] = ("$",),
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.trips: RoundTrips = trips or Direct(redis)
        self._namespaces = ShardedIndex(self.trips, keys.store_namespaces_shards())
        self._expiry = ShardedIndex(self.trips, keys.store_expiry_shards())
        self.ttl_config = ttl
        self.embeddings = embeddings
        self.index_fields = index_fields
        self._put = Script(redis, _scripts.PUT)
        self._delete = Script(redis, _scripts.DELETE)
        self._refresh = Script(redis, _scripts.REFRESH)
        self._expire = Script(redis, _scripts.EXPIRE)
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- BaseStore -------------------------------------------------------------
    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        self._loop = self._loop or asyncio.get_running_loop()
        results: list[Result] = []
        for op in ops:
            if isinstance(op, GetOp):
                results.append(await self._get(op))
            elif isinstance(op, PutOp):
                await self._write(op)
                results.append(None)
            elif isinstance(op, SearchOp):
                results.append(await self._search(op))
            elif isinstance(op, ListNamespacesOp):
                results.append(await self._list_namespaces(op))
            else:
                raise TypeError(f"unknown store operation {op!r}")
        return results

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if self._loop is None or running is self._loop:
            raise asyncio.InvalidStateError(
                "a synchronous store call on the event loop would block it: in async code "
                "use the store's async methods (aget, aput, asearch, alist_namespaces)"
            )
        return asyncio.run_coroutine_threadsafe(self.abatch(list(ops)), self._loop).result()

    # -- items -------------------------------------------------------------------
    async def _get(self, op: GetOp) -> Item | None:
        ns = tuple(op.namespace)
        value, meta = await self.trips.run(
            [
                ("HGET", self.keys.store_items(ns), op.key),
                ("HGET", self.keys.store_meta(ns), op.key),
            ]
        )
        found = self._item(ns, op.key, value, meta, _now_ms())
        if found is not None and op.refresh_ttl:
            await self._refresh_ttl([(ns, op.key, meta)])
        return found

    def _item(
        self, ns: tuple[str, ...], key: str, value: bytes | None, meta: bytes | None, now: int
    ) -> Item | None:
        if value is None or meta is None:
            return None
        created, updated, _, expires = _meta(meta)
        if expires is not None and expires <= now:
            return None
        return Item(
            value=msgspec.json.decode(value),
            key=key,
            namespace=ns,
            created_at=datetime.fromisoformat(created),
            updated_at=datetime.fromisoformat(updated),
        )

    async def _refresh_ttl(self, found: list[tuple[tuple[str, ...], str, bytes | None]]) -> None:
        due = [(ns, key) for ns, key, meta in found if meta is not None and _meta(meta)[2]]
        if not due:
            return
        now = _now_ms()
        expiries = await self.trips.run(
            [
                self._refresh.step(META=self.keys.store_meta(ns), key=key, now_ms=now)
                for ns, key in due
            ]
        )
        moved = [
            ("ZADD", self.keys.store_expiry(ns), "XX", int(expires), msgspec.json.encode([ns, key]))
            for (ns, key), expires in zip(due, expiries, strict=True)
            if expires
        ]
        if moved:
            await self.trips.run(moved)

    async def _write(self, op: PutOp) -> None:
        ns = tuple(op.namespace)
        keys = self.keys
        names = {
            "ITEMS": keys.store_items(ns),
            "META": keys.store_meta(ns),
            "ORDER": keys.store_order(ns),
            "VECTORS": keys.store_vectors(ns),
        }
        member = msgspec.json.encode([ns, op.key])
        if op.value is None:
            await self.trips.run(
                [self._delete.step(**names, key=op.key), ("ZREM", keys.store_expiry(ns), member)]
            )
            await self._drop_if_empty(ns)
            return
        ttl = op.ttl
        expires = _now_ms() + int(ttl * 60000) if ttl is not None else None
        vectors = await self._vectors(op)
        indexed = ("ZADD", keys.store_namespaces(ns), "NX", 0, _joined(ns))
        await self.trips.run(
            [
                indexed,
                self._put.step(
                    **names,
                    SEQ=keys.store_seq(ns),
                    key=op.key,
                    value=msgspec.json.encode(op.value),
                    now=now_iso(),
                    ttl=repr(ttl) if ttl is not None else "",
                    expires=str(expires) if expires is not None else "",
                    vectors=vectors,
                ),
                indexed,
                ("ZADD", keys.store_expiry(ns), expires, member)
                if expires is not None
                else ("ZREM", keys.store_expiry(ns), member),
            ]
        )

    async def _vectors(self, op: PutOp) -> bytes:
        if self.embeddings is None or op.index is False or op.value is None:
            return b""
        fields = self.index_fields if op.index is None else tuple(op.index)
        texts = texts_of(dict(op.value), fields)
        if not texts:
            return b""
        return pack(await self.embeddings.aembed_documents(texts))

    # -- search ------------------------------------------------------------------
    async def namespaces_under(self, prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
        """Every namespace that starts with ``prefix`` (label by label), in
        lexicographic order, empty ones included."""
        if prefix:
            low = _joined(prefix)
            raw = await self._namespaces.lex_range(f"[{low}", f"({low}\x01")
        else:
            raw = await self._namespaces.lex_range("-", "+")
        return [tuple(m.decode().split(_SEP)) for m in raw]

    async def _items_of(self, ns: tuple[str, ...], now: int) -> list[tuple[Item, bytes | None]]:
        """A namespace's live items in their order, each with its metadata."""
        keys = self.keys
        (order,) = await self.trips.run([("ZRANGE", keys.store_order(ns), 0, -1)])
        found: list[tuple[Item, bytes | None]] = []
        for start in range(0, len(order), _PAGE):
            chunk = [k.decode() for k in order[start : start + _PAGE]]
            values, metas = await self.trips.run(
                [("HMGET", keys.store_items(ns), *chunk), ("HMGET", keys.store_meta(ns), *chunk)]
            )
            for key, value, meta in zip(chunk, values, metas, strict=True):
                item = self._item(ns, key, value, meta, now)
                if item is not None:
                    found.append((item, meta))
        return found

    async def _search(self, op: SearchOp) -> list[SearchItem]:
        check_filter(op.filter)
        now = _now_ms()
        candidates: list[tuple[Item, bytes | None]] = []
        for ns in await self.namespaces_under(tuple(op.namespace_prefix)):
            candidates += [
                (item, meta)
                for item, meta in await self._items_of(ns, now)
                if matches_filter(item.value, op.filter)
            ]
        if op.query and self.embeddings is not None:
            ranked = await self._ranked(op, [item for item, _ in candidates])
        else:
            ranked = [(item, None) for item, _ in candidates[op.offset : op.offset + op.limit]]
        if op.refresh_ttl:
            metas = {(i.namespace, i.key): m for i, m in candidates}
            await self._refresh_ttl(
                [(i.namespace, i.key, metas[(i.namespace, i.key)]) for i, _ in ranked]
            )
        return [
            SearchItem(
                namespace=item.namespace,
                key=item.key,
                value=item.value,
                created_at=item.created_at,
                updated_at=item.updated_at,
                score=score,
            )
            for item, score in ranked
        ]

    async def _ranked(self, op: SearchOp, items: list[Item]) -> list[tuple[Item, float | None]]:
        """By the best cosine similarity of any of an item's vectors to the
        query's; items without vectors follow, unscored."""
        assert self.embeddings is not None and op.query
        if not items:
            return []
        query = await self.embeddings.aembed_query(op.query)
        raws = await self.trips.run(
            [("HGET", self.keys.store_vectors(i.namespace), i.key) for i in items]
        )
        scored: list[tuple[Item, float | None]] = []
        unscored: list[tuple[Item, float | None]] = []
        for item, raw in zip(items, raws, strict=True):
            vectors = unpack(raw)
            if vectors:
                scored.append((item, max(cosine(query, v) for v in vectors)))
            else:
                unscored.append((item, None))
        scored.sort(key=lambda pair: -cast(float, pair[1]))
        ranked: list[tuple[Item, float | None]] = [*scored, *unscored]
        return ranked[op.offset : op.offset + op.limit]

    async def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        conditions = op.match_conditions or ()
        found = [
            ns
            for ns in await self.namespaces_under(literal_prefix(conditions))
            if namespace_matches(ns, conditions)
        ]
        if found:
            sizes = await self.trips.run([("ZCARD", self.keys.store_order(ns)) for ns in found])
            found = [ns for ns, size in zip(found, sizes, strict=True) if size]
        if op.max_depth is not None:
            found = sorted({ns[: op.max_depth] for ns in found})
        return found[op.offset : op.offset + op.limit]

    # -- retention -----------------------------------------------------------------
    async def sweep(self, limit: int = 500) -> int:
        """Delete items whose TTL ran out (a refresh since is respected); then
        drop namespaces left empty from the index. How many items went."""
        keys = self.keys
        deleted = 0
        for _, member in await self._expiry.due(_now_ms(), limit):
            ns_list, key = msgspec.json.decode(member)
            ns = tuple(ns_list)
            (outcome,) = await self.trips.run(
                [
                    self._expire.step(
                        ITEMS=keys.store_items(ns),
                        META=keys.store_meta(ns),
                        ORDER=keys.store_order(ns),
                        VECTORS=keys.store_vectors(ns),
                        key=key,
                        now_ms=_now_ms(),
                    )
                ]
            )
            if outcome in (b"deleted", b"gone"):
                await self.redis.zrem(keys.store_expiry(ns), member)
                deleted += outcome == b"deleted"
                await self._drop_if_empty(ns)
            elif outcome:  # refreshed since: due again at its new expiry
                await self.redis.zadd(keys.store_expiry(ns), {member: int(outcome)}, xx=True)
            else:  # no longer has a TTL
                await self.redis.zrem(keys.store_expiry(ns), member)
        return deleted

    async def _drop_if_empty(self, ns: tuple[str, ...]) -> None:
        """Out of the index, then back in if an item is there after all (a put
        writes the index before and after its item, so none is left out)."""
        if await self.redis.exists(self.keys.store_order(ns)):
            return
        await self.redis.zrem(self.keys.store_namespaces(ns), _joined(ns))
        if await self.redis.exists(self.keys.store_order(ns)):
            await self.redis.zadd(self.keys.store_namespaces(ns), {_joined(ns): 0}, nx=True)
