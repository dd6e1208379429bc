"""The threads API through the official SDK, as langgraph dev (langgraph-api
0.16.7) answers it: a thread tied to a graph at creation (state before any
run), reserved metadata dropped, patch with ``return_minimal``, copy, prune
(``delete`` and ``keep_latest``), search (sort, select, extract, filters,
pagination headers), count with every filter, TTLs that delete idle threads,
and the thread-wide event stream (``threads.join_stream``)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError

from tests.system import System

pytestmark = pytest.mark.e2e


@pytest.fixture
def tag() -> dict[str, str]:
    """Metadata only this test's threads carry (the system is shared)."""
    return {"suite": uuid.uuid4().hex}


async def test_a_thread_made_for_a_graph_has_state_before_any_run(c: Any) -> None:
    thread = await c.threads.create(graph_id="slow", metadata={"thread_id": "x", "run_id": "y"})
    assert thread["metadata"] == {"graph_id": "slow"}  # reserved keys dropped
    assert thread["state_updated_at"] == thread["created_at"]
    tid = thread["thread_id"]
    empty = await c.threads.get_state(tid)
    assert (empty["values"], empty["next"]) == ({}, [])
    assert empty["checkpoint"] is None and empty["metadata"] is None  # as the reference
    await c.threads.update_state(tid, {"seconds": 0.01}, as_node="__start__")
    state = await c.threads.get_state(tid)
    assert state["values"] == {"seconds": 0.01} and state["next"] == ["wait_a_bit"]
    assert (await c.threads.get(tid))["status"] == "interrupted"  # a node is next
    out = await c.runs.wait(tid, "slow", input=None)
    assert out == {"seconds": 0.01, "done": True}
    later = await c.threads.get(tid)
    assert later["state_updated_at"] > thread["state_updated_at"]


async def test_create_if_exists_patch_and_include_ttl(c: Any) -> None:
    made = await c.threads.create(metadata={"a": 1}, ttl=60)
    again = await c.threads.create(
        thread_id=made["thread_id"], metadata={"a": 2}, if_exists="do_nothing"
    )
    assert again["metadata"] == {"a": 1}
    assert (
        await c.threads.update(made["thread_id"], metadata={"b": None}, return_minimal=True) is None
    )
    patched = await c.threads.update(made["thread_id"], metadata={"c": 3}, ttl=30)
    assert patched["metadata"] == {"a": 1, "b": None, "c": 3}
    seen = await c.threads.get(made["thread_id"], include=["ttl"])
    assert seen["ttl"]["strategy"] == "delete" and seen["ttl"]["ttl_minutes"] == 30
    assert seen["ttl"]["expires_at"] > seen["updated_at"]
    with pytest.raises(UnprocessableEntityError):
        await c.threads.create(supersteps=[{"updates": [{"values": {}, "as_node": "x"}]}])


async def test_copy_has_the_state_and_history_but_not_the_runs(c: Any) -> None:
    thread = await c.threads.create(metadata={"kind": "original"})
    tid = thread["thread_id"]
    await c.runs.wait(tid, "counter", input={})
    original = await c.threads.get_state(tid)
    copy = await c.threads.copy(tid)
    assert copy["thread_id"] != tid
    assert copy["metadata"]["kind"] == "original" and copy["status"] == "interrupted"
    copied = await c.threads.get_state(copy["thread_id"])
    assert copied["values"] == original["values"] and copied["next"] == original["next"]
    assert copied["checkpoint"]["checkpoint_id"] == original["checkpoint"]["checkpoint_id"]
    assert len(await c.threads.get_history(copy["thread_id"])) == len(
        await c.threads.get_history(tid)
    )
    assert await c.runs.list(copy["thread_id"]) == []
    resumed = await c.runs.wait(copy["thread_id"], "counter", command={"resume": "yes"})
    assert resumed["answer"] == "yes"
    assert (await c.threads.get_state(tid))["next"] == ["side_effect"]  # the original waits on
    with pytest.raises(NotFoundError):
        await c.threads.copy(str(uuid.uuid4()))


async def test_prune_deletes_or_keeps_the_latest_checkpoints(c: Any) -> None:
    doomed = (await c.threads.create())["thread_id"]
    kept = (await c.threads.create())["thread_id"]
    for tid in (doomed, kept):
        for seconds in (0.01, 0.02):
            await c.runs.wait(tid, "slow", input={"seconds": seconds})
    gone = str(uuid.uuid4())
    assert await c.threads.prune([doomed, gone]) == {"pruned_count": 1}
    with pytest.raises(NotFoundError):
        await c.threads.get(doomed)
    assert len(await c.threads.get_history(kept, limit=100)) > 1
    assert await c.threads.prune([kept], strategy="keep_latest") == {"pruned_count": 1}
    history = await c.threads.get_history(kept, limit=100)
    assert len(history) == 1 and history[0]["values"] == {"seconds": 0.02, "done": True}
    assert (await c.threads.get(kept))["values"] == {"seconds": 0.02, "done": True}


async def test_search_sorts_selects_extracts_and_pages(
    system: System, c: Any, tag: dict[str, str]
) -> None:
    ids = []
    for n in range(3):
        tid = (await c.threads.create(metadata={**tag, "n": n}))["thread_id"]
        await c.runs.wait(tid, "slow", input={"seconds": 0.01 * (n + 1)})
        ids.append(tid)
    await c.threads.update(ids[0], metadata={"touched": True})  # now the latest update

    newest = await c.threads.search(metadata=tag)
    assert [t["thread_id"] for t in newest] == ids[::-1]  # by creation, newest first
    by_update = await c.threads.search(metadata=tag, sort_by="updated_at", sort_order="desc")
    assert [t["thread_id"] for t in by_update] == [ids[0], ids[2], ids[1]]
    oldest = await c.threads.search(metadata=tag, sort_by="created_at", sort_order="asc")
    assert [t["thread_id"] for t in oldest] == ids
    picked = await c.threads.search(
        metadata=tag,
        values={"seconds": 0.02},
        select=["thread_id", "status"],
        extract={"took": "values.seconds", "n": "metadata.n", "nothing": "values.x[0]"},
    )
    assert picked == [
        {
            "thread_id": ids[1],
            "status": "idle",
            "extracted": {"took": 0.02, "n": 1, "nothing": None},
        }
    ]
    assert await c.threads.count(metadata=tag) == 3
    assert await c.threads.count(metadata=tag, values={"done": True}, status="idle") == 3
    assert await c.threads.count(metadata=tag, values={"seconds": 0.03}) == 1

    async with httpx.AsyncClient(base_url=system.url) as http:
        r = await http.post("/threads/search", json={"metadata": tag, "limit": 2})
        assert r.headers["x-pagination-total"] == "3" and r.headers["x-pagination-next"] == "2"
        r = await http.post("/threads/search", json={"metadata": tag, "limit": 2, "offset": 2})
        assert r.headers["x-pagination-total"] == "3" and "x-pagination-next" not in r.headers
        r = await http.post(
            "/threads/search", json={"extract": {"thread_id": "values.a"}, "limit": 1}
        )
        assert r.status_code == 422 and "reserved field names" in r.json()["detail"]
        r = await http.post("/threads/search", json={"extract": {"a": "run.x"}})
        assert r.status_code == 422 and "must start with one of" in r.json()["detail"]
        r = await http.post("/threads/search", json={"ids": ["not a uuid!"]})
        assert (r.status_code, r.json()) == (400, {"detail": "Invalid thread ID not a uuid!"})


async def test_an_idle_thread_expires_after_its_ttl(c: Any) -> None:
    """tests/graphs/langgraph.json sweeps every 1.2 s."""
    short = (await c.threads.create(ttl={"ttl": 0.02, "strategy": "delete"}))["thread_id"]
    await c.runs.wait(short, "slow", input={"seconds": 0.01})
    kept = (await c.threads.create(ttl=60))["thread_id"]
    for _ in range(100):
        await asyncio.sleep(0.1)
        try:
            await c.threads.get(short)
        except NotFoundError:
            break
    with pytest.raises(NotFoundError):
        await c.threads.get(short)
    with pytest.raises(NotFoundError):
        await c.runs.list(short)
    assert (await c.threads.get(kept))["thread_id"] == kept


async def _events(c: Any, tid: str, runs: int, **kwargs: Any) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []
    async for part in await c.threads.join_stream(tid, **kwargs):
        seen.append((part.event, part.data))
        if sum(1 for e, d in seen if e == "metadata" and d.get("status") == "run_done") == runs:
            return seen
    return seen


async def test_join_stream_delivers_every_later_run(system: System, c: Any) -> None:
    tid = (await c.threads.create())["thread_id"]
    follow = asyncio.create_task(_events(c, tid, runs=2))
    await asyncio.sleep(0.5)
    first = await c.runs.wait(tid, "slow", input={"seconds": 0.01})
    second = await c.runs.create(tid, "slow", input={"seconds": 0.02})
    seen = await asyncio.wait_for(follow, 30)
    run_ids = [d["run_id"] for e, d in seen if e == "metadata" and "attempt" in d]
    assert len(run_ids) == 2 and run_ids[1] == second["run_id"]
    assert ("values", first) in seen
    assert ("values", {"seconds": 0.02, "done": True}) in seen
    done = [d["run_id"] for e, d in seen if e == "metadata" and d.get("status") == "run_done"]
    assert done == run_ids

    async with httpx.AsyncClient(base_url=system.url, timeout=30) as http:
        # lifecycle only, replayed from the start with Last-Event-ID
        lines = []
        async with http.stream(
            "GET",
            f"/threads/{tid}/stream",
            params={"stream_modes": "lifecycle"},
            headers={"Last-Event-ID": "0"},
        ) as r:
            assert r.status_code == 200
            async for line in r.aiter_lines():
                if line.startswith("event:"):
                    lines.append(line)
                if len(lines) == 4:
                    break
        assert lines == ["event: metadata"] * 4
        r = await http.get(f"/threads/{tid}/stream", headers={"Last-Event-ID": "12a"})
        assert r.status_code == 422 and "Last-Event-ID" in r.json()["detail"]
        r = await http.get(f"/threads/{tid}/stream", params={"stream_modes": "bogus"})
        assert (r.status_code, r.json()) == (422, {"detail": "Invalid stream mode: bogus"})


async def test_delete_a_run_then_its_thread(c: Any) -> None:
    tid = (await c.threads.create())["thread_id"]
    run = await c.runs.create(tid, "slow", input={"seconds": 0.3})
    with pytest.raises(ConflictError):  # still going: cancel it first
        await c.runs.delete(tid, run["run_id"])
    await c.runs.join(tid, run["run_id"])
    await c.runs.delete(tid, run["run_id"])
    assert await c.runs.list(tid) == []
    await c.threads.delete(tid)
    with pytest.raises(NotFoundError):
        await c.threads.get(tid)
    with pytest.raises(NotFoundError):
        await c.threads.delete(tid)


async def test_state_updates_reach_the_thread_stream(c: Any) -> None:
    tid = (await c.threads.create(graph_id="slow"))["thread_id"]

    async def first_update() -> tuple[str, Any]:
        async for part in await c.threads.join_stream(tid, stream_mode="state_update"):
            return part.event, part.data
        raise AssertionError("the stream ended")

    follow = asyncio.create_task(first_update())
    await asyncio.sleep(0.5)
    await c.runs.wait(tid, "slow", input={"seconds": 0.01})  # run events: not in this mode
    await c.threads.update_state(tid, {"seconds": 0.5})
    event, data = await asyncio.wait_for(follow, 30)
    assert event == "state_update" and data["thread_id"] == tid
    assert data["state"]["values"] == {"seconds": 0.5, "done": True}
