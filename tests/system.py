"""Starting the real system for tests: nats-server, valkey-server, and the
gateway / executors as their own OS processes, exactly as `relaygraph` runs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio

from relaygraph_dev.servers import (
    NatsCluster,
    ServerProcess,
    die_with_parent,
    free_port,
    nats_cluster,
    nats_server,
    valkey_server,
)
from relaygraph_dev.valkey_cluster import ValkeyCluster, valkey_cluster

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "langgraph.json"
TEST_GRAPHS = ROOT / "tests" / "graphs" / "langgraph.json"
"""The examples plus graphs made for tests (slow nodes, side-effect counters)."""


async def assert_eventually(
    check: Callable[[], Awaitable[Any]], timeout: float = 10.0, interval: float = 0.05
) -> Any:
    """Poll ``check`` until it returns without AssertionError (its value) or time out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(interval)


@dataclass
class Service:
    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "relaygraph.cli", *self.args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
            )
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def wait_serving(self, url: str, timeout: float = 30.0) -> None:
        """Until ``url``'s ``/ok`` answers 200; fails (with the log) if the
        process exits or ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.proc is not None and self.proc.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.1)


@dataclass
class ReviewerProcess:
    """A ``relaygraph reviewer`` process on a system (``System.reviewer``)."""

    svc: Service
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ReviewerProcess:
        """Start it (again after ``kill``: the same port, durable and log) and
        wait until it serves."""
        self.svc.start()
        self.svc.wait_serving(self.url)
        return self

    def kill(self) -> None:
        self.svc.kill()


@dataclass
class System:
    data: Path
    config: Path
    nats: ServerProcess
    redis: ServerProcess
    port: int
    env: dict[str, str]
    services: list[Service] = field(default_factory=list)
    nats_cluster: NatsCluster | None = None
    """With ``running_system(nats_nodes=N)``: every node (``nats`` is the first)."""
    redis_cluster: ValkeyCluster | None = None
    """With ``running_system(redis_masters=N)``: every node (``redis`` is the first)."""
    headers: dict[str, str] = field(default_factory=dict)
    """What a request needs to pass the gateway's auth (``running_system(headers=...)``)."""

    def redis_client(self) -> redis.asyncio.Redis | redis.asyncio.RedisCluster:
        """A client of this system's Redis, cluster-aware when it is a cluster."""
        if self.redis_cluster is not None:
            return redis.asyncio.RedisCluster.from_url(self.redis.url)
        return redis.asyncio.Redis.from_url(self.redis.url)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def executor(self, executor_id: str | None = None, **overrides: str) -> Service:
        """Start one more executor; ``overrides``: environment variables of its own."""
        env = {**self.env, **overrides}
        n = len(self.services)
        env["RELAYGRAPH_EXECUTOR_ID"] = executor_id or f"executor-{n}-{uuid.uuid4().hex[:6]}"
        svc = Service(
            f"executor-{n}",
            ["executor", "--config", str(self.config)],
            env,
            self.data / f"executor-{n}.log",
        ).start()
        self.services.append(svc)
        return svc

    def gateway(self, **env: str) -> Service:
        """The gateway; ``env`` overrides (e.g. its own ``NATS_URL``)."""
        svc = Service(
            "gateway",
            ["gateway", "--config", str(self.config), "--port", str(self.port)],
            {**self.env, **env},
            self.data / "gateway.log",
        ).start()
        self.services.append(svc)
        return svc

    @contextlib.contextmanager
    def another_gateway(
        self, name: str, config: Path | None = None, killed: bool = False, **env: str
    ) -> Iterator[str]:
        """A second gateway on this system's NATS and Redis (its own
        ``config`` and ``env``), serving once ``/ok`` answers; its URL. On
        leaving, it is stopped (``killed``: with SIGKILL)."""
        port = free_port()
        svc = Service(
            name,
            ["gateway", "--config", str(config or self.config), "--port", str(port)],
            {**self.env, **env},
            self.data / f"{name}.log",
        ).start()
        url = f"http://127.0.0.1:{port}"
        try:
            svc.wait_serving(url)
            yield url
        finally:
            svc.kill() if killed else svc.stop()

    @contextlib.contextmanager
    def reviewer(self, name: str = "reviewer", **env: str) -> Iterator[ReviewerProcess]:
        """A reviewer process on this system's NATS and Redis, on a free port
        with a durable of its own (``{name}-…``, its log named after it; ``env``:
        more settings, over the system's), serving once ``/ok`` answers. On
        leaving, it is stopped."""
        port = free_port()
        durable = f"{name}-{uuid.uuid4().hex[:8]}"
        env = {**self.env, "REVIEWER_PORT": str(port), "REVIEWER_DURABLE": durable, **env}
        args = ["reviewer", "--config", str(self.config)]
        svc = Service(name, args, env, self.data / f"{durable}.log")
        try:
            yield ReviewerProcess(svc, port).start()
        finally:
            svc.stop()

    def wait_ready(self, timeout: float = 60.0, executor: bool = True) -> None:
        """The API answers and (``executor``) an executor has published the
        graphs; without ``executor``, the API answering is enough."""
        deadline = time.monotonic() + timeout
        graph = next(iter(_graph_ids(self.config)))
        path = f"/assistants/{graph}/schemas" if executor else "/ok"
        last: Exception | str = "not started"
        while time.monotonic() < deadline:
            for svc in self.services:
                if svc.proc is not None and svc.proc.poll() is not None:
                    raise RuntimeError(f"{svc.name} exited:\n{svc.log.read_text()[-4000:]}")
            try:
                r = httpx.get(f"{self.url}{path}", timeout=5, headers=self.headers)
                if r.status_code == 200:
                    return
                last = r.text
            except httpx.HTTPError as exc:
                last = exc
            time.sleep(0.1)
        logs = "\n".join(f"--- {s.name}\n{s.log.read_text()[-3000:]}" for s in self.services)
        raise RuntimeError(f"system not ready in {timeout}s: {last}\n{logs}")

    def stop(self) -> None:
        for svc in reversed(self.services):
            svc.stop()
        if self.redis_cluster is not None:
            self.redis_cluster.stop()
        self.redis.stop()
        if self.nats_cluster is not None:
            self.nats_cluster.stop()
        self.nats.stop()


def graphs_config(dest: Path, **sections: Any) -> Path:
    """The test graphs' langgraph.json in ``dest``, its paths made absolute,
    with ``sections`` set (``env``, ``webhooks``...)."""
    import json

    config = json.loads(TEST_GRAPHS.read_text())
    root = TEST_GRAPHS.parent

    def absolute(target: str) -> str:
        path, _, name = target.rpartition(":")
        return f"{(root / path).resolve()}:{name}"

    config["dependencies"] = [str((root / d).resolve()) for d in config["dependencies"]]
    config["graphs"] = {gid: absolute(target) for gid, target in config["graphs"].items()}
    config["store"]["index"]["embed"] = absolute(config["store"]["index"]["embed"])
    config.update(sections)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "langgraph.json").write_text(json.dumps(config))
    return dest / "langgraph.json"


def _graph_ids(config: Path) -> list[str]:
    import json

    return list(json.loads(config.read_text())["graphs"])


def _start_nats(
    data: Path, nodes: int, durable: bool, extra: list[str] | None
) -> tuple[NatsCluster | None, ServerProcess]:
    """A cluster of ``nodes`` (> 1) and its first node, or one nats-server."""
    if nodes > 1:
        cluster = nats_cluster(data, nodes).start()
        return cluster, cluster.nodes[0]
    return None, nats_server(data, sync_always=durable, extra=extra).start()


def _start_valkey(
    data: Path, masters: int, replicas: int, durable: bool
) -> tuple[ValkeyCluster | None, ServerProcess]:
    """A cluster of ``masters`` (> 0) and its first node, or one Valkey."""
    if masters:
        cluster = valkey_cluster(data, masters, replicas).start()
        return cluster, cluster.nodes[0]
    return None, valkey_server(data, fsync="always" if durable else "everysec").start()


@contextlib.contextmanager
def running_system(
    data: Path,
    config: Path = TEST_GRAPHS,
    executors: int = 1,
    extra_env: dict[str, str] | None = None,
    nats_nodes: int = 1,
    nats_config: list[str] | None = None,
    durable_servers: bool = False,
    redis_masters: int = 0,
    redis_replicas: int = 0,
    headers: dict[str, str] | None = None,
    wait_executor: bool = True,
) -> Iterator[System]:
    """The whole system; ``nats_nodes`` > 1: a NATS cluster of that many nodes
    (streams replicated on each, ``NATS_REPLICAS``), every URL in ``NATS_URL``.
    ``nats_config``: more lines of the (single) nats-server's config (auth, TLS).
    ``durable_servers``: JetStream syncs every write, Valkey ``appendfsync always``
    (what deploy/ ships). ``redis_masters`` > 0: a Valkey cluster of that many
    masters with ``redis_replicas`` replicas each instead of one Valkey.
    ``headers``: what requests need to pass the gateway's auth; without
    ``wait_executor``, the gateway answering is enough (runs queue)."""
    data.mkdir(parents=True, exist_ok=True)
    cluster, nats = _start_nats(data / "nats", nats_nodes, durable_servers, nats_config)
    redis_cluster, redis = _start_valkey(
        data / "valkey", redis_masters, redis_replicas, durable_servers
    )
    env = {
        **os.environ,
        "NATS_URL": cluster.urls if cluster is not None else nats.url,
        "NATS_REPLICAS": str(nats_nodes),
        "REDIS_URL": redis.url,
        "RELAYGRAPH_LOG_LEVEL": "INFO",
        **(extra_env or {}),
    }
    system = System(
        data,
        config,
        nats,
        redis,
        free_port(),
        env,
        nats_cluster=cluster,
        redis_cluster=redis_cluster,
        headers=headers or {},
    )
    try:
        for _ in range(executors):
            system.executor()
        system.gateway()
        system.wait_ready(executor=executors > 0 and wait_executor)
        yield system
    finally:
        system.stop()
