"""Threads and runs in Redis, decided atomically by Lua scripts.

The gateway creates threads and runs here; the executors claim runs, write
their outcome and hand the thread to its next queued run here. Every script
touches one thread's keys only (hash tag ``{thread_id}``), so it runs on Redis
Cluster. Scripts go through redis-py's ``Script``, which reloads them after a
restart or failover (NOSCRIPT).

Values are stored as JSON text produced by the executor, and handed to the
gateway as raw bytes: the gateway never decodes a user's state to serve it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from redis.asyncio import Redis

from relaygraph.errors import BadRequest, Conflict, NotFound
from relaygraph.pipelining import Step, batch
from relaygraph.resumes import ResumePlan
from relaygraph.subjects import Keys

STATELESS_RESULT_TTL = 600.0
"""Seconds a stateless run's record outlives its thread: a waiter whose closing
event was lost reads the outcome there."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


_CREATE_THREAD = """
-- KEYS: thread ; ARGV: thread_id, now, metadata_json, if_exists
if redis.call('EXISTS', KEYS[1]) == 1 then
  if ARGV[4] == 'do_nothing' then return 'exists' end
  return 'conflict'
end
redis.call('HSET', KEYS[1], 'thread_id', ARGV[1], 'created_at', ARGV[2], 'updated_at', ARGV[2],
  'metadata', ARGV[3], 'status', 'idle', 'values', 'null', 'interrupts', '{}')
return 'created'
"""

_CREATE_RUN = """
-- KEYS: thread, queue, runs, run, resumes
-- ARGV: thread_id, run_id, run_json, request, strategy, now, score, resume_ids_json,
--       create_thread ('1'|'0'), metadata_json_for_new_thread, graph_id, assistant_id,
--       lease_until_ms (when the sweeper re-dispatches it if nobody claimed it),
--       resume_mode ('' not a resume, else a relaygraph.resumes.ResumeMode),
--       resume_checkpoint (the pause a 'checkpoint' resume names)
-- The resumes hash maps each answered interrupt id, and 'cp:<checkpoint_id>' of
-- each answered pause, to the run that answered it.
local mode = ARGV[14]
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[9] ~= '1' or mode ~= '' then return {'not_found', ''} end
  redis.call('HSET', KEYS[1], 'thread_id', ARGV[1], 'created_at', ARGV[6], 'updated_at', ARGV[6],
    'metadata', ARGV[10], 'status', 'idle', 'values', 'null', 'interrupts', '{}')
end
local ids = cjson.decode(ARGV[8])
for _, id in ipairs(ids) do
  local prev = redis.call('HGET', KEYS[5], id)
  if prev then return {'duplicate', prev} end
end
if mode == 'checkpoint' then
  local prev = redis.call('HGET', KEYS[5], 'cp:' .. ARGV[15])
  if prev then return {'duplicate', prev} end
end
local pause = ''
if mode ~= '' then
  -- A resume answers the thread's pending interrupts (decided here, with the
  -- run's creation, so two resumes racing cannot both answer them).
  local status = redis.call('HGET', KEYS[1], 'status') or ''
  if status ~= 'interrupted' then
    local last = redis.call('HGET', KEYS[1], 'last_resume')
    if (mode == 'pending' or mode == 'first_pause') and last then
      local newest = redis.call('ZREVRANGE', KEYS[3], 0, 0)[1]
      if newest == last then return {'duplicate', last} end  -- a retried plain resume
    end
    return {'not_interrupted', status}
  end
  pause = redis.call('HGET', KEYS[1], 'pause_checkpoint') or ''
  if mode == 'checkpoint' and pause ~= ARGV[15] then return {'other_pause', pause} end
  if mode == 'first_pause' and redis.call('HLEN', KEYS[5]) > 0 then
    return {'unnamed', pause}
  end
  local pending, known = {}, {}
  for _, items in pairs(cjson.decode(redis.call('HGET', KEYS[1], 'interrupts') or '{}')) do
    for _, item in ipairs(items) do
      if type(item) == 'table' and type(item['id']) == 'string' then
        pending[#pending + 1] = item['id']
        known[item['id']] = true
      end
    end
  end
  table.sort(pending)
  if mode == 'map' then
    local unknown = {}
    for _, id in ipairs(ids) do if not known[id] then unknown[#unknown + 1] = id end end
    if #unknown > 0 then
      table.sort(unknown)
      return {'unknown_ids', cjson.encode(unknown), cjson.encode(pending)}
    end
  elseif #pending > 1 then
    return {'many_pending', cjson.encode(pending)}
  else
    ids = pending
  end
end
local active = redis.call('HGET', KEYS[1], 'active_run')
local decision = 'dispatch'
if active and active ~= '' then
  if ARGV[5] == 'reject' then return {'busy', active} end
  decision = 'queued'
else
  active = ''
end
redis.call('HSET', KEYS[4], 'run', ARGV[3], 'request', ARGV[4], 'status', 'pending',
  'updated_at', ARGV[6], 'attempt', '0', 'lease_until', ARGV[13])
redis.call('ZADD', KEYS[3], ARGV[7], ARGV[2])
redis.call('HSET', KEYS[1], 'graph_id', ARGV[11], 'assistant_id', ARGV[12])
for _, id in ipairs(ids) do redis.call('HSET', KEYS[5], id, ARGV[2]) end
if mode ~= '' then
  redis.call('HSET', KEYS[1], 'last_resume', ARGV[2])
  if pause ~= '' then redis.call('HSET', KEYS[5], 'cp:' .. pause, ARGV[2]) end
end
if decision == 'dispatch' then
  redis.call('HSET', KEYS[1], 'rest_status', redis.call('HGET', KEYS[1], 'status') or 'idle')
  redis.call('HSET', KEYS[1], 'active_run', ARGV[2], 'status', 'busy', 'updated_at', ARGV[6])
elseif ARGV[5] == 'enqueue' then
  redis.call('RPUSH', KEYS[2], ARGV[2])
else
  redis.call('LPUSH', KEYS[2], ARGV[2])
end
return {decision, active, redis.call('HGET', KEYS[1], 'owner') or ''}
"""

# Lua shared by the scripts that end a run. ``release_resumes``: a run that
# did not apply its resume (cancelled, or its graph did not load) leaves the
# interrupts it answered answerable again. ``hand_on``: the thread goes to its
# next queued run that is still pending (made active here, its request
# returned for dispatch), or is left with no active run.
_END_RUN_LUA = """
local function release_resumes(thread, resumes, run_id)
  local resumed = redis.call('HGETALL', resumes)
  for i = 1, #resumed, 2 do
    if resumed[i + 1] == run_id then redis.call('HDEL', resumes, resumed[i]) end
  end
  if redis.call('HGET', thread, 'last_resume') == run_id then
    redis.call('HDEL', thread, 'last_resume')
  end
end
local function hand_on(thread, queue, run_key_prefix, lease_until)
  local nxt = redis.call('LPOP', queue)
  while nxt do
    local rk = run_key_prefix .. nxt
    if redis.call('HGET', rk, 'status') == 'pending' then
      redis.call('HSET', thread, 'rest_status', redis.call('HGET', thread, 'status') or 'idle')
      redis.call('HSET', thread, 'active_run', nxt, 'status', 'busy')
      redis.call('HSET', rk, 'lease_until', lease_until)
      return {'next', redis.call('HGET', rk, 'request'), nxt}
    end
    nxt = redis.call('LPOP', queue)
  end
  redis.call('HDEL', thread, 'active_run')
  return {'ok', '', ''}
end
"""

_FINISH_RUN = (
    _END_RUN_LUA
    + """
-- KEYS: thread, run, queue, epoch, resumes
-- ARGV: run_id, epoch, run_status, thread_status, values_json, interrupts_json,
--       result_json, now, run_key_prefix, next_lease_until_ms, outbox, pause_checkpoint
-- ``pause_checkpoint``: the checkpoint the thread is paused at (when interrupted).
-- ``thread_status`` '': the thread goes back to the status it had before the
-- run (the run changed nothing); ``values_json`` / ``interrupts_json`` '':
-- left as they are. ``outbox``: the interrupt event to publish (kept until it
-- is published, so the sweeper publishes it if this executor dies first).
if redis.call('GET', KEYS[4]) ~= ARGV[2] then return {'stale', '', ''} end
redis.call('HSET', KEYS[2], 'status', ARGV[3], 'result', ARGV[7], 'updated_at', ARGV[8])
if ARGV[11] ~= '' then redis.call('HSET', KEYS[2], 'outbox', ARGV[11]) end
local thread_status = ARGV[4]
if thread_status == '' then
  thread_status = redis.call('HGET', KEYS[1], 'rest_status') or 'idle'
end
redis.call('HSET', KEYS[1], 'status', thread_status, 'updated_at', ARGV[8])
if ARGV[4] == 'interrupted' then redis.call('HSET', KEYS[1], 'pause_checkpoint', ARGV[12]) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'interrupts', ARGV[6]) end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'values', ARGV[5]) end
if ARGV[3] == 'interrupted' or ARGV[4] == '' then
  release_resumes(KEYS[1], KEYS[5], ARGV[1])
end
if redis.call('HGET', KEYS[1], 'active_run') ~= ARGV[1] then return {'ok', '', ''} end
return hand_on(KEYS[1], KEYS[3], ARGV[9], ARGV[10])
"""
)

_REQUEST_CANCEL = (
    _END_RUN_LUA
    + """
-- KEYS: thread, run, queue, resumes
-- ARGV: run_id, now, action, run_key_prefix, next_lease_until_ms
-- Replies {outcome, next_request, next_run_id}: ``dequeued`` (was queued
-- behind another run), ``cancelled`` (dispatched but never claimed: ended
-- here, the thread handed on), ``flagged`` (its executor stops it), ``done``
-- (already ended) or ``gone``.
local st = redis.call('HGET', KEYS[2], 'status')
if not st then return {'gone', '', ''} end
if st ~= 'pending' and st ~= 'running' then return {'done', '', ''} end
if st == 'pending' and redis.call('LREM', KEYS[3], 0, ARGV[1]) > 0 then
  redis.call('HSET', KEYS[2], 'status', 'interrupted', 'updated_at', ARGV[2])
  release_resumes(KEYS[1], KEYS[4], ARGV[1])
  return {'dequeued', '', ''}
end
if st == 'pending' and redis.call('HEXISTS', KEYS[2], 'claimed_ms') == 0
    and redis.call('HGET', KEYS[1], 'active_run') == ARGV[1] then
  -- No executor ever claimed it (none may be running): nothing ran, so it
  -- ends now, and a later claim finds it ended.
  redis.call('HSET', KEYS[2], 'status', 'interrupted', 'updated_at', ARGV[2])
  redis.call('HSET', KEYS[1], 'status', redis.call('HGET', KEYS[1], 'rest_status') or 'idle',
    'updated_at', ARGV[2])
  release_resumes(KEYS[1], KEYS[4], ARGV[1])
  local handed = hand_on(KEYS[1], KEYS[3], ARGV[4], ARGV[5])
  return {'cancelled', handed[2], handed[3]}
end
-- Claimed, or running: whoever claims or renews it next sees the flag.
redis.call('HSET', KEYS[2], 'cancel', ARGV[3])
return {'flagged', '', ''}
"""
)


@dataclass(frozen=True, slots=True)
class Cancelled:
    """What the cancel script did: ``dequeued``, ``cancelled``, ``flagged``,
    ``done`` or ``gone``; and the thread's next run, when it was handed on."""

    outcome: str
    next_request: bytes | None = None
    next_run_id: str = ""

    @property
    def ended_here(self) -> bool:
        """The run ended in Redis: no executor will publish its end."""
        return self.outcome in ("dequeued", "cancelled")


@dataclass(frozen=True, slots=True)
class Created:
    """What the create-run script decided."""

    decision: str  # dispatch | queued | duplicate
    run_id: str
    active_run: str = ""
    owner: str = ""  # the executor that last ran the thread


class Store:
    """Threads and runs of one relaygraph deployment."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._create_thread = redis.register_script(_CREATE_THREAD)
        self._create_run = redis.register_script(_CREATE_RUN)
        self._finish = redis.register_script(_FINISH_RUN)
        self._request_cancel = redis.register_script(_REQUEST_CANCEL)

    # -- threads -------------------------------------------------------------
    async def create_thread(
        self, thread_id: str, metadata: dict[str, Any], if_exists: str = "raise"
    ) -> dict[str, bytes]:
        key = self.keys.thread(thread_id)
        # One round trip: the script, the search index (one key outside the
        # thread's slot; NX keeps an existing thread's place), and the row.
        res, _, raw = await batch(
            self.redis,
            [
                (
                    self._create_thread,
                    [key],
                    [thread_id, now_iso(), msgspec.json.encode(metadata), if_exists],
                ),
                ("ZADD", self.keys.threads_index, "NX", time.time(), thread_id),
                ("HGETALL", key),
            ],
        )
        if res == b"conflict":
            raise Conflict(f"Thread {thread_id} already exists")
        if not raw:  # the script was reloaded, so it ran after the read
            return await self.get_thread(thread_id)
        return {k.decode(): v for k, v in raw.items()}

    async def get_thread(self, thread_id: str) -> dict[str, bytes]:
        raw: dict[bytes, bytes] = await self.redis.hgetall(self.keys.thread(thread_id))  # type: ignore[misc]
        if not raw:
            raise NotFound(f"Thread {thread_id} not found")
        return {k.decode(): v for k, v in raw.items()}

    async def thread_exists(self, thread_id: str) -> bool:
        return bool(await self.redis.exists(self.keys.thread(thread_id)))

    async def update_thread_metadata(self, thread_id: str, metadata: dict[str, Any]) -> None:
        key = self.keys.thread(thread_id)
        current = await self.get_thread(thread_id)
        merged = {**msgspec.json.decode(current.get("metadata", b"{}")), **metadata}
        await self.redis.hset(
            key,
            mapping={  # type: ignore[misc]
                "metadata": msgspec.json.encode(merged),
                "updated_at": now_iso(),
            },
        )

    async def set_thread_values(
        self,
        thread_id: str,
        values: bytes,
        status: str | None,
        interrupts: bytes | None = None,
        pause_checkpoint: str = "",
    ) -> None:
        mapping: dict[str, bytes | str] = {"values": values, "updated_at": now_iso()}
        if status:
            mapping["status"] = status
        if status == "interrupted":
            mapping["pause_checkpoint"] = pause_checkpoint
        if interrupts is not None:
            mapping["interrupts"] = interrupts
        await self.redis.hset(self.keys.thread(thread_id), mapping=mapping)  # type: ignore[arg-type,misc]

    async def search_threads(self, offset: int, limit: int) -> list[dict[str, bytes]]:
        """Threads newest first; filters are applied by the caller."""
        ids = await self.redis.zrevrange(self.keys.threads_index, offset, offset + limit - 1)
        if not ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for tid in ids:
            pipe.hgetall(self.keys.thread(tid.decode()))
        rows = await pipe.execute()
        return [{k.decode(): v for k, v in row.items()} for row in rows if row]

    async def count_threads(self) -> int:
        return int(await self.redis.zcard(self.keys.threads_index))

    async def delete_thread(
        self, thread_id: str, keep_run: str | None = None, keep_for: float = 0.0
    ) -> None:
        """Delete the thread and its runs; ``keep_run``: that run's record stays
        ``keep_for`` seconds more (a stateless run's outcome, for a waiter
        whose end event was lost)."""
        k = self.keys
        run_ids = [r.decode() for r in await self.redis.zrange(k.thread_runs(thread_id), 0, -1)]
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(
            k.thread(thread_id),
            k.thread_queue(thread_id),
            k.thread_runs(thread_id),
            k.thread_resumes(thread_id),
            k.thread_epoch(thread_id),
            *[k.run(thread_id, r) for r in run_ids if r != keep_run],
        )
        if keep_run is not None:
            pipe.expire(k.run(thread_id, keep_run), max(1, int(keep_for)))
        pipe.zrem(k.threads_index, thread_id)
        removed = (await pipe.execute())[0]
        if not removed:
            raise NotFound(f"Thread {thread_id} not found")

    # -- runs ----------------------------------------------------------------
    async def create_run(
        self,
        *,
        thread_id: str,
        run_id: str,
        run_json: bytes,
        request: bytes,
        strategy: str,
        create_thread: bool,
        graph_id: str,
        assistant_id: str,
        thread_metadata: dict[str, Any] | None = None,
        lease_until_ms: int = 0,
        before: list[Step] | None = None,
        resume: ResumePlan | None = None,
    ) -> Created:
        """Decide and record a run in one round trip. ``before``: commands the
        server runs first (the sweeper's watch). ``resume``: which pause a
        ``Command(resume=...)`` answers (:mod:`relaygraph.resumes`); refused
        (4xx) if the thread is not interrupted at it. A repeat of a resume
        returns the run that answered it (``duplicate``)."""
        k = self.keys
        mode = str(resume.mode) if resume is not None else ""
        resume_ids = list(resume.ids) if resume is not None else []
        steps: list[Step] = [
            *(before or []),
            (
                self._create_run,
                [
                    k.thread(thread_id),
                    k.thread_queue(thread_id),
                    k.thread_runs(thread_id),
                    k.run(thread_id, run_id),
                    k.thread_resumes(thread_id),
                ],
                [
                    thread_id,
                    run_id,
                    run_json,
                    request,
                    strategy,
                    now_iso(),
                    time.time(),
                    msgspec.json.encode(resume_ids),
                    "1" if create_thread else "0",
                    msgspec.json.encode(thread_metadata or {}),
                    graph_id,
                    assistant_id,
                    lease_until_ms,
                    mode,
                    resume.checkpoint_id if resume is not None else "",
                ],
            ),
        ]
        if create_thread and not mode:  # the search index: the script creates the
            # thread if missing (never for a resume: that needs the thread already)
            steps.append(("ZADD", k.threads_index, "NX", time.time(), thread_id))
        results = await batch(self.redis, steps)
        res = results[len(before or [])]
        decision, other = res[0].decode(), res[1].decode()
        owner = res[2].decode() if len(res) > 2 else ""
        if decision == "not_found":
            raise NotFound(f"Thread {thread_id} not found")
        if decision == "not_interrupted":
            if other == "busy":
                raise Conflict(f"Thread {thread_id} is busy; resume it once its run pauses")
            raise BadRequest(f"Thread {thread_id} is {other}, not interrupted: nothing to resume")
        if decision == "unknown_ids":
            raise BadRequest(
                f"interrupt id(s) {msgspec.json.decode(res[1])} are not pending on thread "
                f"{thread_id}; pending: {msgspec.json.decode(res[2])}"
            )
        if decision == "other_pause":
            raise Conflict(
                f"Thread {thread_id} is paused at checkpoint {other or '(none)'}, not at the "
                "checkpoint this resume names: answer the newer interrupt event"
            )
        if decision == "unnamed":
            raise BadRequest(
                f"Thread {thread_id} was resumed before: a plain resume over NATS could be a "
                "retry meant for an earlier pause. Name the pause: send the event's "
                "`interrupt_id` or `checkpoint_id` with the value"
            )
        if decision == "many_pending":
            pending = msgspec.json.decode(res[1])
            raise BadRequest(
                f"{len(pending)} interrupts are pending on thread {thread_id}: resume with a map "
                f"{{interrupt_id: value}} naming each of {pending}"
            )
        if decision == "busy":
            raise Conflict(
                f"Thread {thread_id} is busy with run {other}; "
                "multitask_strategy 'reject' refuses a second run"
            )
        if decision == "duplicate":
            return Created("duplicate", other)
        return Created(decision, run_id, other, owner)

    async def get_run(self, thread_id: str, run_id: str) -> dict[str, bytes]:
        raw: dict[bytes, bytes] = await self.redis.hgetall(self.keys.run(thread_id, run_id))  # type: ignore[misc]
        if not raw:
            raise NotFound(f"Run {run_id} not found")
        return {k.decode(): v for k, v in raw.items()}

    async def list_runs(self, thread_id: str, offset: int, limit: int) -> list[dict[str, bytes]]:
        ids = await self.redis.zrevrange(
            self.keys.thread_runs(thread_id), offset, offset + limit - 1
        )
        pipe = self.redis.pipeline(transaction=False)
        for rid in ids:
            pipe.hgetall(self.keys.run(thread_id, rid.decode()))
        rows = await pipe.execute() if ids else []
        return [{k.decode(): v for k, v in row.items()} for row in rows if row]

    async def request_cancel(
        self, thread_id: str, run_id: str, action: str, next_lease_until_ms: int
    ) -> Cancelled:
        """Cancel a run where it stands (see ``_REQUEST_CANCEL``)."""
        k = self.keys
        res = await self._request_cancel(
            keys=[
                k.thread(thread_id),
                k.run(thread_id, run_id),
                k.thread_queue(thread_id),
                k.thread_resumes(thread_id),
            ],
            args=[run_id, now_iso(), action, k.run(thread_id, ""), next_lease_until_ms],
        )
        outcome = res[0].decode()
        if res[1]:
            return Cancelled(outcome, res[1], res[2].decode())
        return Cancelled(outcome)

    async def delete_run(self, thread_id: str, run_id: str) -> None:
        await self.redis.delete(self.keys.run(thread_id, run_id))
        await self.redis.zrem(self.keys.thread_runs(thread_id), run_id)

    async def finish_run(
        self,
        *,
        thread_id: str,
        run_id: str,
        epoch: int,
        run_status: str,
        thread_status: str,
        values: bytes,
        interrupts: bytes,
        result: bytes,
        next_lease_until_ms: int,
        outbox: bytes = b"",
        pause_checkpoint: str = "",
    ) -> tuple[str, bytes | None, str]:
        """Record a run's outcome and hand the thread to its next queued run.

        Returns ``("next", request, next_run_id)`` when a queued run must now be
        dispatched, ``("ok", None, "")``, or ``("stale", None, "")`` when this
        attempt lost its lease (nothing was written).
        """
        k = self.keys
        (res,) = await batch(
            self.redis,
            [
                (
                    self._finish,
                    [
                        k.thread(thread_id),
                        k.run(thread_id, run_id),
                        k.thread_queue(thread_id),
                        k.thread_epoch(thread_id),
                        k.thread_resumes(thread_id),
                    ],
                    [
                        run_id,
                        str(epoch),
                        run_status,
                        thread_status,
                        values,
                        interrupts,
                        result,
                        now_iso(),
                        k.run(thread_id, ""),
                        next_lease_until_ms,
                        outbox,
                        pause_checkpoint,
                    ],
                )
            ],
        )
        outcome = res[0].decode()
        if outcome == "next":
            return outcome, res[1], res[2].decode()
        return outcome, None, ""

    # -- executors -------------------------------------------------------------
    async def heartbeat_executor(self, executor_id: str, ttl: float) -> None:
        await self.redis.set(self.keys.executor(executor_id), b"1", px=int(ttl * 1000))

    async def thread_owner(self, thread_id: str) -> str | None:
        owner = await self.redis.hget(self.keys.thread(thread_id), "owner")  # type: ignore[misc]
        return owner.decode() if owner else None

    async def executor_alive(self, executor_id: str) -> bool:
        return bool(await self.redis.exists(self.keys.executor(executor_id)))

    async def forget_executor(self, executor_id: str) -> None:
        await self.redis.delete(self.keys.executor(executor_id))
