"""A short chaos run in `make test` (the full one is `make chaos`): threads of
the chaos graph answered by a NATS reviewer, while executors are killed -9 and
SIGSTOPped and NATS and Redis are killed -9 (both syncing every write), with
the default attempts per run. Nothing lost, nothing mismatched, no resume
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
