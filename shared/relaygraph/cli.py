"""``relaygraph dev | gateway | executor | reviewer``.

``dev`` runs the whole system on one machine as one process tree: a real
nats-server and a real valkey-server (data under ``.relaygraph/`` beside the
config, unless NATS_URL / REDIS_URL name running servers), then the gateway,
the executor and the reviewer as child processes, each exactly as production
runs it. Ctrl-C stops them all.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

from relaygraph.config import Config, load_config
from relaygraph.errors import RelaygraphError


def _config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config", default=None, help="path of langgraph.json (default: ./langgraph.json)"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="relaygraph", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    dev = sub.add_parser("dev", help="run everything on this machine (embedded NATS and Valkey)")
    _config_arg(dev)
    dev.add_argument("--port", type=int, default=2024, help="API port (default 2024)")
    dev.add_argument("--host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    dev.add_argument("--executors", type=int, default=1, help="executor processes (default 1)")
    dev.add_argument(
        "--reviewer-port", type=int, default=2025, help="reviewer inbox port (default 2025)"
    )
    dev.add_argument("--no-reviewer", action="store_true", help="do not start the reviewer")
    gw = sub.add_parser("gateway", help="serve the LangGraph Server API")
    _config_arg(gw)
    gw.add_argument("--port", type=int, default=None, help="API port (RELAYGRAPH_PORT, 2024)")
    gw.add_argument("--host", default=None, help="API address (RELAYGRAPH_HOST, 127.0.0.1)")
    ex = sub.add_parser("executor", help="run graphs pulled from NATS")
    _config_arg(ex)
    rv = sub.add_parser("reviewer", help="the reviewer inbox, auto-review rules and webhook")
    _config_arg(rv)
    rv.add_argument("--port", type=int, default=None, help="inbox port (REVIEWER_PORT, 2025)")
    return parser


def _child(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    from relaygraph.servers import die_with_parent

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

    from redis import Redis

    from relaygraph.catalog import load_errors
    from relaygraph.settings import RedisSettings
    from relaygraph.subjects import Keys

    keys = Keys(RedisSettings().key_prefix)
    deadline = time.monotonic() + timeout
    waiting = list(urls)
    with Redis.from_url(redis_url) as rds:
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


def dev(ns: argparse.Namespace) -> int:
    from relaygraph.servers import nats_server, valkey_server

    config = load_config(ns.config or "langgraph.json")
    wanted = [("API", ns.host, ns.port)]
    if not ns.no_reviewer:
        wanted.append(("reviewer inbox", "127.0.0.1", ns.reviewer_port))
    for what, host, port in wanted:
        if not _port_free(host, port):
            flag = "--port" if what == "API" else "--reviewer-port"
            print(
                f"relaygraph dev: port {port} on {host} ({what}) is already in use; "
                f"stop what uses it or pass {flag} N",
                file=sys.stderr,
            )
            return 2
    data = config.root / ".relaygraph"
    env = dict(os.environ)
    servers = []
    try:
        if not env.get("NATS_URL"):
            nats = nats_server(data / "nats", 4222 if _port_free("127.0.0.1", 4222) else None)
            nats.start()
            servers.append(nats)
            env["NATS_URL"] = nats.url
        if not env.get("REDIS_URL"):
            redis = valkey_server(data / "valkey", 6379 if _port_free("127.0.0.1", 6379) else None)
            redis.start()
            servers.append(redis)
            env["REDIS_URL"] = redis.url
        print(
            f"relaygraph dev: NATS {env['NATS_URL']}  Redis {env['REDIS_URL']}  data {data}",
            flush=True,
        )
        cfg = ["--config", str(config.path)]
        executor_ids = [f"dev-{i}-{os.urandom(3).hex()}" for i in range(max(1, ns.executors))]
        children = [
            _child(["executor", *cfg], {**env, "RELAYGRAPH_EXECUTOR_ID": executor_id})
            for executor_id in executor_ids
        ]
        children.append(_child(["gateway", *cfg, "--port", str(ns.port), "--host", ns.host], env))
        urls = [f"http://{_connectable(ns.host)}:{ns.port}/ok"]
        if not ns.no_reviewer:
            children.append(_child(["reviewer", *cfg, "--port", str(ns.reviewer_port)], env))
            urls.append(f"http://127.0.0.1:{ns.reviewer_port}/")
        failed = wait_until_ready(children, urls, env["REDIS_URL"], executor_ids, config)
        if failed is not None:
            print(f"relaygraph dev: {failed}; stopping", file=sys.stderr, flush=True)
            _stop_children(children)
            return 1
        print(
            f"relaygraph dev: API on http://{ns.host}:{ns.port} (docs at /docs); graphs: "
            f"{', '.join(config.graphs)}"
            + (
                "" if ns.no_reviewer else f"; reviewer inbox on http://127.0.0.1:{ns.reviewer_port}"
            ),
            flush=True,
        )
        stopping = False

        def stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        code = 0
        while not stopping:
            dead = [c for c in children if c.poll() is not None]
            if dead:
                code = dead[0].returncode or 1
                print(
                    f"relaygraph dev: a service exited with code {code}; stopping",
                    file=sys.stderr,
                    flush=True,
                )
                break
            time.sleep(0.2)
        _stop_children(children)
        return code
    finally:
        for s in reversed(servers):
            s.stop()


def main(argv: list[str] | None = None) -> int:
    ns = _parser().parse_args(argv)
    try:
        if ns.command == "dev":
            return dev(ns)
        if ns.command == "gateway":
            from relaygraph_gateway.app import run as run_gateway

            run_gateway(ns.config, port=ns.port, host=ns.host)
        elif ns.command == "executor":
            from relaygraph_executor.app import run as run_executor

            run_executor(ns.config)
        elif ns.command == "reviewer":
            from relaygraph_reviewer.app import run as run_reviewer

            run_reviewer(ns.config, ns.port)
    except RelaygraphError as exc:
        print(f"relaygraph: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
