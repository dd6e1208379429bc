"""The inbox in Redis: one pending interrupt per thread, and the recent answers.

A thread is resumed as a whole (``relaygraph.resume.<thread_id>``), so the
inbox keeps one row per thread: the newest interrupt event wins. Every
recorded ``Nats-Msg-Id`` is remembered for a little longer than the stream
keeps its messages, so a redelivered or re-published event never adds a row
again, nor brings back one that was answered.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec
from redis.exceptions import WatchError

from relaygraph.contracts import ErrorBody, InterruptEvent
from relaygraph.errors import Conflict, NotFound
from relaygraph.keys import Keys
from relaygraph.redis_client import RedisClient
from relaygraph.streams import INTERRUPTS_MAX_AGE
from relaygraph_reviewer.audit import AuditEntry, audit_fields
from relaygraph_reviewer.deadlines import deadline_of, instant
from relaygraph_reviewer.records import AnsweredItem, Claim, PendingItem

__all__ = ["AnsweredItem", "Claim", "Inbox", "PendingItem", "Recorded", "now_iso"]

SEEN_HORIZON = INTERRUPTS_MAX_AGE + 24 * 3600.0
"""Seconds a recorded msg id is remembered: past the stream's max age."""

ELSEWHERE = "(answered elsewhere)"
"""The reviewer of an interrupt its thread left without this inbox: resumed
over HTTP or by another reviewer."""
RECENT_CAP = 200
AUDIT_CAP = 100_000
"""Answers the audit keeps (the oldest go first, trimmed approximately)."""
"""Answered interrupts kept in the recent list."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def is_newer(a: str, b: str) -> bool:
    """``a`` is a later ISO 8601 instant than ``b`` (text order if either is no date)."""
    x, y = instant(a), instant(b)
    if isinstance(x, datetime) and isinstance(y, datetime):
        return x > y
    return a > b


class Recorded(enum.Enum):
    NEW = "new"
    """A new pending row (or it replaced an older interrupt of the thread)."""
    DUPLICATE = "duplicate"
    """This msg id was recorded before: nothing changed."""
    STALE = "stale"
    """The thread already has a newer pending interrupt: nothing changed."""


_pending_decoder = msgspec.json.Decoder(PendingItem)
_answered_decoder = msgspec.json.Decoder(AnsweredItem)
_encoder = msgspec.json.Encoder()
T = TypeVar("T")


async def _pending_row(source: Any, pending: str, thread_id: str) -> PendingItem | None:
    """The thread's pending row in the hash ``pending``, read through ``source``
    (the client, or a pipeline that watches it)."""
    raw = await source.hget(pending, thread_id)
    return _pending_decoder.decode(raw) if raw else None


class Inbox:
    """One reviewer's inbox (one durable consumer name) in Redis."""

    def __init__(self, redis: RedisClient, keys: Keys, durable: str) -> None:
        self._redis = redis
        self._pending = keys.reviewer_pending(durable)
        self._recent = keys.reviewer_recent(durable)
        self._seen = keys.reviewer_seen(durable)
        self._looks = keys.reviewer_looks(durable)
        self._thread = keys.thread
        self._audit = keys.reviewer_audit(durable)

    async def _transact(self, step: Callable[[Any], Awaitable[T]], *watched: str) -> T:
        """An optimistic transaction: ``step`` is given a pipeline that watches
        ``watched``; it reads, then queues its writes after ``multi()`` and
        executes them, or returns (or raises) without writing. Whenever a
        watched key changed meanwhile (WatchError), ``step`` runs again from
        the start, for as long as it takes."""
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(*watched)
                    return await step(pipe)
                except WatchError:
                    continue

    async def record(
        self,
        event: InterruptEvent,
        msg_id: str,
        also: Callable[[Any], None] | None = None,
    ) -> Recorded:
        """Record an interrupt event once per msg id (atomic, retried on races).
        ``also``: more commands for the same transaction when the event is new
        (the webhook's delivery)."""
        due = deadline_of(event)
        item = PendingItem(
            msg_id=msg_id,
            event=event,
            received_at=now_iso(),
            deadline_ms=due[0] if due else None,
            on_timeout=due[1] if due else None,
        )

        async def put(pipe: Any) -> Recorded:
            if await pipe.zscore(self._seen, msg_id) is not None:
                return Recorded.DUPLICATE
            current = await _pending_row(pipe, self._pending, event.thread_id)
            stale = current is not None and is_newer(current.event.created_at, event.created_at)
            now = time.time()
            pipe.multi()
            pipe.zadd(self._seen, {msg_id: now})
            pipe.zremrangebyscore(self._seen, "-inf", now - SEEN_HORIZON)
            if not stale:
                pipe.hset(self._pending, event.thread_id, _encoder.encode(item))
                if item.deadline_ms is not None:
                    pipe.zadd(self._looks, {event.thread_id: item.deadline_ms})
                else:
                    pipe.zrem(self._looks, event.thread_id)
                if also is not None:
                    also(pipe)
            await pipe.execute()
            return Recorded.STALE if stale else Recorded.NEW

        return await self._transact(put, self._seen, self._pending)

    async def pending(self) -> list[PendingItem]:
        """Pending interrupts, oldest first."""
        rows = await self._redis.hvals(self._pending)
        items = [_pending_decoder.decode(raw) for raw in rows]
        return sorted(items, key=lambda i: (i.event.created_at, i.event.thread_id))

    async def count(self) -> int:
        """How many interrupts are pending."""
        return int(await self._redis.hlen(self._pending))

    async def get(self, thread_id: str) -> PendingItem | None:
        return await _pending_row(self._redis, self._pending, thread_id)

    async def recent(self, limit: int = 50) -> list[AnsweredItem]:
        """Answered interrupts, newest first."""
        rows = await self._redis.lrange(self._recent, 0, max(0, limit - 1))
        return [_answered_decoder.decode(raw) for raw in rows]

    async def settle_answered_elsewhere(self) -> int:
        """Move to the answered list every pending interrupt its thread has
        left: resumed over HTTP or by another reviewer (its record no longer
        says it is paused at that run's interrupt). How many."""
        items = [i for i in await self.pending() if i.claim is None]
        if not items:
            return 0
        async with self._redis.pipeline(transaction=False) as pipe:
            for item in items:
                pipe.hmget(self._thread(item.event.thread_id), "status", "outbox_run")
            rows = await pipe.execute()
        moved = 0
        for item, (status, run) in zip(items, rows, strict=True):
            if status is None:  # no record here (another Redis, or gone): left to a person
                continue
            paused = status == b"interrupted" and (run is None or run == item.event.run_id.encode())
            if paused:
                continue
            await self.answered(
                AnsweredItem(
                    msg_id=item.msg_id,
                    event=item.event,
                    reviewer=ELSEWHERE,
                    resume=None,
                    run_id="",
                    status="",
                    answered_at=now_iso(),
                ),
                unless_claimed=True,
            )
            moved += 1
        return moved

    async def audit(self, limit: int = 50, before: str | None = None) -> list[AuditEntry]:
        """Answers, newest first; ``before``: an entry id, for the next page."""
        top = f"({before}" if before else "+"
        rows = await self._redis.xrevrange(self._audit, max=top, min="-", count=limit) or []
        return [AuditEntry.of(entry_id, dict(fields or {})) for entry_id, fields in rows]

    async def values_of(self, thread_ids: list[str]) -> dict[str, Any]:
        """Each thread's state values as its record holds them (at its pause);
        threads without a record are left out."""
        if not thread_ids:
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for thread_id in thread_ids:
                pipe.hget(self._thread(thread_id), "values")
            rows = await pipe.execute()
        found = {}
        for thread_id, raw in zip(thread_ids, rows, strict=True):
            if raw:
                try:
                    found[thread_id] = msgspec.json.decode(raw)
                except msgspec.DecodeError:
                    continue
        return found

    async def answer_of(self, msg_id: str) -> AnsweredItem | None:
        """How the interrupt ``msg_id`` was answered, if it is among the recent."""
        return next((a for a in await self.recent(RECENT_CAP) if a.msg_id == msg_id), None)

    async def answered(self, answer: AnsweredItem, unless_claimed: bool = False) -> None:
        """Move the answered interrupt from pending to recent.

        The pending row goes only if it is still the one answered: a newer
        interrupt of the thread that arrived meanwhile stays. ``unless_claimed``
        (an answer seen given elsewhere): nothing happens if an answer of this
        inbox was taken for it meanwhile (that one records itself).
        """
        thread_id = answer.event.thread_id

        async def move(pipe: Any) -> None:
            current = await _pending_row(pipe, self._pending, thread_id)
            mine = current is not None and current.msg_id == answer.msg_id
            if unless_claimed and (not mine or (current and current.claim)):
                return
            pipe.multi()
            if current is not None and current.msg_id == answer.msg_id:
                pipe.hdel(self._pending, thread_id)
                pipe.zrem(self._looks, thread_id)
            pipe.lpush(self._recent, _encoder.encode(answer))
            pipe.ltrim(self._recent, 0, RECENT_CAP - 1)
            pipe.xadd(self._audit, audit_fields(answer), maxlen=AUDIT_CAP, approximate=True)
            await pipe.execute()

        await self._transact(move, self._pending)

    async def failed(
        self, thread_id: str, msg_id: str, error: ErrorBody, retry_ms: int | None = None
    ) -> None:
        """A resume failed: note it on the pending row (if it is still that
        interrupt) and let go of its claim, so it can be answered again; a row
        with a deadline is looked at again at ``retry_ms`` (or its deadline)."""

        async def note(pipe: Any) -> None:
            current = await _pending_row(pipe, self._pending, thread_id)
            if current is None or current.msg_id != msg_id:
                return
            current.last_error = error
            current.claim = None
            pipe.multi()
            pipe.hset(self._pending, thread_id, _encoder.encode(current))
            if current.deadline_ms is not None:
                look = max(current.deadline_ms, retry_ms or 0)
                pipe.zadd(self._looks, {thread_id: look})
            else:
                pipe.zrem(self._looks, thread_id)
            await pipe.execute()

        await self._transact(note, self._pending)

    async def claim(
        self, thread_id: str, msg_id: str, by: str, resume: Any, recheck_ms: int
    ) -> PendingItem:
        """Take the answer of the pending interrupt ``msg_id`` for ``by``: the
        row as claimed. Conflict when another answer was taken first, or a
        newer interrupt replaced it; NotFound when nothing is pending. Until
        the answer is confirmed, the row is looked at again at ``recheck_ms``."""

        async def take(pipe: Any) -> PendingItem:
            current = await _pending_row(pipe, self._pending, thread_id)
            if current is None:
                raise NotFound(f"no pending interrupt for thread {thread_id}")
            taken = current.claim
            if current.msg_id != msg_id or taken is not None:
                raise Conflict(
                    f"thread {thread_id}: this interrupt was already answered by "
                    f"{taken.by} at {taken.at}"
                    if taken is not None and current.msg_id == msg_id
                    else f"thread {thread_id} has a newer interrupt than the one "
                    "answered: reload and answer that one"
                )
            now = time.time()
            current.claim = Claim(by=by, resume=resume, at=now_iso(), at_ms=int(now * 1000))
            pipe.multi()
            pipe.hset(self._pending, thread_id, _encoder.encode(current))
            pipe.zadd(self._looks, {thread_id: recheck_ms})
            await pipe.execute()
            return current

        return await self._transact(take, self._pending)

    async def due(self, now_ms: int, limit: int = 100) -> list[str]:
        """Threads whose pending interrupt is to be looked at by now."""
        rows = await self._redis.zrangebyscore(self._looks, "-inf", now_ms, start=0, num=limit)
        return [r.decode() if isinstance(r, bytes) else str(r) for r in rows]

    async def look_again(self, thread_id: str, at_ms: int | None) -> None:
        """Look at the thread's row at ``at_ms`` (None: never, it needs no look)."""
        if at_ms is None:
            await self._redis.zrem(self._looks, thread_id)
        else:
            await self._redis.zadd(self._looks, {thread_id: at_ms})
