"""Orchestration: start each target in turn, run every scenario on it, collect
the results, write the report and the plots."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serverbench import scenarios as sc
from serverbench.procs import snapshot_rss
from serverbench.profile import Profile, Recorder
from serverbench.targets import BENCH, TARGETS, WORK, RelaygraphSplit, Target, tools_venv


@dataclass(frozen=True)
class Config:
    mode: str
    targets: tuple[str, ...] = ("relaygraph-dev", "relaygraph-split", "official")
    seq_cycles: int = 200
    seq_warmup: int = 20
    stateless_runs: int = 200
    stream_runs: int = 30
    stream_events: int = 200
    concurrency: int = 32
    tp_duration: float = 15.0
    tp_warmup: float = 2.0
    soak_duration: float = 300.0
    soak_bin: float = 10.0
    soak_targets: tuple[str, ...] = ("relaygraph-dev", "official")
    scaleout: tuple[int, ...] = (1, 2, 4)
    scaleout_concurrency: int = 64
    scaleout_duration: float = 15.0
    # (label, extra environment) of each scale-out series; the first is the one judged
    scaleout_variants: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
        ("default settings", ()),
        ("2 runs per executor", (("RELAYGRAPH_MAX_CONCURRENT_RUNS", "2"),)),
    )
    seq_max_seconds: float = 60.0  # a sequential scenario stops after this long
    profile_duration: int = 15  # seconds per phase; 0: no profiles
    profile_targets: tuple[str, ...] = ("relaygraph-split",)
    warm_rounds: int = 3
    quiet_wait: float = 300.0  # wait up to this long for the machine to be idle before a target
    settle: float = 2.0  # seconds of quiet before each RSS reading


FULL = Config("full")
QUICK = Config(
    "quick",
    seq_cycles=50,
    seq_warmup=10,
    stateless_runs=50,
    stream_runs=10,
    tp_duration=5.0,
    tp_warmup=1.0,
    soak_duration=30.0,
    soak_bin=2.0,
    soak_targets=("relaygraph-dev",),
    scaleout_duration=5.0,
    scaleout_variants=(("default settings", ()),),
    seq_max_seconds=8.0,
    profile_duration=0,
)
SMOKE = Config(
    "smoke",
    targets=("relaygraph-split",),
    seq_cycles=5,
    seq_warmup=1,
    stateless_runs=5,
    stream_runs=2,
    stream_events=50,
    concurrency=4,
    tp_duration=1.0,
    tp_warmup=0.5,
    soak_duration=0.0,
    soak_targets=(),
    scaleout=(1, 2),
    scaleout_concurrency=8,
    scaleout_duration=1.0,
    scaleout_variants=(("default settings", ()),),
    seq_max_seconds=10.0,
    profile_duration=0,
    warm_rounds=1,
    settle=0.3,
    quiet_wait=0.0,
)
PRESETS = {c.mode: c for c in (FULL, QUICK, SMOKE)}


@dataclass
class TargetResult:
    key: str
    name: str
    outcomes: dict[str, sc.Outcome] = field(default_factory=dict)
    scaleout: dict[str, list[tuple[int, sc.Outcome]]] = field(default_factory=dict)
    rss_idle: dict[str, float] = field(default_factory=dict)
    rss_after: dict[str, float] = field(default_factory=dict)
    profiles: list[Profile] = field(default_factory=list)
    profile_cpu: dict[str, dict[str, float]] = field(default_factory=dict)
    # phase -> Redis command -> (calls per cycle, Valkey µs per cycle)
    redis_per_cycle: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    # phase -> counter (Redis bytes in/out, NATS messages/bytes in/out) per cycle
    io_per_cycle: dict[str, dict[str, float]] = field(default_factory=dict)
    log_problems: list[tuple[int, str]] = field(default_factory=list)
    failed: str = ""

    @property
    def errors(self) -> int:
        return sum(o.errors for o in self.outcomes.values()) + sum(
            o.errors for series in self.scaleout.values() for _, o in series
        )


@dataclass
class Results:
    config: Config
    meta: dict[str, Any]
    targets: dict[str, TargetResult] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        """One row per (target, scenario): what the smoke test checks."""
        out = []
        for t in self.targets.values():
            for sid, o in t.outcomes.items():
                out.append(
                    {"target": t.key, "scenario": sid, "n": len(o.latencies), "errors": o.errors}
                )
            for i, (label, series) in enumerate(t.scaleout.items()):
                for n, o in series:
                    sid = f"io-{n}x" + (f" ({label})" if i else "")
                    out.append(
                        {
                            "target": t.key,
                            "scenario": sid,
                            "n": len(o.latencies),
                            "errors": o.errors,
                        }
                    )
        return out


async def bench_target(
    target: Target, cfg: Config, out: Path, log: Callable[[str], None]
) -> TargetResult:
    res = TargetResult(target.key, target.name)
    url = target.url
    await sc.warm(url, cfg.stream_events, cfg.warm_rounds)
    await asyncio.sleep(cfg.settle)
    procs = target.procs()
    res.rss_idle = snapshot_rss(procs)
    log(f"  idle RSS (MiB): {_fmt_rss(res.rss_idle)}")

    async def step(sid: str, coro: Any) -> sc.Outcome:
        if cfg.quiet_wait and sid in ("interrupt-sdk", "interrupt-load", "soak", "io"):
            await sc.quiet(log, max_wait=cfg.quiet_wait / 2)
        t0 = time.monotonic()
        o: sc.Outcome = await coro
        res.outcomes[sid] = o
        log(f"  {sid}: {_brief(o)} [{time.monotonic() - t0:.0f}s]")
        return o

    n, w, cap = cfg.seq_cycles, cfg.seq_warmup, cfg.seq_max_seconds
    await step(
        "interrupt-sdk", sc.sequential(url, sc.SdkClient, sc.interrupt_cycle, n, w, procs, cap)
    )
    await step(
        "interrupt-raw", sc.sequential(url, sc.RawClient, sc.interrupt_cycle, n, w, procs, cap)
    )
    await step(
        "stateless-sdk",
        sc.sequential(url, sc.SdkClient, sc.stateless_run, cfg.stateless_runs, w, procs, cap),
    )
    await step(
        "stream-sdk",
        sc.sequential(
            url,
            sc.SdkClient,
            sc.stream_run(cfg.stream_events),
            cfg.stream_runs,
            min(w, 3),
            procs,
            cap,
        ),
    )
    await step(
        "interrupt-load",
        sc.closed_loop(
            url, sc.interrupt_cycle, cfg.concurrency, cfg.tp_duration, cfg.tp_warmup, procs
        ),
    )
    # before the soak, so that it meets a fresh server like the scale-out points do
    if target.key == "official" and cfg.scaleout:
        await step(
            "io",
            sc.closed_loop(
                url,
                sc.io_run,
                cfg.scaleout_concurrency,
                cfg.scaleout_duration,
                cfg.tp_warmup,
                procs,
            ),
        )
    if cfg.soak_duration and target.key in cfg.soak_targets:
        await step(
            "soak",
            sc.closed_loop(
                url,
                sc.interrupt_cycle,
                cfg.concurrency,
                cfg.soak_duration,
                cfg.tp_warmup,
                procs,
                bin_seconds=cfg.soak_bin,
                rss_every=cfg.soak_bin,
            ),
        )
    if cfg.profile_duration and target.key in cfg.profile_targets:
        await profile_target(target, cfg, out, res, log)
    await asyncio.sleep(cfg.settle)
    res.rss_after = snapshot_rss(target.procs())
    log(f"  RSS after the load (MiB): {_fmt_rss(res.rss_after)}")
    res.log_problems = log_problems(target.logs(tail=50_000_000))
    return res


_NOISE = re.compile(
    r"\d{4}-\d\d-\d\d[T ][\d:.,]+Z?|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|\b[0-9a-f]{32}\b|\x1b\[[0-9;]*m"
)


def log_problems(text: str, top: int = 6) -> list[tuple[int, str]]:
    """The most frequent warning and error lines of the servers' logs (ids and
    timestamps blanked so that repeats count together)."""
    counts: dict[str, int] = {}
    for line in text.splitlines():
        low = line.lower()
        if not any(w in low for w in ("warning", "error", "exception", "traceback")):
            continue
        key = _NOISE.sub("…", line).strip()[:300]
        counts[key] = counts.get(key, 0) + 1
    return sorted(((n, k) for k, n in counts.items()), reverse=True)[:top]


async def scale_out(cfg: Config, work: Path, res: TargetResult, log: Callable[[str], None]) -> None:
    """The I/O-bound graph on a fresh split system per variant, with 1, 2, 4...
    executors (added to the running system)."""
    for label, env in cfg.scaleout_variants:
        target = RelaygraphSplit(work, extra_env=dict(env))
        if cfg.quiet_wait:
            await sc.quiet(log, max_wait=cfg.quiet_wait / 2)
        log(f"relaygraph split, scale-out ({label}): starting")
        try:
            await asyncio.to_thread(target.start, 1)
            await sc.warm(target.url, cfg.stream_events, 1)
            series = res.scaleout.setdefault(label, [])
            for want in cfg.scaleout:
                if target.executors < want:
                    await asyncio.to_thread(target.add_executors, want - target.executors)
                    await asyncio.sleep(1)
                o = await sc.closed_loop(
                    target.url,
                    sc.io_run,
                    cfg.scaleout_concurrency,
                    cfg.scaleout_duration,
                    cfg.tp_warmup,
                    target.procs(),
                )
                series.append((want, o))
                log(f"  io, {want} executor(s): {_brief(o)}")
        finally:
            await asyncio.to_thread(target.stop)


async def profile_target(
    target: Target, cfg: Config, out: Path, res: TargetResult, log: Callable[[str], None]
) -> None:
    """py-spy on the gateway and the executor while (a) one client runs interrupt
    cycles back to back and (b) ``concurrency`` clients do."""
    py_spy = tools_venv() / "bin" / "py-spy"
    procs = target.procs()
    python_procs = [p for p in procs if p.name in ("gateway", "executor-0", "executor")]
    for phase, clients in (("sequential", 1), (f"{cfg.concurrency}-clients", cfg.concurrency)):
        rec = Recorder(py_spy, python_procs, out / "server_profile", phase, cfg.profile_duration)
        rec.start()
        await asyncio.sleep(0.5)
        stats0, io0 = await _commandstats(target), await _io_counters(target)
        o = await sc.closed_loop(
            target.url, sc.interrupt_cycle, clients, cfg.profile_duration - 1.0, 0.0, procs
        )
        stats1, io1 = await _commandstats(target), await _io_counters(target)
        # The counters cover every cycle the clients ran, the ones that ended
        # after the measured window too.
        cycles = o.ops_total
        if io0 and io1 and cycles:
            res.io_per_cycle[phase] = {k: (io1[k] - io0[k]) / cycles for k in io1}
        profiles = await asyncio.to_thread(rec.finish)
        res.profiles.extend(profiles)
        res.profile_cpu[phase] = o.cpu_ms_per_op
        if stats0 and stats1 and cycles:
            res.redis_per_cycle[phase] = {
                cmd: (
                    (v["calls"] - stats0.get(cmd, {}).get("calls", 0)) / cycles,
                    (v["usec"] - stats0.get(cmd, {}).get("usec", 0)) / cycles,
                )
                for cmd, v in stats1.items()
                if v["calls"] > stats0.get(cmd, {}).get("calls", 0)
            }
        log(
            f"  profile {phase}: {_brief(o)}; samples "
            + ", ".join(f"{p.process}={p.samples}" for p in profiles)
        )


async def _commandstats(target: Target) -> dict[str, dict[str, int]]:
    """Valkey's INFO commandstats (calls and µs per command) of a split target."""
    url = getattr(getattr(target, "redis", None), "url", None)
    if not url:
        return {}
    from redis.asyncio import Redis

    async with Redis.from_url(url) as r:
        info = await r.info("commandstats")
    return {
        k.removeprefix("cmdstat_"): {"calls": int(v["calls"]), "usec": int(v["usec"])}
        for k, v in info.items()
    }


async def _io_counters(target: Target) -> dict[str, float]:
    """What crossed the wire of a split target's servers so far: Valkey's
    ``INFO stats`` byte counters and nats-server's ``/varz`` message counters."""
    redis_url = getattr(getattr(target, "redis", None), "url", None)
    monitor = getattr(target, "nats_monitor", None)
    if not redis_url or not monitor:
        return {}
    import httpx
    from redis.asyncio import Redis

    async with Redis.from_url(redis_url) as r:
        info = await r.info("stats")
    async with httpx.AsyncClient(timeout=5) as http:
        varz = (await http.get(f"{monitor}/varz")).json()
    return {
        "redis_bytes_in": float(info["total_net_input_bytes"]),
        "redis_bytes_out": float(info["total_net_output_bytes"]),
        "nats_msgs_in": float(varz["in_msgs"]),
        "nats_msgs_out": float(varz["out_msgs"]),
        "nats_bytes_in": float(varz["in_bytes"]),
    }


def _tb() -> str:
    import traceback

    return traceback.format_exc()[-3000:]


def _fmt_rss(rss: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.0f}" for k, v in rss.items())


def _brief(o: sc.Outcome) -> str:
    from serverbench.report import pct

    parts = [f"n={len(o.latencies)}", f"errors={o.errors}"]
    if o.latencies:
        parts.append(
            f"p50={pct(o.latencies, 50) * 1000:.1f}ms p99={pct(o.latencies, 99) * 1000:.1f}ms"
        )
    if o.throughput:
        parts.append(f"{o.throughput:.1f}/s")
    if o.error_examples:
        parts.append(f"first error: {o.error_examples[0][:200]}")
    return " ".join(parts)


def machine_meta(cfg: Config, official: bool) -> dict[str, Any]:
    import importlib.metadata as md
    import os
    import platform
    import subprocess

    from relaygraph_dev.servers import nats_server_binary, valkey_server_binary

    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])

    def version(name: str) -> str:
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return "-"

    def run(args: list[str]) -> str:
        try:
            return subprocess.check_output(args, text=True, stderr=subprocess.STDOUT).strip()
        except Exception as exc:  # pragma: no cover - informative only
            return f"? ({exc})"

    ours = {
        n: version(n)
        for n in (
            "relaygraph",
            "langgraph",
            "langgraph-checkpoint",
            "langgraph-sdk",
            "faststream",
            "nats-py",
            "redis",
            "fastapi",
            "uvicorn",
        )
    }
    ours["nats-server"] = run([nats_server_binary(), "--version"]).split()[-1]
    valkey = run([valkey_server_binary(), "--version"])
    ours["valkey-server"] = next(
        (w.split("=")[1] for w in valkey.split() if w.startswith("v=")), valkey
    )
    meta: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "mode": cfg.mode,
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_at_start": os.getloadavg(),
        "relaygraph_side": ours,
        "git": run(["git", "-C", str(BENCH.parent), "rev-parse", "--short", "HEAD"]),
    }
    if official:
        from serverbench.targets import official_versions

        meta["official_side"] = official_versions()
    return meta


async def run(
    cfg: Config, out: Path, log: Callable[[str], None] = print, work: Path = WORK
) -> Results:
    for d in (out, work):
        d.mkdir(parents=True, exist_ok=True)
    log(f"bench ({cfg.mode}): targets {', '.join(cfg.targets)}; results in {out}")
    meta = await asyncio.to_thread(machine_meta, cfg, "official" in cfg.targets)
    results = Results(cfg, meta)
    for key in cfg.targets:
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
            continue
        log(f"{target.name}: up in {time.monotonic() - t0:.1f}s on {target.url}")
        try:
            results.targets[key] = await bench_target(target, cfg, out, log)
        except Exception as exc:
            results.targets[key] = TargetResult(key, target.name, failed=_tb())
            log(f"{target.name}: FAILED: {exc!r}")
        finally:
            await asyncio.to_thread(target.stop)
        if isinstance(target, RelaygraphSplit) and cfg.scaleout:
            try:
                await scale_out(cfg, work, results.targets[key], log)
            except Exception as exc:
                results.targets[key].failed += "\nscale-out: " + _tb()
                log(f"scale-out FAILED: {exc!r}")
    results.meta["loadavg_at_end"] = __import__("os").getloadavg()
    from serverbench.report import write_report

    write_report(results, out)
    return results


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


def dump_json(results: Results) -> dict[str, Any]:
    from serverbench.report import summary

    return {
        "config": dataclasses.asdict(results.config),
        "meta": results.meta,
        "targets": {k: summary(t) for k, t in results.targets.items()},
    }


__all__ = [
    "FULL",
    "PRESETS",
    "QUICK",
    "SMOKE",
    "Config",
    "Results",
    "dump_json",
    "json",
    "main",
    "run",
]
