"""A Redis Cluster master killed -9: requests for its slots wait until its
replica takes over (up to ``REDIS_RETRY_SECONDS``) and then succeed; with a
budget shorter than the failover they get a 503, never a 500. The chaos
workload on a cluster is in test_chaos_short.py."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import httpx
import pytest
from redis.crc import key_slot

from relaygraph.keys import Keys
from relaygraph_dev.servers import ServerProcess
from relaygraph_dev.valkey_cluster import ValkeyCluster
from tests.system import running_system

pytestmark = pytest.mark.chaos


def _threads_on(cluster: ValkeyCluster, master: ServerProcess, count: int) -> list[str]:
    found: list[str] = []
    while len(found) < count:
        tid = str(uuid.uuid4())
        if cluster.master_of(key_slot(Keys().thread(tid).encode())) is master:
            found.append(tid)
    return found


@pytest.mark.timeout(180)
async def test_requests_wait_out_a_master_failover_within_the_retry_budget(tmp_path: Path) -> None:
    with running_system(tmp_path, executors=1, redis_masters=3, redis_replicas=1) as system:
        cluster = system.redis_cluster
        assert cluster is not None
        victim = cluster.master_nodes()[1]
        patient, hasty = _threads_on(cluster, victim, 2)
        with system.another_gateway("hasty", REDIS_RETRY_SECONDS="0.5") as hasty_url:
            async with httpx.AsyncClient(timeout=60) as http:
                victim.kill()
                started = time.monotonic()
                waited, refused = await asyncio.gather(
                    http.post(f"{system.url}/threads", json={"thread_id": patient}),
                    http.post(f"{hasty_url}/threads", json={"thread_id": hasty}),
                )
                took = time.monotonic() - started
                # The default budget (15 s) outlasts the failover: the request waits.
                assert waited.status_code == 200, waited.text
                assert 1.0 < took < 15, took
                # Half a second does not: Redis is unavailable, said as a 503.
                assert refused.status_code == 503, refused.text
                assert "Redis is unavailable" in refused.json()["detail"]
                # The new master has what was written; a run on the thread works.
                r = await http.post(
                    f"{system.url}/threads/{patient}/runs/wait",
                    json={"assistant_id": "agent", "input": {"some_text": "x"}},
                )
                assert r.status_code == 200, r.text
                got = await http.get(f"{system.url}/threads/{patient}")
                assert got.json()["status"] == "interrupted"
