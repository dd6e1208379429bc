"""The layout version against a real Valkey: records of a newer relaygraph are
refused (by ``setup``, by the reviewer's read-only ``check``, and by a starting
reviewer, with its message), and the migration lock is released only by its
holder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from uuid import uuid4

import pytest
import redis.asyncio

from relaygraph import layout
from relaygraph.keys import Keys
from relaygraph.redis_client import RedisClient
from relaygraph_dev.servers import ServerProcess, free_port

pytestmark = pytest.mark.integration

NEWER = layout.LAYOUT_VERSION + 1


@pytest.fixture
def keys() -> Keys:
    return Keys(f"t{uuid4().hex[:8]}")


async def test_setup_refuses_records_of_a_newer_layout(
    rds: redis.asyncio.Redis, keys: Keys
) -> None:
    await rds.set(keys.layout, NEWER)
    await rds.hset(keys.thread("t1"), "status", "idle")
    with pytest.raises(layout.NewerLayout, match=f"newer relaygraph.*version {NEWER}") as refused:
        await layout.setup(rds, keys)
    assert (refused.value.found, refused.value.known) == (NEWER, layout.LAYOUT_VERSION)
    assert await rds.get(keys.layout) == str(NEWER).encode()  # left as the newer one wrote it
    assert not await rds.exists(keys.layout + ":lock", keys.index_shards)  # nothing written
    with pytest.raises(layout.NewerLayout):
        await layout.check(rds, keys)


async def test_check_reads_only(rds: redis.asyncio.Redis, keys: Keys) -> None:
    assert await layout.check(rds, keys) == layout.LAYOUT_VERSION  # nothing stored
    await rds.rpush(keys.thread_queue("t5"), "r2")  # an older layout's records
    assert await layout.check(rds, keys) == 1
    # No version, no shard count, no migration: those are setup's.
    assert await rds.exists(keys.layout, keys.index_shards, keys.thread_queued("t5")) == 0


async def test_the_lock_is_released_only_by_its_holder(
    rds: redis.asyncio.Redis, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = keys.layout + ":lock"
    target = layout.LAYOUT_VERSION

    async def outlived_its_lock(redis: RedisClient, keys: Keys) -> int:
        # The lock expired during a long migration, and a waiting service took it.
        await redis.set(lock, "another service's token")
        return 0

    await rds.set(keys.layout, target - 1)
    monkeypatch.setattr(layout, "MIGRATIONS", [(target, "slow", outlived_its_lock)])
    await layout.setup(rds, keys)
    assert await rds.get(lock) == b"another service's token"
    assert await layout.version(rds, keys) == target

    async def quick(redis: RedisClient, keys: Keys) -> int:
        return 0

    await rds.delete(lock)
    await rds.set(keys.layout, target - 1)
    monkeypatch.setattr(layout, "MIGRATIONS", [(target, "quick", quick)])
    await layout.setup(rds, keys)
    assert not await rds.exists(lock)  # its own lock, released


def test_a_reviewer_does_not_start_on_a_newer_layout(valkey: ServerProcess, tmp_path: Path) -> None:
    """Refused before NATS is asked (there is none here), with what to do."""
    prefix = f"t{uuid4().hex[:8]}"
    client = redis.Redis.from_url(valkey.url)
    client.set(Keys(prefix).layout, NEWER)
    client.close()
    env = {
        **os.environ,
        "REDIS_URL": valkey.url,
        "REDIS_KEY_PREFIX": prefix,
        "NATS_URL": f"nats://127.0.0.1:{free_port()}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "relaygraph.cli", "reviewer", "--port", str(free_port())],
        cwd=tmp_path,  # no langgraph.json here
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert f"written by a newer relaygraph: their layout is version {NEWER}" in done.stderr
