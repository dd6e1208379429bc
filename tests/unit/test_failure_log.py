"""Heartbeat failures are logged through a shared limiter: one line per
interval for all the loops that share it (the executor's in-progress acks of
every run in flight), whatever the number of loops, with a count of what it
held back; a loop says it works again only when its failure was the one
logged. Time is a fake clock, so nothing here waits for the interval."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from relaygraph_executor.liveness import FailureLog, heartbeat


class Beats:
    """A beat that fails until told otherwise."""

    def __init__(self) -> None:
        self.failing = True
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1
        if self.failing:
            raise ConnectionError("nats: connection closed")


def messages(caplog: pytest.LogCaptureFixture, part: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if part in r.getMessage()]


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(300):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never happened")


async def test_loops_that_share_a_limiter_log_one_line_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="relaygraph.executor")
    now = 0.0
    shared = FailureLog(every=30.0, clock=lambda: now)
    beats = [Beats() for _ in range(3)]
    loops = [
        asyncio.create_task(heartbeat(b, 0.001, f"in-progress ack of run r{i}", shared))
        for i, b in enumerate(beats)
    ]
    try:
        await until(lambda: all(b.calls >= 5 for b in beats))
        first = messages(caplog, "failed")
        assert len(first) == 1, first
        assert "ConnectionError: nats: connection closed" in first[0]
        assert "not logged" not in first[0]

        now = 30.0  # one interval later: one more line, saying what it held back
        await until(lambda: len(messages(caplog, "failed")) == 2)
        await asyncio.sleep(0.05)
        second = messages(caplog, "failed")
        assert len(second) == 2, second
        assert "other heartbeat failure(s) not logged since the last line" in second[1]

        for b in beats:
            b.failing = False
        calls = [b.calls for b in beats]
        await until(lambda: all(b.calls > c + 1 for b, c in zip(beats, calls, strict=True)))
        # Only the loops whose failure was logged say they recovered.
        logged = {m.split(" failed")[0] for m in second}
        recovered = {m.split(" works again")[0] for m in messages(caplog, "works again")}
        assert recovered == logged
    finally:
        for loop in loops:
            loop.cancel()
        await asyncio.gather(*loops, return_exceptions=True)


def test_a_limiter_lets_one_line_through_per_interval() -> None:
    now = 100.0
    limit = FailureLog(every=30.0, clock=lambda: now)
    boom = ConnectionError("x")
    assert limit.failed("a", 1, boom)
    assert not limit.failed("b", 1, boom)
    now = 129.9
    assert not limit.failed("a", 2, boom)
    now = 130.0
    assert limit.failed("b", 2, boom)
    assert not limit.failed("a", 3, boom)
