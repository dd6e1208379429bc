"""The transitions of a run, one Lua script each, on one thread's keys.

Keys (all carry the hash tag ``{<thread_id>}``, see ``relaygraph.subjects.Keys``):

    THREAD   hash   the thread: status, rest_status, active_run, active_since,
                    owner, values, interrupts, pause_checkpoint, last_resume ...
    QUEUE    list   run ids waiting for the active run to end
    QUEUED   hash   run id -> request of each queued run (what ``hand_on`` sends)
    RUNS     zset   the thread's run ids, scored by creation time
    RUN      hash   one run: run (JSON), request, status, attempt, epoch, owner,
                    lease_until, claimed_ms, cancel, result, outbox ...
    RESUMES  hash   interrupt id (and ``cp:<checkpoint_id>``) -> the run that answered it
    EPOCH    string the thread's fencing epoch

Each script returns a list whose first item is its outcome (one of the enums
in ``relaygraph.runs.outcomes``) and whose other items are documented at the
script. The lease index (``Keys.leases``, one key outside the threads' slots)
is kept by separate commands in the same round trip (``lifecycle``).
"""

from __future__ import annotations

from relaygraph.lua import Lua

# release_resumes: a run that did not apply its resume (cancelled, or its graph
# did not load) leaves the interrupts it answered answerable again.
# hand_on: the thread goes to its next queued run (made active, its request
# returned for dispatch, or its due time if it is a delayed run not yet due),
# or is left with no active run. A queued run of an
# older layout has no QUEUED entry: its id comes back with an empty request and
# the caller reads the request from the run itself.
_END = r"""
-- keep_for: a run that ended keeps its record (and result) this many seconds
-- (0: as long as its thread); its id leaves the thread's list when it is read.
local function keep_for(record_ttl)
  if tonumber(record_ttl) > 0 then redis.call('EXPIRE', RUN, record_ttl) end
end

local function release_resumes(run_id)
  local resumed = redis.call('HGETALL', RESUMES)
  for i = 1, #resumed, 2 do
    if resumed[i + 1] == run_id then redis.call('HDEL', RESUMES, resumed[i]) end
  end
  if redis.call('HGET', THREAD, 'last_resume') == run_id then
    redis.call('HDEL', THREAD, 'last_resume')
  end
end
-- ``row``: the thread's fields the caller writes (field, value, ...), with
-- ``status`` the status the thread ends the run with; written here, once,
-- with the hand-on's own. No active run is an empty ``active_run``.
local function hand_on(now_ms, row, status)
  local nxt = redis.call('LPOP', QUEUE)
  if not nxt then
    row[#row + 1] = 'active_run'; row[#row + 1] = ''
    row[#row + 1] = 'active_since'; row[#row + 1] = ''
    redis.call('HSET', THREAD, unpack(row))
    return {'recorded', '', '', ''}
  end
  local request, due = unpack(redis.call('HMGET', QUEUED, nxt, 'due:' .. nxt))
  request, due = request or '', due or ''
  redis.call('HDEL', QUEUED, nxt, 'due:' .. nxt)
  for _, kv in ipairs({{'rest_status', status}, {'active_run', nxt},
      {'active_since', now_ms}, {'status', 'busy'}}) do
    row[#row + 1] = kv[1]; row[#row + 1] = kv[2]
  end
  redis.call('HSET', THREAD, unpack(row))
  if due ~= '' and tonumber(due) > tonumber(now_ms) then
    -- A delayed run: the thread waits for it; the sweeper sends it when due.
    return {'handed_on', '', nxt, due}
  end
  return {'handed_on', request, nxt, ''}
end
"""

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
        "resume_mode",
        "resume_checkpoint",
        "due_ms",
    ),
    body=r"""
-- due_ms: a delayed run's due time ('' for a run to send now). It is the
-- thread's active run or queued like any other, but not sent before then.
-- Replies {decision, detail, owner}: dispatch | delayed (active, sent by the
-- sweeper when due) | queued (detail: the active run), duplicate (detail: the
-- run that already answered, or this run id if it exists), or a refusal:
-- not_found, not_interrupted (detail: status), busy (detail: active run),
-- other_pause (detail: the pause's checkpoint), unnamed, unknown_ids (detail,
-- owner: unknown and pending ids as JSON), many_pending (detail: pending ids).
local mode = resume_mode
if redis.call('EXISTS', RUN) == 1 then return {'duplicate', run_id, ''} end
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
  row = {thread_id, 'idle', false, false, false, false, '{}'}  -- a new thread runs at once
end
local ids = cjson.decode(resume_ids)
local asked = {}
for i, id in ipairs(ids) do asked[i] = id end
if mode == 'checkpoint' then asked[#asked + 1] = 'cp:' .. resume_checkpoint end
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
  'attempt', '0', 'lease_until', lease_until}
if due_ms ~= '' then run[#run + 1] = 'due_ms'; run[#run + 1] = due_ms end
redis.call('HSET', RUN, unpack(run))
redis.call('ZADD', RUNS, score, run_id)
set('graph_id', graph_id); set('assistant_id', assistant_id)
local answered = {}
for _, id in ipairs(ids) do answered[#answered + 1] = id; answered[#answered + 1] = run_id end
if mode ~= '' then
  set('last_resume', run_id)
  if pause ~= '' then answered[#answered + 1] = 'cp:' .. pause; answered[#answered + 1] = run_id end
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
    keys=("THREAD", "RUN", "EPOCH"),
    args=("run_id", "executor_id", "now", "now_ms", "lease_ms", "max_attempts"),
    body=r"""
-- Replies {outcome, epoch, attempt, cancel}: ok | cancelled (a cancel came
-- first: record it, run nothing) | exhausted (too many attempts) | held
-- (another live attempt) | done (status in detail) | gone | not_active (not
-- the thread's active run, or a delayed run not yet sent).
local st, due, lease_until, attempt, cancel = unpack(
  redis.call('HMGET', RUN, 'status', 'due_ms', 'lease_until', 'attempt', 'cancel'))
if not st then return {'gone', '0', '0', ''} end
if st ~= 'pending' and st ~= 'running' then return {'done', '0', '0', st} end
if redis.call('HGET', THREAD, 'active_run') ~= run_id then return {'not_active', '0', '0', ''} end
if tonumber(due or '0') > tonumber(now_ms) then return {'not_active', '0', '0', ''} end
if st == 'running' and tonumber(lease_until or '0') > tonumber(now_ms) then
  return {'held', '0', '0', ''}
end
local epoch = redis.call('INCR', EPOCH)
attempt = tonumber(attempt or '0') + 1
local deadline = tonumber(now_ms) + tonumber(lease_ms)
redis.call('HSET', RUN, 'status', 'running', 'owner', executor_id, 'epoch', epoch,
  'lease_until', deadline, 'claimed_ms', now_ms, 'updated_at', now, 'attempt', attempt)
if due then redis.call('HDEL', RUN, 'due_ms') end
redis.call('HSET', THREAD, 'status', 'busy', 'owner', executor_id, 'updated_at', now,
  'state_updated_at', now)
local outcome = 'ok'
if cancel and cancel ~= '' then outcome = 'cancelled'
elseif attempt > tonumber(max_attempts) then outcome = 'exhausted' end
return {outcome, tostring(epoch), tostring(attempt), cancel or ''}
""",
)

RENEW = Lua(
    "renew",
    keys=("RUN", "EPOCH"),
    args=("epoch", "now_ms", "lease_ms"),
    body=r"""
-- Replies {outcome, cancel}: renewed | lost.
if redis.call('GET', EPOCH) ~= epoch or redis.call('HGET', RUN, 'status') ~= 'running' then
  return {'lost', ''}
end
redis.call('HSET', RUN, 'lease_until', tonumber(now_ms) + tonumber(lease_ms))
return {'renewed', redis.call('HGET', RUN, 'cancel') or ''}
""",
)

RELEASE = Lua(
    "release",
    keys=("RUN", "EPOCH"),
    args=("epoch", "now"),
    body=r"""
-- A hand-back: the attempt does not count, the run is free at once.
-- Replies {outcome}: released | not_held.
if redis.call('GET', EPOCH) ~= epoch or redis.call('HGET', RUN, 'status') ~= 'running' then
  return {'not_held'}
end
redis.call('HSET', RUN, 'status', 'pending', 'lease_until', '0', 'updated_at', now)
redis.call('HINCRBY', RUN, 'attempt', -1)
return {'released'}
""",
)

FINISH = Lua(
    "finish",
    keys=("THREAD", "RUN", "QUEUE", "QUEUED", "EPOCH", "RESUMES"),
    args=(
        "run_id",
        "epoch",
        "run_status",
        "thread_status",
        "values",
        "interrupts",
        "result",
        "now",
        "now_ms",
        "outbox",
        "pause_checkpoint",
        "record_ttl",
    ),
    functions=_END,
    body=r"""
-- thread_status '': the thread goes back to the status it had before the run
-- (the run changed nothing); values / interrupts '': left as they are.
-- outbox: the interrupt event to publish (kept until it is published, so the
-- sweeper publishes it if this executor dies first).
-- Replies {outcome, next_request, next_run_id, next_due_ms}: recorded |
-- handed_on | stale.
if redis.call('GET', EPOCH) ~= epoch then return {'stale', '', '', ''} end
if outbox ~= '' then
  redis.call('HSET', RUN, 'status', run_status, 'result', result, 'updated_at', now,
    'outbox', outbox)
else
  redis.call('HSET', RUN, 'status', run_status, 'result', result, 'updated_at', now)
end
keep_for(record_ttl)
local rest_status, active = unpack(redis.call('HMGET', THREAD, 'rest_status', 'active_run'))
local status = thread_status
if status == '' then status = rest_status or 'idle' end
local row = {'status', status, 'updated_at', now, 'state_updated_at', now}
if thread_status == 'interrupted' then
  row[#row + 1] = 'pause_checkpoint'; row[#row + 1] = pause_checkpoint
end
if interrupts ~= '' then row[#row + 1] = 'interrupts'; row[#row + 1] = interrupts end
if values ~= '' then row[#row + 1] = 'values'; row[#row + 1] = values end
if run_status == 'interrupted' or thread_status == '' then release_resumes(run_id) end
if active ~= run_id then
  redis.call('HSET', THREAD, unpack(row))
  return {'recorded', '', '', ''}
end
return hand_on(now_ms, row, status)
""",
)

CANCEL = Lua(
    "cancel",
    keys=("THREAD", "RUN", "QUEUE", "QUEUED", "RESUMES"),
    args=("run_id", "now", "now_ms", "action", "record_ttl"),
    functions=_END,
    body=r"""
-- Replies {outcome, next_request, next_run_id, next_due_ms}: dequeued (was
-- queued behind another run) | cancelled (dispatched but never claimed, or
-- delayed: ended here, the thread handed on) | flagged (its executor stops
-- it) | done | gone.
local st = redis.call('HGET', RUN, 'status')
if not st then return {'gone', '', '', ''} end
if st ~= 'pending' and st ~= 'running' then return {'done', '', '', ''} end
if st == 'pending' and redis.call('LREM', QUEUE, 0, run_id) > 0 then
  redis.call('HDEL', QUEUED, run_id, 'due:' .. run_id)
  redis.call('HSET', RUN, 'status', 'interrupted', 'updated_at', now)
  keep_for(record_ttl)
  release_resumes(run_id)
  return {'dequeued', '', '', ''}
end
if st == 'pending' and redis.call('HEXISTS', RUN, 'claimed_ms') == 0
    and redis.call('HGET', THREAD, 'active_run') == run_id then
  -- No executor ever claimed it (none may be running): nothing ran, so it
  -- ends now, and a later claim finds it ended.
  redis.call('HSET', RUN, 'status', 'interrupted', 'updated_at', now)
  keep_for(record_ttl)
  local status = redis.call('HGET', THREAD, 'rest_status') or 'idle'
  release_resumes(run_id)
  local handed = hand_on(now_ms, {'status', status, 'updated_at', now, 'state_updated_at', now},
    status)
  return {'cancelled', handed[2], handed[3], handed[4]}
end
-- Claimed, or running: whoever claims or renews it next sees the flag.
redis.call('HSET', RUN, 'cancel', action)
return {'flagged', '', '', ''}
""",
)

SWEEP = Lua(
    "sweep",
    keys=("THREAD", "RUN", "QUEUE"),
    args=("run_id", "now_ms", "grace_ms"),
    body=r"""
-- One watched run whose deadline passed. Replies {outcome, request, until}:
-- drop (nothing to watch) | later (watch again until ``until``) | redispatch
-- (send ``request`` again) | due (a delayed run's time came: send ``request``)
-- | publish (ended, its interrupt event ``request``
-- never published).
local now, grace = tonumber(now_ms), tonumber(grace_ms)
local st = redis.call('HGET', RUN, 'status')
if not st then return {'drop', '', '0'} end
if st ~= 'pending' and st ~= 'running' then
  local outbox = redis.call('HGET', RUN, 'outbox')
  if outbox then return {'publish', outbox, tostring(now + grace)} end
  return {'drop', '', '0'}
end
if redis.call('HGET', THREAD, 'active_run') ~= run_id then
  -- Queued behind the active run: watched until its turn comes, so the
  -- executor that hands the thread on needs no watch of its own.
  if st == 'pending' and redis.call('LPOS', QUEUE, run_id) then
    return {'later', '', tostring(now + grace)}
  end
  return {'drop', '', '0'}
end
local due = redis.call('HGET', RUN, 'due_ms')
if due and st == 'pending' then
  -- The thread's delayed run: sent once it is due, then watched as any other.
  if tonumber(due) > now then return {'later', '', due} end
  redis.call('HDEL', RUN, 'due_ms')
  redis.call('HSET', RUN, 'lease_until', now + grace)
  return {'due', redis.call('HGET', RUN, 'request'), tostring(now + grace)}
end
local lu = tonumber(redis.call('HGET', RUN, 'lease_until') or '0')
if st == 'pending' then
  -- A run handed on (or dispatched) gets the grace from when it became active.
  local since = tonumber(redis.call('HGET', THREAD, 'active_since') or '0')
  lu = math.max(lu, since + grace)
end
if lu > now then return {'later', '', tostring(lu)} end
-- Free for the next claim (a lost attempt's renewals now fail), and give that
-- claim the grace before the run is swept again.
redis.call('HSET', RUN, 'status', 'pending', 'lease_until', now + grace)
return {'redispatch', redis.call('HGET', RUN, 'request'), tostring(now + grace)}
""",
)

ALL = (CREATE, CLAIM, RENEW, RELEASE, FINISH, CANCEL, SWEEP)
