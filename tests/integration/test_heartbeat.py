"""An executor's heartbeats against a real Valkey that goes away: failures are
logged (one line per interval, not one per beat), liveness is no longer
claimed while it cannot be refreshed, and both come back with Redis."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from redis.asyncio import Redis

from relaygraph.keys import Keys
from relaygraph.owners import Owners
from relaygraph_dev.servers import valkey_server
from relaygraph_executor import liveness as liveness_module
from relaygraph_executor.liveness import Liveness, heartbeat
from tests.system import assert_eventually

pytestmark = pytest.mark.integration


async def test_liveness_is_not_claimed_while_redis_is_away(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(liveness_module, "FAILURE_LOG_EVERY", 60.0)
    caplog.set_level(logging.INFO, logger="relaygraph.executor")
    server = valkey_server(tmp_path / "valkey").start()
    keys = Keys("hb")
    async with Redis.from_url(server.url, socket_connect_timeout=0.2) as rds:
        liveness = Liveness(Owners(rds, keys), "executor-1", ttl=0.5)
        await liveness.refresh()
        assert liveness.alive and await rds.exists(keys.executor("executor-1"))
        beats = asyncio.create_task(heartbeat(liveness.refresh, 0.05, "liveness refresh"))
        try:
            await asyncio.sleep(0.3)
            assert liveness.alive

            server.kill()
            await asyncio.sleep(1.0)  # many beats fail meanwhile
            assert not liveness.alive
            failed = [r for r in caplog.records if "liveness refresh failed" in r.getMessage()]
            assert len(failed) == 1, [r.getMessage() for r in failed]
            assert failed[0].levelno == logging.WARNING
            assert "ConnectionError" in failed[0].getMessage()

            server.start()

            async def alive_again() -> None:
                assert liveness.alive

            await assert_eventually(alive_again, timeout=10)
            assert any("liveness refresh works again" in r.getMessage() for r in caplog.records)
        finally:
            beats.cancel()
            server.stop()
