"""Benchmark 1, the per-superstep write (``aput_writes`` + ``aput``) on threads
that already hold 1, 100 or 1000 checkpoints, and the bytes a step writes."""

from __future__ import annotations

import math
import random
import time

from checkpointbench.backends import Backend, RedisBackend, per_op
from checkpointbench.chain import Chain, build_chain, fill, new_chain
from checkpointbench.config import Config
from checkpointbench.results import Results, Row
from checkpointbench.rounds import Log, Sample, gather_limited, interleaved


class StepCase:
    """Samples at history length ``L``: each chain serves ``W = max(1, L // 10)``
    consecutive samples, so the history stays within L .. 1.1 L."""

    def __init__(self, backend: Backend, length: int, chains: list[Chain]) -> None:
        self.backend = backend
        self.length = length
        self.chains = chains
        self.window = max(1, length // 10)
        self.taken = 0
        self.samples: list[int] = []
        self.parts: dict[str, list[int]] = {"aput_writes": [], "aput": []}

    @staticmethod
    def chains_needed(length: int, total: int) -> int:
        return math.ceil(total / max(1, length // 10))

    async def sample(self, keep: bool) -> None:
        chain = self.chains[self.taken // self.window]
        self.taken += 1
        writes_ns, put_ns = await chain.superstep()
        if keep:
            self.samples.append(writes_ns + put_ns)
            self.parts["aput_writes"].append(writes_ns)
            self.parts["aput"].append(put_ns)


async def bench_steps(backends: list[Backend], cfg: Config, res: Results, log: Log) -> None:
    rounds = cfg.step_warmup + cfg.step_samples
    cases: list[StepCase] = []
    for b in backends:
        cases += await _load_histories(b, cfg, rounds, res, log)
    groups: dict[str, list[Sample]] = {}
    for case in cases:
        groups.setdefault(case.backend.name, []).append(case.sample)
    await interleaved(groups, rounds, cfg.step_warmup, cfg.block, random.Random(1))
    for case in cases:
        row = Row("step", case.length, case.backend.name, case.samples)
        row.parts = case.parts
        res.rows.append(row)

    # bytes per step, and Redis commands per step: untimed, on fresh chains at each length
    for b in backends:
        for length in cfg.history:
            await _bytes_per_step(b, length, cfg, res)


async def _load_histories(
    b: Backend, cfg: Config, rounds: int, res: Results, log: Log
) -> list[StepCase]:
    """The chains each history length's samples run on, preloaded to that length."""
    cases = []
    t0 = time.perf_counter()
    async with b.loading():
        for length in cfg.history:
            n = StepCase.chains_needed(length, rounds)
            chains = [new_chain(b, f"step{length}") for _ in range(n)]

            await gather_limited(
                [(lambda ch=ch, ln=length: fill(ch, ln)) for ch in chains], b.concurrency
            )
            cases.append(StepCase(b, length, chains))
    res.load_seconds[f"step history, {b.name}"] = time.perf_counter() - t0
    log(f"  loaded step histories for {b.name} in {time.perf_counter() - t0:.1f}s")
    return cases


async def _bytes_per_step(b: Backend, length: int, cfg: Config, res: Results) -> None:
    chain = await build_chain(b, f"bytes{length}", length)
    before = await b.probe(chain.thread_id)
    cmds0 = await b.commandstats() if isinstance(b, RedisBackend) else None
    for _ in range(cfg.bytes_steps):
        await chain.superstep()
    after = await b.probe(chain.thread_id)
    row = res.row("step", length, b.name)
    row.bytes_per_step = (after["bytes"] - before["bytes"]) / cfg.bytes_steps
    row.bytes_method = b.bytes_method()
    if isinstance(b, RedisBackend) and cmds0 is not None:
        cmds1 = await b.commandstats()
        res.redis_cmds[f"superstep at history {length}"] = per_op(cmds0, cmds1, cfg.bytes_steps)
        res.redis_memory[f"history {length}"] = (
            after["used_memory"] - before["used_memory"]
        ) / cfg.bytes_steps
