"""Heartbeats of an executor: JetStream in-progress acks while a run goes
on, and the liveness key that resume routing trusts."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from relaygraph.owners import Owners

log = logging.getLogger("relaygraph.executor")

FAILURE_LOG_EVERY = 30.0
"""Seconds between two log lines of the same failing heartbeat."""


async def heartbeat(
    beat: Callable[[], Awaitable[Any]], interval: float, what: str = "heartbeat"
) -> None:
    """Call ``beat`` every ``interval`` seconds until cancelled. A failure does
    not stop the loop; it is logged, at most once per :data:`FAILURE_LOG_EVERY`
    seconds, and so is the recovery."""
    failures, logged_at = 0, -FAILURE_LOG_EVERY
    while True:
        await asyncio.sleep(interval)
        try:
            await beat()
        except Exception as exc:
            failures += 1
            now = time.monotonic()
            if now - logged_at >= FAILURE_LOG_EVERY:
                logged_at = now
                log.warning(
                    "%s failed (%d time(s) in a row): %s: %s",
                    what,
                    failures,
                    type(exc).__name__,
                    exc,
                )
            continue
        if failures:
            log.info("%s works again after %d failure(s)", what, failures)
            failures = 0


class Liveness:
    """This executor's liveness key, which resume routing trusts: refreshed
    every heartbeat; while it cannot be refreshed the executor no longer
    counts itself alive (and refuses runs routed to it as an owner)."""

    def __init__(self, owners: Owners, executor_id: str, ttl: float) -> None:
        self.owners = owners
        self.executor_id = executor_id
        self.ttl = ttl
        self._fresh_until = 0.0

    async def refresh(self) -> None:
        started = time.monotonic()
        await self.owners.heartbeat(self.executor_id, self.ttl)
        self._fresh_until = started + self.ttl

    @property
    def alive(self) -> bool:
        """Whether the key in Redis is surely still there."""
        return time.monotonic() < self._fresh_until
