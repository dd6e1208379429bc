"""bench/run.py keeps working: its smallest configuration (relaygraph as separate
gateway + executor processes only; no official server install) runs every scenario
end to end against real processes, checks every answer, and writes its report.
No assertion on timings: this is not a performance test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def serverbench() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCH))
    try:
        import serverbench.main

        yield serverbench.main
    finally:
        sys.path.remove(str(BENCH))


@pytest.mark.timeout(180)
async def test_smallest_configuration(serverbench: ModuleType, tmp_path: Path) -> None:
    cfg = serverbench.SMOKE
    out = tmp_path / "results"
    results = await serverbench.run(cfg, out=out, log=lambda _line: None, work=tmp_path / "work")

    split = results.targets["relaygraph-split"]
    assert not split.failed, split.failed
    rows = results.rows()
    assert {r["scenario"] for r in rows} == {
        "interrupt-sdk",
        "interrupt-raw",
        "stateless-sdk",
        "stream-sdk",
        "interrupt-load",
        *(f"io-{n}x" for n in cfg.scaleout),
    }
    for row in rows:
        assert row["n"] > 0, row
        assert row["errors"] == 0, (row, split.outcomes.get(row["scenario"]))
    assert {"gateway", "executor-0", "nats-server", "valkey-server"} <= set(split.rss_idle)

    report = (out / "server.md").read_text()
    assert "relaygraph split" in report and "## Targets" in report
    for png in ("latency", "throughput", "scaleout", "memory"):
        assert (out / f"server_{png}.png").stat().st_size > 10_000
