"""How Redis requests go out: each on its own (:class:`Direct`), or, with an
:class:`AutoPipeline`, every request made in one turn of the event loop
together, as one pipeline (one write, one read), whichever run, route or
component made it.

A service creates one :class:`AutoPipeline` in its lifespan and hands it to
each component that talks to Redis (the runs, the threads, the checkpointer),
so what goes out together is decided where the service is put together, not
by a process-wide side effect. An executor stepping many runs at once, or a
gateway serving many requests, would otherwise pay a socket write and a
connection checkout per command; on the interrupt cycle at 32 clients those
were the executor's largest costs after LangGraph itself.

A request is a list of steps (:data:`Step`) that run in order, back to back;
requests run in the order they were made. Nothing is atomic across steps or
requests (it is a pipeline, not MULTI). Scripts go by SHA, without the SCRIPT
EXISTS round trip redis-py's pipelines send first. A script the server does
not know (after a restart or SCRIPT FLUSH) is loaded and run again, after the
rest of that pipeline: so a request must not depend on the order of its own
steps, except that what precedes a script runs before it.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

Step = tuple[Any, ...]
"""A plain command (``("ZADD", key, score, member)``), or a script call
``(script, keys, args)`` with ``script`` from ``register_script``."""

MAX_STEPS = 512  # per pipeline; more requests wait for the next one


class RoundTrips(Protocol):
    """Where a component sends its Redis requests."""

    async def run(self, steps: list[Step]) -> list[Any]:
        """The steps' replies, in order; the first failed step's error raised."""
        ...


class Direct:
    """Each request is one round trip of its own (its steps as one pipeline)."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def run(self, steps: list[Step]) -> list[Any]:
        replies = await _execute(self.redis, steps)
        error = next((r for r in replies if isinstance(r, Exception)), None)
        if error is not None:
            raise error
        return replies


class AutoPipeline:
    """The requests of one turn of the event loop, as one pipeline."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._pending: list[tuple[list[Step], asyncio.Future[list[Any]]]] = []
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._in_flight: set[asyncio.Task[None]] = set()

    async def run(self, steps: list[Step]) -> list[Any]:
        """The steps' replies, in order; the first failed step's error raised."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new loop (tests): what the old one left is void
            self._loop, self._pending, self._scheduled = loop, [], False
        future: asyncio.Future[list[Any]] = loop.create_future()
        self._pending.append((steps, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._scheduled = False
        while self._pending:
            taken: list[tuple[list[Step], asyncio.Future[list[Any]]]] = []
            size = 0
            while self._pending and (not taken or size + len(self._pending[0][0]) <= MAX_STEPS):
                steps, future = self._pending.pop(0)
                if not future.done():  # its caller gave up before it was sent
                    taken.append((steps, future))
                    size += len(steps)
            if taken:
                task = asyncio.get_running_loop().create_task(self._send(taken))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)

    async def _send(self, taken: list[tuple[list[Step], asyncio.Future[list[Any]]]]) -> None:
        flat = [step for steps, _ in taken for step in steps]
        try:
            results = await _execute(self.redis, flat)
        except BaseException as exc:
            for _, future in taken:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        i = 0
        for steps, future in taken:
            replies = results[i : i + len(steps)]
            i += len(steps)
            if future.done():
                continue
            error = next((r for r in replies if isinstance(r, Exception)), None)
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(replies)


async def _execute(redis: Redis, steps: list[Step]) -> list[Any]:
    pipe = redis.pipeline(transaction=False)
    for step in steps:
        if isinstance(step[0], AsyncScript):
            script, keys, args = step
            pipe.evalsha(script.sha, len(keys), *keys, *args)
        else:
            pipe.execute_command(*step)
    results: list[Any] = await pipe.execute(raise_on_error=False)
    for i, (step, res) in enumerate(zip(steps, results, strict=True)):
        if isinstance(res, NoScriptError):  # loaded by the call, then run
            script, keys, args = step
            try:
                results[i] = await script(keys=keys, args=args)
            except Exception as exc:
                results[i] = exc
    return results
