"""A 5xx means "not accepted": once the gateway has recorded a run in Redis it
answers as for any accepted run, even when NATS cannot take the run at that
moment (the record is the outbox: the publish is retried through a stream
leader election, and the sweeper sends the run later if it still did not
land). So a client never retries a run that runs anyway, and no accepted run
is lost or run twice.

Caused for real: one node of a 3-node NATS cluster (R3 streams) killed -9
under load, and a single nats-server stopped while runs are created.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import pytest
from langgraph_sdk import get_client

from tests.system import System, running_system

pytestmark = pytest.mark.chaos
ENV = {"RELAYGRAPH_DISPATCH_GRACE": "4", "RELAYGRAPH_SWEEP_INTERVAL": "0.2"}


@pytest.fixture
def three_nodes(tmp_path: Path) -> Iterator[System]:
    with running_system(tmp_path / "system", executors=2, nats_nodes=3, extra_env=ENV) as s:
        yield s


@pytest.fixture
def one_node(tmp_path: Path) -> Iterator[System]:
    with running_system(tmp_path / "system", extra_env=ENV) as system:
        yield system


async def runs_leader(system: System) -> int:
    """The node leading the run requests' stream (the one to kill)."""
    assert system.nats_cluster is not None
    nc = await nats.connect(system.env["NATS_URL"].split(","))
    try:
        info = await nc.jetstream().stream_info("RELAYGRAPH_RUNS")
    finally:
        await nc.close()
    assert info.cluster is not None and info.cluster.leader is not None
    return int(info.cluster.leader.removeprefix("n"))


async def every_run_ran_once(system: System, accepted: dict[str, float]) -> None:
    """Each accepted thread has exactly one run, and it ended with its values."""
    async with get_client(url=system.url, timeout=60) as c:
        for thread_id, seconds in accepted.items():
            runs = await c.runs.list(thread_id)
            assert len(runs) == 1, (thread_id, runs)
            out = await asyncio.wait_for(c.runs.join(thread_id, runs[0]["run_id"]), 60)
            assert out == {"seconds": seconds, "done": True}
            assert (await c.runs.get(thread_id, runs[0]["run_id"]))["status"] == "success"


async def test_a_nats_node_killed_under_load_loses_and_repeats_nothing(
    three_nodes: System,
) -> None:
    system = three_nodes
    assert system.nats_cluster is not None
    victim = system.nats_cluster.nodes[await runs_leader(system)]
    statuses: dict[str, int] = {}
    accepted: dict[str, float] = {}
    sent: list[float] = []  # when each run was created

    async def client(http: httpx.AsyncClient, n: int) -> None:
        for i in range(6):
            thread_id = (await http.post("/threads", json={})).json()["thread_id"]
            seconds = round(0.05 + 0.01 * i, 2)
            sent.append(time.monotonic())
            r = await http.post(
                f"/threads/{thread_id}/runs",
                json={"assistant_id": "slow", "input": {"seconds": seconds}},
            )
            statuses[thread_id] = r.status_code
            if r.status_code == 200:
                accepted[thread_id] = seconds
            await asyncio.sleep(0.2)

    async with httpx.AsyncClient(base_url=system.url, timeout=60) as http:
        load = asyncio.gather(*(client(http, n) for n in range(8)))
        await asyncio.sleep(0.5)
        victim.kill()
        killed_at = time.monotonic()
        await load
    # The kill fell inside the load, and runs created after it met the leader
    # election: their publish failed and was retried (the gateway logs each retry).
    before = [t for t in sent if t < killed_at]
    assert before and len(sent) - len(before) >= 8, (len(before), len(sent))
    assert "publish on relaygraph.runs.queue failed" in (system.data / "gateway.log").read_text()
    assert set(statuses.values()) == {200}, statuses
    assert len(accepted) == 48
    await every_run_ran_once(system, accepted)


async def test_runs_created_while_nats_is_down_are_accepted_and_run_once(
    one_node: System,
) -> None:
    """Background runs are answered ``pending``; a ``runs/wait`` sent meanwhile
    waits through the outage and answers the run's output once NATS is back."""
    system = one_node
    async with httpx.AsyncClient(base_url=system.url, timeout=60) as http:
        threads = [(await http.post("/threads", json={})).json()["thread_id"] for _ in range(4)]
        waited = threads.pop()
        system.nats.stop()
        started = time.monotonic()
        wait = asyncio.create_task(
            http.post(
                f"/threads/{waited}/runs/wait",
                json={"assistant_id": "slow", "input": {"seconds": 0.05}},
            )
        )
        accepted: dict[str, float] = {waited: 0.05}
        for i, thread_id in enumerate(threads):
            seconds = 0.1 + i / 10
            r = await http.post(
                f"/threads/{thread_id}/runs",
                json={"assistant_id": "slow", "input": {"seconds": seconds}},
            )
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "pending"
            accepted[thread_id] = seconds
        assert time.monotonic() - started < 30
        assert not wait.done(), wait  # nothing could run it yet
        system.nats.start()
        r = await asyncio.wait_for(wait, 60)
        assert r.status_code == 200, r.text
        assert r.json() == {"seconds": 0.05, "done": True}
    await every_run_ran_once(system, accepted)
    log = (system.data / "gateway.log").read_text()
    assert "is accepted but NATS did not take it" in log


async def test_streams_keep_their_replicas(three_nodes: System) -> None:
    """NATS_REPLICAS=3 made every stream R3; a service started without it (as
    a reviewer deployed without the variable would be) does not lower them."""
    nc = await nats.connect(three_nodes.env["NATS_URL"].split(","))
    try:
        js = nc.jetstream()
        names = ["RELAYGRAPH_RUNS", "RELAYGRAPH_EVENTS", "RELAYGRAPH_INTERRUPTS"]
        for name in names:
            assert (await js.stream_info(name)).config.num_replicas == 3
        three_nodes.executor(NATS_REPLICAS="1")
        await asyncio.sleep(0)
        deadline = time.monotonic() + 30
        log = three_nodes.data / f"executor-{len(three_nodes.services) - 1}.log"
        while "serving graphs" not in (log.read_text() if log.exists() else ""):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)
        assert "keeping 3" in log.read_text()
        for name in names:
            assert (await js.stream_info(name)).config.num_replicas == 3
    finally:
        await nc.close()
