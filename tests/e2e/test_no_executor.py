"""Accepting work never needs a live executor. Runs sent while none runs wait in
JetStream (``wait`` and ``join`` send LangGraph's newline keep-alive, streams
their SSE heartbeat) and run when one starts; input is checked against the
schemas executors published, and accepted unchecked before any did; a run
cancelled before any executor took it ends at once."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.schema import Command

from tests.system import System, assert_eventually, running_system

pytestmark = pytest.mark.e2e


@pytest.fixture
def bare(tmp_path: Path) -> Iterator[System]:
    """NATS, Valkey and a gateway; no executor until a test starts one."""
    with running_system(tmp_path / "system", executors=0) as system:
        yield system


@pytest.fixture
async def http(bare: System) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=bare.url, timeout=90) as client:
        yield client


async def raw(
    http: httpx.AsyncClient, path: str, body: dict[str, Any] | None = None
) -> tuple[int, bytes]:
    """The raw bytes of a POST (of ``body``) or, without one, of a GET."""
    method = "GET" if body is None else "POST"
    async with http.stream(method, path, json=body) as r:
        return r.status_code, b"".join([chunk async for chunk in r.aiter_raw()])


def sse_data(body: bytes) -> list[tuple[str, Any]]:
    events = []
    for frame in body.split(b"\r\n\r\n"):
        fields = dict(line.split(b": ", 1) for line in frame.split(b"\r\n") if b": " in line)
        if b"event" in fields:
            events.append((fields[b"event"].decode(), json.loads(fields[b"data"])))
    return events


@dataclass
class Queued:
    """A run of each kind sent while no executor runs."""

    wait: asyncio.Task[tuple[int, bytes]]
    stream: asyncio.Task[tuple[int, bytes]]
    join: asyncio.Task[tuple[int, bytes]]
    stateless: asyncio.Task[Any]
    joined: str
    """The thread of the background run ``join`` joins."""
    background: str


async def _queue_one_of_each(c: Any, http: httpx.AsyncClient) -> Queued:
    """``/wait``, ``/stream``, a background run and its ``/join``, and a
    stateless ``wait``, each on a thread of its own."""
    waited, streamed, joined = [(await c.threads.create())["thread_id"] for _ in range(3)]
    wait = asyncio.create_task(
        raw(
            http,
            f"/threads/{waited}/runs/wait",
            {"assistant_id": "agent", "input": {"some_text": "queued"}},
        )
    )
    stream = asyncio.create_task(
        raw(
            http,
            f"/threads/{streamed}/runs/stream",
            {"assistant_id": "slow", "input": {"seconds": 0.1}, "stream_mode": ["values"]},
        )
    )
    background = (await c.runs.create(joined, "slow", input={"seconds": 0.1}))["run_id"]
    join = asyncio.create_task(raw(http, f"/threads/{joined}/runs/{background}/join"))
    stateless = asyncio.create_task(c.runs.wait(None, "slow", input={"seconds": 0.2}))
    return Queued(wait, stream, join, stateless, joined, background)


async def _each_ran(c: Any, queued: Queued) -> None:
    """Each queued run's answer, once an executor ran it: after the
    keep-alive (``/wait``, ``/join``) or SSE heartbeats (``/stream``)."""
    status, body = await asyncio.wait_for(queued.wait, 60)
    assert status == 200
    assert body.startswith(b"\n"), body[:20]  # the keep-alive
    assert json.loads(body) == {
        "some_text": "queued",
        "__interrupt__": [
            {
                "value": {"text_to_revise": "queued"},
                "id": json.loads(body)["__interrupt__"][0]["id"],
            }
        ],
    }
    status, body = await asyncio.wait_for(queued.stream, 60)
    assert status == 200 and b": heartbeat\r\n\r\n" in body
    events = sse_data(body)
    assert events[0][0] == "metadata"
    assert events[-1] == ("values", {"seconds": 0.1, "done": True})
    status, body = await asyncio.wait_for(queued.join, 60)
    assert status == 200
    assert body.startswith(b"\n"), body[:20]  # the keep-alive, as on /wait
    assert json.loads(body) == {"seconds": 0.1, "done": True}
    assert await c.runs.join(queued.joined, queued.background) == {
        "seconds": 0.1,
        "done": True,
    }
    assert await asyncio.wait_for(queued.stateless, 60) == {"seconds": 0.2, "done": True}


async def test_runs_wait_in_the_queue_until_an_executor_starts(
    bare: System, http: httpx.AsyncClient
) -> None:
    async with get_client(url=bare.url, timeout=90) as c:
        started = time.monotonic()
        queued = await _queue_one_of_each(c, http)
        # No executor has published the graph's schemas yet: input is not checked.
        unchecked = await http.post(
            "/runs", json={"assistant_id": "slow", "input": {"not_a_key": 1}}
        )
        assert unchecked.status_code == 200, unchecked.text

        await asyncio.sleep(6)  # longer than the keep-alive interval
        tasks = (queued.wait, queued.stream, queued.stateless, queued.join)
        assert not any(task.done() for task in tasks)
        bare.executor()
        await _each_ran(c, queued)
        assert time.monotonic() - started < 60

        # Published now: the same unknown key is refused, with the keys it takes.
        refused = await http.post("/runs", json={"assistant_id": "slow", "input": {"not_a_key": 1}})
        assert refused.status_code == 422
        assert "not_a_key" in refused.json()["detail"]
        assert "seconds" in refused.json()["detail"]


async def test_a_run_cancelled_before_any_executor_took_it_ends_at_once(
    bare: System, http: httpx.AsyncClient
) -> None:
    async with get_client(url=bare.url, timeout=30) as c:
        tid = (await c.threads.create())["thread_id"]
        first = await c.runs.create(tid, "slow", input={"seconds": 0.1})
        second = await c.runs.create(tid, "slow", input={"seconds": 0.2})
        started = time.monotonic()
        cancelled = await http.post(
            f"/threads/{tid}/runs/{first['run_id']}/cancel", params={"wait": "true"}
        )
        assert cancelled.status_code == 200 and cancelled.json() == {}
        assert (await c.runs.get(tid, first["run_id"]))["status"] == "interrupted"
        assert await c.runs.join(tid, first["run_id"]) == {}
        chunks = [chunk async for chunk in c.runs.join_stream(tid, first["run_id"])]
        assert chunks == []
        assert time.monotonic() - started < 3
        # The thread went on to its next run, which runs once an executor is up.
        thread = await c.threads.get(tid)
        assert thread["status"] == "busy"
        bare.executor()
        assert await c.runs.join(tid, second["run_id"]) == {"seconds": 0.2, "done": True}
        assert (await c.runs.get(tid, first["run_id"]))["status"] == "interrupted"
        assert (await c.threads.get(tid))["status"] == "idle"


async def test_a_resume_cancelled_before_it_ran_leaves_the_interrupt_answerable(
    bare: System,
) -> None:
    async with get_client(url=bare.url, timeout=30) as c:
        executor = bare.executor()
        tid = (await c.threads.create())["thread_id"]
        paused = await c.runs.wait(tid, "agent", input={"some_text": "draft"})
        assert "__interrupt__" in paused
        executor.stop()

        resume = await c.runs.create(tid, "agent", command=Command(resume="first answer"))
        await c.runs.cancel(tid, resume["run_id"], wait=True)
        thread = await c.threads.get(tid)
        assert thread["status"] == "interrupted"
        assert await c.runs.join(tid, resume["run_id"]) == {
            "__interrupt__": paused["__interrupt__"]
        }

        again = await c.runs.create(tid, "agent", command=Command(resume="second answer"))
        assert again["run_id"] != resume["run_id"]
        bare.executor()
        assert await c.runs.join(tid, again["run_id"]) == {"some_text": "second answer"}

        async def idle() -> None:
            assert (await c.threads.get(tid))["status"] == "idle"

        await assert_eventually(idle)
