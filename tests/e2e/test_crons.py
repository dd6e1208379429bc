"""Crons through the official SDK, as LangGraph Server serves them: a thread's
cron runs on that thread, a stateless one on a new thread each tick (deleted
after its run unless ``on_run_completed="keep"``); each tick fires once however
many gateways poll, and a tick whose gateway died after taking it is fired by
another."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.errors import NotFoundError
from redis.asyncio import Redis

from relaygraph.crons import Crons
from relaygraph.keys import Keys
from relaygraph_gateway.cron_rules import next_fire, tick_ids
from tests.system import System, assert_eventually, running_system

pytestmark = pytest.mark.e2e

EVERY_SECOND = "* * * * * *"  # croniter: six fields, seconds last
QUICK = {"seconds": 0.01}


async def _runs_of(c: Any, thread_id: str) -> list[dict[str, Any]]:
    return await c.runs.list(thread_id, limit=100)


async def test_a_thread_cron_runs_on_its_thread_until_disabled(c: Any) -> None:
    tid = (await c.threads.create())["thread_id"]
    cron = await c.crons.create_for_thread(
        tid, "slow", schedule=EVERY_SECOND, input=QUICK, metadata={"team": "ops"}
    )
    assert cron["thread_id"] == tid and cron["enabled"] is True
    assert cron["on_run_completed"] is None and cron["user_id"] == ""
    assert cron["payload"]["config"]["configurable"]["cron_id"] == cron["cron_id"]
    assert cron["next_run_date"] is not None

    async def fired_twice() -> None:
        assert len(await _runs_of(c, tid)) >= 2

    await assert_eventually(fired_twice, timeout=8)
    run = (await _runs_of(c, tid))[0]
    assert run["metadata"]["team"] == "ops"  # the cron's metadata
    assert run["multitask_strategy"] == "enqueue"
    assert run["kwargs"]["config"]["configurable"]["cron_id"] == cron["cron_id"]

    off = await c.crons.update(cron["cron_id"], enabled=False)
    assert off["enabled"] is False
    await asyncio.sleep(1.5)  # a tick taken just before the patch may still land
    settled = len(await _runs_of(c, tid))
    await asyncio.sleep(2.5)
    assert len(await _runs_of(c, tid)) == settled

    # Deleting the thread deletes its crons.
    await c.threads.delete(tid)
    async with httpx.AsyncClient(base_url=str(c.http.client.base_url)) as http:
        assert (await http.get(f"/runs/crons/{cron['cron_id']}")).status_code == 404


async def test_stateless_crons_make_a_thread_per_run(c: Any) -> None:
    assistant = await c.assistants.create("slow", name="cron-stateless")
    aid = assistant["assistant_id"]
    kept = await c.crons.create(
        aid, schedule=EVERY_SECOND, input=QUICK, on_run_completed="keep", metadata={"k": 1}
    )
    assert kept["thread_id"] is None and kept["on_run_completed"] == "keep"

    async def threads_kept() -> None:
        found = await c.threads.search(metadata={"assistant_id": aid}, limit=100)
        assert len(found) >= 2
        assert {t["status"] for t in found[1:]} <= {"idle", "busy"}

    await assert_eventually(threads_kept, timeout=8)
    await c.crons.delete(kept["cron_id"])

    gone = await c.crons.create(aid, schedule=EVERY_SECOND, input=QUICK)
    assert gone["on_run_completed"] == "delete"
    before = len(await c.threads.search(metadata={"assistant_id": aid}, limit=1000))
    await asyncio.sleep(3)
    await c.crons.delete(gone["cron_id"])
    await asyncio.sleep(0.5)
    # Each run's thread went when its run ended.
    after = len(await c.threads.search(metadata={"assistant_id": aid}, limit=1000))
    assert after <= before + 1
    # Deleting the assistant deletes its crons.
    third = await c.crons.create(aid, schedule="0 0 1 1 *", input=QUICK)
    await c.assistants.delete(aid)
    assert await c.crons.search(assistant_id=aid) == []
    with pytest.raises(NotFoundError):
        await c.crons.delete(third["cron_id"])


async def test_search_count_update_and_delete(c: Any) -> None:
    tid = (await c.threads.create())["thread_id"]
    yearly = "0 0 1 1 *"
    made = [
        await c.crons.create_for_thread(
            tid, "slow", schedule=yearly, input=QUICK, metadata={"n": n, "tag": "sc"}
        )
        for n in range(3)
    ]
    assert await c.crons.count(thread_id=tid) == 3
    assert await c.crons.count(metadata={"tag": "sc", "n": 1}) == 1
    found = await c.crons.search(thread_id=tid, limit=2, sort_by="created_at", sort_order="asc")
    assert [f["cron_id"] for f in found] == [m["cron_id"] for m in made[:2]]
    slim = await c.crons.search(thread_id=tid, select=["cron_id", "schedule"])
    assert all(set(s) == {"cron_id", "schedule"} for s in slim)

    first = made[0]["cron_id"]
    changed = await c.crons.update(
        first, schedule="0 12 * * *", timezone="Europe/Paris", metadata={"x": True}
    )
    assert changed["schedule"] == "0 12 * * *" and changed["timezone"] == "Europe/Paris"
    assert changed["metadata"] == {"n": 0, "tag": "sc", "x": True}  # merged
    assert changed["next_run_date"].endswith("11:00:00+00:00")  # noon in Paris, in winter
    assert changed["assistant_id"] == made[0]["assistant_id"]
    await c.crons.update(first, enabled=False)
    assert await c.crons.search(thread_id=tid, enabled=False) != []

    for m in made:
        await c.crons.delete(m["cron_id"])
    assert await c.crons.count(thread_id=tid) == 0
    with pytest.raises(NotFoundError):
        await c.crons.delete(first)


async def test_bad_crons_get_a_clear_4xx(system: System) -> None:
    async with httpx.AsyncClient(base_url=system.url) as http:
        tid = (await http.post("/threads", json={})).json()["thread_id"]
        r = await http.post("/runs/crons", json={"assistant_id": "slow", "schedule": "61 * * * *"})
        assert r.status_code == 422 and "Invalid cron schedule: '61 * * * *'" in r.text
        r = await http.post(
            "/runs/crons",
            json={"assistant_id": "slow", "schedule": "* * * * *", "timezone": "Mars/Olympus"},
        )
        assert r.status_code == 422 and "Invalid timezone: 'Mars/Olympus'" in r.json()["detail"]
        r = await http.post("/runs/crons", json={"assistant_id": "slow", "schedule": "0 0 30 2 *"})
        assert r.status_code == 422 and "never fires" in r.text
        r = await http.post("/runs/crons", json={"assistant_id": "slow"})
        assert r.status_code == 422 and "schedule" in r.text
        r = await http.post(
            "/runs/crons",
            json={"assistant_id": "00000000-0000-0000-0000-000000000009", "schedule": "* * * * *"},
        )
        assert r.status_code == 404
        r = await http.post(
            "/threads/00000000-0000-0000-0000-000000000009/runs/crons",
            json={"assistant_id": "slow", "schedule": "* * * * *"},
        )
        assert r.status_code == 404
        r = await http.post(  # vetted when made: this run could never start
            f"/threads/{tid}/runs/crons",
            json={"assistant_id": "slow", "schedule": "* * * * *", "input": {"nope": 1}},
        )
        assert r.status_code == 422 and "nope" in r.text
        r = await http.patch("/runs/crons/00000000-0000-0000-0000-000000000009", json={})
        assert r.status_code == 400 and r.json() == {"detail": "Request body cannot be empty"}
        r = await http.patch(
            "/runs/crons/00000000-0000-0000-0000-000000000009", json={"enabled": False}
        )
        assert r.status_code == 404
        r = await http.delete("/runs/crons/00000000-0000-0000-0000-000000000009")
        assert r.status_code == 404 and r.json() == {"detail": "Not Found"}
        r = await http.post("/runs/crons/search", json={"limit": 0})
        assert r.status_code == 422


def test_each_tick_fires_once_across_gateways_killed_mid_tick(tmp_path: Path) -> None:
    """Two gateways poll (and two executors run); gateways are killed with
    SIGKILL, and a tick is taken by a 'gateway' that dies before it records
    the run (a claim made here and never fired). Every tick of the window has
    exactly one run."""
    env = {"RELAYGRAPH_CRON_FIRE_GRACE": "1", "RELAYGRAPH_CRON_INTERVAL": "0.3"}

    async def scenario(system: System) -> None:
        async with get_client(url=system.url, timeout=30) as c:
            tid = (await c.threads.create())["thread_id"]
            cron = await c.crons.create_for_thread(tid, "slow", schedule=EVERY_SECOND, input=QUICK)
            cron_id = cron["cron_id"]
            crons = Crons(Redis.from_url(system.redis.url), Keys())
            began = time.time()
            with system.another_gateway("gateway-b", killed=True, **env):
                await asyncio.sleep(2)
                # A tick taken by a gateway that dies at once: never fired by it.
                tick = int(await crons.redis.zscore(crons.keys.crons_due, cron_id) or 0)
                nxt = next_fire(EVERY_SECOND, None, tick)
                assert await crons.claim(cron_id, tick, nxt, int(time.time() * 1000) + 1000)
                await asyncio.sleep(2)
            began_b = time.time()
            with system.another_gateway("gateway-c", killed=True, **env):
                await asyncio.sleep(1.5)
            await asyncio.sleep(1)
            await c.crons.update(cron_id, enabled=False)
            await asyncio.sleep(2.5)  # the last claimed ticks land
            ended = time.time()
            await crons.redis.aclose()

            runs = await _runs_of(c, tid)
            by_id = {r["run_id"]: r for r in runs}
            assert len(by_id) == len(runs)
            ticks = range(int(began) * 1000, int(ended + 1) * 1000, 1000)
            fired = [t for t in ticks if tick_ids(cron_id, t)[1] in by_id]
            assert len(fired) == len(runs), "a run that is no tick's"
            assert tick_ids(cron_id, tick)[1] in by_id, "the dead gateway's tick never fired"
            # No tick missing between the first and the last (one gateway always ran).
            assert fired == list(range(fired[0], fired[-1] + 1000, 1000)), fired
            assert len(fired) >= (began_b - began) + 1
            for r in runs:
                await c.runs.join(tid, r["run_id"])

    with running_system(tmp_path / "sys", executors=2, extra_env=env) as system:
        asyncio.run(scenario(system))
