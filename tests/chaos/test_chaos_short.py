"""A short chaos run in `make test` (the full ones are `make chaos` and `make
chaos-cluster`): threads of the chaos graph answered by a NATS reviewer, while
executors are killed -9 and SIGSTOPped and NATS and Redis are killed -9 (both
syncing every write), with the default attempts per run; and the same on a
Valkey cluster of three masters with a replica each, where a master is killed
-9 and its replica takes over. Nothing lost, nothing mismatched, no resume
applied twice, every interrupt delivered; a run hit by more faults than its
attempts allow ends in error, and is counted."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.workload import ENV, drive
from tests.system import running_system

pytestmark = pytest.mark.chaos


@dataclass(frozen=True)
class Setup:
    faults: list[str]
    fault_interval: float
    min_faults: int
    servers: dict[str, Any]
    """``running_system`` arguments: which NATS and Redis."""


SETUPS = {
    "valkey": Setup(
        ["kill_executor", "stop_executor", "kill_nats", "kill_redis"],
        0.5,
        3,
        {"durable_servers": True},
    ),
    "valkey-cluster": Setup(
        ["kill_executor", "stop_executor", "kill_redis_master"],
        1.0,
        3,
        {"redis_masters": 3, "redis_replicas": 1},
    ),
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", list(SETUPS))
async def test_short_chaos_run(tmp_path: Path, kind: str) -> None:
    setup = SETUPS[kind]
    effects = tmp_path / "effects.txt"
    effects.touch()
    with running_system(
        tmp_path,
        executors=3,
        extra_env={**ENV, "RELAYGRAPH_TEST_EFFECTS": str(effects)},
        **setup.servers,
    ) as system:
        report = await drive(
            system,
            threads=100,
            faults=setup.faults,
            fault_interval=setup.fault_interval,
            executors=3,
            timeout=180,
            min_faults=setup.min_faults,
        )
    print("\n" + report.table())
    assert sum(report.faults.values()) >= setup.min_faults, report.table()
    if setup.min_faults >= len(setup.faults):  # then each kind came once at least
        assert set(report.faults) == set(setup.faults), report.table()
    assert report.ok, report.table()
    assert report.completed + len(report.errored) == 100
