"""``relaygraph dev``: the whole system on one machine as one process tree.

A real nats-server and a real valkey-server (data under ``.relaygraph/`` beside
the config, unless NATS_URL / REDIS_URL name running servers), then the
gateway, the executors and the reviewer as child processes, each started
exactly as production starts it. It reports ready only once every service
answers and every executor is subscribed. Ctrl-C stops them all.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from relaygraph.config import Config, load_config
from relaygraph_dev.servers import (
    ServerProcess,
    ServerStartError,
    die_with_parent,
    nats_server,
    valkey_server,
)


def _child(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "relaygraph.cli", *args], env=env, preexec_fn=die_with_parent
    )


def _port_free(host: str, port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _stop_children(children: list[subprocess.Popen[bytes]]) -> None:
    for c in children:
        if c.poll() is None:
            c.send_signal(signal.SIGTERM)
    for c in children:
        try:
            c.wait(15)
        except subprocess.TimeoutExpired:
            c.kill()


def _connectable(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def _sync_client(url: str) -> Any:
    """A blocking client of ``url``, one server or a cluster as the services
    decide it (``REDIS_CLUSTER``)."""
    import asyncio

    from redis import Redis, RedisCluster

    from relaygraph.redis_client import wants_cluster
    from relaygraph.settings import RedisSettings

    cluster = asyncio.run(wants_cluster(RedisSettings(url=url)))
    return RedisCluster.from_url(url) if cluster else Redis.from_url(url)


def wait_until_ready(
    children: list[subprocess.Popen[bytes]],
    urls: list[str],
    redis_url: str,
    executor_ids: list[str],
    config: Config,
    timeout: float = 120.0,
) -> str | None:
    """Wait until every URL answers and every executor is subscribed (its
    liveness key, written once it is, is in Redis); report graphs that did not
    load. Returns why it is not ready, or ``None``."""
    import urllib.error
    import urllib.request

    from relaygraph.catalog import load_errors
    from relaygraph.settings import RedisSettings

    keys = RedisSettings().keys()
    deadline = time.monotonic() + timeout
    waiting = list(urls)
    with _sync_client(redis_url) as rds:
        while True:
            for c in children:
                if c.poll() is not None:
                    return f"a service exited with code {c.returncode} while starting"
            for url in list(waiting):
                try:
                    with urllib.request.urlopen(url, timeout=1):
                        waiting.remove(url)
                except (urllib.error.URLError, OSError):
                    pass
            alive = all(rds.exists(keys.executor(e)) for e in executor_ids)
            if not waiting and alive:
                break
            if time.monotonic() > deadline:
                return f"not ready after {timeout:.0f}s"
            time.sleep(0.1)
        for error in load_errors(rds, keys, list(config.graphs)).values():
            print(f"relaygraph dev: {error}", file=sys.stderr, flush=True)
    return None


def _busy_port(ns: argparse.Namespace) -> str | None:
    """Why the ports asked for cannot be used, or ``None``: said before any
    server starts, rather than as a child's bind error."""
    wanted = [("API", ns.host, ns.port, "--port")]
    if not ns.no_reviewer:
        wanted.append(("reviewer inbox", "127.0.0.1", ns.reviewer_port, "--reviewer-port"))
    for what, host, port, flag in wanted:
        if not _port_free(host, port):
            return (
                f"port {port} on {host} ({what}) is already in use; "
                f"stop what uses it or pass {flag} N"
            )
    return None


def _start_servers(data: Path, env: dict[str, str], servers: list[ServerProcess]) -> None:
    """Embedded NATS and Valkey (on their usual ports when free) unless the
    environment names servers; their URLs go into ``env``, the processes into
    ``servers`` as each starts (so a failure still stops the first)."""
    if not env.get("NATS_URL"):
        nats = nats_server(data / "nats", 4222 if _port_free("127.0.0.1", 4222) else None)
        servers.append(nats)
        nats.start()
        env["NATS_URL"] = nats.url
    if not env.get("REDIS_URL"):
        redis = valkey_server(data / "valkey", 6379 if _port_free("127.0.0.1", 6379) else None)
        servers.append(redis)
        redis.start()
        env["REDIS_URL"] = redis.url


def _supervise(children: list[subprocess.Popen[bytes]]) -> int:
    """Until Ctrl-C / SIGTERM (exit 0) or until a service dies (its code)."""
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        dead = [c for c in children if c.poll() is not None]
        if dead:
            code = dead[0].returncode or 1
            _say(f"a service exited with code {code}; stopping", error=True)
            return code
        time.sleep(0.2)
    return 0


def _say(line: str, error: bool = False) -> None:
    print(f"relaygraph dev: {line}", file=sys.stderr if error else sys.stdout, flush=True)


def dev(ns: argparse.Namespace) -> int:
    config = load_config(ns.config or "langgraph.json")
    busy = _busy_port(ns)
    if busy is not None:
        _say(busy, error=True)
        return 2
    data = config.root / ".relaygraph"
    env = dict(os.environ)
    servers: list[ServerProcess] = []
    children: list[subprocess.Popen[bytes]] = []
    try:
        _start_servers(data, env, servers)
        _say(f"NATS {env['NATS_URL']}  Redis {env['REDIS_URL']}  data {data}")
        cfg = ["--config", str(config.path)]
        executor_ids = [f"dev-{i}-{os.urandom(3).hex()}" for i in range(max(1, ns.executors))]
        children = [
            _child(["executor", *cfg], {**env, "RELAYGRAPH_EXECUTOR_ID": executor_id})
            for executor_id in executor_ids
        ]
        children.append(_child(["gateway", *cfg, "--port", str(ns.port), "--host", ns.host], env))
        urls = [f"http://{_connectable(ns.host)}:{ns.port}/ok"]
        inbox = ""
        if not ns.no_reviewer:
            api = f"http://{_connectable(ns.host)}:{ns.port}"
            reviewer_env = {"REVIEWER_API_URL": api, **env}
            children.append(
                _child(["reviewer", *cfg, "--port", str(ns.reviewer_port)], reviewer_env)
            )
            urls.append(f"http://127.0.0.1:{ns.reviewer_port}/")
            inbox = f"; reviewer inbox on http://127.0.0.1:{ns.reviewer_port}"
        failed = wait_until_ready(children, urls, env["REDIS_URL"], executor_ids, config)
        if failed is not None:
            _say(f"{failed}; stopping", error=True)
            return 1
        _say(
            f"API on http://{ns.host}:{ns.port} (docs at /docs); graphs: "
            f"{', '.join(config.graphs)}{inbox}"
        )
        return _supervise(children)
    except ServerStartError as exc:
        _say(str(exc), error=True)
        return 1
    finally:
        _stop_children(children)
        for server in reversed(servers):
            server.stop()
