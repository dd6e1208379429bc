"""The chaos workload: many threads of the `chaos` graph (two slow steps, a
person's answer, two more steps, each step recording its side effect), a
reviewer that answers every interrupt over NATS (sometimes twice), and a fault
injector that kills -9 and SIGSTOPs executors and restarts NATS and Redis while
it runs. Then every thread is checked against an in-memory run of the same
graph with the same input and answer.

`make chaos` runs it with 1000 threads; `make test` runs a short version.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from relaygraph.keys import Keys
from tests.chaos.faults import Faults
from tests.chaos.nats_reviewer import Reviewer, answer_for
from tests.system import System, running_system

ENV = {
    "RELAYGRAPH_LEASE_TTL": "2",
    "RELAYGRAPH_DISPATCH_GRACE": "5",
    "RELAYGRAPH_SWEEP_INTERVAL": "0.25",
    "RELAYGRAPH_HEARTBEAT_INTERVAL": "0.5",
    "RELAYGRAPH_LIVENESS_TTL": "3",
    "RELAYGRAPH_DRAIN_GRACE": "1",
    "RELAYGRAPH_LOG_LEVEL": "WARNING",
}
"""Timings shortened so faults come and go quickly; everything else (among it
RELAYGRAPH_MAX_ATTEMPTS) is the default."""
LEASE = float(ENV["RELAYGRAPH_LEASE_TTL"])


async def expected_values(n: int, delay: float) -> dict[str, Any]:
    """The same graph, in memory, with the same input and answer."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "graphs"))
    import chaos as chaos_graphs

    graph = chaos_graphs.chaos.copy(update={"checkpointer": InMemorySaver()})
    cfg = {"configurable": {"thread_id": "expected"}}
    saved = os.environ.pop("RELAYGRAPH_TEST_EFFECTS", None)
    try:
        await graph.ainvoke({"n": n, "delay": 0.0}, cfg)
        out = await graph.ainvoke(Command(resume=answer_for(n)), cfg)
    finally:
        if saved is not None:
            os.environ["RELAYGRAPH_TEST_EFFECTS"] = saved
    return {**out, "delay": delay}


@dataclass
class Report:
    threads: int = 0
    completed: int = 0
    lost: list[str] = field(default_factory=list)
    errored: list[str] = field(default_factory=list)
    """Threads whose run ended in ``error``: more faults than its attempts allow."""
    mismatched: list[str] = field(default_factory=list)
    resumes_applied_twice: list[str] = field(default_factory=list)
    missed_interrupts: list[str] = field(default_factory=list)
    effects_repeated: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    duplicate_resumes_sent: int = 0
    failovers: list[float] = field(default_factory=list)
    redis_failovers: list[float] = field(default_factory=list)
    """Seconds from a Redis master's kill -9 to its replica serving its slots."""
    seconds: float = 0.0

    def table(self) -> str:
        def pct(q: float) -> str:
            if not self.failovers:
                return "n/a"
            ordered = sorted(self.failovers)
            return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))]:.2f} s"

        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items())) or "none"
        rows = [
            ("threads (runs: 2 each)", f"{self.threads} ({2 * self.threads})"),
            ("faults injected", f"{sum(self.faults.values())}: {faults}"),
            ("duplicate resumes sent", str(self.duplicate_resumes_sent)),
            ("completed", str(self.completed)),
            ("lost (no terminal state)", str(len(self.lost))),
            ("ended in error (attempts exhausted)", str(len(self.errored))),
            ("mismatched final state", str(len(self.mismatched))),
            ("resumes applied twice", str(len(self.resumes_applied_twice))),
            ("interrupts the reviewer missed", str(len(self.missed_interrupts))),
            ("side effects run more than once", _repeats(self.effects_repeated)),
            (
                "failover (kill -9 to re-claim) p50 / p99",
                f"{pct(0.5)} / {pct(0.99)} (n={len(self.failovers)}, lease {LEASE:.0f} s)",
            ),
            ("Redis master kill -9 to its replica serving", _seconds(self.redis_failovers)),
            ("wall time", f"{self.seconds:.1f} s"),
        ]
        width = max(len(k) for k, _ in rows)
        lines = [f"| {'what'.ljust(width)} | result |", f"|{'-' * (width + 2)}|--------|"]
        lines += [f"| {k.ljust(width)} | {v} |" for k, v in rows]
        return "\n".join(lines)

    @property
    def ok(self) -> bool:
        return not (
            self.lost or self.mismatched or self.resumes_applied_twice or self.missed_interrupts
        )


def _seconds(values: list[float]) -> str:
    if not values:
        return "n/a (no Redis cluster)"
    return ", ".join(f"{v:.1f} s" for v in values)


def _repeats(counter: Counter[str]) -> str:
    if not counter:
        return "0"
    return f"{sum(counter.values())} ({', '.join(f'{k} {v}' for k, v in counter.items())})"


async def retrying(make: Any, attempts: int = 100) -> Any:
    """Retry through restarts: connection errors and 5xx answers."""
    for i in range(attempts):
        try:
            result = await make()
            if isinstance(result, httpx.Response) and result.status_code >= 500:
                raise httpx.HTTPStatusError("5xx", request=result.request, response=result)
            return result
        except (httpx.HTTPError, OSError):
            if i == attempts - 1:
                raise
            await asyncio.sleep(0.2)
    return None


async def drive(
    system: System,
    threads: int,
    faults: list[str],
    fault_interval: float,
    executors: int,
    timeout: float,
    duplicate_rate: float = 0.2,
    min_faults: int = 0,
) -> Report:
    """Run the workload under faults; with ``min_faults``, go on (to the
    deadline at most) until that many faults have been injected, however fast
    the workload itself ends."""
    report = Report(threads=threads)
    effects_path = Path(system.env["RELAYGRAPH_TEST_EFFECTS"])
    stop = asyncio.Event()
    reviewer = Reviewer(system.env["NATS_URL"].split(","), duplicate_rate)
    injector = Faults(system, executors, report, LEASE)
    ids = {f"chaos-{uuid.uuid4().hex[:12]}": n for n in range(threads)}
    delays = {tid: random.choice([0.0, 0.05, 0.2, 0.5]) for tid in ids}
    t0 = time.time()
    async with httpx.AsyncClient(base_url=system.url, timeout=10) as http:
        tasks = [asyncio.create_task(reviewer.run(stop))]
        if faults:
            tasks.append(asyncio.create_task(injector.run(stop, fault_interval, faults)))
        sem = asyncio.Semaphore(32)
        await asyncio.gather(*(_start(http, sem, tid, n, delays[tid]) for tid, n in ids.items()))
        done = await _until_done(http, ids, time.time() + timeout, report, min_faults)
        stop.set()
        for task in tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 20)
        injector.top_up()
        report.seconds = time.time() - t0
        report.duplicate_resumes_sent = reviewer.duplicates
        effects = Counter(tuple(line.split()) for line in effects_path.read_text().splitlines())
        await _judge(http, ids, delays, done, reviewer.seen, effects, report)
        async with system.redis_client() as redis:
            await _failovers(redis, injector, report)
    return report


async def _start(
    http: httpx.AsyncClient, sem: asyncio.Semaphore, tid: str, n: int, delay: float
) -> None:
    """The thread and its run, through restarts (a run an earlier try made is kept)."""
    async with sem:
        await retrying(
            lambda: http.post("/threads", json={"thread_id": tid, "if_exists": "do_nothing"})
        )

        async def create() -> httpx.Response:
            listed = await http.get(f"/threads/{tid}/runs")
            listed.raise_for_status()
            if listed.json():  # an earlier try went through
                return httpx.Response(200)
            r = await http.post(
                f"/threads/{tid}/runs",
                json={"assistant_id": "chaos", "input": {"n": n, "delay": delay}},
            )
            r.raise_for_status()
            return r

        await retrying(create)


async def _finished(http: httpx.AsyncClient, ids: dict[str, int]) -> set[str]:
    """Threads that ended: in error, or idle with their answer."""
    done = set()
    for tid in ids:
        with contextlib.suppress(httpx.HTTPError, OSError):
            r = await http.get(f"/threads/{tid}")
            t = r.json() if r.status_code == 200 else {}
            if t.get("status") == "error" or (
                t.get("status") == "idle" and (t.get("values") or {}).get("answer")
            ):
                done.add(tid)
    return done


async def _until_done(
    http: httpx.AsyncClient, ids: dict[str, int], deadline: float, report: Report, min_faults: int
) -> set[str]:
    """Every thread finished and ``min_faults`` injected, or ``deadline``: the finished."""
    done: set[str] = set()
    while time.time() < deadline:
        done = await _finished(http, ids)
        if len(done) == len(ids) and sum(report.faults.values()) >= min_faults:
            break
        await asyncio.sleep(1.0)
    return done


async def _judge(
    http: httpx.AsyncClient,
    ids: dict[str, int],
    delays: dict[str, float],
    done: set[str],
    seen: Counter[str],
    effects: Counter[tuple[str, ...]],
    report: Report,
) -> None:
    """Each thread against the same graph run in memory: its outcome, runs,
    interrupts seen by the reviewer and side effects, into ``report``."""
    expected_cache: dict[tuple[int, float], dict[str, Any]] = {}
    for tid, n in ids.items():
        t = (await retrying(lambda tid=tid: http.get(f"/threads/{tid}"))).json()
        key = (n, delays[tid])
        if key not in expected_cache:
            expected_cache[key] = await expected_values(n, delays[tid])
        if tid not in done:
            report.lost.append(tid)
        elif t["status"] == "error":
            report.errored.append(tid)
        elif t["values"] != expected_cache[key]:
            report.mismatched.append(tid)
        else:
            report.completed += 1
        runs = (await retrying(lambda tid=tid: http.get(f"/threads/{tid}/runs"))).json()
        if len(runs) > 2:
            report.resumes_applied_twice.append(tid)
        # A first run that ended in error never paused: no interrupt to see.
        paused = any(r["status"] == "success" for r in runs)
        if paused and seen[tid] == 0:
            report.missed_interrupts.append(tid)
        for node in ("s1", "s2", "ask", "s3", "s4"):
            if effects[(tid, node)] > 1:
                report.effects_repeated[node] += effects[(tid, node)] - 1


async def _failovers(redis: Any, injector: Faults, report: Report) -> None:
    """Seconds from each executor's kill -9 to its runs' claims by another."""
    for killed_at, _victim, owned in injector.kills:
        for tid, rid in owned:
            claimed = await redis.hget(Keys().run(tid, rid), "claimed_ms")
            if claimed and int(claimed) / 1000 > killed_at:
                report.failovers.append(int(claimed) / 1000 - killed_at)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1000)
    parser.add_argument("--executors", type=int, default=3)
    parser.add_argument("--fault-interval", type=float, default=3.0)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--data", default=None, help="where the servers keep their data")
    parser.add_argument(
        "--hard",
        action="store_true",
        help="kill -9 nats-server and Valkey instead of restarting them (both then sync "
        "every write: JetStream sync_interval always, appendfsync always)",
    )
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="a 3-node NATS cluster (streams R3) and a 3-master, 3-replica Valkey cluster; "
        "a NATS node and a Redis master are killed -9 besides the executors",
    )
    ns = parser.parse_args()
    data = Path(ns.data or f"/tmp/relaygraph-chaos-{uuid.uuid4().hex[:8]}")
    data.mkdir(parents=True, exist_ok=True)
    (data / "effects.txt").touch()
    servers = ["kill_nats", "kill_redis"] if ns.hard else ["restart_nats", "restart_redis"]
    if ns.cluster:
        servers = ["kill_nats_node", "kill_redis_master"]
    kinds = ["kill_executor", "kill_executor", "stop_executor", *servers]
    with running_system(
        data,
        executors=ns.executors,
        extra_env={**ENV, "RELAYGRAPH_TEST_EFFECTS": str(data / "effects.txt")},
        durable_servers=ns.hard,
        nats_nodes=3 if ns.cluster else 1,
        redis_masters=3 if ns.cluster else 0,
        redis_replicas=1,
    ) as system:
        report = asyncio.run(
            drive(system, ns.threads, kinds, ns.fault_interval, ns.executors, ns.timeout)
        )
    print(report.table())
    for name in ("lost", "errored", "mismatched", "resumes_applied_twice", "missed_interrupts"):
        if getattr(report, name):
            print(f"{name}: {getattr(report, name)[:10]}")
    if report.failovers:
        print(f"failover mean {statistics.mean(report.failovers):.2f} s")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
