"""The executor's saver (``AttemptSaver``) and its memory of an attempt: reads of the latest checkpoint that carry the
attempt's fencing token are answered from what the attempt read and wrote.
Whatever the graph does (interrupts, subgraphs, parallel branches, writes that
reach Redis before their checkpoint), the cached answer must be the one Redis
gives; and the attempt's base (for a rollback) is what it first read."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict
from uuid import uuid4

import pytest
import redis.asyncio
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, Send, interrupt

from relaygraph.checkpoint import FENCING_TOKEN, AsyncRedisSaver
from relaygraph.keys import Keys
from relaygraph_executor.attempts import AttemptSaver
from tests.checkpoint.test_graph import build as build_nested


class Fan(TypedDict):
    items: Annotated[list[str], operator.add]
    topics: list[str]


def build_fan_out(checkpointer: AsyncRedisSaver) -> Any:
    """Parallel branches by Send, one of which asks a person; a breakpoint."""

    def plan(state: Fan) -> dict:
        return {"items": ["plan"]}

    def fan(state: Fan) -> list[Send]:
        return [Send("work", {"items": [], "topics": [t]}) for t in state["topics"]]

    def work(state: Fan) -> dict:
        topic = state["topics"][0]
        if topic == "ask":
            return {"items": [f"asked:{interrupt({'topic': topic})}"]}
        return {"items": [f"work:{topic}"]}

    def done(state: Fan) -> dict:
        return {"items": ["done"]}

    g = StateGraph(Fan)
    g.add_node("plan", plan)
    g.add_node("work", work)
    g.add_node("done", done)
    g.add_edge(START, "plan")
    g.add_conditional_edges("plan", fan, ["work"])
    g.add_edge("work", "done")
    g.add_edge("done", END)
    return g.compile(checkpointer=checkpointer, interrupt_before=["done"])


def _same(cached: Any, stored: Any) -> None:
    assert (cached is None) == (stored is None)
    if cached is None:
        return
    assert cached.config == stored.config
    assert cached.checkpoint == stored.checkpoint
    assert cached.metadata == stored.metadata
    assert cached.parent_config == stored.parent_config
    assert sorted(cached.pending_writes, key=repr) == sorted(stored.pending_writes, key=repr)


async def _attempt(
    saver: AttemptSaver,
    aclient: redis.asyncio.Redis,
    graph: Any,
    thread: str,
    value: Any,
    durability: str,
) -> None:
    """One run attempt under a new epoch; then the cache must equal Redis."""
    token = await aclient.incr(Keys(saver.keys.prefix).thread_epoch(thread))
    config = {"configurable": {"thread_id": thread, FENCING_TOKEN: token}}
    base_before = await saver.aget_tuple({"configurable": {"thread_id": thread}})
    writes_before = await saver.apending_write_keys(base_before.config) if base_before else set()
    async for _ in graph.astream(value, config, durability=durability):
        pass
    # The base: what the attempt started from.
    base = saver.base(thread, token)
    assert base is not None
    if base_before is None:
        assert base == (None, set())
    else:
        assert base == (base_before.config, writes_before)
    cached_state = await graph.aget_state(config)
    cached = await saver.aget_tuple(config)
    saver.forget(thread, token)
    plain = {"configurable": {"thread_id": thread}}
    _same(cached, await saver.aget_tuple(plain))
    stored_state = await graph.aget_state(plain)
    assert cached_state.values == stored_state.values
    assert cached_state.next == stored_state.next
    assert [(t.id, t.name, t.interrupts) for t in cached_state.tasks] == [
        (t.id, t.name, t.interrupts) for t in stored_state.tasks
    ]


@pytest.mark.parametrize("durability", ["async", "sync", "exit"])
async def test_cache_answers_as_redis_does(
    aclient: redis.asyncio.Redis, prefix: str, durability: str
) -> None:
    saver = AttemptSaver(aclient, key_prefix=prefix)
    nested = build_nested(saver)
    thread = f"nested-{uuid4().hex[:8]}"
    for value in ({"items": ["start"]}, Command(resume="blue"), Command(resume="yes")):
        await _attempt(saver, aclient, nested, thread, value, durability)

    fan = build_fan_out(saver)
    thread = f"fan-{uuid4().hex[:8]}"
    steps = [{"items": [], "topics": ["a", "ask", "b"]}, Command(resume="red"), None]
    for value in steps:
        await _attempt(saver, aclient, fan, thread, value, durability)
    final = await fan.aget_state({"configurable": {"thread_id": thread}})
    assert final.values["items"][-1] == "done"
    assert sorted(final.values["items"][1:4]) == ["asked:red", "work:a", "work:b"]


async def test_cache_is_not_used_without_the_token_or_after_a_failure(
    aclient: redis.asyncio.Redis, prefix: str
) -> None:
    saver = AttemptSaver(aclient, key_prefix=prefix)
    graph = build_nested(saver)
    thread = f"guard-{uuid4().hex[:8]}"
    epoch = Keys(prefix).thread_epoch(thread)
    token = await aclient.incr(epoch)
    config = {"configurable": {"thread_id": thread, FENCING_TOKEN: token}}
    await graph.ainvoke({"items": ["start"]}, config)
    assert saver.base(thread, token) == (None, set())
    # Someone else changes the thread without a token (an update_state):
    # reads without the token see it, the attempt's reads do not look.
    await graph.aupdate_state({"configurable": {"thread_id": thread}}, {"items": ["edit"]})
    plain = await graph.aget_state({"configurable": {"thread_id": thread}})
    assert plain.values["items"][-1] == "edit"
    # A write refused (the epoch moved on) drops the attempt's cache.
    await aclient.incr(epoch)
    with pytest.raises(Exception, match="fencing token"):
        await graph.ainvoke(Command(resume="blue"), config)
    assert saver.base(thread, token) is None
    again = await graph.aget_state(config)
    assert again.values == plain.values


async def test_a_seeded_attempt_reads_nothing_more(
    aclient: redis.asyncio.Redis, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The executor sends the latest-checkpoint read with its claim
    (``AttemptSaver.seed``): the run itself then reads nothing more of the root
    namespace from Redis."""
    saver = AttemptSaver(aclient, key_prefix=prefix)
    graph = build_nested(saver)
    thread = f"seeded-{uuid4().hex[:8]}"
    gets: list[object] = []
    real_exec = saver._exec

    async def counting(req: object) -> object:
        if getattr(req, "script", None) == "get" and req.args[0] == "":  # type: ignore[attr-defined]
            gets.append(req)  # the root namespace (a subgraph's reads are its own)
        return await real_exec(req)

    monkeypatch.setattr(saver, "_exec", counting)
    for value in ({"items": ["start"]}, Command(resume="blue")):
        token = await aclient.incr(Keys(prefix).thread_epoch(thread))
        saver.seed(thread, token, await real_exec(saver.latest_call(thread)))
        config = {"configurable": {"thread_id": thread, FENCING_TOKEN: token}}
        async for _ in graph.astream(value, config):
            pass
        await graph.aget_state(config)
        assert gets == []
        saver.forget(thread, token)
    state = await graph.aget_state({"configurable": {"thread_id": thread}})
    assert gets and state.interrupts[0].value == {"question": "approve?", "detail": "blue"}
