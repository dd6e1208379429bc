"""The profiled phases: py-spy on a split target's gateway and executor while
clients run interrupt cycles, with Valkey's and nats-server's counters read
before and after, per cycle."""

from __future__ import annotations

import asyncio
from pathlib import Path

from serverbench import scenarios as sc
from serverbench.config import Config
from serverbench.profile import Recorder
from serverbench.progress import Log, brief
from serverbench.results import TargetResult
from serverbench.targets import Target, tools_venv


async def profile_target(
    target: Target, cfg: Config, out: Path, res: TargetResult, log: Log
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
        stats0, io0 = await commandstats(target), await io_counters(target)
        o = await sc.closed_loop(
            target.url, sc.interrupt_cycle, clients, cfg.profile_duration - 1.0, 0.0, procs
        )
        stats1, io1 = await commandstats(target), await io_counters(target)
        # The counters cover every cycle the clients ran, the ones that ended
        # after the measured window too.
        cycles = o.ops_total
        if io0 and io1 and cycles:
            res.io_per_cycle[phase] = {k: (io1[k] - io0[k]) / cycles for k in io1}
        profiles = await asyncio.to_thread(rec.finish)
        res.profiles.extend(profiles)
        res.profile_cpu[phase] = o.cpu_ms_per_op
        if stats0 and stats1 and cycles:
            res.redis_per_cycle[phase] = per_cycle(stats0, stats1, cycles)
        log(
            f"  profile {phase}: {brief(o)}; samples "
            + ", ".join(f"{p.process}={p.samples}" for p in profiles)
        )


def per_cycle(
    stats0: dict[str, dict[str, int]], stats1: dict[str, dict[str, int]], cycles: int
) -> dict[str, tuple[float, float]]:
    """Redis command -> (calls, Valkey µs) per cycle, of the commands that ran."""
    return {
        cmd: (
            (v["calls"] - stats0.get(cmd, {}).get("calls", 0)) / cycles,
            (v["usec"] - stats0.get(cmd, {}).get("usec", 0)) / cycles,
        )
        for cmd, v in stats1.items()
        if v["calls"] > stats0.get(cmd, {}).get("calls", 0)
    }


async def commandstats(target: Target) -> dict[str, dict[str, int]]:
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


async def io_counters(target: Target) -> dict[str, float]:
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
