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
"""Seconds between two log lines of failing heartbeats that share a
:class:`FailureLog`."""


class FailureLog:
    """Warnings of failing heartbeats, at most one per ``every`` seconds for
    all the loops that share it. The executor shares one among the in-progress
    acks of all its runs: an outage fails every run's loop at once, and N runs
    in flight must not give N lines per interval. The line it lets through
    says how many failures it held back since the last one."""

    def __init__(
        self, every: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        # Read at construction, not import: tests shorten or lengthen it.
        self.every = FAILURE_LOG_EVERY if every is None else every
        self.clock = clock
        self._logged_at: float | None = None
        self._held_back = 0

    def failed(self, what: str, failures: int, exc: Exception) -> bool:
        """Log this failure unless one was logged less than ``every`` ago;
        whether it was logged."""
        now = self.clock()
        if self._logged_at is not None and now - self._logged_at < self.every:
            self._held_back += 1
            return False
        held_back, self._logged_at, self._held_back = self._held_back, now, 0
        log.warning(
            "%s failed (%d time(s) in a row): %s: %s%s",
            what,
            failures,
            type(exc).__name__,
            exc,
            f" ({held_back} other heartbeat failure(s) not logged since the last line)"
            if held_back
            else "",
        )
        return True


async def heartbeat(
    beat: Callable[[], Awaitable[Any]],
    interval: float,
    what: str = "heartbeat",
    failure_log: FailureLog | None = None,
) -> None:
    """Call ``beat`` every ``interval`` seconds until cancelled. A failure does
    not stop the loop; it is logged through ``failure_log`` (its own one unless
    given: at most one line per :data:`FAILURE_LOG_EVERY` seconds). The
    recovery is logged when this loop's failures were: a loop whose failures
    another loop's line stood for recovers silently."""
    failure_log = failure_log or FailureLog()
    failures, seen = 0, False
    while True:
        await asyncio.sleep(interval)
        try:
            await beat()
        except Exception as exc:
            failures += 1
            seen = failure_log.failed(what, failures, exc) or seen
            continue
        if failures and seen:
            log.info("%s works again after %d failure(s)", what, failures)
        failures, seen = 0, False


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
