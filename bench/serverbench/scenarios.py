"""The workloads. Every operation checks its answer: a wrong answer counts as an
error, never as a (fast) result."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from langgraph_sdk import get_client
from langgraph_sdk.schema import Command

from serverbench.procs import Proc, machine_busy_seconds, snapshot_cpu, snapshot_rss

OP_TIMEOUT = 120.0
_ids = itertools.count()


class WrongAnswer(Exception):
    pass


def expect(ok: bool, what: str, got: Any) -> None:
    if not ok:
        raise WrongAnswer(f"{what}: got {str(got)[:300]}")


def describe(exc: BaseException) -> str:
    """One line: the exception, and the body of an HTTP error response if there is one."""
    text = str(exc).split("\n")[0]
    if isinstance(exc, httpx.HTTPStatusError):
        try:
            text += f" {exc.response.text[:200]}"
        except Exception:  # a streamed body that was not read
            pass
    return f"{type(exc).__name__}: {text}"[:400]


# --- clients ------------------------------------------------------------------------


class SdkClient:
    """The official ``langgraph_sdk`` async client."""

    kind = "sdk"

    def __init__(self, url: str) -> None:
        self.client = get_client(url=url, api_key=None)

    async def aclose(self) -> None:
        await self.client.http.client.aclose()


class RawClient:
    """Plain httpx with keep-alive: what the API costs without the SDK."""

    kind = "raw"

    def __init__(self, url: str) -> None:
        self.http = httpx.AsyncClient(
            base_url=url,
            timeout=httpx.Timeout(OP_TIMEOUT),
            limits=httpx.Limits(max_connections=4, max_keepalive_connections=4),
        )

    async def aclose(self) -> None:
        await self.http.aclose()


Client = SdkClient | RawClient


# --- operations: each returns its step timings (seconds) and raises on a wrong answer --


async def interrupt_cycle(c: Client) -> dict[str, float]:
    """Create a thread, run to the interrupt, resume with Command(resume=...)."""
    i = next(_ids)
    text, edited = f"text {i}", f"edited {i}"
    t0 = time.perf_counter()
    if isinstance(c, SdkClient):
        thread = await c.client.threads.create()
        tid = thread["thread_id"]
        t1 = time.perf_counter()
        first = await c.client.runs.wait(tid, "interrupt", input={"some_text": text})
        t2 = time.perf_counter()
        second = await c.client.runs.wait(tid, "interrupt", command=Command(resume=edited))
    else:
        r = await c.http.post("/threads", json={})
        expect(r.status_code == 200, "create thread", r.text)
        tid = r.json()["thread_id"]
        t1 = time.perf_counter()
        r = await c.http.post(
            f"/threads/{tid}/runs/wait",
            json={"assistant_id": "interrupt", "input": {"some_text": text}},
        )
        expect(r.status_code == 200, "run to the interrupt", f"{r.status_code} {r.text}")
        first = r.json()
        t2 = time.perf_counter()
        r = await c.http.post(
            f"/threads/{tid}/runs/wait",
            json={"assistant_id": "interrupt", "command": {"resume": edited}},
        )
        expect(r.status_code == 200, "resume", f"{r.status_code} {r.text}")
        second = r.json()
    t3 = time.perf_counter()
    expect(isinstance(first, dict) and first.get("some_text") == text, "state at interrupt", first)
    pending = [item.get("value") for item in first.get("__interrupt__") or []]
    expect(pending == [{"text_to_revise": text}], "pending interrupt", first)
    expect(second == {"some_text": edited}, "resumed state", second)
    return {"create": t1 - t0, "to interrupt": t2 - t1, "resume": t3 - t2}


async def stateless_run(c: Client) -> dict[str, float]:
    """`/runs/wait` (no thread) on a 1-node graph."""
    i = next(_ids)
    if isinstance(c, SdkClient):
        out = await c.client.runs.wait(None, "stateless", input={"n": i})
    else:
        r = await c.http.post("/runs/wait", json={"assistant_id": "stateless", "input": {"n": i}})
        expect(r.status_code == 200, "stateless run", f"{r.status_code} {r.text}")
        out = r.json()
    expect(out == {"n": i, "doubled": 2 * i}, "stateless output", out)
    return {}


async def io_run(c: Client) -> dict[str, float]:
    """`/runs/wait` on the I/O-bound graph (two nodes of 50 ms each)."""
    i = next(_ids)
    assert isinstance(c, SdkClient)
    out = await c.client.runs.wait(None, "io", input={"n": i})
    expect(out == {"n": i, "first": i + 1, "second": i + 2}, "io output", out)
    return {}


def stream_run(events: int) -> Callable[[Client], Awaitable[dict[str, float]]]:
    async def op(c: Client) -> dict[str, float]:
        assert isinstance(c, SdkClient)
        got: list[Any] = []
        t0 = time.perf_counter()
        first = None
        async for chunk in c.client.runs.stream(
            None, "stream", input={"count": events}, stream_mode="custom"
        ):
            if chunk.event == "custom":
                if first is None:
                    first = time.perf_counter()
                got.append(chunk.data)
            elif chunk.event == "error":
                raise WrongAnswer(f"stream error event: {chunk.data}")
        end = time.perf_counter()
        expect(got == [{"i": k} for k in range(events)], f"{events} custom events in order", got)
        assert first is not None
        return {"ttfe": first - t0, "events/s": events / (end - t0)}

    return op


# --- drivers ------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one scenario measured on one target."""

    latencies: list[float] = field(default_factory=list)  # seconds, one per operation
    steps: dict[str, list[float]] = field(default_factory=dict)
    errors: int = 0
    error_examples: list[str] = field(default_factory=list)
    # closed loop only
    duration: float = 0.0
    completed: int = 0
    ops_total: int = 0
    """Operations that succeeded, warm-up and the last ones past the window
    included: what server-side counters read before and after the run divide by."""
    throughput: float = 0.0  # operations / s in the measured window
    timeline: list[tuple[float, float]] = field(default_factory=list)  # (t, ops/s in bin)
    rss_timeline: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    cpu_ms_per_op: dict[str, float] = field(default_factory=dict)
    concurrency: int = 1
    ours_cores: float = 0.0  # CPU s/s of the target's processes and the benchmark client
    machine_cores: float = 0.0  # CPU s/s of the whole machine (others: the difference)

    def error(self, exc: BaseException) -> None:
        self.errors += 1
        if len(self.error_examples) < 5:
            self.error_examples.append(describe(exc))

    def record(self, latency: float, steps: dict[str, float]) -> None:
        self.latencies.append(latency)
        for k, v in steps.items():
            self.steps.setdefault(k, []).append(v)


async def _timed(
    op: Callable[[Client], Awaitable[dict[str, float]]], c: Client
) -> tuple[float, dict[str, float]]:
    t0 = time.perf_counter()
    steps = await asyncio.wait_for(op(c), OP_TIMEOUT)
    return time.perf_counter() - t0, steps


async def sequential(
    url: str,
    make: type[SdkClient] | type[RawClient],
    op: Callable[[Client], Awaitable[dict[str, float]]],
    n: int,
    warmup: int,
    procs: list[Proc] | None = None,
    max_seconds: float = float("inf"),
) -> Outcome:
    """One client, one operation at a time, ``warmup`` unmeasured ones first
    (at most 10 s of them); stops after ``n`` or ``max_seconds``."""
    out = Outcome()
    c = make(url)
    try:
        stop = time.perf_counter() + min(10.0, max_seconds / 2)
        for _ in range(warmup):
            if time.perf_counter() > stop:
                break
            try:
                await _timed(op, c)
            except Exception as exc:
                out.error(exc)
        cpu0 = snapshot_cpu(procs or [])
        busy0, t0 = machine_busy_seconds(), time.perf_counter()
        stop = time.perf_counter() + max_seconds
        for _ in range(n):
            if time.perf_counter() > stop:
                break
            try:
                latency, steps = await _timed(op, c)
                out.record(latency, steps)
            except Exception as exc:
                out.error(exc)
        cpu1 = snapshot_cpu(procs or [])
        wall = time.perf_counter() - t0
        out.machine_cores = (machine_busy_seconds() - busy0) / wall
        out.ours_cores = sum(cpu1[k] - cpu0[k] for k in cpu1 if k in cpu0) / wall
        out.completed = len(out.latencies)
        out.cpu_ms_per_op = _cpu_per_op(cpu0, cpu1, out.completed)
    finally:
        await c.aclose()
    return out


def _cpu_per_op(cpu0: dict[str, float], cpu1: dict[str, float], ops: int) -> dict[str, float]:
    if not ops:
        return {}
    return {k: (cpu1[k] - cpu0[k]) * 1000 / ops for k in cpu1 if k in cpu0}


async def closed_loop(
    url: str,
    op: Callable[[Client], Awaitable[dict[str, float]]],
    concurrency: int,
    duration: float,
    warmup: float = 2.0,
    procs: list[Proc] | None = None,
    bin_seconds: float = 1.0,
    rss_every: float = 0.0,
    make: type[SdkClient] | type[RawClient] = SdkClient,
) -> Outcome:
    """``concurrency`` clients, each running ``op`` back to back for ``warmup +
    duration`` seconds; throughput counts completions in the last ``duration``."""
    out = Outcome(concurrency=concurrency, duration=duration)
    clients = [make(url) for _ in range(concurrency)]
    start = time.perf_counter()
    measure_from = start + warmup
    end = measure_from + duration
    done: list[float] = []
    cpu_marks: dict[str, dict[str, float]] = {}

    async def worker(c: Client) -> None:
        while time.perf_counter() < end:
            try:
                latency, steps = await _timed(op, c)
            except Exception as exc:
                out.error(exc)
                await asyncio.sleep(0.05)
                continue
            out.ops_total += 1
            t = time.perf_counter()
            if measure_from <= t <= end:
                done.append(t - measure_from)
                out.record(latency, steps)

    window = _Window(measure_from, end, procs or [], rss_every)
    try:
        await asyncio.gather(_sample(out, window, cpu_marks), *(worker(c) for c in clients))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)
    _count(out, done, duration, bin_seconds, cpu_marks)
    return out


@dataclass
class _Window:
    """The measured window of a closed loop, and what to read during it."""

    start: float
    end: float
    procs: list[Proc]
    rss_every: float


async def _sample(out: Outcome, w: _Window, cpu_marks: dict[str, dict[str, float]]) -> None:
    """CPU of the target's processes and of the machine over the window, and
    (every ``rss_every`` s) their RSS."""
    await asyncio.sleep(max(0.0, w.start - time.perf_counter()))
    cpu_marks["start"] = snapshot_cpu(w.procs)
    busy0 = machine_busy_seconds()
    next_rss = 0.0
    while True:
        now = time.perf_counter()
        if now >= w.end:
            cpu_marks["end"] = snapshot_cpu(w.procs)
            out.machine_cores = (machine_busy_seconds() - busy0) / (now - w.start)
            a, b = cpu_marks["start"], cpu_marks["end"]
            out.ours_cores = sum(b[k] - a[k] for k in b if k in a) / (now - w.start)
            return
        if w.rss_every and now - w.start >= next_rss:
            out.rss_timeline.append((now - w.start, snapshot_rss(w.procs)))
            next_rss += w.rss_every
        await asyncio.sleep(min(0.5, max(0.0, w.end - now)))


def _count(
    out: Outcome,
    done: list[float],
    duration: float,
    bin_seconds: float,
    cpu_marks: dict[str, dict[str, float]],
) -> None:
    """Throughput, its timeline in bins, and CPU per operation, from the
    completion times (seconds into the window)."""
    out.completed = len(done)
    out.throughput = len(done) / duration
    bins = max(1, round(duration / bin_seconds))
    counts = [0] * bins
    for t in done:
        counts[min(bins - 1, int(t / bin_seconds))] += 1
    out.timeline = [((k + 0.5) * bin_seconds, n / bin_seconds) for k, n in enumerate(counts)]
    if "start" in cpu_marks and "end" in cpu_marks:
        out.cpu_ms_per_op = _cpu_per_op(cpu_marks["start"], cpu_marks["end"], len(done))


async def warm(url: str, stream_events: int, rounds: int = 3) -> None:
    """A few of every operation, so that lazy imports and caches are in place."""
    c = SdkClient(url)
    try:
        for _ in range(rounds):
            await interrupt_cycle(c)
            await stateless_run(c)
            await io_run(c)
            await stream_run(stream_events)(c)
    finally:
        await c.aclose()


async def quiet(
    log: Callable[[str], None], max_other_cores: float = 0.3, max_wait: float = 300.0
) -> float:
    """Wait (at most ``max_wait`` s) until the rest of the machine uses less than
    ``max_other_cores`` over 5 s, so that a target is measured alone. Returns
    the other load seen last (cores)."""
    deadline = time.monotonic() + max_wait
    said = False
    while True:
        busy0, t0 = machine_busy_seconds(), time.monotonic()
        await asyncio.sleep(5)
        load = (machine_busy_seconds() - busy0) / (time.monotonic() - t0)
        if load < max_other_cores or time.monotonic() > deadline:
            if said:
                log(f"  other load now {load:.2f} cores")
            return load
        if not said:
            log(f"  waiting for other work on this machine to end ({load:.2f} cores busy)")
            said = True
