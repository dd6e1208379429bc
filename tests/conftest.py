"""Shared fixtures: the whole system, started once, on free ports; a Valkey
per test module, and a client of it per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio

from relaygraph_dev.servers import ServerProcess, valkey_server
from tests.system import System, running_system


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    data = Path(tmp_path_factory.mktemp("system"))
    effects = data / "effects.txt"
    effects.touch()
    with running_system(data, extra_env={"RELAYGRAPH_TEST_EFFECTS": str(effects)}) as sys_:
        yield sys_


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
