"""Assistants through the official SDK, as langgraph dev (langgraph-api 0.16.7)
answered the same calls: versions on every update, metadata merged, config
and context replaced and mirrored, set_latest, search (case-insensitive name,
metadata containment, sort, select, pagination headers), count, delete (with
its threads), and an assistant's config and context merged into its runs."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from langgraph_sdk.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    UnprocessableEntityError,
)

from tests.system import System

pytestmark = pytest.mark.e2e


@pytest.fixture
def tag() -> dict[str, str]:
    """Metadata that only this test's assistants carry (the system is shared)."""
    return {"suite": uuid.uuid4().hex}


async def test_create_get_and_the_system_assistant(c: Any) -> None:
    default = await c.assistants.search(graph_id="echo_context", metadata={"created_by": "system"})
    assert [a["name"] for a in default] == ["echo_context"]
    # LangGraph Server's namespace for default assistants
    namespace = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")
    assert default[0]["assistant_id"] == str(uuid.uuid5(namespace, "echo_context"))

    made = await c.assistants.create(
        "echo_context", context={"model": "big"}, name="Big", metadata={"team": "x"}
    )
    assert made["version"] == 1
    assert made["config"] == {"configurable": {"model": "big"}}  # context mirrored
    assert made["context"] == {"model": "big"}
    assert made["created_at"] == made["updated_at"]
    assert await c.assistants.get(made["assistant_id"]) == made
    assert (await c.assistants.create("echo_context"))["name"] == "Untitled"


async def test_create_refuses_what_the_reference_refuses(c: Any) -> None:
    aid = str(uuid.uuid4())
    await c.assistants.create("agent", assistant_id=aid.upper())  # stored in canonical form
    with pytest.raises(ConflictError):
        await c.assistants.create("agent", assistant_id=aid)
    same = await c.assistants.create("review", assistant_id=aid, if_exists="do_nothing")
    assert (same["assistant_id"], same["graph_id"]) == (aid, "agent")
    with pytest.raises(NotFoundError, match="Graph 'nope' not found"):
        await c.assistants.create("nope")
    with pytest.raises(BadRequestError, match="Cannot specify both configurable and context"):
        await c.assistants.create("agent", config={"configurable": {"a": 1}}, context={"b": 2})
    with pytest.raises(UnprocessableEntityError, match=r"config\.tags"):
        await c.assistants.create("agent", config={"tags": "x"})
    with pytest.raises(NotFoundError):
        await c.assistants.get(str(uuid.uuid4()))


async def test_every_update_is_a_new_version(c: Any) -> None:
    made = await c.assistants.create(
        "echo_context",
        config={"configurable": {"model": "a"}, "tags": ["t"], "recursion_limit": 5},
        metadata={"n": {"x": 1}, "keep": 1},
        name="First",
    )
    aid = made["assistant_id"]
    v2 = await c.assistants.update(aid, metadata={"n": {"y": 2}}, name="Second")
    assert v2["version"] == 2
    assert v2["metadata"] == {"n": {"y": 2}, "keep": 1}  # merged one level deep
    assert v2["config"] == made["config"] and v2["context"] == {"model": "a"}
    v3 = await c.assistants.update(aid, context={"model": "c"})
    # context alone replaces config with {"configurable": context}: tags go
    assert (v3["version"], v3["config"], v3["context"]) == (
        3,
        {"configurable": {"model": "c"}},
        {"model": "c"},
    )
    v4 = await c.assistants.update(aid, config={"tags": ["only"]})
    assert v4["config"] == {"tags": ["only"]} and v4["context"] == {"model": "c"}

    versions = await c.assistants.get_versions(aid)
    assert [v["version"] for v in versions] == [4, 3, 2, 1]
    assert "updated_at" not in versions[0] and versions[-1]["name"] == "First"
    assert [v["version"] for v in await c.assistants.get_versions(aid, limit=2, offset=1)] == [3, 2]
    assert [v["version"] for v in await c.assistants.get_versions(aid, metadata={"keep": 1})] == [
        4,
        3,
        2,
        1,
    ]

    back = await c.assistants.set_latest(aid, 1)
    assert (back["version"], back["name"], back["config"]) == (1, "First", made["config"])
    assert back["context"] == {"model": "c"}  # not restored, as the reference does
    assert (await c.assistants.update(aid, name="Fifth"))["version"] == 5
    with pytest.raises(NotFoundError, match="Version 9 not found"):
        await c.assistants.set_latest(aid, 9)
    with pytest.raises(NotFoundError):
        await c.assistants.update(str(uuid.uuid4()), name="x")


async def test_search_count_sort_select_and_pages(
    c: Any, tag: dict[str, str], system: System
) -> None:
    names = ["bravo Alpha", "alpha", "Charlie", "ALPHABET", "delta"]
    made = [
        await c.assistants.create("agent", name=n, metadata={**tag, "i": i})
        for i, n in enumerate(names)
    ]
    found = await c.assistants.search(metadata=tag, name="alpha", limit=10)
    assert [a["name"] for a in found] == ["ALPHABET", "alpha", "bravo Alpha"]  # newest first
    assert await c.assistants.count(metadata=tag, name="alpha") == 3
    assert await c.assistants.count(metadata=tag, graph_id="review") == 0

    by_name = await c.assistants.search(metadata=tag, sort_by="name", sort_order="asc", limit=10)
    assert [a["name"] for a in by_name] == sorted(names, key=str.lower)
    slim = await c.assistants.search(metadata=tag, select=["version", "assistant_id"], limit=1)
    assert list(slim[0]) == ["assistant_id", "version"]

    first = await c.assistants.search(metadata=tag, limit=2, response_format="object")
    assert first["next"] == "2"
    assert [a["assistant_id"] for a in first["assistants"]] == [
        m["assistant_id"] for m in made[::-1][:2]
    ]
    last = await c.assistants.search(metadata=tag, limit=2, offset=4, response_format="object")
    assert last["next"] is None and len(last["assistants"]) == 1

    async with httpx.AsyncClient(base_url=system.url) as http:
        r = await http.post("/assistants/search", json={"metadata": tag, "limit": 2})
        assert (r.headers["x-pagination-total"], r.headers["x-pagination-next"]) == ("3", "2")
        r = await http.post("/assistants/search", json={"metadata": tag, "limit": 2, "offset": 4})
        assert r.headers["x-pagination-total"] == "5" and "x-pagination-next" not in r.headers
        r = await http.post("/assistants/search", json={"sort_order": "ASC"})
        assert r.status_code == 422
        r = await http.post("/assistants/search", json={"select": ["nope"]})
        assert r.status_code == 422
        r = await http.post("/assistants/search", json={"graph_id": "nope"})
        assert r.status_code == 404 and "Graph 'nope' not found" in r.json()["detail"]


async def test_delete_with_and_without_its_threads(c: Any) -> None:
    keep = await c.assistants.create("agent", name="keeps its threads")
    drop = await c.assistants.create("agent", name="takes its threads")
    kept = (await c.threads.create())["thread_id"]
    dropped = (await c.threads.create())["thread_id"]
    await c.runs.wait(kept, keep["assistant_id"], input={"some_text": "k"})
    await c.runs.wait(dropped, drop["assistant_id"], input={"some_text": "d"})

    await c.assistants.delete(keep["assistant_id"])
    await c.assistants.delete(drop["assistant_id"], delete_threads=True)
    assert (await c.threads.get(kept))["thread_id"] == kept
    with pytest.raises(NotFoundError):
        await c.threads.get(dropped)
    with pytest.raises(NotFoundError):
        await c.assistants.get(keep["assistant_id"])
    with pytest.raises(NotFoundError, match="Assistant with ID"):
        await c.assistants.delete(keep["assistant_id"])
    with pytest.raises(httpx.HTTPStatusError, match="404"):
        await c.runs.wait(None, keep["assistant_id"], input={"some_text": "gone"})


async def test_a_run_gets_its_assistants_config_context_and_metadata(c: Any) -> None:
    a = await c.assistants.create(
        "echo_context", context={"model": "x", "temperature": 0.5}, metadata={"owner": "me"}
    )
    tid = (await c.threads.create())["thread_id"]
    out = await c.runs.wait(tid, a["assistant_id"], input={"question": "q"}, context={"model": "y"})
    assert out["seen"] == {"model": "y", "temperature": 0.5}
    out = await c.runs.wait(
        tid, a["assistant_id"], input={"question": "q"}, config={"configurable": {"model": "cfg"}}
    )
    assert out["seen"] == {"model": "cfg", "temperature": 0.5}
    runs = await c.runs.list(tid)
    assert runs[0]["assistant_id"] == a["assistant_id"]
    assert runs[0]["metadata"]["owner"] == "me"
    assert runs[0]["metadata"]["assistant_id"] == a["assistant_id"]

    await c.assistants.update(a["assistant_id"], context={"model": "z", "temperature": 0.9})
    out = await c.runs.wait(tid, a["assistant_id"], input={"question": "q"})
    assert out["seen"] == {"model": "z", "temperature": 0.9}  # the latest version runs


async def test_schemas_graph_and_subgraphs(c: Any) -> None:
    schemas = await c.assistants.get_schemas("nested")
    assert schemas["graph_id"] == "nested"
    assert schemas["state_schema"]["title"] == "NestedState"
    assert set(schemas["state_schema"]["properties"]) == {"text", "steps"}
    assert schemas["config_schema"] == {} or "properties" in schemas["config_schema"]

    drawing = await c.assistants.get_graph("nested")
    assert {n["id"] for n in drawing["nodes"]} == {"__start__", "child", "__end__"}
    xray = await c.assistants.get_graph("nested", xray=True)
    assert "child:shout" in {n["id"] for n in xray["nodes"]}

    subgraphs = await c.assistants.get_subgraphs("nested")
    assert list(subgraphs) == ["child"]
    assert "graph_id" not in subgraphs["child"]
    assert set(subgraphs["child"]["state_schema"]["properties"]) == {"text", "steps"}
    assert await c.assistants.get_subgraphs("nested", namespace="nope") == {}
    assert list(await c.assistants.get_subgraphs("nested", namespace="child", recurse=True)) == [
        "child"
    ]
