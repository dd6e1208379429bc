"""A resume answers one pause, once: retried after its reply was lost, it
returns the run that answered, never a new run on the pause that came next.

The graph (tests/graphs/questions.py) asks a second question right after the
first is answered, so a retry always finds a new interrupt pending.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from langgraph_sdk.schema import Command

from tests.system import System

pytestmark = pytest.mark.e2e


@pytest.fixture
async def nc(system: System) -> AsyncIterator[Any]:
    conn = await nats.connect(system.nats.url)
    yield conn
    await conn.close()


async def resume(nc: Any, thread_id: str, **body: Any) -> dict[str, Any]:
    msg = await nc.request(f"relaygraph.resume.{thread_id}", json.dumps(body).encode(), timeout=10)
    return json.loads(msg.data)  # type: ignore[no-any-return]


async def first_pause(c: Any) -> tuple[str, str, str]:
    """A thread paused at its first question: (thread, interrupt id, checkpoint id)."""
    tid = (await c.threads.create())["thread_id"]
    out = await c.runs.wait(tid, "two_questions", input={})
    assert out["__interrupt__"][0]["value"] == "first?"
    state = await c.threads.get_state(tid)
    return tid, out["__interrupt__"][0]["id"], state["checkpoint_id"]


async def at_second(c: Any, tid: str, run_id: str) -> str:
    """Join the resume's run; it pauses at the second question: its id."""
    out = await c.runs.join(tid, run_id)
    assert out["__interrupt__"][0]["value"] == "second?", out
    return str(out["__interrupt__"][0]["id"])


@pytest.mark.parametrize("name", ["interrupt_id", "checkpoint_id", "map"])
async def test_a_retried_nats_resume_returns_the_first_run(c: Any, nc: Any, name: str) -> None:
    tid, interrupt_id, checkpoint_id = await first_pause(c)
    if name == "map":
        request: dict[str, Any] = {"resume": {interrupt_id: "A"}}
    else:
        request = {"resume": "A", name: interrupt_id if name == "interrupt_id" else checkpoint_id}
    first = await resume(nc, tid, **request, reviewer="bot")  # its reply is "lost"
    second_id = await at_second(c, tid, first["run_id"])

    retried = await resume(nc, tid, **request, reviewer="bot")
    assert retried["run_id"] == first["run_id"]
    assert retried["status"] == "success"  # the first run, as it is now
    state = await c.threads.get_state(tid)
    assert state["values"] == {"first": "A"}
    assert [i["id"] for i in state["interrupts"]] == [second_id]
    assert len(await c.runs.list(tid)) == 2

    answered = await resume(nc, tid, resume="B", interrupt_id=second_id)
    assert await c.runs.join(tid, answered["run_id"]) == {"first": "A", "second": "B"}


async def test_a_plain_nats_resume_names_the_first_pause(c: Any, nc: Any) -> None:
    """Retried after the run paused again, a plain value gets its first run
    back; it never answers the second question."""
    tid, _, _ = await first_pause(c)
    first = await resume(nc, tid, resume="A")  # its reply is "lost"
    second_id = await at_second(c, tid, first["run_id"])
    retried = await resume(nc, tid, resume="A")
    assert retried["run_id"] == first["run_id"]
    assert retried["status"] == "success"
    assert [i["id"] for i in (await c.threads.get_state(tid))["interrupts"]] == [second_id]
    assert len(await c.runs.list(tid)) == 2
    # The second question is answered by naming it.
    answered = await resume(nc, tid, resume="B", interrupt_id=second_id)
    assert await c.runs.join(tid, answered["run_id"]) == {"first": "A", "second": "B"}


async def test_a_plain_nats_resume_after_an_http_answer_returns_that_run(c: Any, nc: Any) -> None:
    tid, _, _ = await first_pause(c)
    first = await c.runs.create(tid, "two_questions", command=Command(resume="A"))
    await at_second(c, tid, first["run_id"])
    retried = await resume(nc, tid, resume="A")
    assert retried["run_id"] == first["run_id"]
    assert len(await c.runs.list(tid)) == 2


async def test_a_resume_naming_an_older_pause_is_refused(c: Any, nc: Any) -> None:
    tid, _, checkpoint_id = await first_pause(c)
    reply = await resume(nc, tid, resume="A", checkpoint_id="1f0000000000000000000000000000ff")
    assert reply["error"]["code"] == "conflict"
    assert checkpoint_id in reply["error"]["message"]
    reply = await resume(nc, tid, resume="A", interrupt_id="not-an-id")
    assert reply["error"]["code"] == "invalid_input"


async def test_over_http_a_map_names_its_pause_and_a_plain_value_answers_what_is_pending(
    c: Any,
) -> None:
    tid, interrupt_id, _ = await first_pause(c)
    first = await c.runs.create(tid, "two_questions", command=Command(resume={interrupt_id: "A"}))
    second_id = await at_second(c, tid, first["run_id"])
    retried = await c.runs.create(tid, "two_questions", command=Command(resume={interrupt_id: "A"}))
    assert retried["run_id"] == first["run_id"]
    assert [i["id"] for i in (await c.threads.get_state(tid))["interrupts"]] == [second_id]
    # A plain value keeps LangGraph Server's meaning over HTTP: what is pending now.
    plain = await c.runs.wait(tid, "two_questions", command=Command(resume="B"))
    assert plain == {"first": "A", "second": "B"}
