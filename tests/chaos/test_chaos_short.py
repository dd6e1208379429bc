"""A short chaos run in `make test` (the full ones are `make chaos` and `make
chaos-cluster`): threads of the chaos graph answered by a NATS reviewer, while
executors are killed -9 and SIGSTOPped and NATS and Redis are killed -9 (both
syncing every write), with the default attempts per run; and the same on a
Valkey cluster of three masters with a replica each, where a master is killed
-9 and its replica takes over. Nothing lost, nothing mismatched, no resume
applied twice, every interrupt delivered; a run hit by more faults than its
attempts allow ends in error, and is counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.workload import ENV, drive
from tests.system import running_system

pytestmark = pytest.mark.chaos


@pytest.mark.timeout(300)
async def test_short_chaos_run(tmp_path: Path) -> None:
    effects = tmp_path / "effects.txt"
    effects.touch()
    faults = ["kill_executor", "stop_executor", "kill_nats", "kill_redis"]
    with running_system(
        tmp_path,
        executors=3,
        extra_env={**ENV, "RELAYGRAPH_TEST_EFFECTS": str(effects)},
        durable_servers=True,
    ) as system:
        report = await drive(
            system,
            threads=100,
            faults=faults,
            fault_interval=0.5,
            executors=3,
            timeout=180,
            min_faults=3,
        )
    print("\n" + report.table())
    assert sum(report.faults.values()) >= 3, report.table()
    assert report.ok, report.table()
    assert report.completed + len(report.errored) == 100


@pytest.mark.timeout(300)
async def test_short_chaos_run_on_a_redis_cluster(tmp_path: Path) -> None:
    effects = tmp_path / "effects.txt"
    effects.touch()
    faults = ["kill_executor", "stop_executor", "kill_redis_master"]
    with running_system(
        tmp_path,
        executors=3,
        extra_env={**ENV, "RELAYGRAPH_TEST_EFFECTS": str(effects)},
        redis_masters=3,
        redis_replicas=1,
    ) as system:
        report = await drive(
            system,
            threads=100,
            faults=faults,
            fault_interval=1.0,
            executors=3,
            timeout=180,
            min_faults=4,
        )
    print("\n" + report.table())
    assert report.faults["kill_redis_master"] >= 1, report.table()
    assert report.ok, report.table()
    assert report.completed + len(report.errored) == 100
