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

from redis.asyncio import RedisCluster
from redis.commands.core import AsyncScript
from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError

from relaygraph.redis_client import REDIS_UNAVAILABLE, RedisClient, ride_out

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

    def __init__(self, redis: RedisClient) -> None:
        self.redis = redis

    async def run(self, steps: list[Step]) -> list[Any]:
        (replies,) = await execute(self.redis, [steps])
        error = next((r for r in replies if isinstance(r, Exception)), None)
        if error is not None:
            raise error
        return replies


class AutoPipeline:
    """The requests of one turn of the event loop, as one pipeline."""

    def __init__(self, redis: RedisClient) -> None:
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
        try:
            results = await execute(self.redis, [steps for steps, _ in taken])
        except BaseException as exc:
            for _, future in taken:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), replies in zip(taken, results, strict=True):
            if future.done():
                continue
            error = next((r for r in replies if isinstance(r, Exception)), None)
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(replies)


async def execute(redis: RedisClient, requests: list[list[Step]]) -> list[list[Any]]:
    """Each request's replies (errors as values). One server: one pipeline for
    all. A cluster: each request is cut where its steps change hash slot after
    a write (:func:`_by_slot`), and the n-th pieces of all requests go out
    together, one pipeline after the other; a request whose piece failed sends
    nothing more (its later steps get that error), so a step that guards the
    next one (the watch index entry before a transition) is written before it,
    as on one server."""
    if not isinstance(redis, RedisCluster):
        flat = [step for steps in requests for step in steps]
        results = await _pipeline(redis, flat)
        out, i = [], 0
        for steps in requests:
            out.append(results[i : i + len(steps)])
            i += len(steps)
        return out
    pieces = [_by_slot(redis, steps) for steps in requests]
    replies: list[list[Any]] = [[] for _ in requests]
    wave = 0
    while True:
        sending = [(i, p[wave]) for i, p in enumerate(pieces) if wave < len(p)]
        sending = [(i, piece) for i, piece in sending if not _failed(replies[i])]
        if not sending:
            break
        results = await _pipeline(redis, [step for _, piece in sending for step in piece])
        at = 0
        for i, piece in sending:
            replies[i] += results[at : at + len(piece)]
            at += len(piece)
        wave += 1
    for i, steps in enumerate(requests):
        missing = len(steps) - len(replies[i])
        if missing:
            replies[i] += [_first_error(replies[i])] * missing
    return replies


def _failed(replies: list[Any]) -> bool:
    return any(isinstance(r, Exception) for r in replies)


def _first_error(replies: list[Any]) -> Exception:
    return next(r for r in replies if isinstance(r, Exception))


_READS = frozenset(
    {"GET", "EXISTS", "HGET", "HMGET", "HGETALL", "HLEN", "SMEMBERS", "ZCARD", "ZSCORE",
     "ZRANGE", "ZRANGEBYSCORE", "ZRANGEBYLEX", "ZREVRANGEBYLEX", "LRANGE"}
)  # fmt: skip
"""Commands that change nothing: nothing after them waits for them."""


def _by_slot(redis: RedisCluster, steps: list[Step]) -> list[list[Step]]:
    """``steps`` cut where the hash slot changes after a step that writes (a
    script, or a command not in :data:`_READS`): what follows a write on
    another slot goes out once the write is done. Reads of many slots (a
    sharded index) go out together."""
    pieces: list[list[Step]] = []
    last: int | None = None
    wrote = False
    for step in steps:
        slot = _slot(redis, step)
        if pieces and (slot == last or not wrote):
            pieces[-1].append(step)
        else:
            pieces.append([step])
            wrote = False
        wrote = wrote or isinstance(step[0], AsyncScript) or str(step[0]).upper() not in _READS
        last = slot
    return pieces


def _slot(redis: RedisCluster, step: Step) -> int:
    if isinstance(step[0], AsyncScript):
        key = step[1][0]
    else:
        key = step[1]  # every command relaygraph pipelines names its key first
    return key_slot(key.encode() if isinstance(key, str) else key)


async def _pipeline(redis: RedisClient, steps: list[Step]) -> list[Any]:
    cluster = isinstance(redis, RedisCluster)
    if isinstance(redis, RedisCluster):
        results = await _cluster_send(redis, steps)
    else:
        results = await _send(redis, steps)
    for i, (step, res) in enumerate(zip(steps, results, strict=True)):
        # A script the node does not know is loaded by the call, then run; on
        # a cluster, a step that met a failover is sent again on its own (the
        # client's retries ride it out), after the rest of its pipeline.
        if isinstance(res, NoScriptError) or (cluster and isinstance(res, REDIS_UNAVAILABLE)):
            try:
                if isinstance(step[0], AsyncScript):
                    script, keys, args = step
                    results[i] = await script(keys=keys, args=args)
                else:
                    results[i] = await redis.execute_command(*step)
            except Exception as exc:
                results[i] = exc
    return results


async def _send(redis: RedisClient, steps: list[Step]) -> list[Any]:
    pipe = redis.pipeline(transaction=False)
    for step in steps:
        if isinstance(step[0], AsyncScript):
            script, keys, args = step
            pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
        else:
            pipe.execute_command(*step)
    return list(await pipe.execute(raise_on_error=False))


_BROKEN_CONNECTION: tuple[type[Exception], ...] = (RuntimeError, AttributeError)
"""What redis-py's cluster pipeline raises when a connection it was writing to
was closed under it (a node replaced meanwhile): no step of it was sent."""


_RETRIED = (*REDIS_UNAVAILABLE, *_BROKEN_CONNECTION)


async def _cluster_send(redis: RedisCluster, steps: list[Step]) -> list[Any]:
    """:func:`_send`, sent again while the cluster is failing over (as redis-py
    sends a pipeline again after a broken connection on one server), for
    about the client's ``retry_seconds``; then Redis is unavailable."""

    async def attempt() -> list[Any]:
        try:
            return await _send(redis, steps)
        except _RETRIED:
            redis._initialize = True  # reload the slot map before the next try
            raise

    try:
        return await ride_out(attempt, float(getattr(redis, "retry_seconds", 15.0)), _RETRIED)
    except RedisConnectionError:
        raise
    except _RETRIED as exc:
        raise RedisConnectionError(f"Redis Cluster unavailable: {exc!r}") from exc
