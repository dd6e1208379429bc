"""Webhook: a real HTTP server receives every interrupt as a JSON POST, those
the rules answer too (marked); deliveries are kept in Redis until taken, so a
webhook that is down, or a reviewer restart, loses none."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from relaygraph.keys import Keys
from relaygraph.pipelining import Direct
from relaygraph_dev.servers import free_port
from relaygraph_reviewer import outbox as outbox_module

pytestmark = pytest.mark.integration


class Hook:
    """A tiny real HTTP server in a thread: fails the first ``failures`` POSTs."""

    def __init__(self, failures: int = 0, stall: float = 0.0) -> None:
        self.failures = failures
        self.stall = stall  # seconds each POST waits before it is answered
        self.attempts = 0
        self.received: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length))
                hook.attempts += 1
                time.sleep(hook.stall)
                if hook.attempts <= hook.failures:
                    self.send_response(503)
                else:
                    hook.received.append(body)
                    self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Hook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def hook() -> Iterator[Hook]:
    with Hook(failures=2) as server:
        yield server


async def test_each_interrupt_is_posted_to_the_webhook_with_retries(
    start_reviewer, publish, event_factory, hook, eventually
):
    event = event_factory(values=[{"question": "Refund $20?"}])
    await publish(event)
    async with start_reviewer(webhook_url=hook.url) as reviewer:

        async def delivered():
            assert len(hook.received) == 1

        await eventually(delivered)
        assert hook.attempts == 3  # two 503s, then delivered
        body = hook.received[0]
        assert body["thread_id"] == event.thread_id
        assert body["run_id"] == event.run_id
        assert body["graph_id"] == "agent"
        assert body["checkpoint_id"] == event.checkpoint_id
        assert body["created_at"] == event.created_at
        assert body["interrupts"] == [
            {"id": event.interrupts[0].id, "value": {"question": "Refund $20?"}}
        ]
        assert body["resume_subject"] == reviewer.subjects.resume(event.thread_id)
        assert [i["thread_id"] for i in await reviewer.pending()] == [event.thread_id]


async def test_a_webhook_down_across_a_reviewer_restart_still_gets_the_interrupt(
    start_reviewer, publish, event_factory, eventually, caplog, valkey_proc
):
    from redis.asyncio import Redis

    event = event_factory()
    await publish(event)
    with Hook(failures=10**6) as down:
        async with start_reviewer(webhook_url=down.url) as reviewer:

            async def retried():
                assert down.attempts >= 3
                assert any("attempt 2 for thread" in r.message for r in caplog.records)

            await eventually(retried)
            assert [i["thread_id"] for i in await reviewer.pending()] == [event.thread_id]
            durable = reviewer.settings.durable
            keys = reviewer.keys
    async with Redis.from_url(valkey_proc.url) as admin:  # kept while nobody runs
        assert await admin.hexists(
            keys.reviewer_webhook(durable), f"{event.thread_id}:{event.checkpoint_id}"
        )
    with Hook() as up:
        async with start_reviewer(webhook_url=up.url):

            async def delivered():
                assert [b["thread_id"] for b in up.received] == [event.thread_id]

            await eventually(delivered)
    async with Redis.from_url(valkey_proc.url) as admin:
        assert await admin.hlen(keys.reviewer_webhook(durable)) == 0


async def test_a_delivery_is_given_up_after_its_time(
    start_reviewer, publish, event_factory, eventually, caplog
):
    event = event_factory()
    await publish(event)
    url = f"http://127.0.0.1:{free_port()}/nobody-listens"
    async with start_reviewer(webhook_url=url, webhook_give_up_after=0.5) as reviewer:

        async def given_up():
            assert any("given up (it stays in the inbox)" in r.message for r in caplog.records)

        await eventually(given_up)
        assert [i["thread_id"] for i in await reviewer.pending()] == [event.thread_id]


async def test_interrupts_the_rules_answer_are_posted_marked(
    tmp_path, start_reviewer, publish, event_factory, gateway, eventually
):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([{"graph_id": "*", "match": {"auto": True}, "resume": "ok"}]))
    automatic = event_factory(values=[{"auto": True}])
    manual = event_factory(values=[{"auto": False}])
    with Hook() as hook:
        async with start_reviewer(rules=rules, webhook_url=hook.url):
            await publish(automatic)
            await publish(manual)

            async def both():
                assert {b["thread_id"] for b in hook.received} == {
                    automatic.thread_id,
                    manual.thread_id,
                }

            await eventually(both)
    bodies = {b["thread_id"]: b for b in hook.received}
    assert bodies[automatic.thread_id]["answered_by"] == "rules"
    assert bodies[automatic.thread_id]["answered_run_id"] == gateway.run_ids[0]
    assert "answered_by" not in bodies[manual.thread_id]


async def test_a_reviewer_stopped_mid_post_leaves_the_delivery_due_at_once(
    start_reviewer, publish, event_factory, eventually
):
    """Stopped while its POST hangs, the reviewer gives the delivery back: the
    next one posts it within seconds, not after the taker's 60 s lease."""
    event = event_factory()
    await publish(event)
    with Hook(failures=10**6, stall=30) as hanging:
        async with start_reviewer(webhook_url=hanging.url):

            async def posting():
                assert hanging.attempts >= 1

            await eventually(posting)
    with Hook() as up:
        async with start_reviewer(webhook_url=up.url):

            async def delivered():
                assert [b["thread_id"] for b in up.received] == [event.thread_id]

            await eventually(delivered, within=5.0)


async def test_a_reviewer_stopped_while_leasing_gives_the_deliveries_back(
    rds: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stop lands after Redis leased the due deliveries but before the
    reply came back: they are due again at once, not after the lease."""
    keys = Keys(f"t{uuid.uuid4().hex[:8]}")
    async with httpx.AsyncClient() as client:
        box = outbox_module.WebhookOutbox(rds, keys, "d", client, "http://127.0.0.1:9/hook")
        await rds.zadd(keys.reviewer_webhook_due("d"), {"m1": time.time() - 1})
        leased = asyncio.Event()
        real_run = Direct.run

        async def slow_reply(self: Direct, steps: list[Any]) -> list[Any]:
            replies = await real_run(self, steps)  # Redis has leased them now
            leased.set()
            await asyncio.sleep(1)
            return replies

        monkeypatch.setattr(Direct, "run", slow_reply)
        running = asyncio.create_task(box.run())
        await asyncio.wait_for(leased.wait(), 5)
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    due = await rds.zscore(keys.reviewer_webhook_due("d"), "m1")
    assert due is not None and due <= time.time(), "left leased to a reviewer that stopped"
