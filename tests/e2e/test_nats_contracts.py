"""The public NATS contracts: interrupt events in JetStream (late subscribers get
them; dedup header), resume by NATS request, once per interrupt."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.js.api import ConsumerConfig, DeliverPolicy

from tests.conftest import REDIS_KINDS, on_redis_kind
from tests.system import System, assert_eventually

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=REDIS_KINDS)
def system(request: pytest.FixtureRequest) -> System:
    """These tests run on one Valkey and on a Valkey cluster."""
    return on_redis_kind(request)


@pytest.fixture
async def nc(system: System) -> AsyncIterator[Client]:
    conn = await nats.connect(system.nats.url)
    yield conn
    await conn.drain()


async def resume(nc: Client, thread_id: str, body: Any) -> dict[str, Any]:
    msg = await nc.request(f"relaygraph.resume.{thread_id}", json.dumps(body).encode(), timeout=10)
    return json.loads(msg.data)  # type: ignore[no-any-return]


async def test_interrupt_event_reaches_a_late_subscriber(c: Any, nc: Client) -> None:
    tid = (await c.threads.create())["thread_id"]
    out = await c.runs.wait(tid, "agent", input={"some_text": "late"})
    [intr] = out["__interrupt__"]

    # A reviewer that subscribes only now still gets it, from the stream.
    js = nc.jetstream()
    sub = await js.subscribe(
        f"relaygraph.interrupts.agent.{tid}",
        ordered_consumer=True,
        deliver_policy=DeliverPolicy.ALL,
    )
    msg = await sub.next_msg(timeout=5)
    event = json.loads(msg.data)
    state = await c.threads.get_state(tid)
    assert event["thread_id"] == tid
    assert event["graph_id"] == "agent"
    assert event["interrupts"] == [{"id": intr["id"], "value": {"text_to_revise": "late"}}]
    assert event["checkpoint_id"] == state["checkpoint"]["checkpoint_id"]
    assert event["run_id"] and event["assistant_id"] and event["created_at"]
    assert msg.headers is not None
    assert msg.headers["Nats-Msg-Id"] == f"{tid}:{event['checkpoint_id']}"
    await sub.unsubscribe()
    info = await js.stream_info("RELAYGRAPH_INTERRUPTS")
    assert info.config.subjects == ["relaygraph.interrupts.>"]


async def test_durable_reviewer_consumer_gets_every_interrupt(c: Any, nc: Client) -> None:
    js = nc.jetstream()
    durable = f"test-{uuid.uuid4().hex[:8]}"
    await js.add_consumer(
        "RELAYGRAPH_INTERRUPTS",
        ConsumerConfig(
            durable_name=durable,
            filter_subject="relaygraph.interrupts.approvals.*",
            deliver_policy=DeliverPolicy.NEW,
        ),
    )
    psub = await js.pull_subscribe_bind(durable, "RELAYGRAPH_INTERRUPTS")
    threads = []
    for _ in range(3):
        tid = (await c.threads.create())["thread_id"]
        await c.runs.wait(tid, "approvals", input={"request": "r"})
        threads.append(tid)
    seen = []
    while len(seen) < 3:
        for msg in await psub.fetch(3, timeout=5):
            seen.append(json.loads(msg.data))
            await msg.ack()
    assert [e["thread_id"] for e in seen] == threads
    assert all(len(e["interrupts"]) == 2 for e in seen)
    await js.delete_consumer("RELAYGRAPH_INTERRUPTS", durable)


async def test_resume_over_nats_once_per_interrupt(
    c: Any, nc: Client, system: System, tmp_path: Path
) -> None:
    tid = (await c.threads.create())["thread_id"]
    out = await c.runs.wait(tid, "agent", input={"some_text": "draft"})
    intr = out["__interrupt__"][0]

    first = await resume(nc, tid, {"resume": "final", "reviewer": "alice"})
    assert set(first) == {"run_id", "thread_id", "status"}
    assert first["thread_id"] == tid
    again = await resume(nc, tid, {"resume": {intr["id"]: "other"}, "reviewer": "bob"})
    assert "run_id" in again, again
    assert again["run_id"] == first["run_id"]  # the same interrupt: the first run, not a new one

    assert await c.runs.join(tid, first["run_id"]) == {"some_text": "final"}
    runs = await c.runs.list(tid)
    assert len(runs) == 2  # the first run and the one resume; no third
    assert runs[0]["metadata"]["reviewer"] == "alice"

    # A retried plain resume (the reviewer's request timed out) gets the same run.
    assert (await resume(nc, tid, {"resume": "final"}))["run_id"] == first["run_id"]
    # Once the thread has moved on, a plain value still names its first pause
    # (a late retry gets its run); a resume naming an interrupt the thread does
    # not have pending is an error reply.
    await c.runs.wait(tid, "slow", input={"seconds": 0})
    assert (await c.threads.get(tid))["status"] == "idle"
    assert (await resume(nc, tid, {"resume": "x"}))["run_id"] == first["run_id"]
    late = await resume(nc, tid, {"resume": "x", "interrupt_id": "0" * 32})
    assert "error" in late, (late, await c.runs.list(tid))
    assert late["error"]["code"] == "bad_request"
    assert "not interrupted" in late["error"]["message"]
    assert len(await c.runs.list(tid)) == 3


async def test_resume_over_nats_bad_input(nc: Client, c: Any) -> None:
    bad = await resume(nc, str(uuid.uuid4()), {"resume": 1})
    assert bad["error"]["code"] == "not_found"
    msg = await nc.request("relaygraph.resume.abc", b"{broken", timeout=10)
    err = json.loads(msg.data)["error"]
    assert err["code"] == "invalid_input"
    assert "bad resume request" in err["message"]


async def test_racing_resumes_run_the_graph_once(c: Any, nc: Client, system: System) -> None:
    effects = Path(system.env.get("RELAYGRAPH_TEST_EFFECTS", ""))
    tid = (await c.threads.create())["thread_id"]
    out = await c.runs.wait(tid, "counter", input={})
    assert out["__interrupt__"][0]["value"] == {"question": "go?"}
    replies = await asyncio.gather(*[resume(nc, tid, {"resume": f"yes-{tid}"}) for _ in range(8)])
    ok = [r for r in replies if "run_id" in r]
    assert ok and len({r["run_id"] for r in ok}) == 1
    for r in replies:  # the losers of the race are told the thread is busy or already resumed
        assert "run_id" in r or r["error"]["code"] in ("conflict", "bad_request")
    assert (await c.runs.join(tid, ok[0]["run_id"]))["answer"] == f"yes-{tid}"

    async def ran_once() -> None:
        lines = effects.read_text().splitlines()
        assert lines.count(f"yes-{tid}") == 1

    await assert_eventually(ran_once)


async def test_the_gateway_serves_the_asyncapi_document_of_these_contracts(
    system: System, c: Any, nc: Client
) -> None:
    """Generated by FastStream from the wire types: what it says is what the
    services send and take (checked against a real event and a real resume)."""
    import httpx

    async with httpx.AsyncClient(base_url=system.url) as http:
        doc = (await http.get("/asyncapi.json")).json()
        page = await http.get("/asyncapi")
    assert doc["asyncapi"] == "3.0.0"
    addresses = {ch["address"] for ch in doc["channels"].values()}
    assert addresses == {
        "relaygraph.interrupts.{graph_id}.{thread_id}",
        "relaygraph.resume.{thread_id}",
    }
    schemas = doc["components"]["schemas"]
    event_fields = set(schemas["InterruptEvent"]["properties"])
    request_fields = set(schemas["ResumeRequest"]["properties"])
    assert request_fields == {"resume", "reviewer", "interrupt_id", "checkpoint_id"}
    assert page.status_code == 200 and "relaygraph NATS contracts" in page.text

    tid = (await c.threads.create())["thread_id"]
    js = nc.jetstream()
    sub = await js.subscribe(f"relaygraph.interrupts.agent.{tid}")
    await c.runs.wait(tid, "agent", input={"some_text": "documented"})
    event = json.loads((await sub.next_msg(timeout=10)).data)
    await sub.unsubscribe()
    assert set(event) == event_fields
    reply = await resume(nc, tid, {"resume": "ok", "interrupt_id": event["interrupts"][0]["id"]})
    assert set(reply) == {"run_id", "thread_id", "status"}
