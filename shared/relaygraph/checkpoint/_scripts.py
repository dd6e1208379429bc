"""Lua scripts of the Redis checkpointer (plain Redis commands only).

Every script gets the same KEYS, all in the thread's hash slot
(:meth:`relaygraph.keys.Keys.checkpoint_thread_keys`):

    1 ids     zset   ns\\0cid                        (all scores 0, lex order)
    2 cps     hash   ns\\0cid -> 'R' <len>:<refs> <record>: refs is
                     strings(run_id, channel\\0version, ...), the record
                     msgpack (opaque to Lua)
    3 refs    hash   an older layout's refs (its records are bare): read, not written
    4 blobs   hash   ns\\0channel\\0version -> tag\\0bytes
    5 wids    zset   ns\\0cid\\0task_id\\0idx           (lex order)
    6 writes  hash   same fields as wids -> msgpack pending write
    7 runs    zset   (an older layout's index of checkpoints by run; deleted with the thread)
    8 epoch   string an older layout's fencing epoch (read only, by the fence)
    9 thread  hash   the thread's record: its ``epoch`` field is the fencing epoch

``strings(...)`` is a list of ``<byte length>:<bytes>`` items, the only
structured value Lua has to read (no cjson/cmsgpack needed). Namespaces,
checkpoint ids and channel names never hold a NUL byte (the saver checks), so
``prefix\\0`` .. ``prefix\\0\\255`` is exactly one lex range. Scripts touch
only their KEYS: nothing is built from strings, so they run unchanged on Redis
Cluster. The scripts work on Redis >= 6.2 and Valkey.
"""

from __future__ import annotations

from relaygraph.checkpoint._lua import FUNCTIONS

_PRELUDE = r"""
local IDS, CPS, REFS, BLOBS, WIDS, WRITES, RUNS, EPOCH, THREAD =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
"""


# ARGV: ns, checkpoint id ('' = the newest of ns)
GET = r"""
local ns, cid = ARGV[1], ARGV[2]
if cid == '' then return latest(ns) end
return load(ns .. '\0' .. cid, true)
"""

# ARGV: '1' to return records too, then fields ns\0cid
LOAD = r"""
local out = {}
for i = 2, #ARGV do out[#out + 1] = load(ARGV[i], ARGV[1] == '1') end
return out
"""

# ARGV: token, ttl ms, field, stored value (refs and record), blob field/value pairs...
PUT = r"""
local stale = fence(ARGV[1])
if stale then return stale end
local field = ARGV[3]
redis.call('HSET', CPS, field, ARGV[4])
if #ARGV >= 5 then chunked('HSET', BLOBS, ARGV, 5, #ARGV, 2) end
redis.call('ZADD', IDS, 0, field)
touch(ARGV[2])
return {1}
"""

# ARGV: token, ttl ms, then (member, payload, mode) triples; mode 's' overwrites
# (special channels, negative idx), 'n' keeps the first write (regular idx).
PUT_WRITES = r"""
local stale = fence(ARGV[1])
if stale then return stale end
-- One read of the writes kept so far, then one write of each key.
local keep_first = {}
for i = 3, #ARGV, 3 do
  if ARGV[i + 2] ~= 's' then keep_first[#keep_first + 1] = ARGV[i] end
end
local kept = {}
if #keep_first == 1 and #ARGV == 5 then  -- one write: set it if new, in one command
  if redis.call('HSETNX', WRITES, ARGV[3], ARGV[4]) == 1 then
    redis.call('ZADD', WIDS, 0, ARGV[3])
  end
  touch(ARGV[2])
  return {1}
end
if #keep_first > 0 then
  local found = chunked('HMGET', WRITES, keep_first, 1, #keep_first, 1)
  for k = 1, #keep_first do kept[keep_first[k]] = found[k] end
end
local pairs_, members = {}, {}
for i = 3, #ARGV, 3 do
  local m = ARGV[i]
  if ARGV[i + 2] == 's' or not kept[m] then
    pairs_[#pairs_ + 1] = m
    pairs_[#pairs_ + 1] = ARGV[i + 1]
    members[#members + 1] = 0
    members[#members + 1] = m
    kept[m] = true  -- a member twice in one call: its first write stays
  end
end
if #pairs_ > 0 then
  chunked('HSET', WRITES, pairs_, 1, #pairs_, 2)
  chunked('ZADD', WIDS, members, 1, #members, 2)
end
touch(ARGV[2])
return {1}
"""

# ARGV: token, ttl ms, then operations, each (kind, n, n arguments): 'p' a put
# (PUT's ARGV from its third) or 'w' writes (PUT_WRITES's triples), in the
# order they were made. One fence, then each key written once: the same end
# state as the operations one by one (a field put twice keeps the last; a
# write whose first operation keeps the first keeps what Redis held).
BATCH = r"""
local stale = fence(ARGV[1])
if stale then return stale end
apply_batch(3)
touch(ARGV[2])
return {1}
"""

# ARGV: none. Deletes every key of the thread's checkpoints.
DELETE_THREAD = r"""
redis.call('UNLINK', IDS, CPS, REFS, BLOBS, WIDS, WRITES, RUNS)
return 1
"""

# ARGV: run ids. Returns how many checkpoints were dropped.
DELETE_RUNS = r"""
local n, wanted = 0, {}
for i = 1, #ARGV do wanted[ARGV[i]] = true end
for _, fr in ipairs(all_refs()) do
  if wanted[run_of(fr[2])] then
    drop(fr[1])
    n = n + 1
  end
end
if n > 0 then gc() end
return n
"""

# ARGV: how many checkpoints to keep per namespace (>= 1).
PRUNE = r"""
local keep, dropped = tonumber(ARGV[1]), 0
local group_ns, group = nil, {}
local function flush()
  for k = 1, #group - keep do
    drop(group[k])
    dropped = dropped + 1
  end
end
for _, f in ipairs(redis.call('ZRANGE', IDS, 0, -1)) do
  local ns = ns_of(f)
  if ns ~= group_ns then
    flush()
    group_ns, group = ns, {}
  end
  group[#group + 1] = f
end
flush()
if dropped > 0 then gc() end
return dropped
"""

SNAPSHOT = r"""
return {
  redis.call('ZRANGE', IDS, 0, -1), redis.call('HGETALL', CPS), redis.call('HGETALL', REFS),
  redis.call('HGETALL', BLOBS), redis.call('ZRANGE', WIDS, 0, -1),
  redis.call('HGETALL', WRITES), {}
}
"""

# ARGV: ttl ms, then for KEYS[1..7] in order: item count, items (zset members
# or hash field/value pairs). Merges into what the keys already hold.
MERGE = r"""
local pos, zset = 2, {true, false, false, false, true, false, true}
for k = 1, 7 do
  local first, last = pos + 1, pos + tonumber(ARGV[pos])
  pos = last + 1
  if last >= first then
    if zset[k] then
      local items = {}
      for i = first, last do
        items[#items + 1] = '0'
        items[#items + 1] = ARGV[i]
      end
      chunked('ZADD', KEYS[k], items, 1, #items, 2)
    else
      chunked('HSET', KEYS[k], ARGV, first, last, 2)
    end
  end
end
touch(ARGV[1])
return 1
"""

SCRIPTS: dict[str, str] = {
    name: _PRELUDE + FUNCTIONS + body
    for name, body in {
        "get": GET,
        "load": LOAD,
        "put": PUT,
        "put_writes": PUT_WRITES,
        "batch": BATCH,
        "delete_thread": DELETE_THREAD,
        "delete_runs": DELETE_RUNS,
        "prune": PRUNE,
        "snapshot": SNAPSHOT,
        "merge": MERGE,
    }.items()
}
