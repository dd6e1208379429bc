"""Crons in Redis: each cron's document, the schedule of every enabled cron
(a sorted set of next fire times), and the ticks claimed but not yet fired.

A tick fires exactly once however many gateways poll: :meth:`Crons.claim`
moves the cron to its next fire time only if it is still at the tick the
caller saw, and records the tick as *claimed* until a deadline. The run the
tick makes has ids derived from the tick (the caller's), and the step that
clears the claim (:meth:`Crons.fired_step`) goes in the same round trip as the
run's creation; a claim whose gateway died first is redone after its deadline
(:meth:`Crons.stalled`), and the run's fixed id makes a repeat a duplicate.

Every key carries the hash tag ``{crons}`` (``relaygraph.keys.Keys``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast

import msgspec
from redis.exceptions import WatchError

from relaygraph.keys import Keys
from relaygraph.lua import Lua, Script
from relaygraph.pipelining import Direct, Step
from relaygraph.redis_client import RedisClient
from relaygraph.runs import now_ms

Change = Callable[[dict[str, Any], int | None], Awaitable[tuple[dict[str, Any], int | None]]]
"""A cron's document and next fire time -> the new ones (for :meth:`Crons.patch`)."""

_CLAIM = Lua(
    "cron_claim",
    keys=("CRON", "DUE", "FIRES"),
    args=("cron_id", "tick", "next_ms", "fire", "claimed_until"),
    body=r"""
-- Replies 1 when this caller fires the tick, 0 when it is not due at that tick
-- any more (fired by another, rescheduled, disabled or deleted).
if redis.call('ZSCORE', DUE, cron_id) ~= tick then return 0 end
if next_ms == '' then
  redis.call('ZREM', DUE, cron_id)
  redis.call('HSET', CRON, 'next_ms', '')
else
  redis.call('ZADD', DUE, next_ms, cron_id)
  redis.call('HSET', CRON, 'next_ms', next_ms)
end
redis.call('ZADD', FIRES, claimed_until, fire)
return 1
""",
)

_RETAKE = Lua(
    "cron_retake",
    keys=("FIRES",),
    args=("fire", "now", "claimed_until"),
    body=r"""
-- A claimed tick past its deadline is taken by one caller at a time.
local deadline = redis.call('ZSCORE', FIRES, fire)
if not deadline or tonumber(deadline) > tonumber(now) then return 0 end
redis.call('ZADD', FIRES, claimed_until, fire)
return 1
""",
)


def _fire(cron_id: str, tick: int) -> str:
    return f"{cron_id}/{tick}"


class Crons:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._claim = Script(redis, _CLAIM)
        self._retake = Script(redis, _RETAKE)
        self._direct = Direct(redis)

    # -- documents ---------------------------------------------------------------
    async def put(self, doc: dict[str, Any], next_ms: int | None) -> dict[str, Any]:
        """Record a new cron; it as the API shows it."""
        k, cron_id = self.keys, doc["cron_id"]
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(
            k.cron(cron_id), mapping={"doc": msgspec.json.encode(doc), "next_ms": _ms(next_ms)}
        )
        pipe.zadd(k.crons_index, {cron_id: now_ms()})
        if doc["enabled"] and next_ms is not None:
            pipe.zadd(k.crons_due, {cron_id: next_ms})
        if doc.get("thread_id"):
            pipe.sadd(k.crons_of_thread(doc["thread_id"]), cron_id)
        await pipe.execute()
        return _shown(msgspec.json.encode(doc), _ms(next_ms).encode())

    async def get(self, cron_id: str) -> dict[str, Any] | None:
        """The cron as the API shows it (with ``next_run_date``), or ``None``."""
        row = cast(list[Any], await self.redis.hmget(self.keys.cron(cron_id), ["doc", "next_ms"]))
        return _shown(row[0], row[1]) if row[0] else None

    async def all(self) -> list[dict[str, Any]]:
        ids = cast(list[bytes], await self.redis.zrange(self.keys.crons_index, 0, -1))
        if not ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for cron_id in ids:
            pipe.hmget(self.keys.cron(cron_id.decode()), ["doc", "next_ms"])
        rows = await pipe.execute()
        return [_shown(doc, nxt) for doc, nxt in rows if doc]

    async def patch(self, cron_id: str, change: Change) -> dict[str, Any] | None:
        """Apply ``change`` to the cron as one transaction (retried when another
        patch came between); ``None`` when there is no such cron."""
        k = self.keys
        key = k.cron(cron_id)
        while True:
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key)
                    raw, nxt = cast(list[Any], await pipe.hmget(key, ["doc", "next_ms"]))
                    if not raw:
                        return None
                    doc, next_ms = await change(msgspec.json.decode(raw), _int(nxt))
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.hset(
                        key, mapping={"doc": msgspec.json.encode(doc), "next_ms": _ms(next_ms)}
                    )
                    if doc["enabled"] and next_ms is not None:
                        pipe.zadd(k.crons_due, {cron_id: next_ms})
                    else:
                        pipe.zrem(k.crons_due, cron_id)
                    await pipe.execute()
                    return _shown(msgspec.json.encode(doc), _ms(next_ms).encode())
                except WatchError:
                    continue

    async def delete(self, cron_id: str) -> bool:
        k = self.keys
        raw = await self.redis.hget(k.cron(cron_id), "doc")
        if raw is None:
            return False
        thread_id = msgspec.json.decode(raw).get("thread_id")
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(k.cron(cron_id))
        pipe.zrem(k.crons_index, cron_id)
        pipe.zrem(k.crons_due, cron_id)
        if thread_id:
            pipe.srem(k.crons_of_thread(thread_id), cron_id)
        return bool((await pipe.execute())[0])

    async def delete_of_thread(self, thread_id: str) -> None:
        """Every cron of a deleted thread goes with it (as in the reference)."""
        ids = await self.redis.smembers(self.keys.crons_of_thread(thread_id))
        for cron_id in ids:
            await self.delete(cast(bytes, cron_id).decode())
        await self.redis.delete(self.keys.crons_of_thread(thread_id))

    async def delete_of_assistant(self, assistant_id: str) -> None:
        for doc in await self.all():
            if doc["assistant_id"] == assistant_id:
                await self.delete(doc["cron_id"])

    # -- firing ------------------------------------------------------------------
    async def due(self, now: int, limit: int) -> list[tuple[str, int]]:
        """(cron id, tick) of the crons whose next fire time came."""
        rows = cast(
            list[tuple[bytes, float]],
            await self.redis.zrangebyscore(
                self.keys.crons_due, "-inf", now, start=0, num=limit, withscores=True
            ),
        )
        return [(cron_id.decode(), int(score)) for cron_id, score in rows]

    async def claim(self, cron_id: str, tick: int, next_ms: int | None, until: int) -> bool:
        """Take ``tick`` of the cron (and move it to ``next_ms``; ``None``: it has
        no next fire) if nobody did; the tick stays claimed until ``until``."""
        k = self.keys
        step = self._claim.step(
            CRON=k.cron(cron_id),
            DUE=k.crons_due,
            FIRES=k.crons_fires,
            cron_id=cron_id,
            tick=str(tick),
            next_ms=_ms(next_ms),
            fire=_fire(cron_id, tick),
            claimed_until=until,
        )
        return bool((await self._direct.run([step]))[0])

    def fired_step(self, cron_id: str, tick: int) -> Step:
        """The step that says the tick's run is recorded (or was refused)."""
        return ("ZREM", self.keys.crons_fires, _fire(cron_id, tick))

    async def fired(self, cron_id: str, tick: int) -> None:
        await self.redis.zrem(self.keys.crons_fires, _fire(cron_id, tick))

    async def stalled(self, now: int, limit: int, until: int) -> list[tuple[str, int]]:
        """Claimed ticks whose gateway did not record their run by the
        deadline: each is retaken (until ``until``) by one caller, to fire again."""
        rows = cast(
            list[bytes],
            await self.redis.zrangebyscore(self.keys.crons_fires, "-inf", now, start=0, num=limit),
        )
        out = []
        for row in rows:
            fire = row.decode()
            step = self._retake.step(
                FIRES=self.keys.crons_fires, fire=fire, now=now, claimed_until=until
            )
            if (await self._direct.run([step]))[0]:
                cron_id, _, tick = fire.rpartition("/")
                out.append((cron_id, int(tick)))
        return out


def _ms(value: int | None) -> str:
    return "" if value is None else str(value)


def _int(raw: bytes | None) -> int | None:
    return int(raw) if raw else None


def _shown(doc: bytes, next_ms: bytes | None) -> dict[str, Any]:
    shown: dict[str, Any] = msgspec.json.decode(doc)
    nxt = _int(next_ms)
    shown["next_run_date"] = (
        datetime.fromtimestamp(nxt / 1000, UTC).isoformat() if nxt is not None else None
    )
    return shown
