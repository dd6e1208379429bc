"""Runs beyond the human-in-the-loop path, as LangGraph Server serves them:
a batch of stateless background runs (vetted whole before any is created),
and a thread's runs filtered by status before they are paged."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from langgraph_sdk.errors import NotFoundError

from tests.system import System, assert_eventually

pytestmark = pytest.mark.e2e


async def test_a_batch_of_stateless_runs(system: System, c: Any) -> None:
    made = await c.runs.create_batch(
        [
            {"assistant_id": "slow", "input": {"seconds": 0.01}},
            {"assistant_id": "slow", "input": {"seconds": 0.02}, "metadata": {"n": 2}},
        ]
    )
    assert [r["status"] for r in made] == ["pending", "pending"]
    assert made[1]["metadata"]["n"] == 2
    outs = [await c.runs.join(r["thread_id"], r["run_id"]) for r in made]
    assert outs == [{"seconds": 0.01, "done": True}, {"seconds": 0.02, "done": True}]
    with pytest.raises(NotFoundError):  # one unknown assistant: the batch is refused
        await c.runs.create_batch(
            [
                {"assistant_id": "slow", "input": {"seconds": 0.01}},
                {"assistant_id": "00000000-0000-0000-0000-000000000009"},
            ]
        )
    async with httpx.AsyncClient(base_url=system.url) as http:
        r = await http.post("/runs/batch", json=[])
        assert r.status_code == 422


async def test_runs_are_filtered_by_status_before_they_are_paged(c: Any) -> None:
    tid = (await c.threads.create())["thread_id"]
    done = await c.runs.create(tid, "slow", input={"seconds": 0.01})
    await c.runs.join(tid, done["run_id"])
    for _ in range(3):  # newer runs, all cancelled
        run = await c.runs.create(tid, "slow", input={"seconds": 5})
        await c.runs.cancel(tid, run["run_id"], wait=True)
    assert len(await c.runs.list(tid, limit=3)) == 3
    found = await c.runs.list(tid, status="success", limit=1)
    assert [r["run_id"] for r in found] == [done["run_id"]]
    assert await c.runs.list(tid, status="success", limit=1, offset=1) == []
    assert len(await c.runs.list(tid, status="interrupted", limit=10)) == 3


async def _busy_thread(c: Any) -> tuple[str, str, str]:
    """A thread with a long run going and one queued behind it."""
    tid = (await c.threads.create())["thread_id"]
    running = await c.runs.create(tid, "slow", input={"seconds": 3})
    queued = await c.runs.create(tid, "slow", input={"seconds": 0.01}, multitask_strategy="enqueue")
    return tid, running["run_id"], queued["run_id"]


async def test_cancel_many_by_ids_or_by_status(system: System, c: Any) -> None:
    tid, running, queued = await _busy_thread(c)
    await c.runs.cancel_many(thread_id=tid, run_ids=[running, queued])
    for run_id in (running, queued):
        await c.runs.join(tid, run_id)
        assert (await c.runs.get(tid, run_id))["status"] == "interrupted"

    busy = [await _busy_thread(c) for _ in range(2)]
    await c.runs.cancel_many(status="pending")  # the queued ones, on every thread
    for tid, running, queued in busy:
        await c.runs.join(tid, queued)
        assert (await c.runs.get(tid, queued))["status"] == "interrupted"
        assert await c.runs.join(tid, running) == {"seconds": 3, "done": True}

    with pytest.raises(NotFoundError):
        await c.runs.cancel_many(thread_id=tid, run_ids=["00000000-0000-0000-0000-000000000009"])
    async with httpx.AsyncClient(base_url=system.url) as http:
        r = await http.post("/runs/cancel", json={"status": "all", "thread_id": tid})
        assert r.status_code == 422 and "must be omitted" in r.json()["detail"]
        r = await http.post("/runs/cancel", json={})
        assert r.status_code == 422


@pytest.mark.parametrize("strategy", ["interrupt", "rollback"])
async def test_a_new_run_ends_the_running_and_every_queued_run(c: Any, strategy: str) -> None:
    tid, running, queued = await _busy_thread(c)
    new = await c.runs.create(tid, "slow", input={"seconds": 0.02}, multitask_strategy=strategy)
    assert await asyncio.wait_for(c.runs.join(tid, new["run_id"]), 2.5) == {
        "seconds": 0.02,
        "done": True,
    }  # at once: not behind the run that was queued before it
    if strategy == "interrupt":
        for run_id in (running, queued):
            await c.runs.join(tid, run_id)
            assert (await c.runs.get(tid, run_id))["status"] == "interrupted"
    else:
        for run_id in (running, queued):
            with pytest.raises(NotFoundError):
                await c.runs.get(tid, run_id)
        assert [r["run_id"] for r in await c.runs.list(tid)] == [new["run_id"]]


async def test_commands_go_to_nodes_sends_and_update_pairs(system: System, c: Any) -> None:
    tid = (await c.threads.create())["thread_id"]
    await c.runs.wait(tid, "slow", input={"seconds": 0.01})
    # `update` as [key, value] pairs, `goto` one node by name.
    out = await c.runs.wait(
        tid, "slow", command={"update": [["seconds", 0.02], ["done", False]], "goto": "wait_a_bit"}
    )
    assert out == {"seconds": 0.02, "done": True}
    # `goto` {node, input}: a Send, the node gets that input (not written to the state).
    await c.threads.update_state(tid, {"done": False})
    out = await c.runs.wait(tid, "slow", command={"goto": {"node": "wait_a_bit", "input": {}}})
    assert out == {"seconds": 0.02, "done": True}
    out = await c.runs.wait(
        tid, "slow", command={"goto": [{"node": "wait_a_bit", "input": {"seconds": 0}}]}
    )
    assert out["done"] is True
    async with httpx.AsyncClient(base_url=system.url) as http:
        r = await http.post(
            f"/threads/{tid}/runs",
            json={"assistant_id": "slow", "command": {"goto": ["wait_a_bit", {"node": "x"}]}},
        )
        assert r.status_code == 422 and "goto" in r.text


async def test_a_wait_whose_client_leaves_cancels_the_run_with_on_disconnect_cancel(
    system: System, c: Any
) -> None:
    tid = (await c.threads.create())["thread_id"]
    body = {"assistant_id": "slow", "input": {"seconds": 5}, "on_disconnect": "cancel"}
    async with httpx.AsyncClient(base_url=system.url) as http:
        async with http.stream("POST", f"/threads/{tid}/runs/wait", json=body) as r:
            assert r.status_code == 200
            run_id = r.headers["content-location"].rsplit("/", 1)[-1]
            await asyncio.sleep(1)  # then the client goes

    async def cancelled() -> None:
        assert (await c.runs.get(tid, run_id))["status"] == "interrupted"

    await assert_eventually(cancelled, timeout=5)
    # Without it, the run goes on when the client leaves.
    body["on_disconnect"] = "continue"
    body["input"] = {"seconds": 1}
    async with httpx.AsyncClient(base_url=system.url) as http:
        async with http.stream("POST", f"/threads/{tid}/runs/wait", json=body) as r:
            run_id = r.headers["content-location"].rsplit("/", 1)[-1]
    assert await c.runs.join(tid, run_id) == {"seconds": 1, "done": True}
