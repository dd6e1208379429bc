"""Benchmark 2, the latest-checkpoint read (``aget_tuple`` with only
``thread_id``) with few and many threads stored, and a Redis read taken apart."""

from __future__ import annotations

import random
import time

from checkpointbench.backends import Backend, RedisBackend, per_op
from checkpointbench.chain import Chain, new_chain
from checkpointbench.config import Config
from checkpointbench.results import Results, Row, fmt_count
from checkpointbench.rounds import Log, Sample, gather_limited, interleaved
from relaygraph.checkpoint import AsyncRedisSaver


async def load_threads(backend: Backend, count: int, tag: str, concurrency: int) -> list[str]:
    """``count`` threads, each: the input checkpoint plus its task's pending writes."""
    chains = [new_chain(backend, tag) for _ in range(count)]

    async def one(c: Chain) -> None:
        await c.start()
        await c.pending_writes()

    async with backend.loading():
        await gather_limited([(lambda c=c: one(c)) for c in chains], concurrency)
    return [c.thread_id for c in chains]


async def bench_reads(
    stores: list[tuple[Backend, int, list[str]]], cfg: Config, res: Results, log: Log
) -> None:
    rng = random.Random(2)
    samples: dict[tuple[str, int], list[int]] = {(b.name, n): [] for b, n, _ in stores}

    def case(b: Backend, n: int, threads: list[str]) -> Sample:
        async def sample(keep: bool) -> None:
            config = {"configurable": {"thread_id": rng.choice(threads)}}
            t0 = time.perf_counter_ns()
            got = await b.saver.aget_tuple(config)  # type: ignore[arg-type]
            dt = time.perf_counter_ns() - t0
            if got is None or len(got.pending_writes or []) != 3:
                raise AssertionError(f"{b.name}: read of a loaded thread returned {got!r}")
            if keep:
                samples[(b.name, n)].append(dt)
            if isinstance(b, RedisBackend):
                parts = await redis_read_parts(b, rng.choice(threads))
                if keep:
                    for part, ns in parts.items():
                        res.redis_read_parts.setdefault(n, {}).setdefault(part, []).append(ns)

        return sample

    groups: dict[str, list[Sample]] = {}
    for b, n, threads in stores:
        groups.setdefault(b.name, []).append(case(b, n, threads))
    await interleaved(groups, cfg.read_warmup + cfg.read_samples, cfg.read_warmup, cfg.block, rng)
    for b, n, _ in stores:
        res.rows.append(Row("read", n, b.name, samples[(b.name, n)]))
    for b, n, threads in stores:
        if isinstance(b, RedisBackend):
            before = await b.commandstats()
            reads = min(100, len(threads))
            for tid in threads[:reads]:
                await b.saver.aget_tuple({"configurable": {"thread_id": tid}})
            res.redis_cmds[f"read with {fmt_count(n)} threads"] = per_op(
                before, await b.commandstats(), reads
            )


async def redis_read_parts(b: RedisBackend, thread_id: str) -> dict[str, int]:
    """Where a Redis read's time goes: a bare round trip (PING), the saver's
    ``get`` script alone (server work + transport, reply not decoded), and the
    whole ``aget_tuple`` (script + building the CheckpointTuple)."""
    saver = b.saver
    assert isinstance(saver, AsyncRedisSaver)
    t0 = time.perf_counter_ns()
    await saver.client.ping()
    t1 = time.perf_counter_ns()
    # the saver's own script object and key list (internals: the smoke test
    # notices if they change)
    await saver._scripts["get"](keys=saver._tkeys(thread_id), args=["", ""])
    t2 = time.perf_counter_ns()
    await saver.aget_tuple({"configurable": {"thread_id": thread_id}})
    t3 = time.perf_counter_ns()
    return {
        "PING round trip": t1 - t0,
        "get script, reply not decoded": t2 - t1,
        "aget_tuple": t3 - t2,
    }
