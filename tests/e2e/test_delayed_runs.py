"""Delayed runs (``after_seconds``), as LangGraph Server keeps them: ``pending``
until due, the thread busy meanwhile, cancelled at once when asked, and never
lost by a process that dies while they wait (the schedule is in Redis)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_client

from tests.system import System, running_system

pytestmark = pytest.mark.e2e


def _started(run: dict[str, Any]) -> float:
    return datetime.fromisoformat(run["created_at"]).timestamp()


async def test_a_delayed_run_waits_pending_then_runs(c: Any) -> None:
    tid = (await c.threads.create())["thread_id"]
    asked = time.time()
    run = await c.runs.create(tid, "slow", input={"seconds": 0.01}, after_seconds=1.5)
    # The reference's created_at is when the run may start.
    assert _started(run) == pytest.approx(asked + 1.5, abs=0.5)
    await asyncio.sleep(0.8)
    assert (await c.runs.get(tid, run["run_id"]))["status"] == "pending"
    assert (await c.threads.get(tid))["status"] == "busy"
    assert await c.runs.join(tid, run["run_id"]) == {"seconds": 0.01, "done": True}
    assert time.time() - asked >= 1.4
    assert (await c.threads.get(tid))["status"] == "idle"
    # A stateless one, waited for.
    asked = time.time()
    out = await c.runs.wait(None, "slow", input={"seconds": 0.01}, after_seconds=1)
    assert out == {"seconds": 0.01, "done": True}
    assert time.time() - asked >= 0.9


async def test_a_delayed_run_queued_behind_another_waits_for_its_time(c: Any) -> None:
    tid = (await c.threads.create())["thread_id"]
    first = await c.runs.create(tid, "slow", input={"seconds": 0.2})
    asked = time.time()
    delayed = await c.runs.create(
        tid, "slow", input={"seconds": 0.01}, after_seconds=2, multitask_strategy="enqueue"
    )
    await c.runs.join(tid, first["run_id"])
    await asyncio.sleep(0.5)  # the thread is handed to it, but it is not due
    assert (await c.runs.get(tid, delayed["run_id"]))["status"] == "pending"
    await c.runs.join(tid, delayed["run_id"])
    assert time.time() - asked >= 1.9
    assert (await c.runs.get(tid, delayed["run_id"]))["status"] == "success"


async def test_a_delayed_run_due_before_its_turn_starts_with_its_turn(c: Any) -> None:
    tid = (await c.threads.create())["thread_id"]
    first = await c.runs.create(tid, "slow", input={"seconds": 1.5})
    delayed = await c.runs.create(
        tid, "slow", input={"seconds": 0.01}, after_seconds=0.2, multitask_strategy="enqueue"
    )
    await c.runs.join(tid, first["run_id"])
    ended = time.time()
    await c.runs.join(tid, delayed["run_id"])
    assert time.time() - ended < 3  # at once, not at the next sweep of a queued run
    assert (await c.runs.get(tid, delayed["run_id"]))["status"] == "success"


async def test_a_delayed_run_is_cancelled_at_once(c: Any) -> None:
    tid = (await c.threads.create())["thread_id"]
    run = await c.runs.create(tid, "slow", input={"seconds": 0.01}, after_seconds=60)
    began = time.monotonic()
    await c.runs.cancel(tid, run["run_id"], wait=True)
    assert time.monotonic() - began < 3
    assert (await c.runs.get(tid, run["run_id"]))["status"] == "interrupted"
    assert (await c.threads.get(tid))["status"] == "idle"
    # The thread is free again: a new run goes at once.
    assert await c.runs.wait(tid, "slow", input={"seconds": 0.01}) == {
        "seconds": 0.01,
        "done": True,
    }
    # Bulk cancel by status reaches delayed runs, on any thread.
    other = (await c.threads.create())["thread_id"]
    waiting = await c.runs.create(other, "slow", input={"seconds": 0.01}, after_seconds=60)
    await c.runs.cancel_many(status="pending")
    await c.runs.join(other, waiting["run_id"])
    assert (await c.runs.get(other, waiting["run_id"]))["status"] == "interrupted"


async def test_a_thread_with_a_delayed_run_is_busy_to_reject(c: Any) -> None:
    from langgraph_sdk.errors import ConflictError

    tid = (await c.threads.create())["thread_id"]
    run = await c.runs.create(tid, "slow", input={"seconds": 0.01}, after_seconds=30)
    with pytest.raises(ConflictError):
        await c.runs.create(tid, "slow", input={"seconds": 0.01}, multitask_strategy="reject")
    # interrupt: the delayed run ends, the new one starts at once.
    out = await c.runs.wait(tid, "slow", input={"seconds": 0.01}, multitask_strategy="interrupt")
    assert out == {"seconds": 0.01, "done": True}
    assert (await c.runs.get(tid, run["run_id"]))["status"] == "interrupted"


async def test_delayed_runs_refuse_a_negative_delay(system: System, c: Any) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=system.url) as http:
        r = await http.post("/runs", json={"assistant_id": "slow", "after_seconds": -1})
        assert r.status_code == 422 and "after_seconds" in r.text


def test_a_delayed_run_outlives_its_executor_and_gateway(tmp_path: Path) -> None:
    """kill -9 of every process while the run waits: a new executor and
    gateway send it when due, once."""

    async def scenario(system: System) -> None:
        async with get_client(url=system.url, timeout=30) as c:
            tid = (await c.threads.create())["thread_id"]
            run = await c.runs.create(tid, "slow", input={"seconds": 0.01}, after_seconds=3)
            for svc in list(system.services):
                svc.kill()
            system.services.clear()
            system.executor()
            system.gateway()
            system.wait_ready()
            assert await c.runs.join(tid, run["run_id"]) == {"seconds": 0.01, "done": True}
            runs = await c.runs.list(tid)
            assert [(r["run_id"], r["status"]) for r in runs] == [(run["run_id"], "success")]

    with running_system(tmp_path / "sys") as system:
        asyncio.run(scenario(system))
