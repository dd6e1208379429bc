"""bench/checkpoint_bench.py keeps working: its smallest configuration runs end
to end (real valkey-server, SQLite file, InMemorySaver) and reports every
benchmark for every saver. No assertion on timings: this is not a perf test."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench" / "checkpoint_bench.py"


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("checkpoint_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through it
    spec.loader.exec_module(module)
    return module


async def test_smallest_configuration_reports_every_saver(tmp_path: Path) -> None:
    bench = load_bench()
    cfg = bench.SMOKE
    res = await bench.run(cfg, out=tmp_path, log=lambda _line: None)

    expected = (
        {("step", length) for length in cfg.history}
        | {("read", n) for n in cfg.threads}
        | {("graph-sync", "10 nodes"), ("graph-async", "10 nodes")}
    )
    for bench_name, point in expected:
        for saver in bench.SAVERS:
            row = res.row(bench_name, point, saver)
            assert row.n > 0, (bench_name, point, saver)
            assert all(ns > 0 for ns in row.samples_ns), (bench_name, point, saver)
            assert row.median_us > 0 and row.p99_us > 0
            if bench_name == "step":
                assert row.bytes_per_step is not None and row.bytes_per_step > 0, (point, saver)
    assert res.redis_cmds, "Redis commands per operation were not measured"
    assert {f.what for f in res.flatness()}  # both ratios computable
    assert all(f.ratio > 0 for f in res.flatness())

    report = (tmp_path / "checkpoint.md").read_text()
    for saver in ("InMemory", "SQLite", "Redis"):
        assert saver in report
    assert "PASS" in report or "FAIL" in report
    for png in ("checkpoint_step_latency.png", "checkpoint_read_latency.png"):
        assert (tmp_path / png).read_bytes().startswith(b"\x89PNG")
