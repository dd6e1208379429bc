"""relaygraph.store.RedisStore on a real Valkey: LangGraph's BaseStore contract
(get, put, delete, search with filters and namespace prefixes, list_namespaces
with prefix, suffix, wildcards and max_depth), TTLs that expire, refresh on
read and are swept, semantic search with a local embedding function, and the
synchronous API from a worker thread."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio
from langgraph.store.base import InvalidNamespaceError

from relaygraph.keys import Keys
from relaygraph.store import RedisStore
from relaygraph_dev.servers import ServerProcess
from tests.conftest import WITH_REDIS62

pytestmark = pytest.mark.integration


def letters(texts: list[str]) -> list[list[float]]:
    """A toy embedding: how often each of a few letters occurs."""
    return [[t.lower().count(c) for c in "aeiouxyz"] for t in texts]


@pytest.fixture(params=["valkey", "redis62"] if WITH_REDIS62 else ["valkey"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[RedisStore]:
    """On Valkey and on the oldest Redis relaygraph supports."""
    server: ServerProcess = request.getfixturevalue(request.param)
    client = redis.asyncio.Redis.from_url(server.url)
    try:
        yield RedisStore(client, Keys(f"t{uuid.uuid4().hex[:8]}"))
    finally:
        await client.aclose()


async def test_put_get_overwrite_delete(store: RedisStore) -> None:
    ns = ("users", "u1")
    assert await store.aget(ns, "prefs") is None
    await store.aput(ns, "prefs", {"theme": "dark"})
    first = await store.aget(ns, "prefs")
    assert first is not None and first.value == {"theme": "dark"}
    await asyncio.sleep(0.01)
    await store.aput(ns, "prefs", {"theme": "light"})
    second = await store.aget(ns, "prefs")
    assert second is not None and second.value == {"theme": "light"}
    assert second.created_at == first.created_at and second.updated_at > first.updated_at
    await store.adelete(ns, "prefs")
    assert await store.aget(ns, "prefs") is None
    assert await store.alist_namespaces() == []  # an emptied namespace is not listed
    with pytest.raises(InvalidNamespaceError):
        await store.aput(("langgraph", "x"), "k", {})
    with pytest.raises(InvalidNamespaceError):
        await store.aput((), "k", {})


async def test_search_prefixes_filters_and_order(store: RedisStore) -> None:
    for i, (ns, key) in enumerate(
        [(("docs", "a"), "k2"), (("docs", "a"), "k1"), (("docs", "b"), "k3"), (("docsx",), "k4")]
    ):
        await store.aput(
            ns, key, {"n": i, "kind": "even" if i % 2 == 0 else "odd", "tag": {"x": 1}}
        )
    found = await store.asearch(("docs",))
    assert [(i.namespace, i.key) for i in found] == [
        (("docs", "a"), "k2"),  # first put first
        (("docs", "a"), "k1"),
        (("docs", "b"), "k3"),
    ]
    assert all(i.score is None for i in found)
    assert [i.key for i in await store.asearch(("docs",), filter={"kind": "even"})] == ["k2", "k3"]
    assert [i.key for i in await store.asearch((), filter={"n": {"$gte": 2}})] == ["k3", "k4"]
    assert [i.key for i in await store.asearch((), filter={"n": {"$ne": 1}, "tag": {"x": 1}})] == [
        "k2",
        "k3",
        "k4",
    ]
    assert [i.key for i in await store.asearch((), limit=2, offset=1)] == ["k1", "k3"]
    with pytest.raises(ValueError, match=r"Unsupported operator: \$in"):
        await store.asearch((), filter={"n": {"$in": [1]}})


async def test_list_namespaces(store: RedisStore) -> None:
    for ns in [("a", "b", "c"), ("a", "b", "d"), ("a", "x"), ("b", "x"), ("ab",)]:
        await store.aput(ns, "k", {})
    assert await store.alist_namespaces(prefix=("a",)) == [
        ("a", "b", "c"),
        ("a", "b", "d"),
        ("a", "x"),
    ]
    assert await store.alist_namespaces(suffix=("x",)) == [("a", "x"), ("b", "x")]
    assert await store.alist_namespaces(prefix=("*", "x")) == [("a", "x"), ("b", "x")]
    assert await store.alist_namespaces(prefix=("a",), max_depth=2) == [("a", "b"), ("a", "x")]
    assert await store.alist_namespaces(limit=2, offset=1) == [("a", "b", "d"), ("a", "x")]


async def test_ttl_expires_refreshes_and_is_swept(store: RedisStore) -> None:
    ns = ("ttl",)
    await store.aput(ns, "short", {"v": 1}, ttl=0.5 / 60)  # half a second
    await store.aput(ns, "kept", {"v": 2})
    await store.aput(ns, "read", {"v": 3}, ttl=0.5 / 60)
    for _ in range(4):  # reading with refresh keeps it alive past its first TTL
        await asyncio.sleep(0.2)
        assert await store.aget(ns, "read", refresh_ttl=True) is not None
    assert await store.aget(ns, "short") is None  # expired, even before a sweep
    assert [i.key for i in await store.asearch(ns)] == ["kept", "read"]
    assert await store.sweep() == 1
    assert await store.redis.hlen(store.keys.store_items(ns)) == 2
    await asyncio.sleep(0.6)
    assert await store.sweep() == 1
    assert await store.redis.zcard(store.keys.store_expiry(ns)) == 0


async def test_semantic_search_ranks_by_similarity(store: RedisStore) -> None:
    from langgraph.store.base import ensure_embeddings

    store = RedisStore(
        store.redis,
        store.keys,
        embeddings=ensure_embeddings(letters),
        index_fields=("text",),
    )
    ns = ("mem",)
    await store.aput(ns, "x", {"text": "xxxx yyy"})
    await store.aput(ns, "vowels", {"text": "aeiou aeiou"})
    await store.aput(ns, "plain", {"other": "no text field"})
    await store.aput(ns, "skip", {"text": "aeiou"}, index=False)
    found = await store.asearch(ns, query="aaa eee")
    assert [i.key for i in found][:2] == ["vowels", "x"]
    assert {i.key: i.score for i in found}["plain"] is None
    assert {i.key: i.score for i in found}["skip"] is None
    # cosine of [3,3,0,...] and [2,2,2,2,2,0,...]
    assert math.isclose(found[0].score, 12 / math.sqrt(18 * 20), rel_tol=1e-6)


async def test_sync_calls_from_a_worker_thread(store: RedisStore) -> None:
    await store.aput(("sync",), "a", {"v": 1})

    def node() -> object:
        store.put(("sync",), "b", {"v": 2})
        item = store.get(("sync",), "a")
        return item.value if item else None

    assert await asyncio.to_thread(node) == {"v": 1}
    assert (await store.aget(("sync",), "b")).value == {"v": 2}  # type: ignore[union-attr]
    with pytest.raises(asyncio.InvalidStateError):
        store.get(("sync",), "a")  # on the event loop itself: refused, not deadlocked


async def test_filters_that_cannot_be_tested_are_refused_up_front(store: RedisStore) -> None:
    with pytest.raises(ValueError, match="Unsupported operator: \\$in"):
        await store.asearch(("nothing", "here"), filter={"n": {"$in": [1]}})
    with pytest.raises(ValueError, match="\\$gt needs a number"):
        await store.asearch(("nothing",), filter={"n": {"$gt": {"x": 1}}})
    await store.aput(("nums",), "word", {"n": "many"})
    await store.aput(("nums",), "three", {"n": 3})
    found = await store.asearch(("nums",), filter={"n": {"$gt": 2}})
    assert [i.key for i in found] == ["three"]  # a stored non-number does not match
