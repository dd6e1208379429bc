"""Run attempts: claimed with a lease and a fencing epoch, renewed while the
executor lives, released on a graceful stop, and swept when they expire.

- **Claim** bumps the thread's epoch (INCR), counts the attempt and sets
  ``lease_until``. Every checkpoint write carries the epoch and the saver refuses
  a stale one (``StaleEpoch``), and so does the script that records the outcome:
  an executor that lost its lease can no longer change the thread.
- **Renew** extends the lease only while the epoch is still ours; it also tells
  the executor a cancel was asked for.
- **Sweep**: the sorted set ``Keys.leases`` holds every run that must end,
  scored by its deadline. Any executor takes due entries and re-dispatches runs
  whose lease (or dispatch grace) ran out; the script reserves the run for a
  grace period, so two sweepers never both re-dispatch it. A run that was
  attempted ``max_attempts`` times ends in ``error`` instead of looping.

The sorted set is one key outside the threads' hash slots, so it is updated by
separate commands (in the same pipeline, ahead of the script), always *before*
the state change it guards (an entry too many is dropped by the sweeper; one too
few could strand a run). A queued run is watched from its creation until its
turn comes; an ended run is unwatched in a batch soon after its end.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from relaygraph.pipelining import batch
from relaygraph.store import now_iso
from relaygraph.subjects import Keys

log = logging.getLogger("relaygraph.leases")
UNWATCH_DELAY = 0.01  # seconds: ended runs are unwatched in batches

_CLAIM = """
-- KEYS: thread, run, epoch
-- ARGV: run_id, executor_id, now_iso, now_ms, lease_ms, max_attempts
local st = redis.call('HGET', KEYS[2], 'status')
if not st then return {'gone', '0', '0', ''} end
if st ~= 'pending' and st ~= 'running' then return {'done', '0', '0', st} end
if redis.call('HGET', KEYS[1], 'active_run') ~= ARGV[1] then return {'not_active', '0', '0', ''} end
if st == 'running' then
  local lu = tonumber(redis.call('HGET', KEYS[2], 'lease_until') or '0')
  if lu > tonumber(ARGV[4]) then return {'held', '0', '0', ''} end
end
local epoch = redis.call('INCR', KEYS[3])
local attempt = redis.call('HINCRBY', KEYS[2], 'attempt', 1)
local deadline = tonumber(ARGV[4]) + tonumber(ARGV[5])
redis.call('HSET', KEYS[2], 'status', 'running', 'owner', ARGV[2], 'epoch', epoch,
  'lease_until', deadline, 'claimed_ms', ARGV[4], 'updated_at', ARGV[3])
redis.call('HSET', KEYS[1], 'status', 'busy', 'owner', ARGV[2], 'updated_at', ARGV[3])
local outcome = 'ok'
local cancel = redis.call('HGET', KEYS[2], 'cancel')
if cancel and cancel ~= '' then outcome = 'cancelled'
elseif attempt > tonumber(ARGV[6]) then outcome = 'exhausted' end
return {outcome, tostring(epoch), tostring(attempt), cancel or ''}
"""

_RENEW = """
-- KEYS: run, epoch ; ARGV: epoch, now_ms, lease_ms
if redis.call('GET', KEYS[2]) ~= ARGV[1] or redis.call('HGET', KEYS[1], 'status') ~= 'running' then
  return {'lost', ''}
end
redis.call('HSET', KEYS[1], 'lease_until', tonumber(ARGV[2]) + tonumber(ARGV[3]))
return {'ok', redis.call('HGET', KEYS[1], 'cancel') or ''}
"""

_RELEASE = """
-- KEYS: run, epoch ; ARGV: epoch, now_iso
-- A graceful hand-back: the attempt does not count, the run is free at once.
if redis.call('GET', KEYS[2]) ~= ARGV[1] or redis.call('HGET', KEYS[1], 'status') ~= 'running' then
  return 0
end
redis.call('HSET', KEYS[1], 'status', 'pending', 'lease_until', '0', 'updated_at', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'attempt', -1)
return 1
"""

_SWEEP = """
-- KEYS: thread, run, queue ; ARGV: run_id, now_ms, grace_ms
local st = redis.call('HGET', KEYS[2], 'status')
if not st then return {'drop', '', '0'} end
if st ~= 'pending' and st ~= 'running' then
  local outbox = redis.call('HGET', KEYS[2], 'outbox')
  if outbox then  -- ended, but its interrupt event was never published
    local deadline = tonumber(ARGV[2]) + tonumber(ARGV[3])
    return {'publish', outbox, tostring(deadline)}
  end
  return {'drop', '', '0'}
end
if redis.call('HGET', KEYS[1], 'active_run') ~= ARGV[1] then
  -- Queued behind the active run: watched until its turn comes, so the
  -- executor that hands the thread on needs no watch of its own.
  if st == 'pending' and redis.call('LPOS', KEYS[3], ARGV[1]) then
    return {'later', '', tostring(tonumber(ARGV[2]) + tonumber(ARGV[3]))}
  end
  return {'drop', '', '0'}
end
local lu = tonumber(redis.call('HGET', KEYS[2], 'lease_until') or '0')
if lu > tonumber(ARGV[2]) then return {'later', '', tostring(lu)} end
-- Free for the next claim (a lost attempt's renewals now fail), and give that
-- claim the dispatch grace before the run is swept again.
local deadline = tonumber(ARGV[2]) + tonumber(ARGV[3])
redis.call('HSET', KEYS[2], 'status', 'pending', 'lease_until', deadline)
return {'redispatch', redis.call('HGET', KEYS[2], 'request'), tostring(deadline)}
"""


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class Claim:
    outcome: str
    """``ok``, ``cancelled`` (a cancel came first: record it, run nothing),
    ``exhausted`` (too many attempts: end in error), or not ours: ``held``
    (another live attempt), ``done``, ``gone``, ``not_active``."""
    epoch: int = 0
    attempt: int = 0
    detail: str = ""
    then: Any = None  # the reply to ``claim(then=...)``

    @property
    def claimed(self) -> bool:
        return self.outcome in ("ok", "cancelled", "exhausted")


@dataclass(frozen=True, slots=True)
class Due:
    thread_id: str
    run_id: str
    outcome: str  # drop | later | redispatch | publish (an ended run's interrupt event)
    request: bytes | None = None
    until: int = 0


class Leases:
    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        *,
        lease_ttl: float,
        grace: float,
        max_attempts: int,
        owner_timeout: float = 0.5,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.owner_timeout = owner_timeout
        self.lease_ms = int(lease_ttl * 1000)
        self.grace_ms = int(grace * 1000)
        self.max_attempts = max_attempts
        self._claim = redis.register_script(_CLAIM)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._sweep = redis.register_script(_SWEEP)
        self._ended: list[tuple[Any, ...]] = []
        self._flusher: asyncio.Task[None] | None = None

    @staticmethod
    def member(thread_id: str, run_id: str) -> str:
        return f"{thread_id}/{run_id}"

    async def watch(self, thread_id: str, run_id: str, deadline_ms: int | None = None) -> None:
        """Make the sweeper look at this run by ``deadline_ms`` (default: now + grace)."""
        await batch(self.redis, [self.watch_step(thread_id, run_id, deadline_ms)])

    def watch_step(
        self, thread_id: str, run_id: str, deadline_ms: int | None = None
    ) -> tuple[Any, ...]:
        """:meth:`watch` as a step of another round trip (``pipelining.batch``)."""
        score = deadline_ms if deadline_ms is not None else now_ms() + self.grace_ms
        return ("ZADD", self.keys.leases, score, self.member(thread_id, run_id))

    async def unwatch(self, thread_id: str, run_id: str, outbox_sent: bool = False) -> None:
        """Stop watching an ended run; ``outbox_sent``: its interrupt event was
        published, so the copy kept for the sweeper goes too (same round trip)."""
        await batch(self.redis, self._unwatch_steps(thread_id, run_id, outbox_sent))

    def unwatch_soon(self, thread_id: str, run_id: str, outbox_sent: bool = False) -> None:
        """:meth:`unwatch`, batched with the other runs that end within
        ``UNWATCH_DELAY``: one round trip for all of them, none on the run's
        path. Nothing depends on it being prompt: until it is done the sweeper
        drops the ended run itself (or, outbox not cleared yet, publishes the
        interrupt event again, which JetStream drops as a duplicate)."""
        self._ended.extend(self._unwatch_steps(thread_id, run_id, outbox_sent))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_soon())

    def _unwatch_steps(
        self, thread_id: str, run_id: str, outbox_sent: bool
    ) -> list[tuple[Any, ...]]:
        steps: list[tuple[Any, ...]] = []
        if outbox_sent:
            steps.append(("HDEL", self.keys.run(thread_id, run_id), "outbox"))
        steps.append(("ZREM", self.keys.leases, self.member(thread_id, run_id)))
        return steps

    async def _flush_soon(self) -> None:
        await asyncio.sleep(UNWATCH_DELAY)
        await self.flush()

    async def flush(self) -> None:
        """Send what :meth:`unwatch_soon` collected (also on a graceful stop)."""
        steps, self._ended = self._ended, []
        if not steps:
            return
        try:
            await batch(self.redis, steps)
        except Exception as exc:  # Redis away: the sweeper drops them later
            log.warning("unwatching %d ended run(s) failed: %s", len(steps), exc)

    async def claim(
        self, thread_id: str, run_id: str, executor_id: str, then: tuple[Any, ...] | None = None
    ) -> Claim:
        """``then``: a step (``pipelining.batch``) sent right after the claim in the
        same round trip, e.g. the read of the thread's latest checkpoint; its
        reply is ``Claim.then``."""
        k = self.keys
        now = now_ms()
        # The sweeper must see this attempt before it can strand it: the watch
        # goes first, in the same round trip.
        steps: list[tuple[Any, ...]] = [
            self.watch_step(thread_id, run_id, now + self.lease_ms),
            (
                self._claim,
                [k.thread(thread_id), k.run(thread_id, run_id), k.thread_epoch(thread_id)],
                [run_id, executor_id, now_iso(), now, self.lease_ms, self.max_attempts],
            ),
        ]
        if then is not None:
            steps.append(then)
        results = await batch(self.redis, steps)
        res = results[1]
        return Claim(
            res[0].decode(),
            int(res[1]),
            int(res[2]),
            res[3].decode(),
            results[2] if then is not None else None,
        )

    async def renew(self, thread_id: str, run_id: str, epoch: int) -> tuple[bool, str]:
        """(still ours, cancel action asked for or "")."""
        k = self.keys
        deadline = now_ms() + self.lease_ms
        await self.watch(thread_id, run_id, deadline)
        res = await self._renew(
            keys=[k.run(thread_id, run_id), k.thread_epoch(thread_id)],
            args=[epoch, now_ms(), self.lease_ms],
        )
        return res[0] == b"ok", res[1].decode()

    async def release(self, thread_id: str, run_id: str, epoch: int) -> bool:
        k = self.keys
        await self.watch(thread_id, run_id, now_ms())
        return bool(
            await self._release(
                keys=[k.run(thread_id, run_id), k.thread_epoch(thread_id)], args=[epoch, now_iso()]
            )
        )

    async def due(self, limit: int = 100) -> list[Due]:
        """Take the runs whose deadline passed and decide each atomically."""
        members = await self.redis.zrangebyscore(
            self.keys.leases, "-inf", now_ms(), start=0, num=limit
        )
        out: list[Due] = []
        for raw in members:
            member = raw.decode()
            thread_id, _, run_id = member.partition("/")
            res = await self._sweep(
                keys=[
                    self.keys.thread(thread_id),
                    self.keys.run(thread_id, run_id),
                    self.keys.thread_queue(thread_id),
                ],
                args=[run_id, now_ms(), self.grace_ms],
            )
            outcome, until = res[0].decode(), int(res[2])
            if outcome == "drop":
                await self.redis.zrem(self.keys.leases, member)
            else:
                await self.redis.zadd(self.keys.leases, {member: until})
            out.append(
                Due(
                    thread_id,
                    run_id,
                    outcome,
                    res[1] if outcome in ("redispatch", "publish") else None,
                    until,
                )
            )
        return out
