"""The webhook's deliveries, kept in Redis until the webhook took them.

An interrupt's delivery is written in the same transaction that records the
interrupt in the inbox, before its JetStream message is acked: from then on a
reviewer restart or a webhook that is down for hours loses nothing. A loop
takes the deliveries that are due (a Lua script leases each to one taker, so
several replicas of a reviewer never post one twice at once), POSTs them, and
on failure tries again later, the wait doubling up to ``max_backoff``, until
``give_up_after`` seconds have passed since the interrupt came.

Every interrupt is posted, those the rules answer too, marked with
``answered_by`` (and the ``answered_run_id`` once the resume went through).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import msgspec
from redis.asyncio.client import Pipeline

from relaygraph.contracts import InterruptEvent
from relaygraph.keys import Keys
from relaygraph.lua import Lua, Script
from relaygraph.pipelining import Direct
from relaygraph.redis_client import RedisClient

log = logging.getLogger("relaygraph.reviewer.webhook")

_RETRYABLE_STATUS = {408, 425, 429}

_TAKE = Lua(
    "take_deliveries",
    keys=("DUE",),
    args=("now", "lease_seconds", "limit"),
    body=r"""
-- The deliveries due now, each leased (pushed later) to this taker.
local ids = redis.call('ZRANGEBYSCORE', DUE, '-inf', now, 'LIMIT', 0, tonumber(limit))
for _, id in ipairs(ids) do
  redis.call('ZADD', DUE, tonumber(now) + tonumber(lease_seconds), id)
end
return ids
""",
)


class Delivery(msgspec.Struct, kw_only=True):
    body: dict[str, Any]
    first_at: float
    attempts: int = 0


def webhook_body(
    event: InterruptEvent, resume_subject: str, answered_by: str | None = None
) -> dict[str, Any]:
    """The event plus ``resume_subject``, the NATS subject to answer on; and
    ``answered_by`` when the reviewer's rules answer it."""
    body: dict[str, Any] = msgspec.to_builtins(event)
    body["resume_subject"] = resume_subject
    if answered_by is not None:
        body["answered_by"] = answered_by
    return body


class WebhookOutbox:
    def __init__(
        self,
        redis: RedisClient,
        keys: Keys,
        durable: str,
        client: httpx.AsyncClient,
        url: str,
        *,
        backoff: float = 0.5,
        max_backoff: float = 60.0,
        give_up_after: float = 24 * 3600.0,
        settle: float = 0.3,
        poll: float = 0.2,
    ) -> None:
        self._redis = redis
        self._entries = keys.reviewer_webhook(durable)
        self._due = keys.reviewer_webhook_due(durable)
        self._take = Script(redis, _TAKE)
        self._client = client
        self.url = url
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._give_up_after = give_up_after
        self._settle = settle
        self._poll = poll
        self._stopping = False

    def add(self, pipe: Pipeline, msg_id: str, body: dict[str, Any]) -> None:
        """Queue a delivery, inside the inbox's recording transaction. It is
        due after ``settle`` seconds: the rules' answer is usually in by then."""
        now = time.time()
        pipe.hsetnx(self._entries, msg_id, msgspec.json.encode(Delivery(body=body, first_at=now)))
        pipe.zadd(self._due, {msg_id: now + self._settle}, nx=True)

    async def mark_answered(self, msg_id: str, run_id: str | None) -> None:
        """What the rules did, for a delivery not sent yet: the run their
        answer started, or (``None``) that they could not answer after all."""
        raw = await self._redis.hget(self._entries, msg_id)
        if raw is None:
            return
        delivery = msgspec.json.decode(raw, type=Delivery)
        if run_id is None:
            delivery.body.pop("answered_by", None)
        else:
            delivery.body["answered_run_id"] = run_id
        await self._redis.hset(self._entries, msg_id, msgspec.json.encode(delivery))

    async def waiting(self) -> int:
        """Deliveries not taken by the webhook yet."""
        return int(await self._redis.zcard(self._due))

    def stop(self) -> None:
        """End :meth:`run` at its next turn (as well as cancelling it: a
        cancellation swallowed inside a client library must not keep it going)."""
        self._stopping = True

    async def run(self) -> None:
        """Deliver what is due until :meth:`stop` (or cancelled)."""
        self._stopping = False
        while not self._stopping:
            try:
                taken = await self._take_due()
            except Exception as exc:  # Redis away: try again next round
                log.warning("webhook deliveries cannot be read from Redis: %s", exc)
                taken = []
            for i, msg_id in enumerate(taken):
                try:
                    await self._deliver(msg_id)
                except asyncio.CancelledError:
                    # Stopped mid-batch: what this taker leased and did not finish
                    # is due again at once (else a restarted reviewer waits out
                    # the lease before it tries them).
                    await asyncio.shield(self._release(taken[i:]))
                    raise
            if not taken:
                await asyncio.sleep(self._poll)

    async def _take_due(self) -> list[str]:
        """Lease what is due now to this taker. Stopped while the lease is on
        its way, it waits for the answer and gives back what it took (else a
        restarted reviewer waits out the lease before it tries them)."""
        take = self._take.step(DUE=self._due, now=time.time(), lease_seconds=60, limit=16)
        leasing = asyncio.ensure_future(Direct(self._redis).run([take]))
        try:
            (ids,) = await asyncio.shield(leasing)
        except asyncio.CancelledError:
            await asyncio.shield(self._give_back(leasing))
            raise
        return [raw.decode() for raw in ids]

    async def _give_back(self, leasing: asyncio.Future[list[Any]]) -> None:
        try:
            (ids,) = await asyncio.wait_for(leasing, 5)
        except Exception:  # Redis away: the lease runs out instead
            return
        await self._release([raw.decode() for raw in ids])

    async def _deliver(self, msg_id: str) -> None:
        raw = await self._redis.hget(self._entries, msg_id)
        if raw is None:
            await self._redis.zrem(self._due, msg_id)
            return
        delivery = msgspec.json.decode(raw, type=Delivery)
        problem = await self._post(delivery.body)
        if problem is None:
            await self._forget(msg_id)
            return
        delivery.attempts += 1
        thread_id = delivery.body.get("thread_id")
        if time.time() - delivery.first_at >= self._give_up_after:
            log.error(
                "webhook %s: interrupt of thread %s not delivered after %d attempt(s) in "
                "%.0f s: %s; given up (it stays in the inbox)",
                self.url,
                thread_id,
                delivery.attempts,
                self._give_up_after,
                problem,
            )
            await self._forget(msg_id)
            return
        delay = min(self._max_backoff, self._backoff * 2 ** (delivery.attempts - 1))
        log.warning(
            "webhook %s: attempt %d for thread %s failed (%s), retrying in %.1fs",
            self.url,
            delivery.attempts,
            thread_id,
            problem,
            delay,
        )
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(self._entries, msg_id, msgspec.json.encode(delivery))
        pipe.zadd(self._due, {msg_id: time.time() + delay})
        await pipe.execute()

    async def _post(self, body: dict[str, Any]) -> str | None:
        """POST once; ``None`` when the webhook took it, else what went wrong.
        A refusal that retrying cannot change (4xx) counts as taken, logged."""
        try:
            response = await self._client.post(self.url, json=body)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if response.is_success:
            return None
        if response.status_code >= 500 or response.status_code in _RETRYABLE_STATUS:
            return f"HTTP {response.status_code}"
        log.error(
            "webhook %s refused the interrupt of thread %s: HTTP %d (not sent again)",
            self.url,
            body.get("thread_id"),
            response.status_code,
        )
        return None

    async def _release(self, msg_ids: list[str]) -> None:
        try:
            now = time.time()
            await self._redis.zadd(self._due, dict.fromkeys(msg_ids, now), xx=True)
        except Exception as exc:  # Redis away: the lease runs out instead
            log.warning("webhook deliveries not released: %s", exc)

    async def _forget(self, msg_id: str) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.hdel(self._entries, msg_id)
        pipe.zrem(self._due, msg_id)
        await pipe.execute()
