"""Every scenario on one running target, in order: the sequential ones, then
the ones under load, the profiles, and memory and log problems around them."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from serverbench import scenarios as sc
from serverbench.config import Config
from serverbench.procs import Proc, snapshot_rss
from serverbench.profile_phase import profile_target
from serverbench.progress import Log, brief, fmt_rss
from serverbench.results import TargetResult
from serverbench.targets import Target

# Runs one scenario (its id, its not yet started coroutine) and keeps its outcome.
Step = Callable[[str, Awaitable[sc.Outcome]], Awaitable[sc.Outcome]]


async def bench_target(target: Target, cfg: Config, out: Path, log: Log) -> TargetResult:
    res = TargetResult(target.key, target.name)
    url = target.url
    await sc.warm(url, cfg.stream_events, cfg.warm_rounds)
    await asyncio.sleep(cfg.settle)
    procs = target.procs()
    res.rss_idle = snapshot_rss(procs)
    log(f"  idle RSS (MiB): {fmt_rss(res.rss_idle)}")

    step = _stepper(res, cfg, log)
    await _sequential(step, url, cfg, procs)
    await _under_load(step, target, cfg, procs)
    if cfg.profile_duration and target.key in cfg.profile_targets:
        await profile_target(target, cfg, out, res, log)
    await asyncio.sleep(cfg.settle)
    res.rss_after = snapshot_rss(target.procs())
    log(f"  RSS after the load (MiB): {fmt_rss(res.rss_after)}")
    res.log_problems = log_problems(target.logs(tail=50_000_000))
    return res


def _stepper(res: TargetResult, cfg: Config, log: Log) -> Step:
    async def step(sid: str, coro: Awaitable[sc.Outcome]) -> sc.Outcome:
        if cfg.quiet_wait and sid in ("interrupt-sdk", "interrupt-load", "soak", "io"):
            await sc.quiet(log, max_wait=cfg.quiet_wait / 2)
        t0 = time.monotonic()
        o: sc.Outcome = await coro
        res.outcomes[sid] = o
        log(f"  {sid}: {brief(o)} [{time.monotonic() - t0:.0f}s]")
        return o

    return step


async def _sequential(step: Step, url: str, cfg: Config, procs: list[Proc]) -> None:
    """One client: interrupt cycles (SDK, raw HTTP), stateless runs, streams."""
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


async def _under_load(step: Step, target: Target, cfg: Config, procs: list[Proc]) -> None:
    """Many clients: interrupt cycles, the I/O-bound graph (the official server;
    ours scale out on their own) and the sustained run."""
    url = target.url
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
