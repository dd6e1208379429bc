"""The transitions of a run, one Lua script each, on one thread's keys.

Keys (all carry the hash tag ``{<thread_id>}``, see ``relaygraph.keys.Keys``):

    THREAD   hash   the thread: status, rest_status, active_run, active_since,
                    owner, values, interrupts, pause_checkpoint, last_resume,
                    queued ('0': QUEUE is empty; else it may hold runs) ...
    QUEUE    list   run ids waiting for the active run to end
    QUEUED   hash   run id -> request of each queued run (what ``hand_on`` sends)
    RUNS     zset   the thread's run ids, scored by creation time
    RUN      hash   one run: run (JSON), request, status, attempt, epoch, owner,
                    lease_until, claimed_ms, cancel, result, outbox, watch_ms
                    (at least the run's deadline in the lease index) ...
    RESUMES  hash   interrupt id (and ``cp:<checkpoint_id>``) -> the run that answered it;
                    ``first`` -> the run that answered the thread's first pause
    EPOCH    string an older layout's fencing epoch (THREAD's ``epoch`` field now)
    IDS ... WRITES  the thread's checkpoints (``relaygraph.checkpoint._scripts``):
                    a claim reads the latest, a finish writes the attempt's last ones

The scripts that end a run (finish, cancel, sweep) are in ``_ending``.
Each script returns a list whose first item is its outcome (one of the enums
in ``relaygraph.runs.outcomes``) and whose other items are documented at the
script. The lease index (``Keys.leases``, in shards outside the threads'
slots) is kept by separate commands in the same round trip (``lifecycle``).
"""

from __future__ import annotations

from relaygraph.checkpoint._lua import FUNCTIONS as CHECKPOINT_FUNCTIONS
from relaygraph.lua import Lua
from relaygraph.runs._ending import CANCEL, CHECKPOINT_KEYS, EPOCH_NOW, FINISH, SWEEP

CREATE = Lua(
    "create",
    keys=("THREAD", "QUEUE", "QUEUED", "RUNS", "RUN", "RESUMES"),
    args=(
        "thread_id",
        "run_id",
        "run_json",
        "request",
        "strategy",
        "now",
        "now_ms",
        "score",
        "resume_ids",
        "create_thread",
        "thread_metadata",
        "graph_id",
        "assistant_id",
        "lease_until",
        "watch_ms",
        "resume_mode",
        "resume_checkpoint",
        "due_ms",
        "fresh_id",
    ),
    body=r"""
-- fresh_id '1': run_id was just drawn at random (uuid4), so it cannot exist.
-- due_ms: a delayed run's due time ('' for a run to send now). It is the
-- thread's active run or queued like any other, but not sent before then.
-- Replies {decision, detail, owner}: dispatch | delayed (active, sent by the
-- sweeper when due) | queued (detail: the active run), duplicate (detail: the
-- run that already answered, or this run id if it exists), or a refusal:
-- not_found, not_interrupted (detail: status), busy (detail: active run),
-- other_pause (detail: the pause's checkpoint), unnamed, unknown_ids (detail,
-- owner: unknown and pending ids as JSON), many_pending (detail: pending ids).
local mode = resume_mode
if fresh_id ~= '1' and redis.call('EXISTS', RUN) == 1 then return {'duplicate', run_id, ''} end
-- Every field the decision needs, in one read.
local row = redis.call('HMGET', THREAD, 'thread_id', 'status', 'active_run', 'owner',
  'last_resume', 'pause_checkpoint', 'interrupts')
local thread_write = {}  -- field, value, ...: the thread's one write at the end
local function set(field, value)
  thread_write[#thread_write + 1] = field
  thread_write[#thread_write + 1] = value
end
if not row[1] and not row[2] then
  if create_thread ~= '1' or mode ~= '' then return {'not_found', '', ''} end
  set('thread_id', thread_id); set('created_at', now); set('state_updated_at', now)
  set('metadata', thread_metadata); set('values', 'null'); set('interrupts', '{}')
  set('queued', '0'); set('epoch', '0')
  row = {thread_id, 'idle', false, false, false, false, '{}'}  -- a new thread runs at once
end
local ids = cjson.decode(resume_ids)
local asked = {}
for i, id in ipairs(ids) do asked[i] = id end
if mode == 'checkpoint' then asked[#asked + 1] = 'cp:' .. resume_checkpoint end
-- A plain value over NATS names the thread's first pause: once that is
-- answered, it (a retry above all) gets the run that answered it.
if mode == 'first_pause' then asked[#asked + 1] = 'first' end
if #asked > 0 then
  for _, prev in ipairs(redis.call('HMGET', RESUMES, unpack(asked))) do
    if prev then return {'duplicate', prev, ''} end
  end
end
local pause = ''
if mode ~= '' then
  -- A resume answers the thread's pending interrupts (decided here, with the
  -- run's creation, so two resumes racing cannot both answer them).
  local status = row[2] or ''
  if status ~= 'interrupted' then
    local last = row[5]
    if (mode == 'pending' or mode == 'first_pause') and last then
      local newest = redis.call('ZREVRANGE', RUNS, 0, 0)[1]
      if newest == last then return {'duplicate', last, ''} end  -- a retried plain resume
    end
    return {'not_interrupted', status, ''}
  end
  pause = row[6] or ''
  if mode == 'checkpoint' and pause ~= resume_checkpoint then return {'other_pause', pause, ''} end
  if mode == 'first_pause' and redis.call('HLEN', RESUMES) > 0 then
    return {'unnamed', pause, ''}
  end
  local pending, known = {}, {}
  for _, items in pairs(cjson.decode(row[7] or '{}')) do
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
    return {'many_pending', cjson.encode(pending), ''}
  else
    ids = pending
  end
end
local active = row[3]
local decision = 'dispatch'
if active and active ~= '' then
  if strategy == 'reject' then return {'busy', active, ''} end
  decision = 'queued'
else
  active = ''
end
local run = {'run', run_json, 'request', request, 'status', 'pending', 'updated_at', now,
  'attempt', '0', 'lease_until', lease_until, 'watch_ms', watch_ms}
if due_ms ~= '' then run[#run + 1] = 'due_ms'; run[#run + 1] = due_ms end
redis.call('HSET', RUN, unpack(run))
redis.call('ZADD', RUNS, score, run_id)
set('graph_id', graph_id); set('assistant_id', assistant_id)
local answered = {}
for _, id in ipairs(ids) do answered[#answered + 1] = id; answered[#answered + 1] = run_id end
if mode ~= '' then
  set('last_resume', run_id)
  if pause ~= '' then answered[#answered + 1] = 'cp:' .. pause; answered[#answered + 1] = run_id end
  if redis.call('HLEN', RESUMES) == 0 then
    answered[#answered + 1] = 'first'; answered[#answered + 1] = run_id
  end
end
if #answered > 0 then redis.call('HSET', RESUMES, unpack(answered)) end
if decision == 'dispatch' then
  set('rest_status', row[2] or 'idle'); set('active_run', run_id); set('active_since', now_ms)
  set('status', 'busy'); set('updated_at', now)
  if due_ms ~= '' then decision = 'delayed' end
else
  local queued = {run_id, request}
  if due_ms ~= '' then queued[3] = 'due:' .. run_id; queued[4] = due_ms end
  redis.call('HSET', QUEUED, unpack(queued))
  set('queued', '1')
  if strategy == 'enqueue' then
    redis.call('RPUSH', QUEUE, run_id)
  else
    redis.call('LPUSH', QUEUE, run_id)
  end
end
redis.call('HSET', THREAD, unpack(thread_write))
return {decision, active, row[4] or ''}
""",
)

CLAIM = Lua(
    "claim",
    keys=("THREAD", "RUN", "EPOCH", *CHECKPOINT_KEYS),
    args=("run_id", "executor_id", "now", "now_ms", "lease_ms", "max_attempts"),
    functions=CHECKPOINT_FUNCTIONS,
    body=r"""
-- Replies {outcome, epoch, attempt, cancel, latest, watch_ms}: ok | cancelled
-- (a cancel came first: record it, run nothing) | exhausted (too many
-- attempts) | held (another live attempt) | done (status in detail) | gone |
-- not_active (not the thread's active run, or a delayed run not yet sent).
-- Always six items. Once claimed, ``latest``: the thread's latest root checkpoint as the
-- checkpointer's ``get`` returns it (the attempt's first read); ``watch_ms``:
-- when the sweeper looks at the run at the latest ('' unknown), for the caller
-- to bring that forward to the lease's end. Not claimed: false and ''.
local st, due, lease_until, attempt, cancel, watch = unpack(redis.call('HMGET', RUN,
  'status', 'due_ms', 'lease_until', 'attempt', 'cancel', 'watch_ms'))
if not st then return {'gone', '0', '0', '', false, ''} end
if st ~= 'pending' and st ~= 'running' then return {'done', '0', '0', st, false, ''} end
local active, cur = unpack(redis.call('HMGET', THREAD, 'active_run', 'epoch'))
if active ~= run_id then return {'not_active', '0', '0', '', false, ''} end
if tonumber(due or '0') > tonumber(now_ms) then return {'not_active', '0', '0', '', false, ''} end
if st == 'running' and tonumber(lease_until or '0') > tonumber(now_ms) then
  return {'held', '0', '0', '', false, ''}
end
local epoch = tonumber(cur or redis.call('GET', EPOCH) or '0') + 1
attempt = tonumber(attempt or '0') + 1
local deadline = tonumber(now_ms) + tonumber(lease_ms)
redis.call('HSET', RUN, 'status', 'running', 'owner', executor_id, 'epoch', epoch,
  'lease_until', deadline, 'claimed_ms', now_ms, 'updated_at', now, 'attempt', attempt)
if due then redis.call('HDEL', RUN, 'due_ms') end
redis.call('HSET', THREAD, 'status', 'busy', 'owner', executor_id, 'updated_at', now,
  'state_updated_at', now, 'epoch', epoch)
local outcome = 'ok'
if cancel and cancel ~= '' then outcome = 'cancelled'
elseif attempt > tonumber(max_attempts) then outcome = 'exhausted' end
return {outcome, tostring(epoch), tostring(attempt), cancel or '', latest(''), watch or ''}
""",
)

RENEW = Lua(
    "renew",
    keys=("THREAD", "RUN", "EPOCH"),
    args=("epoch", "now_ms", "lease_ms"),
    functions=EPOCH_NOW,
    body=r"""
-- Replies {outcome, cancel}: renewed | lost.
if epoch_now() ~= epoch or redis.call('HGET', RUN, 'status') ~= 'running' then
  return {'lost', ''}
end
local deadline = tonumber(now_ms) + tonumber(lease_ms)
redis.call('HSET', RUN, 'lease_until', deadline, 'watch_ms', deadline)
return {'renewed', redis.call('HGET', RUN, 'cancel') or ''}
""",
)

RELEASE = Lua(
    "release",
    keys=("THREAD", "RUN", "EPOCH"),
    args=("epoch", "now"),
    functions=EPOCH_NOW,
    body=r"""
-- A hand-back: the attempt does not count, the run is free at once.
-- Replies {outcome}: released | not_held.
if epoch_now() ~= epoch or redis.call('HGET', RUN, 'status') ~= 'running' then
  return {'not_held'}
end
redis.call('HSET', RUN, 'status', 'pending', 'lease_until', '0', 'updated_at', now)
redis.call('HINCRBY', RUN, 'attempt', -1)
return {'released'}
""",
)

ALL = (CREATE, CLAIM, RENEW, RELEASE, FINISH, CANCEL, SWEEP)
