"""Orchestration: start each target in turn, run every scenario on it, collect
the results, write the report and the plots."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

from serverbench import scenarios as sc
from serverbench.config import FULL, PRESETS, QUICK, SMOKE, Config
from serverbench.meta import machine_meta
from serverbench.progress import Log, traceback_tail
from serverbench.report.summary import dump_json
from serverbench.results import Results, TargetResult
from serverbench.scaleout import scale_out
from serverbench.target_run import bench_target, log_problems
from serverbench.targets import BENCH, TARGETS, WORK, RelaygraphSplit


async def run(cfg: Config, out: Path, log: Log = print, work: Path = WORK) -> Results:
    for d in (out, work):
        d.mkdir(parents=True, exist_ok=True)
    log(f"bench ({cfg.mode}): targets {', '.join(cfg.targets)}; results in {out}")
    meta = await asyncio.to_thread(machine_meta, cfg, "official" in cfg.targets)
    results = Results(cfg, meta)
    for key in cfg.targets:
        await _one_target(key, cfg, out, work, results, log)
    results.meta["loadavg_at_end"] = os.getloadavg()
    from serverbench.report import write_report

    write_report(results, out)
    return results


async def _one_target(
    key: str, cfg: Config, out: Path, work: Path, results: Results, log: Log
) -> None:
    """Start the target, run every scenario on it, stop it; then the scale-out
    series if it is the split system."""
    target = TARGETS[key](work)
    if cfg.quiet_wait:
        results.meta.setdefault("other_load_before", {})[key] = await sc.quiet(
            log, max_wait=cfg.quiet_wait
        )
    log(f"{target.name}: starting")
    t0 = time.monotonic()
    try:
        await asyncio.to_thread(target.start)
    except Exception as exc:
        results.targets[key] = TargetResult(key, target.name, failed=str(exc)[:2000])
        log(f"{target.name}: FAILED to start: {exc}")
        await asyncio.to_thread(target.stop)
        return
    log(f"{target.name}: up in {time.monotonic() - t0:.1f}s on {target.url}")
    try:
        results.targets[key] = await bench_target(target, cfg, out, log)
    except Exception as exc:
        results.targets[key] = TargetResult(key, target.name, failed=traceback_tail())
        log(f"{target.name}: FAILED: {exc!r}")
    finally:
        await asyncio.to_thread(target.stop)
    if isinstance(target, RelaygraphSplit) and cfg.scaleout:
        try:
            await scale_out(cfg, work, results.targets[key], log)
        except Exception as exc:
            results.targets[key].failed += "\nscale-out: " + traceback_tail()
            log(f"scale-out FAILED: {exc!r}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="bench/run.py",
        description="relaygraph side by side with the official LangGraph dev server",
    )
    p.add_argument("--mode", choices=sorted(PRESETS), default="full")
    p.add_argument("--quick", action="store_const", const="quick", dest="mode", help="--mode quick")
    p.add_argument("--targets", help="comma-separated subset of: " + ", ".join(TARGETS))
    p.add_argument("--out", type=Path, help="results directory (full: bench/results)")
    p.add_argument("--soak", type=float, help="seconds of the sustained run (override)")
    ns = p.parse_args(argv)
    cfg = PRESETS[ns.mode]
    if ns.targets:
        cfg = dataclasses.replace(cfg, targets=tuple(t.strip() for t in ns.targets.split(",")))
    if ns.soak is not None:
        cfg = dataclasses.replace(cfg, soak_duration=ns.soak)
    out = ns.out or (BENCH / "results" if cfg.mode == "full" else WORK / f"results-{cfg.mode}")
    t0 = time.monotonic()
    results = asyncio.run(run(cfg, out, log=lambda s: print(s, flush=True)))
    print(f"done in {time.monotonic() - t0:.0f}s: {out / 'server.md'}", flush=True)
    bad = [t for t in results.targets.values() if t.failed or t.errors]
    for t in bad:
        print(f"{t.name}: {'failed' if t.failed else f'{t.errors} error(s)'}", file=sys.stderr)
    return 1 if bad else 0


__all__ = [
    "FULL",
    "PRESETS",
    "QUICK",
    "SMOKE",
    "Config",
    "Results",
    "TargetResult",
    "bench_target",
    "dump_json",
    "json",
    "log_problems",
    "machine_meta",
    "main",
    "run",
    "scale_out",
]
