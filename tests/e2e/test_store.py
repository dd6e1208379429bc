"""The Store through the official SDK (``client.store``) and from inside a
graph, as LangGraph Server serves it: items put, read, overwritten and
deleted; search by namespace prefix and filter, with pagination; namespaces
listed by prefix, suffix and depth; semantic search with the embedding
function langgraph.json names (run by an executor); TTLs; and the reference's
status codes for bad namespaces, keys and filters."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from relaygraph.keys import Keys
from tests.conftest import REDIS_KINDS, on_redis_kind
from tests.system import System

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=REDIS_KINDS)
def system(request: pytest.FixtureRequest) -> System:
    """The Store on one Valkey and on a Valkey cluster."""
    return on_redis_kind(request)


@pytest.fixture
def root() -> str:
    """A first namespace label only this test uses (the system is shared)."""
    return f"t{uuid.uuid4().hex[:12]}"


async def test_put_get_overwrite_delete(c: Any, root: str) -> None:
    ns = [root, "prefs"]
    assert await c.store.get_item(ns, "theme") is None
    await c.store.put_item(ns, "theme", {"color": "dark"}, index=False)
    first = await c.store.get_item(ns, "theme")
    assert first["namespace"] == ns and first["key"] == "theme"
    assert first["value"] == {"color": "dark"}
    assert first["created_at"] == first["updated_at"]
    await asyncio.sleep(0.01)
    await c.store.put_item(ns, "theme", {"color": "light"}, index=False)
    second = await c.store.get_item(ns, "theme")
    assert second["value"] == {"color": "light"}
    assert second["updated_at"] > first["updated_at"]
    await c.store.delete_item(ns, "theme")
    assert await c.store.get_item(ns, "theme") is None
    await c.store.delete_item(ns, "theme")  # deleting what is gone is fine
    assert await c.store.list_namespaces(prefix=[root]) == {"namespaces": []}


async def test_search_and_list_namespaces(c: Any, root: str) -> None:
    for team, key, n in [("a", "k1", 1), ("a", "k2", 2), ("b", "k3", 3), ("b", "k4", 4)]:
        await c.store.put_item([root, "docs", team], key, {"n": n, "odd": n % 2 == 1}, index=False)
    await c.store.put_item([root, "other"], "k5", {"n": 5}, index=False)

    found = await c.store.search_items([root, "docs"])
    assert [i["key"] for i in found["items"]] == ["k1", "k2", "k3", "k4"]
    assert all(i["score"] is None for i in found["items"])
    odd = await c.store.search_items([root], filter={"odd": True})
    assert [i["key"] for i in odd["items"]] == ["k1", "k3"]
    big = await c.store.search_items([root], filter={"n": {"$gte": 3}}, limit=2, offset=1)
    assert [i["key"] for i in big["items"]] == ["k4", "k5"]
    assert (await c.store.search_items([root, "doc"]))["items"] == []  # labels match whole

    everything = await c.store.list_namespaces(prefix=[root])
    assert everything["namespaces"] == [[root, "docs", "a"], [root, "docs", "b"], [root, "other"]]
    by_suffix = await c.store.list_namespaces(prefix=[root], suffix=["b"])
    assert by_suffix["namespaces"] == [[root, "docs", "b"]]
    wildcard = await c.store.list_namespaces(prefix=[root, "*", "a"])
    assert wildcard["namespaces"] == [[root, "docs", "a"]]
    shallow = await c.store.list_namespaces(prefix=[root], max_depth=2)
    assert shallow["namespaces"] == [[root, "docs"], [root, "other"]]
    paged = await c.store.list_namespaces(prefix=[root], limit=1, offset=1)
    assert paged["namespaces"] == [[root, "docs", "b"]]


async def test_semantic_search_with_the_configured_embedding(c: Any, root: str) -> None:
    ns = [root, "notes"]
    await c.store.put_item(ns, "vowels", {"text": "aaaa eeee"})
    await c.store.put_item(ns, "xyz", {"text": "xxx yyy zzz"})
    await c.store.put_item(ns, "plain", {"text": "aaaa"}, index=False)  # never embedded
    found = (await c.store.search_items([root], query="aaa"))["items"]
    assert [i["key"] for i in found] == ["vowels", "xyz", "plain"]
    assert found[0]["score"] > 0.5 and found[1]["score"] == 0.0 and found[2]["score"] is None
    filtered = await c.store.search_items([root], query="zzz", filter={"text": "xxx yyy zzz"})
    assert [(i["key"], round(i["score"], 3)) for i in filtered["items"]] == [("xyz", 0.577)]


async def test_items_expire_after_their_ttl(c: Any, root: str) -> None:
    ns = [root, "short"]
    await c.store.put_item(ns, "brief", {"v": 1}, index=False, ttl=0.01)  # 0.6 s
    await c.store.put_item(ns, "kept", {"v": 2}, index=False)
    assert (await c.store.get_item(ns, "brief"))["value"] == {"v": 1}
    await asyncio.sleep(1.0)
    assert await c.store.get_item(ns, "brief") is None
    assert [i["key"] for i in (await c.store.search_items(ns))["items"]] == ["kept"]


async def test_a_put_without_ttl_gets_the_default_and_null_means_none(
    system: System, root: str
) -> None:
    """tests/graphs/langgraph.json sets ``store.ttl.default_ttl`` to a day."""
    async with httpx.AsyncClient(base_url=system.url) as http:
        for key, ttl in [("default", {}), ("forever", {"ttl": None}), ("own", {"ttl": 5})]:
            body = {"namespace": [root], "key": key, "value": {}, "index": False, **ttl}
            assert (await http.put("/store/items", json=body)).status_code == 204
    keys = Keys(system.env.get("REDIS_KEY_PREFIX", "rg"))
    rds = system.redis_client()
    try:
        meta = await rds.hgetall(keys.store_meta((root,)))
    finally:
        await rds.aclose()
    ttls = {k.decode(): v.decode().split("\t")[2] for k, v in meta.items()}
    assert ttls == {"default": "1440.0", "forever": "", "own": "5.0"}


async def test_a_graph_reads_and_writes_the_same_store(c: Any, root: str) -> None:
    outputs = []
    for text in ["likes tea", "lives in Oslo"]:
        thread = await c.threads.create()
        out = await c.runs.wait(
            thread["thread_id"], "memory", input={"text": text}, context={"user": root}
        )
        outputs.append(out["remembered"])
    assert outputs == [["likes tea"], ["likes tea", "lives in Oslo"]]
    seen = await c.store.search_items(["memories", root])
    assert sorted(i["value"]["text"] for i in seen["items"]) == ["likes tea", "lives in Oslo"]


async def test_bad_namespaces_keys_and_filters_are_refused(system: System, root: str) -> None:
    async with httpx.AsyncClient(base_url=system.url) as http:
        r = await http.put("/store/items", json={"namespace": ["a.b"], "key": "k", "value": {}})
        assert r.status_code == 422
        assert (
            "Namespace label 'a.b' must be a non-empty string without periods" in r.json()["detail"]
        )
        r = await http.put("/store/items", json={"namespace": [], "key": "k", "value": {}})
        assert (r.status_code, r.json()) == (400, {"detail": "Namespace cannot be empty."})
        r = await http.put(
            "/store/items", json={"namespace": ["langgraph", "x"], "key": "k", "value": {}}
        )
        assert r.status_code == 400 and 'cannot be "langgraph"' in r.json()["detail"]
        r = await http.put("/store/items", json={"namespace": [root], "key": "k", "value": [1]})
        assert r.status_code == 422 and "value" in r.json()["detail"]
        r = await http.get("/store/items", params={"namespace": root})
        assert (r.status_code, r.json()) == (400, {"detail": "Key is required"})
        r = await http.get("/store/items", params={"namespace": "a\x00b", "key": "k"})
        assert r.status_code == 400 and "NUL" in r.json()["detail"]
        r = await http.request("DELETE", "/store/items", json={"namespace": ["a\x00b"], "key": "k"})
        assert r.status_code == 400 and "NUL" in r.json()["detail"]
        r = await http.get("/store/items", params={"namespace": f"{root}.", "key": "k"})
        assert r.status_code == 422 and "Namespace label ''" in r.json()["detail"]
        r = await http.post(
            "/store/items/search", json={"namespace_prefix": [root], "filter": {"n": {"$in": [1]}}}
        )
        assert (r.status_code, r.json()) == (400, {"detail": "Unsupported operator: $in"})
        r = await http.post("/store/namespaces", json={"limit": -1})
        assert r.status_code == 422 and "limit" in r.json()["detail"]
        info = (await http.get("/info")).json()
        assert info["flags"]["store"] is True
