"""The executor's held checkpoint writes (``relaygraph_executor.write_behind``):
an attempt's puts and pending writes go to Redis as one fenced ``batch``
script, and the thread's history must then be what the same graph writes one
operation at a time; a stale attempt's batch is refused; a batch that could
not be sent is sent with the next."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

import pytest
import redis.asyncio
from langgraph.types import Command

from relaygraph.checkpoint import FENCING_TOKEN, AsyncRedisSaver
from relaygraph.errors import StaleEpoch
from relaygraph.keys import Keys
from relaygraph_executor.attempts import AttemptSaver
from tests.checkpoint.test_attempt_cache import build_fan_out
from tests.checkpoint.test_graph import build as build_nested

NESTED = [{"items": ["start"]}, Command(resume="blue"), Command(resume="yes")]
FAN = [{"items": [], "topics": ["a", "ask", "b"]}, Command(resume="red"), None]


async def _latest(saver: AttemptSaver, thread: str) -> Any:
    """The claim's read of the latest checkpoint, for ``seed``."""
    return await saver._exec(saver.latest_call(thread))


def _history(states: list[Any]) -> list[tuple[Any, ...]]:
    """A thread's history without its ids (those differ between two runs)."""
    return [
        (
            s.values,
            s.next,
            s.metadata.get("step"),
            s.metadata.get("source"),
            [(t.name, [i.value for i in t.interrupts]) for t in s.tasks],
        )
        for s in states
    ]


async def _run(graph: Any, aclient: Any, saver: Any, thread: str, steps: list[Any], hold: bool):
    for value in steps:
        token = await aclient.incr(Keys(saver.keys.prefix).thread_epoch(thread))
        if isinstance(saver, AttemptSaver):
            saver.seed(thread, token, await _latest(saver, thread), hold_writes=hold)
        config = {"configurable": {"thread_id": thread, FENCING_TOKEN: token}}
        async for _ in graph.astream(value, config):
            pass
        if isinstance(saver, AttemptSaver):
            await saver.flush(thread)
            saver.forget(thread, token)
    plain = {"configurable": {"thread_id": thread}}
    return _history([s async for s in graph.aget_state_history(plain)])


@pytest.mark.parametrize(("build", "steps"), [(build_nested, NESTED), (build_fan_out, FAN)])
async def test_held_writes_end_as_written_one_by_one(
    aclient: redis.asyncio.Redis, prefix: str, build: Any, steps: list[Any]
) -> None:
    plain = AsyncRedisSaver(aclient, key_prefix=prefix)
    expected = await _run(build(plain), aclient, plain, f"one-{uuid4().hex[:8]}", steps, False)
    held = AttemptSaver(aclient, key_prefix=prefix, write_window=60.0)
    batches: list[Any] = []
    real_send = held._send_batch

    async def send(thread_id: str, keys: list[str], args: list[Any]) -> None:
        batches.append(args)
        await real_send(thread_id, keys, args)

    held.behind.send = send
    thread = f"held-{uuid4().hex[:8]}"
    assert await _run(build(held), aclient, held, thread, steps, True) == expected
    # Each attempt's root writes went in batches (a subgraph's reads of its own
    # namespace send what is held first), not one script per write.
    assert 0 < len(batches) < 3 * len(steps)


async def test_nothing_is_sent_before_the_window_or_a_flush(
    aclient: redis.asyncio.Redis, prefix: str
) -> None:
    saver = AttemptSaver(aclient, key_prefix=prefix, write_window=0.2)
    graph = build_fan_out(saver)
    thread = f"window-{uuid4().hex[:8]}"
    token = await aclient.incr(Keys(prefix).thread_epoch(thread))
    saver.seed(thread, token, await _latest(saver, thread), hold_writes=True)
    config = {"configurable": {"thread_id": thread, FENCING_TOKEN: token}}
    await graph.ainvoke(FAN[0], config)
    plain = {"configurable": {"thread_id": thread}}
    # The attempt reads what it wrote; Redis has nothing yet.
    assert (await graph.aget_state(config)).interrupts
    assert await aclient.exists(saver.keys.checkpoint_ids(thread)) == 0
    await asyncio.sleep(0.5)  # the window passed: the batch went on its own
    assert (await graph.aget_state(plain)).interrupts[0].value == {"topic": "ask"}
    saver.forget(thread, token)


async def test_a_stale_attempts_batch_is_refused(aclient: redis.asyncio.Redis, prefix: str) -> None:
    saver = AttemptSaver(aclient, key_prefix=prefix, write_window=60.0)
    graph = build_fan_out(saver)
    thread = f"stale-{uuid4().hex[:8]}"
    epoch = Keys(prefix).thread_epoch(thread)
    token = await aclient.incr(epoch)
    saver.seed(thread, token, await _latest(saver, thread), hold_writes=True)
    config = {"configurable": {"thread_id": thread, FENCING_TOKEN: token}}
    await graph.ainvoke(FAN[0], config)
    await aclient.incr(epoch)  # another attempt took the thread over
    with pytest.raises(StaleEpoch):
        await saver.flush(thread)
    assert await aclient.exists(saver.keys.checkpoint_ids(thread)) == 0
    with pytest.raises(Exception, match="fencing token"):  # and every later write
        await graph.ainvoke(Command(resume="red"), config)


async def test_a_batch_not_sent_goes_with_the_next(
    aclient: redis.asyncio.Redis, prefix: str
) -> None:
    saver = AttemptSaver(aclient, key_prefix=prefix, write_window=0.05)
    real_send = saver._send_batch
    failures = [ConnectionError("Redis went away")]

    async def flaky(thread_id: str, keys: list[str], args: list[Any]) -> None:
        if failures:
            raise failures.pop()
        await real_send(thread_id, keys, args)

    saver.behind.send = flaky
    graph = build_fan_out(saver)
    thread = f"retry-{uuid4().hex[:8]}"
    token = await aclient.incr(Keys(prefix).thread_epoch(thread))
    saver.seed(thread, token, await _latest(saver, thread), hold_writes=True)
    config = {"configurable": {"thread_id": thread, FENCING_TOKEN: token}}
    await graph.ainvoke(FAN[0], config)
    await asyncio.sleep(0.3)  # the timed batch failed, and was kept
    assert not failures
    assert await aclient.exists(saver.keys.checkpoint_ids(thread)) == 0
    await saver.flush(thread)
    saver.forget(thread, token)
    state = await graph.aget_state({"configurable": {"thread_id": thread}})
    assert state.interrupts[0].value == {"topic": "ask"}
