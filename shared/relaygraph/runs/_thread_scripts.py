"""The transitions of a thread's run-side state that happen outside a run: a
state written by ``update_state``, and a thread forgotten with its runs
(deleted by a user, or expired by the sweeper). Keys as in ``_scripts``.
"""

from __future__ import annotations

from relaygraph.lua import Lua

FRESH_THREAD_FIELDS = {"queued": "0", "epoch": "0"}
"""The run-side fields of a thread record made outside a run (created or
copied): an empty queue, no attempt fenced yet."""

SET_STATE = Lua(
    "set_state",
    keys=("THREAD",),
    args=("values", "status", "interrupts", "pause_checkpoint", "now"),
    body=r"""
-- The thread's state after ``update_state``: values, and (when ``status`` is
-- given) the status and interrupts the new checkpoint has. A run that took the
-- thread meanwhile owns its status: it is left alone (its end writes it).
-- Replies {outcome}: set | busy | gone.
if redis.call('EXISTS', THREAD) == 0 then return {'gone'} end
local active = redis.call('HGET', THREAD, 'active_run')
if active and active ~= '' then return {'busy'} end
local row = {'values', values, 'updated_at', now, 'state_updated_at', now}
if status ~= '' then
  row[#row + 1] = 'status'; row[#row + 1] = status
  row[#row + 1] = 'interrupts'; row[#row + 1] = interrupts
  if status == 'interrupted' then
    row[#row + 1] = 'pause_checkpoint'; row[#row + 1] = pause_checkpoint
  end
end
redis.call('HSET', THREAD, unpack(row))
return {'set'}
""",
)

FORGET = Lua(
    "forget",
    keys=("THREAD", "QUEUE", "QUEUED", "RUNS", "RESUMES", "EPOCH"),
    args=("seen_updated_at", "run_count", "keep_for"),
    more_keys=True,
    body=r"""
-- Delete the thread's record, queue and resumes, and the records of its runs
-- (the keys after the named ones, as the caller read RUNS: ``run_count`` of
-- them, the first kept ``keep_for`` seconds more when that is given).
-- ``seen_updated_at`` (the sweeper's expiry): only if the thread is not busy
-- and nothing happened since it was read.
-- Replies {outcome}: forgotten | gone | busy | changed | raced (RUNS changed
-- since the caller read it: read again).
local status, updated = unpack(redis.call('HMGET', THREAD, 'status', 'updated_at'))
if not status and redis.call('EXISTS', THREAD) == 0 then return {'gone'} end
if seen_updated_at ~= '' then
  if status == 'busy' then return {'busy'} end
  if updated ~= seen_updated_at then return {'changed'} end
end
if redis.call('ZCARD', RUNS) ~= tonumber(run_count) then return {'raced'} end
local first = NKEYS + 1
if keep_for ~= '' and #KEYS >= first then
  redis.call('EXPIRE', KEYS[first], keep_for)
  first = first + 1
end
for i = first, #KEYS do redis.call('DEL', KEYS[i]) end
redis.call('DEL', THREAD, QUEUE, QUEUED, RUNS, RESUMES, EPOCH)
return {'forgotten'}
""",
)

ALL = (SET_STATE, FORGET)
