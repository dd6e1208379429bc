"""The seeds' human-in-the-loop flows, driven by the official langgraph_sdk client
against the real system (gateway + executor processes, nats-server, valkey)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from langgraph_sdk.schema import Command

from tests.conftest import REDIS_KINDS, on_redis_kind
from tests.system import System

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=REDIS_KINDS)
def system(request: pytest.FixtureRequest) -> System:
    """These tests run on one Valkey and on a Valkey cluster."""
    return on_redis_kind(request)


async def test_edit_text_interrupt_and_resume(c: Any) -> None:
    thread = await c.threads.create()
    tid = thread["thread_id"]
    assert thread["status"] == "idle"

    result = await c.runs.wait(tid, "agent", input={"some_text": "original text"})
    [intr] = result["__interrupt__"]
    assert intr["value"] == {"text_to_revise": "original text"}
    assert len(intr["id"]) == 32
    assert result["some_text"] == "original text"

    t = await c.threads.get(tid)
    assert t["status"] == "interrupted"
    assert [i["id"] for items in t["interrupts"].values() for i in items] == [intr["id"]]

    assert await c.runs.wait(tid, "agent", command=Command(resume="Edited text")) == {
        "some_text": "Edited text"
    }
    t = await c.threads.get(tid)
    assert t["status"] == "idle"
    assert t["values"] == {"some_text": "Edited text"}
    assert t["interrupts"] == {}


async def _updates(c: Any, tid: str, **kw: Any) -> list[tuple[str, Any]]:
    return [
        (p.event, p.data) async for p in c.runs.stream(tid, "review", stream_mode="updates", **kw)
    ]


async def test_review_tool_calls_continue_update_feedback(c: Any) -> None:
    question = {"messages": [{"role": "user", "content": "what's the weather in sf?"}]}

    tid = (await c.threads.create())["thread_id"]
    parts = await _updates(c, tid, input=question)
    assert parts[0][0] == "metadata" and "run_id" in parts[0][1]
    assert [next(iter(d)) for _, d in parts[1:]] == ["call_llm", "__interrupt__"]
    review = parts[-1][1]["__interrupt__"][0]["value"]
    assert review["question"] == "Is this correct?"
    assert review["tool_call"]["args"] == {"city": "San Francisco"}

    parts = await _updates(c, tid, command=Command(resume={"action": "continue"}))
    assert [next(iter(d)) for _, d in parts[1:]] == ["human_review_node", "run_tool", "call_llm"]
    assert parts[1][1] == {"human_review_node": None}
    assert parts[2][1]["run_tool"]["messages"][0]["content"] == "Sunny!"
    assert "sunny in San Francisco" in parts[3][1]["call_llm"]["messages"][0]["content"]

    # update: the reviewer edits the tool call's arguments
    tid = (await c.threads.create())["thread_id"]
    await _updates(c, tid, input=question)
    parts = await _updates(
        c, tid, command=Command(resume={"action": "update", "data": {"city": "San Francisco, USA"}})
    )
    updated = parts[1][1]["human_review_node"]["messages"][0]
    assert updated["tool_calls"][0]["args"] == {"city": "San Francisco, USA"}
    assert "San Francisco, USA" in parts[-1][1]["call_llm"]["messages"][0]["content"]

    # feedback: back to the model, which proposes a new call, reviewed again
    tid = (await c.threads.create())["thread_id"]
    await _updates(c, tid, input=question)
    parts = await _updates(
        c, tid, command=Command(resume={"action": "feedback", "data": "Oakland"})
    )
    assert [next(iter(d)) for _, d in parts[1:]] == [
        "human_review_node",
        "call_llm",
        "__interrupt__",
    ]
    assert parts[-1][1]["__interrupt__"][0]["value"]["tool_call"]["args"] == {"city": "Oakland"}
    assert (await c.threads.get(tid))["status"] == "interrupted"


async def test_static_breakpoint_compile_time(c: Any) -> None:
    tid = (await c.threads.create())["thread_id"]
    out = await c.runs.wait(tid, "breakpoints", input={"input": "hi"})
    assert out == {"input": "hi", "steps": ["step_1", "step_2"]}
    assert (await c.threads.get(tid))["status"] == "interrupted"
    state = await c.threads.get_state(tid)
    assert state["next"] == ["step_3"]
    out = await c.runs.wait(tid, "breakpoints", input=None)
    assert out == {"input": "hi", "steps": ["step_1", "step_2", "step_3"]}
    assert (await c.threads.get(tid))["status"] == "idle"


async def test_static_breakpoints_at_run_time(c: Any) -> None:
    tid = (await c.threads.create())["thread_id"]
    out = await c.runs.wait(tid, "breakpoints", input={"input": "x"}, interrupt_after=["step_1"])
    assert out["steps"] == ["step_1"]
    assert (await c.threads.get_state(tid))["next"] == ["step_2"]
    out = await c.runs.wait(tid, "breakpoints", input=None)
    assert out["steps"] == ["step_1", "step_2"]  # the compile-time breakpoint before step_3
    out = await c.runs.wait(tid, "breakpoints", input=None)
    assert out["steps"] == ["step_1", "step_2", "step_3"]

    # Run-time breakpoints replace the compile-time ones for that run.
    tid = (await c.threads.create())["thread_id"]
    out = await c.runs.wait(tid, "breakpoints", input={"input": "y"}, interrupt_before=["step_2"])
    assert out["steps"] == ["step_1"]
    out = await c.runs.wait(tid, "breakpoints", input=None, interrupt_before=["step_2"])
    assert out["steps"] == ["step_1", "step_2", "step_3"]


async def test_ask_human_update_state_as_node(c: Any) -> None:
    tid = (await c.threads.create())["thread_id"]
    await c.runs.wait(
        tid,
        "ask_human",
        input={"messages": [{"role": "user", "content": "what's the weather?"}]},
        interrupt_before=["ask_human"],
    )
    state = await c.threads.get_state(tid)
    assert state["next"] == ["ask_human"]
    tool_call_id = state["values"]["messages"][-1]["tool_calls"][0]["id"]

    resp = await c.threads.update_state(
        tid,
        {"messages": [{"tool_call_id": tool_call_id, "type": "tool", "content": "san francisco"}]},
        as_node="ask_human",
    )
    assert resp["checkpoint"]["checkpoint_id"]
    state = await c.threads.get_state(tid)
    assert state["next"] == ["agent"]
    assert state["values"]["messages"][-1]["content"] == "san francisco"

    out = await c.runs.wait(tid, "ask_human", input=None, interrupt_before=["ask_human"])
    final = out["messages"][-1]
    assert final["type"] == "ai"
    assert "current weather in san francisco" in final["content"]
    history = await c.threads.get_history(tid, limit=100)
    assert len(history) >= 6
    assert (
        history[0]["checkpoint"]["checkpoint_id"]
        == (await c.threads.get_state(tid))["checkpoint"]["checkpoint_id"]
    )
    with pytest.raises(httpx.HTTPStatusError) as err:
        await c.threads.update_state(tid, {"messages": []}, as_node="nope")
    assert err.value.response.status_code == 422
    assert "nope" in err.value.response.json()["detail"]


async def test_two_interrupts_resumed_with_a_map(c: Any) -> None:
    tid = (await c.threads.create())["thread_id"]
    out = await c.runs.wait(tid, "approvals", input={"request": "buy a boat"})
    pending = {i["value"]["team"]: i["id"] for i in out["__interrupt__"]}
    assert set(pending) == {"legal", "finance"}

    with pytest.raises(httpx.HTTPStatusError) as err:  # a plain value is ambiguous
        await c.runs.wait(tid, "approvals", command=Command(resume="yes"))
    assert err.value.response.status_code == 400
    assert "map" in err.value.response.json()["detail"]

    with pytest.raises(httpx.HTTPStatusError) as err:  # an id that is not pending
        await c.runs.wait(tid, "approvals", command=Command(resume={"0" * 32: "yes"}))
    assert err.value.response.status_code == 400
    assert "not pending" in err.value.response.json()["detail"]

    out = await c.runs.wait(
        tid,
        "approvals",
        command=Command(resume={pending["legal"]: "approved", pending["finance"]: "rejected"}),
    )
    assert sorted(out["decisions"]) == ["finance: rejected", "legal: approved"]


async def test_stateless_runs_create_join_and_system_routes(c: Any, system: System) -> None:
    out = await c.runs.wait(None, "breakpoints", input={"input": "s"})
    assert out == {"input": "s", "steps": ["step_1", "step_2"]}
    parts = [
        p
        async for p in c.runs.stream(None, "agent", input={"some_text": "t"}, stream_mode="values")
    ]
    assert parts[0].event == "metadata"
    assert parts[-1].data["__interrupt__"][0]["value"] == {"text_to_revise": "t"}

    tid = (await c.threads.create())["thread_id"]
    run = await c.runs.create(tid, "breakpoints", input={"input": "j"})
    assert run["status"] == "pending"
    joined = await c.runs.join(tid, run["run_id"])
    assert joined["steps"] == ["step_1", "step_2"]
    got = await c.runs.get(tid, run["run_id"])
    assert got["status"] == "success"
    assert [r["run_id"] for r in await c.runs.list(tid)] == [run["run_id"]]

    async with httpx.AsyncClient(base_url=system.url) as http:
        assert (await http.get("/ok")).json() == {"ok": True}
        assert "version" in (await http.get("/info")).json()
    found = await c.assistants.search(graph_id="review")
    assert [a["graph_id"] for a in found] == ["review"]
    assistant = await c.assistants.get(found[0]["assistant_id"])
    assert assistant["graph_id"] == "review"
    assert (await c.assistants.get("review"))["assistant_id"] == found[0]["assistant_id"]
    all_graphs = {a["graph_id"] for a in await c.assistants.search(limit=100)}
    assert {"agent", "review", "ask_human", "breakpoints", "approvals"} <= all_graphs


async def test_enqueue_and_reject_on_a_busy_thread(c: Any) -> None:
    tid = (await c.threads.create())["thread_id"]
    first = await c.runs.create(tid, "breakpoints", input={"input": "a"})
    second = await c.runs.create(tid, "breakpoints", input={"input": "b"})
    await c.runs.join(tid, first["run_id"])
    out = await c.runs.join(tid, second["run_id"])
    assert out["input"] == "b"
    runs = {r["run_id"]: r["status"] for r in await c.runs.list(tid)}
    assert runs == {first["run_id"]: "success", second["run_id"]: "success"}

    tid = (await c.threads.create())["thread_id"]
    busy = await c.runs.create(tid, "slow", input={"seconds": 1.0})
    with pytest.raises(httpx.HTTPStatusError) as err:
        await c.runs.create(tid, "slow", input={"seconds": 0}, multitask_strategy="reject")
    assert err.value.response.status_code == 409
    assert busy["run_id"] in err.value.response.json()["detail"]
    assert (await c.threads.get(tid))["status"] == "busy"
    assert (await c.runs.join(tid, busy["run_id"]))["done"] is True
    assert (await c.threads.get(tid))["status"] == "idle"


async def test_state_with_dataclass_and_enum(c: Any) -> None:
    tid = (await c.threads.create())["thread_id"]
    out = await c.runs.wait(tid, "typed", input={"title": "printer on fire"})
    assert out["__interrupt__"][0]["value"] == {"approve": "printer on fire", "priority": "high"}
    assert out["ticket"] == {"title": "printer on fire", "priority": "high"}
    out = await c.runs.wait(tid, "typed", command=Command(resume=True))
    assert out["approved"] is True
