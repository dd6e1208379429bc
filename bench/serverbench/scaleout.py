"""The scale-out series: the I/O-bound graph on a fresh split system, with
more and more executors."""

from __future__ import annotations

import asyncio
from pathlib import Path

from serverbench import scenarios as sc
from serverbench.config import Config
from serverbench.progress import Log, brief
from serverbench.results import TargetResult
from serverbench.targets import RelaygraphSplit


async def scale_out(cfg: Config, work: Path, res: TargetResult, log: Log) -> None:
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
                log(f"  io, {want} executor(s): {brief(o)}")
        finally:
            await asyncio.to_thread(target.stop)
