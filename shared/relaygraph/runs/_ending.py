"""The transitions that end a run or look after it: finish, cancel and the
sweep, one Lua script each on one thread's keys (the keys are described in
``relaygraph.runs._scripts``). Finish and cancel share ``_END``: keeping an
ended run's record, releasing the interrupts it answered, and handing the
thread to its next queued run."""

from __future__ import annotations

from relaygraph.checkpoint._lua import FUNCTIONS as CHECKPOINT_FUNCTIONS
from relaygraph.lua import Lua

CHECKPOINT_KEYS = ("IDS", "CPS", "REFS", "BLOBS", "WIDS", "WRITES")
"""The thread's checkpoint keys, by the names the checkpointer's Lua uses."""

EPOCH_NOW = r"""
-- The thread's fencing epoch: its record's field (an older layout's own key, else).
local function epoch_now()
  return redis.call('HGET', THREAD, 'epoch') or redis.call('GET', EPOCH)
end
"""

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
-- ``queued``: the thread's field; '0' says the queue is empty (no need to look).
local function hand_on(now_ms, row, status, queued)
  local nxt = false
  if queued ~= '0' then nxt = redis.call('LPOP', QUEUE) end
  if not nxt then
    row[#row + 1] = 'active_run'; row[#row + 1] = ''
    row[#row + 1] = 'active_since'; row[#row + 1] = ''
    row[#row + 1] = 'queued'; row[#row + 1] = '0'
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

FINISH = Lua(
    "finish",
    keys=("THREAD", "RUN", "QUEUE", "QUEUED", "EPOCH", "RESUMES", *CHECKPOINT_KEYS),
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
        "checkpoint_ttl",
    ),
    functions=CHECKPOINT_FUNCTIONS + _END,
    variadic=True,
    body=r"""
-- thread_status '': the thread goes back to the status it had before the run
-- (the run changed nothing); values / interrupts '': left as they are.
-- outbox: the interrupt event to publish, kept on the thread (with the run's
-- id, in outbox_run) until the next one replaces it: while the run is watched
-- the sweeper publishes it, if this executor dies before it does.
-- The ARGV after the named ones: the attempt's last checkpoint writes (the
-- checkpointer's ``batch`` operations), written first, under the same fence.
-- Replies {outcome, next_request, next_run_id, next_due_ms}: recorded |
-- handed_on | stale.
local rest_status, active, queued, cur =
  unpack(redis.call('HMGET', THREAD, 'rest_status', 'active_run', 'queued', 'epoch'))
if (cur or redis.call('GET', EPOCH)) ~= epoch then return {'stale', '', '', ''} end
if #ARGV > NARGS then
  apply_batch(NARGS + 1)
  touch(checkpoint_ttl)
end
redis.call('HSET', RUN, 'status', run_status, 'result', result, 'updated_at', now)
keep_for(record_ttl)
local status = thread_status
if status == '' then status = rest_status or 'idle' end
local row = {'status', status, 'updated_at', now, 'state_updated_at', now}
if outbox ~= '' then
  row[#row + 1] = 'outbox'; row[#row + 1] = outbox
  row[#row + 1] = 'outbox_run'; row[#row + 1] = run_id
end
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
return hand_on(now_ms, row, status, queued)
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
  local status, queued = unpack(redis.call('HMGET', THREAD, 'rest_status', 'queued'))
  status = status or 'idle'
  release_resumes(run_id)
  local handed = hand_on(now_ms, {'status', status, 'updated_at', now, 'state_updated_at', now},
    status, queued)
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
  local outbox = redis.call('HGET', RUN, 'outbox')  -- where an older layout kept it
  if not outbox then
    local event, of_run = unpack(redis.call('HMGET', THREAD, 'outbox', 'outbox_run'))
    if of_run == run_id then outbox = event end
  end
  if outbox then return {'publish', outbox, tostring(now + grace)} end
  return {'drop', '', '0'}
end
if redis.call('HGET', THREAD, 'active_run') ~= run_id then
  -- Queued behind the active run: watched until its turn comes, so the
  -- executor that hands the thread on needs no watch of its own.
  if st == 'pending' and redis.call('LPOS', QUEUE, run_id) then
    redis.call('HSET', RUN, 'watch_ms', now + grace)
    return {'later', '', tostring(now + grace)}
  end
  return {'drop', '', '0'}
end
local due = redis.call('HGET', RUN, 'due_ms')
if due and st == 'pending' then
  -- The thread's delayed run: sent once it is due, then watched as any other.
  if tonumber(due) > now then
    redis.call('HSET', RUN, 'watch_ms', due)
    return {'later', '', due}
  end
  redis.call('HDEL', RUN, 'due_ms')
  redis.call('HSET', RUN, 'lease_until', now + grace, 'watch_ms', now + grace)
  return {'due', redis.call('HGET', RUN, 'request'), tostring(now + grace)}
end
local lu = tonumber(redis.call('HGET', RUN, 'lease_until') or '0')
if st == 'pending' then
  -- A run handed on (or dispatched) gets the grace from when it became active.
  local since = tonumber(redis.call('HGET', THREAD, 'active_since') or '0')
  lu = math.max(lu, since + grace)
end
if lu > now then
  redis.call('HSET', RUN, 'watch_ms', lu)
  return {'later', '', tostring(lu)}
end
-- Free for the next claim (a lost attempt's renewals now fail), and give that
-- claim the grace before the run is swept again.
redis.call('HSET', RUN, 'status', 'pending', 'lease_until', now + grace, 'watch_ms', now + grace)
return {'redispatch', redis.call('HGET', RUN, 'request'), tostring(now + grace)}
""",
)
