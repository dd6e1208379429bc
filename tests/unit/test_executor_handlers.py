"""The executor's handlers and what becomes of a run request, on FastStream's
TestNatsBroker: pure handler logic (ack, nak at once, nak with a delay, term to
the dead-letter stream, an owner's yes or no). TestNatsBroker neither delivers
again nor times out: that is tested against real nats-server elsewhere
(tests/chaos/test_failover.py, tests/e2e)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from faststream.nats import NatsBroker, TestNatsBroker
from faststream.nats.message import NatsMessage
from faststream.nats.testing import PatchedMessage
from nats.errors import NoServersError
from redis.exceptions import ConnectionError as RedisConnectionError

from relaygraph.contracts import OwnerReply, RunRequest, decode, encode
from relaygraph.keys import Keys
from relaygraph.settings import ExecutorSettings, NatsSettings, RedisSettings, RunSettings
from relaygraph.subjects import Subjects
from relaygraph_executor.decisions import (
    FAULTS_BEFORE_DEAD_LETTER,
    MAX_BACKOFF,
    Attempt,
    Failure,
    Settle,
    after_attempt,
    failure_of,
    undecodable,
)
from relaygraph_executor.resources import Resources, Settings
from relaygraph_executor.worker import Executor


def test_what_becomes_of_a_request() -> None:
    assert after_attempt(Attempt.DONE, 1).settle is Settle.ACK
    assert after_attempt(Attempt.SKIPPED, 3).settle is Settle.ACK
    assert after_attempt(Attempt.STALE, 1).settle is Settle.ACK
    assert after_attempt(Attempt.HANDED_BACK, 1).settle is Settle.REDELIVER
    failed = [after_attempt(RuntimeError("x"), n) for n in (1, 2, 3, 9)]
    assert [v.settle for v in failed] == [Settle.RETRY_LATER] * 4
    assert [v.delay for v in failed] == [1.0, 2.0, 4.0, 30.0]
    poison = undecodable(ValueError("not JSON"))
    assert poison.settle is Settle.DEAD_LETTER and poison.reason == "not JSON"
    assert poison.kind == "undecodable"


@pytest.mark.parametrize(
    ("error", "failure"),
    [
        (RedisConnectionError("Connection refused"), Failure.UNAVAILABLE),
        (NoServersError(), Failure.UNAVAILABLE),
        (ConnectionResetError(), Failure.UNAVAILABLE),
        (asyncio.CancelledError(), Failure.STOPPING),
        (KeyError("a bug"), Failure.FAULT),
    ],
)
def test_a_failed_attempt_is_judged_by_its_errors_kind(
    error: BaseException, failure: Failure
) -> None:
    """A server away is waited out however long; a stopping executor hands
    the request back at once; the executor's own fault repeated on one
    request sends it to the dead-letter stream."""
    assert failure_of(error) is failure
    last = FAULTS_BEFORE_DEAD_LETTER
    early, late = after_attempt(error, 1), after_attempt(error, last)
    if failure is Failure.STOPPING:
        assert early.settle is late.settle is Settle.REDELIVER
    elif failure is Failure.UNAVAILABLE:
        assert early.settle is late.settle is Settle.RETRY_LATER
        assert (early.delay, late.delay) == (1.0, MAX_BACKOFF)
    else:
        assert early.settle is Settle.RETRY_LATER and early.delay == 1.0
        assert late.settle is Settle.DEAD_LETTER and late.kind == "failing"
        assert "a bug" in late.reason


@dataclass
class Outcomes:
    """The runner's part, played by the test: each run id's result."""

    results: dict[str, Attempt | Exception] = field(default_factory=dict)
    active: dict[str, Any] = field(default_factory=dict)

    async def execute(self, req: RunRequest) -> Attempt:
        result = self.results[req.run_id]
        if isinstance(result, Exception):
            raise result
        return result

    def cancel(self, run_id: str, action: str) -> bool:
        return False


@dataclass
class Published:
    """JetStream's publish, recorded (the dead-letter stream)."""

    messages: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)

    async def publish(self, subject: str, body: bytes, headers: dict[str, str]) -> None:
        self.messages.append((subject, body, headers))


@dataclass
class Alive:
    alive: bool = True


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """What the handlers told JetStream, in order."""
    seen: list[tuple[str, Any]] = []

    async def ack(self: NatsMessage) -> None:
        seen.append(("ack", None))

    async def nack(self: NatsMessage, delay: float | None = None) -> None:
        seen.append(("nack", delay))

    async def reject(self: NatsMessage) -> None:
        seen.append(("reject", None))

    monkeypatch.setattr(NatsMessage, "ack", ack)
    monkeypatch.setattr(NatsMessage, "nack", nack)
    monkeypatch.setattr(NatsMessage, "reject", reject)
    return seen


@pytest.fixture
async def harness() -> AsyncIterator[tuple[NatsBroker, Executor, Outcomes, Published, Alive]]:
    settings = Settings(
        executor=ExecutorSettings(executor_id="ex-test", max_concurrent_runs=2),
        runs=RunSettings(),
        nats=NatsSettings(),
        redis=RedisSettings(),
    )
    published, alive, outcomes = Published(), Alive(), Outcomes()
    resources: Any = Resources(
        settings=settings,
        redis=None,  # type: ignore[arg-type]
        keys=Keys(),
        subjects=Subjects(),
        saver=None,  # type: ignore[arg-type]
        store=None,  # type: ignore[arg-type]
        registry=None,  # type: ignore[arg-type]
        runs=None,  # type: ignore[arg-type]
        threads=None,  # type: ignore[arg-type]
        owners=None,  # type: ignore[arg-type]
        broker=None,  # type: ignore[arg-type]
        nc=None,  # type: ignore[arg-type]
        js=published,  # type: ignore[arg-type]
        dispatcher=None,  # type: ignore[arg-type]
        webhooks=None,  # type: ignore[arg-type]
    )
    async with asyncio.TaskGroup() as tasks:
        executor = Executor(resources, alive, tasks)  # type: ignore[arg-type]
        executor.runner = outcomes  # type: ignore[assignment]
        broker = NatsBroker()
        broker.include_router(executor.router())
        async with TestNatsBroker(broker) as test_broker:
            yield test_broker, executor, outcomes, published, alive


def request(run_id: str) -> bytes:
    return encode(RunRequest(run_id=run_id, thread_id="t", assistant_id="a", graph_id="g"))


async def until(condition: Any) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never happened")


async def test_requests_are_settled_from_what_their_attempt_came_to(
    harness: Any, settled: list[tuple[str, Any]]
) -> None:
    broker, _, outcomes, _, _ = harness
    outcomes.results.update(
        done=Attempt.DONE, back=Attempt.HANDED_BACK, failed=RuntimeError("Redis went away")
    )
    for n, run_id in enumerate(("done", "back", "failed"), 1):
        await broker.publish(request(run_id), Subjects().run_queue, stream="RELAYGRAPH_RUNS")
        await until(lambda n=n: len(settled) >= n)
    assert settled == [("ack", None), ("nack", None), ("nack", 1.0)]


async def test_a_poison_request_goes_to_the_dead_letter_stream(
    harness: Any, settled: list[tuple[str, Any]]
) -> None:
    broker, _, _, published, _ = harness
    await broker.publish(b"not a run request", Subjects().run_priority, stream="RELAYGRAPH_RUNS")
    await until(lambda: settled)
    assert settled == [("reject", None)]
    subject, body, headers = published.messages[0]
    assert subject == Subjects().dead_letter("undecodable")
    assert body == b"not a run request"
    assert "Relaygraph-Reason" in headers


async def test_an_owner_takes_a_run_only_while_it_counts_as_alive(harness: Any) -> None:
    broker, executor, outcomes, _, alive = harness
    outcomes.results.update(r1=Attempt.DONE, r2=Attempt.DONE)
    subject = Subjects().owner_run("ex-test")
    reply = await broker.request(request("r1"), subject)
    assert decode(reply.body, OwnerReply).accepted is True
    alive.alive = False
    reply = await broker.request(request("r2"), subject)
    assert decode(reply.body, OwnerReply).accepted is False
    executor.stopping = True
    alive.alive = True
    reply = await broker.request(request("r2"), subject)
    assert decode(reply.body, OwnerReply).accepted is False


@dataclass
class Held:
    """The runner's part: runs that go on until released."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    started: set[str] = field(default_factory=set)

    async def execute(self, req: RunRequest) -> Attempt:
        self.started.add(req.run_id)
        await self.release.wait()
        return Attempt.DONE

    def cancel(self, run_id: str, action: str) -> bool:
        return False


async def test_failing_in_progress_acks_of_all_runs_share_one_log_limit(
    harness: Any,
    settled: list[tuple[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """NATS away with two runs in flight: one warning, not one per run."""
    broker, executor, _, _, _ = harness
    held = Held()
    executor.runner = held
    executor.res.settings.executor.heartbeat_interval = 0.005

    async def away(self: PatchedMessage) -> None:
        raise ConnectionError("nats: connection closed")

    monkeypatch.setattr(PatchedMessage, "in_progress", away)
    caplog.set_level(logging.WARNING, logger="relaygraph.executor")
    for run_id in ("r1", "r2"):
        await broker.publish(request(run_id), Subjects().run_queue, stream="RELAYGRAPH_RUNS")
    try:
        await until(lambda: held.started == {"r1", "r2"})
        await asyncio.sleep(0.2)  # dozens of failed acks per run
        failed = [r.getMessage() for r in caplog.records if "in-progress ack" in r.getMessage()]
        assert len(failed) == 1, failed
    finally:  # the harness waits for its runs to end
        held.release.set()
    await until(lambda: len(settled) == 2)
    assert settled == [("ack", None), ("ack", None)]
