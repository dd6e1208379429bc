"""Real nats-server and valkey-server for the reviewer's tests, and a harness
that runs the whole reviewer service (``serve``) against them.

Helpers are handed out as fixtures (``eventually``, ``start_reviewer``,
``publish``...) so no test module imports another.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from relaygraph.contracts import (
    ErrorBody,
    ErrorReply,
    InterruptEvent,
    InterruptItem,
    ResumeReply,
    ResumeRequest,
    decode,
    encode,
)
from relaygraph.keys import Keys
from relaygraph.settings import NatsSettings, RedisSettings, ReviewerSettings
from relaygraph.streams import ensure_stream, interrupts_stream_config
from relaygraph.subjects import Subjects
from relaygraph_dev.servers import ServerProcess, free_port, nats_server, valkey_server
from relaygraph_reviewer.app import serve


async def _eventually(
    check: Callable[[], Awaitable[Any] | Any], within: float = 15.0, interval: float = 0.05
) -> Any:
    """Call ``check`` until it stops raising AssertionError; return its result."""
    deadline = time.monotonic() + within
    while True:
        try:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            return result
        except AssertionError:
            if time.monotonic() >= deadline:
                raise
        await asyncio.sleep(interval)


@pytest.fixture(scope="session")
def eventually() -> Callable[..., Awaitable[Any]]:
    return _eventually


STREAM_BYTES = 8 << 20
"""Each test's interrupts stream, small: the tests share one nats-server, and
JetStream reserves a stream's size limit when it is made."""


@pytest.fixture(scope="session")
def nats_proc(tmp_path_factory: pytest.TempPathFactory) -> Any:
    proc = nats_server(tmp_path_factory.mktemp("nats")).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def valkey_proc(tmp_path_factory: pytest.TempPathFactory) -> Any:
    proc = valkey_server(tmp_path_factory.mktemp("valkey")).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
async def nc(nats_proc: ServerProcess) -> AsyncIterator[Client]:
    client = await nats.connect(nats_proc.url)
    yield client
    await client.drain()


@pytest.fixture
def prefix() -> str:
    """A fresh subject/key prefix: each test gets its own stream and inbox."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def subjects(prefix: str) -> Subjects:
    return Subjects(prefix)


def make_event(
    graph_id: str = "agent",
    thread_id: str | None = None,
    values: list[Any] | None = None,
    created_at: str = "2026-01-01T00:00:00+00:00",
) -> InterruptEvent:
    values = [{"question": "Deploy to production?"}] if values is None else values
    return InterruptEvent(
        thread_id=thread_id or str(uuid.uuid4()),
        run_id=str(uuid.uuid4()),
        assistant_id=str(uuid.uuid4()),
        graph_id=graph_id,
        checkpoint_id=str(uuid.uuid4()),
        interrupts=[InterruptItem(id=uuid.uuid4().hex, value=v) for v in values],
        created_at=created_at,
    )


@pytest.fixture(scope="session")
def event_factory() -> Callable[..., InterruptEvent]:
    return make_event


Publish = Callable[[InterruptEvent], Awaitable[str]]


@pytest.fixture
def publish(nc: Client, subjects: Subjects) -> Publish:
    """Publish an interrupt event as an executor does (stream made if missing)."""

    async def _publish(event: InterruptEvent) -> str:
        js = nc.jetstream()
        await ensure_stream(js, interrupts_stream_config(subjects, max_bytes=STREAM_BYTES))
        msg_id = f"{event.thread_id}:{event.checkpoint_id}"
        await js.publish(
            subjects.interrupts(event.graph_id, event.thread_id),
            encode(event),
            headers={"Nats-Msg-Id": msg_id},
        )
        return msg_id

    return _publish


@dataclass
class Gateway:
    """The gateway's side of the resume contract, played by the test."""

    requests: list[tuple[str, ResumeRequest]] = field(default_factory=list)
    error: ErrorBody | None = None
    run_ids: list[str] = field(default_factory=list)

    async def on_request(self, msg: Msg) -> None:
        request = decode(msg.data, ResumeRequest)
        self.requests.append((msg.subject, request))
        if self.error is not None:
            await msg.respond(encode(ErrorReply(error=self.error)))
            return
        run_id = str(uuid.uuid4())
        self.run_ids.append(run_id)
        thread_id = msg.subject.rsplit(".", 1)[-1]
        await msg.respond(encode(ResumeReply(run_id=run_id, thread_id=thread_id, status="pending")))


@pytest.fixture
async def gateway(nc: Client, subjects: Subjects) -> AsyncIterator[Gateway]:
    fake = Gateway()
    sub = await nc.subscribe(subjects.resume_all, cb=fake.on_request)
    await nc.flush()
    yield fake
    await sub.unsubscribe()


@dataclass
class RunningReviewer:
    url: str
    http: httpx.AsyncClient
    settings: ReviewerSettings
    subjects: Subjects
    keys: Keys

    async def pending(self) -> list[dict[str, Any]]:
        response = await self.http.get("/api/interrupts")
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()
        return items

    async def answered(self) -> list[dict[str, Any]]:
        response = await self.http.get("/api/answered")
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()
        return items


StartReviewer = Callable[..., contextlib.AbstractAsyncContextManager[RunningReviewer]]


async def _serving(task: asyncio.Task[None], http: httpx.AsyncClient) -> None:
    """The reviewer answers ``/ok`` (raises its start error if it stopped)."""
    if task.done():
        task.result()  # raises the reviewer's start error
        raise RuntimeError("the reviewer stopped during start")
    try:
        response = await http.get("/ok")
    except httpx.TransportError as exc:
        raise AssertionError(f"not up yet: {exc}") from exc
    assert response.status_code == 200


@contextlib.asynccontextmanager
async def _running_reviewer(
    nats_proc: ServerProcess,
    valkey_proc: ServerProcess,
    prefix: str,
    *,
    durable: str | None = None,
    rules: str | Path | None = None,
    webhook_url: str | None = None,
    api_key: str | None = None,
    api_keys: str | None = None,
    resume_timeout: float = 3.0,
    nats_url: str | None = None,
    redis_max_connections: int = 200,
    webhook_give_up_after: float = 3600.0,
) -> AsyncIterator[RunningReviewer]:
    settings = ReviewerSettings(
        host="127.0.0.1",
        port=free_port(),
        durable=durable or f"reviewer-{prefix}",
        rules=str(rules) if rules else None,
        webhook_url=webhook_url,
        api_keys=api_keys,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(
        serve(
            settings,
            NatsSettings(
                url=nats_url or nats_proc.url, prefix=prefix, stream_max_bytes=STREAM_BYTES
            ),
            RedisSettings(
                url=valkey_proc.url, key_prefix=prefix, max_connections=redis_max_connections
            ),
            api_key=api_key,
            stop=stop,
            resume_timeout=resume_timeout,
            webhook_backoff=0.05,
            # A test's webhook waits at most this long between attempts, so a
            # delivery due after a restart comes within its `eventually`.
            webhook_max_backoff=0.4,
            webhook_give_up_after=webhook_give_up_after,
            handle_signals=False,
        )
    )
    url = f"http://127.0.0.1:{settings.port}"
    headers = {"x-api-key": api_key} if api_key else {}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10.0) as http:
        try:
            await _eventually(lambda: _serving(task, http), within=20.0)
            yield RunningReviewer(url, http, settings, Subjects(prefix), Keys(prefix))
        finally:
            stop.set()
            await asyncio.wait_for(task, 30.0)


@pytest.fixture
def start_reviewer(
    nats_proc: ServerProcess, valkey_proc: ServerProcess, prefix: str
) -> StartReviewer:
    """Run the reviewer service (``serve``) in this event loop until the block ends."""
    return functools.partial(_running_reviewer, nats_proc, valkey_proc, prefix)
