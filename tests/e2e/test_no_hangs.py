"""No request waits forever: each of these returns within a few seconds.

- join, join_stream and cancel(wait=True) of a run cancelled while it was still
  queued behind another run of its thread;
- join_stream and join of a finished run whose events have expired;
- a stateless runs.wait whose closing event was lost while the gateway's NATS
  connection was down (the run's record in Redis is read instead).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from langgraph_sdk import get_client

from relaygraph.subjects import Subjects
from tests.netfault import CuttableProxy
from tests.system import System, running_system

pytestmark = pytest.mark.e2e


async def test_a_run_cancelled_while_queued_ends_for_everyone_waiting(
    system: System, c: Any
) -> None:
    tid = (await c.threads.create())["thread_id"]
    active = await c.runs.create(tid, "slow", input={"seconds": 3})
    queued = await c.runs.create(tid, "slow", input={"seconds": 0.1})
    follower = asyncio.create_task(_collect(c.runs.join_stream(tid, queued["run_id"])))
    waiter = asyncio.create_task(c.runs.join(tid, queued["run_id"]))
    await asyncio.sleep(0.3)

    started = time.monotonic()
    async with httpx.AsyncClient(base_url=system.url, timeout=10) as http:
        r = await http.post(
            f"/threads/{tid}/runs/{queued['run_id']}/cancel", params={"wait": "true"}
        )
    assert r.status_code == 200
    assert await asyncio.wait_for(waiter, 3) == r.json()
    assert await asyncio.wait_for(follower, 3) == []
    assert await asyncio.wait_for(c.runs.join(tid, queued["run_id"]), 3) == r.json()
    assert [x async for x in c.runs.join_stream(tid, queued["run_id"])] == []
    assert time.monotonic() - started < 3
    assert (await c.runs.get(tid, queued["run_id"]))["status"] == "interrupted"
    # The active run was not disturbed.
    assert await c.runs.join(tid, active["run_id"]) == {"seconds": 3, "done": True}
    assert (await c.runs.get(tid, active["run_id"]))["status"] == "success"


async def test_join_stream_of_a_finished_run_whose_events_expired(system: System, c: Any) -> None:
    tid = (await c.threads.create())["thread_id"]
    run = await c.runs.create(tid, "slow", input={"seconds": 0.1})
    assert await c.runs.join(tid, run["run_id"]) == {"seconds": 0.1, "done": True}
    replayed = [chunk async for chunk in c.runs.join_stream(tid, run["run_id"])]
    assert replayed  # still kept: replayed from the start
    # The events stream drops what is older than NATS_EVENTS_MAX_AGE; do it now.
    subjects = Subjects()
    nc = await nats.connect(system.nats.url)
    try:
        await nc.jetstream().purge_stream(
            subjects.events_stream, subject=subjects.run_events(tid, run["run_id"])
        )
    finally:
        await nc.close()
    started = time.monotonic()
    assert [chunk async for chunk in c.runs.join_stream(tid, run["run_id"])] == []
    assert await c.runs.join(tid, run["run_id"]) == {"seconds": 0.1, "done": True}
    assert time.monotonic() - started < 2


async def _collect(stream: AsyncIterator[Any]) -> list[Any]:
    return [chunk async for chunk in stream]


@pytest.fixture
def cut_system(tmp_path: Path) -> Iterator[System]:
    with running_system(tmp_path / "system") as system:
        yield system


async def test_a_stateless_wait_whose_end_event_was_lost(cut_system: System) -> None:
    """The gateway's NATS connection goes through a proxy that is cut while
    the run ends: its closing event is published while the gateway is away."""
    system = cut_system
    system.services.pop().stop()  # the gateway, restarted behind the proxy
    async with CuttableProxy(system.nats.port) as proxy:
        system.gateway(NATS_URL=proxy.url)
        await asyncio.to_thread(system.wait_ready)  # the proxy serves meanwhile
        async with get_client(url=system.url, timeout=60) as c:
            started = time.monotonic()
            wait = asyncio.create_task(c.runs.wait(None, "slow", input={"seconds": 2}))
            await asyncio.sleep(0.5)
            await proxy.cut()
            await asyncio.sleep(3)  # the run ends meanwhile
            assert not wait.done()
            proxy.restore()
            assert await asyncio.wait_for(wait, 15) == {"seconds": 2, "done": True}
            assert time.monotonic() - started < 15
    log = (system.data / "gateway.log").read_text()
    assert "Traceback" not in log
