"""Real servers for the checkpointer tests: a valkey-server started for the
session, plus the server at ``REDIS_URL`` when that is set."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from uuid import uuid4

import pytest
import redis
import redis.asyncio
from relaygraph.checkpoint import AsyncRedisSaver, RedisSaver
from relaygraph.servers import ServerProcess, valkey_server

TARGETS = ["valkey"] + (["redis_url"] if os.environ.get("REDIS_URL") else [])


@pytest.fixture(scope="session")
def valkey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = valkey_server(tmp_path_factory.mktemp("valkey"), aof=False).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session", params=TARGETS)
def redis_url(request: pytest.FixtureRequest) -> str:
    if request.param == "redis_url":
        return os.environ["REDIS_URL"]
    return request.getfixturevalue("valkey").url


@pytest.fixture
def prefix() -> str:
    """A key prefix of its own per test: tests never see each other's keys."""
    return f"t{uuid4().hex[:10]}"


@pytest.fixture
async def aclient(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url) as c:
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
