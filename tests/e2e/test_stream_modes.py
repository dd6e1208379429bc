"""Stream modes framed as LangGraph Server frames them, through the SDK. The
expected event names, order and shapes are what the official server
(langgraph-api 0.16.7, ``langgraph dev``) sent for the same graph
(``tests/graphs/chat.py``): a fake chat model streaming "hello there friend"
word by word, then a node writing two custom chunks."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.e2e

HI = {"messages": [{"role": "user", "content": "hi"}]}


async def _parts(c: Any, mode: Any, thread: bool = True) -> list[tuple[str, Any]]:
    tid = (await c.threads.create())["thread_id"] if thread else None
    return [(p.event, p.data) async for p in c.runs.stream(tid, "chat", input=HI, stream_mode=mode)]


@pytest.mark.parametrize("thread", [True, False], ids=["thread", "stateless"])
async def test_messages_mode_sends_metadata_then_the_message_so_far(c: Any, thread: bool) -> None:
    parts = await _parts(c, "messages", thread)
    assert [e for e, _ in parts] == [
        "metadata",
        "messages/metadata",
        *["messages/partial"] * 5,
    ]
    (meta,) = parts[1][1].values()
    assert meta["metadata"]["langgraph_node"] == "call_model"
    partials = [data for event, data in parts if event == "messages/partial"]
    assert all(len(p) == 1 and p[0]["type"] == "ai" for p in partials)
    assert [p[0]["content"] for p in partials] == [
        "hello",
        "hello ",
        "hello there",
        "hello there ",
        "hello there friend",
    ]
    assert {p[0]["id"] for p in partials} == set(parts[1][1])  # one message id throughout


async def test_messages_tuple_mode_sends_each_chunk_with_its_metadata(c: Any) -> None:
    parts = await _parts(c, "messages-tuple")
    assert [e for e, _ in parts] == ["metadata", *["messages"] * 5]
    chunks = [data[0] for _, data in parts[1:]]
    assert [ch["content"] for ch in chunks] == ["hello", " ", "there", " ", "friend"]
    assert all(ch["type"] == "AIMessageChunk" for ch in chunks)
    assert all(data[1]["langgraph_node"] == "call_model" for _, data in parts[1:])
    # Asked for both, the tuple form alone is sent (as the reference does).
    both = await _parts(c, ["messages", "messages-tuple"])
    assert [e for e, _ in both] == ["metadata", *["messages"] * 5]


async def test_updates_custom_and_values_modes(c: Any) -> None:
    parts = await _parts(c, ["updates", "custom"])
    assert [e for e, _ in parts] == ["metadata", "updates", "custom", "custom", "updates"]
    assert parts[1][1]["call_model"]["messages"][0]["content"] == "hello there friend"
    assert parts[2][1] == {"progress": 1} and parts[3][1] == "plain string"
    assert parts[4][1] == {"write_custom": None}
    values = await _parts(c, "values")
    assert [e for e, _ in values] == ["metadata", "values", "values"]
    assert [m["type"] for m in values[-1][1]["messages"]] == ["human", "ai"]


async def test_events_mode_streams_astream_events_rooted_at_the_graph(c: Any) -> None:
    tid = (await c.threads.create())["thread_id"]
    run_id = None
    parts: list[tuple[str, Any]] = []
    async for p in c.runs.stream(tid, "chat", input=HI, stream_mode=["events", "custom"]):
        parts.append((p.event, p.data))
        if p.event == "metadata":
            run_id = p.data["run_id"]
    events = [data for name, data in parts if name == "events"]
    kinds = [(e["event"], e["name"]) for e in events]
    # The reference's order for this graph (its custom writes are not events).
    assert kinds == [
        ("on_chain_start", "chat"),
        ("on_chain_start", "call_model"),
        ("on_chat_model_start", "GenericFakeChatModel"),
        *[("on_chat_model_stream", "GenericFakeChatModel")] * 5,
        ("on_chat_model_end", "GenericFakeChatModel"),
        ("on_chain_stream", "call_model"),
        ("on_chain_end", "call_model"),
        ("on_chain_start", "write_custom"),
        ("on_chain_stream", "write_custom"),
        ("on_chain_end", "write_custom"),
        ("on_chain_end", "chat"),
    ]
    root = events[0]
    assert root["run_id"] == run_id and root["parent_ids"] == [] and root["tags"] == []
    assert events[1]["parent_ids"] == [run_id]
    assert [d for name, d in parts if name == "custom"] == [{"progress": 1}, "plain string"]
    assert events[-1]["data"]["output"]["messages"][-1]["content"] == "hello there friend"


async def test_debug_tasks_and_checkpoints_modes(c: Any) -> None:
    parts = await _parts(c, ["debug"])
    kinds = [(d["type"], d["step"]) for e, d in parts if e == "debug"]
    # The reference's order for a thread run of this graph.
    assert kinds == [
        ("checkpoint", -1),
        ("checkpoint", 0),
        ("task", 1),
        ("task_result", 1),
        ("checkpoint", 1),
        ("task", 2),
        ("task_result", 2),
        ("checkpoint", 2),
    ]
    first = parts[1][1]["payload"]
    assert set(first) >= {"config", "parent_config", "values", "metadata", "next", "tasks"}
    assert first["checkpoint"]["checkpoint_id"] == first["config"]["configurable"]["checkpoint_id"]
    assert first["parent_checkpoint"] is None and first["next"] == ["__start__"]
    shown = [
        d["payload"]["config"]["configurable"] for e, d in parts if d.get("type") == "checkpoint"
    ]
    assert all("fencing_token" not in conf for conf in shown)  # relaygraph's own key
    tasks = await _parts(c, "tasks")
    assert [(d["name"], "result" in d) for _, d in tasks[1:]] == [
        ("call_model", False),
        ("call_model", True),
        ("write_custom", False),
        ("write_custom", True),
    ]
    checkpoints = await _parts(c, "checkpoints")
    assert [d["next"] for _, d in checkpoints[1:]] == [
        ["__start__"],
        ["call_model"],
        ["write_custom"],
        [],
    ]
    assert "checkpoint" not in checkpoints[1][1]


async def test_a_subgraphs_events_are_named_by_its_node_and_task(c: Any) -> None:
    tid = (await c.threads.create())["thread_id"]
    modes = ["values", "updates", "debug", "tasks", "checkpoints"]
    parts = [
        (p.event, p.data)
        async for p in c.runs.stream(
            tid, "nested", input={"text": "hi"}, stream_mode=modes, stream_subgraphs=True
        )
    ]
    named = [e.split("|") for e, _ in parts if "|" in e]
    # Every subgraph event: <mode>|child:<the child task's id>, one id for all.
    assert {mode for mode, _ in named} == set(modes)
    assert len({ns for _, ns in named}) == 1
    ns = named[0][1]
    assert ns.startswith("child:")
    child_task = next(d for e, d in parts if e == "tasks" and d["name"] == "child" and "input" in d)
    assert ns == f"child:{child_task['id']}"
    inner_update = next(d for e, d in parts if e == f"updates|{ns}")
    assert inner_update == {"shout": {"text": "HI", "steps": 1}}
    assert next(d for e, d in parts if e == "updates") == {"child": {"text": "HI", "steps": 1}}
