"""The faults the chaos workload injects: executors killed -9 and SIGSTOPped,
nats-server and Valkey restarted or killed -9, and on clusters a NATS node or a
Redis master killed -9 (its replica takes over; the node comes back as a
replica)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
import time
from typing import TYPE_CHECKING, Any

from relaygraph.keys import Keys
from tests.system import Service, System

if TYPE_CHECKING:
    from tests.chaos.workload import Report


class Faults:
    def __init__(self, system: System, executors: int, report: Report, lease: float) -> None:
        self.system = system
        self.lease = lease
        self.executors = executors
        self.report = report
        self.kills: list[tuple[float, str, list[tuple[str, str]]]] = []
        self.resumes: set[asyncio.Task[None]] = set()
        """SIGCONTs still to come: a stopped executor stays stopped past its
        lease, while the next faults go on at their pace."""

    def live(self) -> list[Service]:
        return [
            s
            for s in self.system.services
            if s.name.startswith("executor") and s.proc is not None and s.proc.poll() is None
        ]

    def top_up(self) -> None:
        while len(self.live()) < self.executors:
            self.system.executor()

    async def owned_runs(self, redis: Any, executor_id: str) -> list[tuple[str, str]]:
        runs = []
        every = [m for key in Keys().leases_shards() for m in await redis.zrange(key, 0, -1)]
        for raw in every:
            tid, _, rid = raw.decode().partition("/")
            owner = await redis.hget(Keys().run(tid, rid), "owner")  # type: ignore[misc]
            status = await redis.hget(Keys().run(tid, rid), "status")  # type: ignore[misc]
            if owner and owner.decode() == executor_id and status == b"running":
                runs.append((tid, rid))
        return runs

    async def run(self, stop: asyncio.Event, interval: float, kinds: list[str]) -> None:
        """A fault every ``interval``: each kind once first (in random order),
        so a run of ``len(kinds)`` faults has had each; then kinds at random."""
        first = random.sample(kinds, len(kinds))
        async with self.system.redis_client() as redis:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval)
                if stop.is_set():
                    return
                kind = first.pop() if first else random.choice(kinds)
                try:
                    await getattr(self, kind)(redis)
                    self.report.faults[kind] += 1
                except Exception as exc:
                    print(f"fault {kind} failed: {exc!r}", file=sys.stderr)
                self.top_up()
            if self.resumes:
                await asyncio.wait(self.resumes)

    async def kill_executor(self, redis: Any) -> None:
        victim = random.choice(self.live())
        try:
            owned = await self.owned_runs(redis, victim.env["RELAYGRAPH_EXECUTOR_ID"])
        except Exception:  # Redis restarting: kill anyway, measure nothing
            owned = []
        victim.kill()
        self.kills.append((time.time(), victim.env["RELAYGRAPH_EXECUTOR_ID"], owned))

    async def stop_executor(self, redis: Any) -> None:
        victim = random.choice(self.live())
        assert victim.proc is not None
        pid = victim.proc.pid
        os.kill(pid, signal.SIGSTOP)

        async def resume() -> None:
            await asyncio.sleep(self.lease + 1.0)
            with contextlib.suppress(ProcessLookupError):  # killed meanwhile
                os.kill(pid, signal.SIGCONT)

        task = asyncio.create_task(resume())
        self.resumes.add(task)
        task.add_done_callback(self.resumes.discard)

    async def restart_nats(self, redis: Any) -> None:
        await asyncio.to_thread(self.system.nats.restart)

    async def restart_redis(self, redis: Any) -> None:
        await asyncio.to_thread(self.system.redis.restart)

    async def kill_nats(self, redis: Any) -> None:
        """kill -9, then start again on the same port and data."""
        await asyncio.to_thread(self.system.nats.kill)
        await asyncio.to_thread(self.system.nats.start)

    async def kill_redis(self, redis: Any) -> None:
        await asyncio.to_thread(self.system.redis.kill)
        await asyncio.to_thread(self.system.redis.start)

    async def kill_nats_node(self, redis: Any) -> None:
        """kill -9 one node of the NATS cluster; it comes back a moment later
        (its streams' other replicas serve meanwhile)."""
        assert self.system.nats_cluster is not None
        node = random.choice(self.system.nats_cluster.nodes)
        await asyncio.to_thread(node.kill)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(node.start, 60.0)

    async def kill_redis_master(self, redis: Any) -> None:
        """kill -9 a master of the Valkey cluster; once its replica took over
        the slots, the node starts again and rejoins as a replica."""
        cluster = self.system.redis_cluster
        assert cluster is not None
        node = random.choice(await asyncio.to_thread(cluster.master_nodes))
        started = time.monotonic()
        await asyncio.to_thread(node.kill)
        await asyncio.to_thread(cluster.wait_healthy, 60.0)
        self.report.redis_failovers.append(time.monotonic() - started)
        await asyncio.to_thread(node.start)
        await asyncio.to_thread(cluster.wait_replicated, 60.0)
