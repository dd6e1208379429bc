"""REDIS_CLUSTER: ``auto`` asks the server whether it is a cluster node; ``yes``
and ``no`` decide without asking (for a Redis not reachable at start)."""

from __future__ import annotations

import logging

import pytest
import redis.asyncio

from relaygraph.redis_client import connect, is_cluster
from relaygraph.settings import RedisSettings
from relaygraph_dev.servers import ServerProcess, free_port
from relaygraph_dev.valkey_cluster import ValkeyCluster

pytestmark = pytest.mark.integration


async def test_auto_asks_the_server(valkey: ServerProcess, redis_cluster: ValkeyCluster) -> None:
    assert await is_cluster(valkey.url) is False
    assert await is_cluster(redis_cluster.url) is True
    async with connect(RedisSettings(url=redis_cluster.url)) as client:
        assert isinstance(client, redis.asyncio.RedisCluster)
        for i in range(30):  # keys on every master, through the node REDIS_URL names
            await client.set(f"auto:{i}", i)
    async with connect(RedisSettings(url=valkey.url)) as client:
        assert isinstance(client, redis.asyncio.Redis)


async def test_yes_and_no_decide_without_asking(
    valkey: ServerProcess, caplog: pytest.LogCaptureFixture
) -> None:
    down = f"redis://127.0.0.1:{free_port()}"
    async with connect(RedisSettings(url=down, cluster="yes")) as client:
        assert isinstance(client, redis.asyncio.RedisCluster)
    async with connect(RedisSettings(url=valkey.url, cluster="no")) as client:
        assert isinstance(client, redis.asyncio.Redis)
    with caplog.at_level(logging.WARNING):
        async with connect(RedisSettings(url=down)) as client:
            assert isinstance(client, redis.asyncio.Redis)
    assert "not reachable: taken as one server" in caplog.text
