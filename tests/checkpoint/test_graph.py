"""A real LangGraph graph (subgraph, interrupt(), Command(resume=...)) through
the Redis savers gives the same results as through InMemorySaver."""

from __future__ import annotations

import asyncio
import operator
from enum import Enum
from typing import Annotated, Any, TypedDict
from uuid import uuid4

import pytest
import redis.asyncio
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from pydantic import BaseModel

from relaygraph.checkpoint import AsyncRedisSaver, RedisSaver, UnsafeCheckpointData, graph_allowlist
from relaygraph.errors import StaleEpoch
from relaygraph.keys import Keys
from tests.checkpoint.conftest import Target


class SubState(TypedDict):
    items: Annotated[list[str], operator.add]
    detail: str


class State(TypedDict):
    items: Annotated[list[str], operator.add]
    detail: str
    verdict: str


def build(checkpointer: BaseCheckpointSaver) -> Any:
    def sub_work(state: SubState) -> dict:
        return {"items": ["sub_work"]}

    def sub_ask(state: SubState) -> dict:
        detail = interrupt({"question": "detail?", "seen": list(state["items"])})
        return {"items": [f"sub_ask:{detail}"], "detail": detail}

    sub = StateGraph(SubState)
    sub.add_node("sub_work", sub_work)
    sub.add_node("sub_ask", sub_ask)
    sub.add_edge(START, "sub_work")
    sub.add_edge("sub_work", "sub_ask")
    sub.add_edge("sub_ask", END)

    def prep(state: State) -> dict:
        return {"items": ["prep"]}

    def review(state: State) -> dict:
        verdict = interrupt({"question": "approve?", "detail": state["detail"]})
        return {"items": [f"review:{verdict}"], "verdict": verdict}

    def finish(state: State) -> dict:
        return {"items": ["finish"]}

    graph = StateGraph(State)
    graph.add_node("prep", prep)
    graph.add_node("child", sub.compile())
    graph.add_node("review", review)
    graph.add_node("finish", finish)
    graph.add_edge(START, "prep")
    graph.add_edge("prep", "child")
    graph.add_edge("child", "review")
    graph.add_edge("review", "finish")
    graph.add_edge("finish", END)
    return graph.compile(checkpointer=checkpointer)


def _snapshot(state: Any) -> dict:
    """What must match between savers (ids and timestamps differ)."""
    return {
        "values": state.values,
        "next": state.next,
        "step": state.metadata.get("step") if state.metadata else None,
        "source": state.metadata.get("source") if state.metadata else None,
        "interrupts": [i.value for i in state.interrupts],
        "tasks": [(t.name, [i.value for i in t.interrupts]) for t in state.tasks],
        "has_parent": state.parent_config is not None,
    }


def _plain(output: dict) -> dict:
    """Graph output without interrupt ids (derived from checkpoint ids)."""
    return {k: [i.value for i in v] if k == "__interrupt__" else v for k, v in output.items()}


async def _drive(graph: Any, config: dict) -> dict:
    out: dict[str, Any] = {}
    out["first"] = _plain(await graph.ainvoke({"items": ["start"]}, config))
    state = await graph.aget_state(config, subgraphs=True)
    out["paused_in_child"] = _snapshot(state)
    sub_states = [t.state for t in state.tasks if t.state is not None]
    out["child_state"] = [_snapshot(s) for s in sub_states]
    out["second"] = _plain(await graph.ainvoke(Command(resume="blue"), config))
    out["paused_in_review"] = _snapshot(await graph.aget_state(config))
    out["final"] = _plain(await graph.ainvoke(Command(resume="yes"), config))
    out["done"] = _snapshot(await graph.aget_state(config))
    out["history"] = [_snapshot(s) async for s in graph.aget_state_history(config)]
    out["history_limited"] = [_snapshot(s) async for s in graph.aget_state_history(config, limit=2)]
    return out


async def test_graph_matches_in_memory(aclient: redis.asyncio.Redis, prefix: str) -> None:
    expected = await _drive(build(InMemorySaver()), {"configurable": {"thread_id": "t1"}})
    saver = AsyncRedisSaver(aclient, key_prefix=prefix)
    got = await _drive(build(saver), {"configurable": {"thread_id": "t1"}})
    assert got == expected
    # the run really went through both interrupts, the subgraph's first
    assert got["first"]["__interrupt__"] == [
        {"question": "detail?", "seen": ["start", "prep", "sub_work"]}
    ]
    assert got["child_state"][0]["next"] == ("sub_ask",)
    assert got["second"]["__interrupt__"] == [{"question": "approve?", "detail": "blue"}]
    assert got["final"]["verdict"] == "yes" and got["final"]["items"][-1] == "finish"
    assert len(got["history"]) > 4 and len(got["history_limited"]) == 2
    # the subgraph checkpointed under its own namespace, in the thread's keys
    members = await aclient.zrange(Keys(prefix).checkpoint_ids("t1"), 0, -1)
    namespaces = {m.rsplit(b"\x00", 1)[0].decode() for m in members}
    assert "" in namespaces and any(ns.startswith("child:") for ns in namespaces)


async def test_graph_sync_saver_matches_in_memory(target: Target, prefix: str) -> None:
    expected = await _drive(build(InMemorySaver()), {"configurable": {"thread_id": "t2"}})

    def run_sync() -> dict:
        with RedisSaver.from_conn_string(
            target.url, key_prefix=prefix, cluster=target.cluster
        ) as saver:
            graph = build(saver)
            config = {"configurable": {"thread_id": "t2"}}
            graph.invoke({"items": ["start"]}, config)
            graph.invoke(Command(resume="blue"), config)
            final = _plain(graph.invoke(Command(resume="yes"), config))
            history = [_snapshot(s) for s in graph.get_state_history(config)]
            return {"final": final, "history": history}

    got = await asyncio.to_thread(run_sync)
    assert got["final"] == expected["final"]
    assert got["history"] == expected["history"]


async def test_graph_fenced_run(aclient: redis.asyncio.Redis, prefix: str) -> None:
    """A run holding the current epoch writes; once the epoch moves on, its
    next write raises StaleEpoch and the thread keeps its last good state."""
    thread = f"fenced-{uuid4().hex[:6]}"
    epoch = Keys(prefix).thread_epoch(thread)
    await aclient.incr(epoch)
    saver = AsyncRedisSaver(aclient, key_prefix=prefix)
    graph = build(saver)
    config = {"configurable": {"thread_id": thread, "fencing_token": 1}}
    await graph.ainvoke({"items": ["start"]}, config)
    before = await graph.aget_state(config)
    assert before.next == ("child",)
    assert "fencing_token" not in before.metadata

    await aclient.incr(epoch)  # another executor claimed the thread
    with pytest.raises(StaleEpoch):
        await graph.ainvoke(Command(resume="blue"), config)
    after = await graph.aget_state(config)
    assert (
        after.config["configurable"]["checkpoint_id"]
        == before.config["configurable"]["checkpoint_id"]
    )
    assert after.values == before.values

    resumed = await graph.ainvoke(
        Command(resume="blue"), {"configurable": {"thread_id": thread, "fencing_token": 2}}
    )
    assert "__interrupt__" in resumed


class Mood(Enum):
    CALM = "calm"
    LOUD = "loud"


class Note(BaseModel):
    text: str
    mood: Mood


class NoteState(TypedDict):
    notes: Annotated[list[Note], operator.add]


def build_notes() -> StateGraph:
    def write(state: NoteState) -> dict:
        answer = interrupt("mood?")
        return {"notes": [Note(text="hi", mood=Mood(answer))]}

    graph = StateGraph(NoteState)
    graph.add_node("write", write)
    graph.add_edge(START, "write")
    graph.add_edge("write", END)
    return graph


async def test_graph_with_custom_types_needs_its_allowlist(
    aclient: redis.asyncio.Redis, prefix: str
) -> None:
    saver = AsyncRedisSaver(aclient, key_prefix=prefix)
    first = {"notes": [Note(text="a", mood=Mood.CALM)]}
    plain = build_notes().compile(checkpointer=saver)
    with pytest.raises(UnsafeCheckpointData, match=r"Mood|Note"):
        await plain.ainvoke(first, {"configurable": {"thread_id": "notes-refused"}})

    allowlist = graph_allowlist(build_notes().compile())
    assert {(Note.__module__, "Note"), (Mood.__module__, "Mood")} <= allowlist
    graph = build_notes().compile(checkpointer=saver.with_allowlist(allowlist))
    config = {"configurable": {"thread_id": "notes"}}
    await graph.ainvoke(first, config)
    done = await graph.ainvoke(Command(resume="loud"), config)
    assert done["notes"] == [Note(text="a", mood=Mood.CALM), Note(text="hi", mood=Mood.LOUD)]
    # a fresh saver with the same allowlist reads it back (nothing cached)
    again = AsyncRedisSaver(aclient, key_prefix=prefix, allowed_types=allowlist)
    state = await build_notes().compile(checkpointer=again).aget_state(config)
    assert state.values == done
