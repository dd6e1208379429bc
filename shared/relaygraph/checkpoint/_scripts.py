"""Lua scripts of the Redis checkpointer (plain Redis commands only).

Every script gets the same KEYS, all in the thread's hash slot
(:meth:`relaygraph.keys.Keys.checkpoint_thread_keys`):

    1 ids     zset   ns\\0cid                        (all scores 0, lex order)
    2 cps     hash   ns\\0cid -> record               (msgpack, opaque to Lua)
    3 refs    hash   ns\\0cid -> strings(run_id, channel\\0version, ...)
    4 blobs   hash   ns\\0channel\\0version -> tag\\0bytes
    5 wids    zset   ns\\0cid\\0task_id\\0idx           (lex order)
    6 writes  hash   same fields as wids -> msgpack pending write
    7 runs    zset   (an older layout's index of checkpoints by run; deleted with the thread)
    8 epoch   string the thread's fencing epoch (read only, by the fence)

``strings(...)`` is a list of ``<byte length>:<bytes>`` items, the only
structured value Lua has to read (no cjson/cmsgpack needed). Namespaces,
checkpoint ids and channel names never hold a NUL byte (the saver checks), so
``prefix\\0`` .. ``prefix\\0\\255`` is exactly one lex range. Scripts touch
only their KEYS: nothing is built from strings, so they run unchanged on Redis
Cluster. The scripts work on Redis >= 6.2 and Valkey.
"""

from __future__ import annotations

_PRELUDE = r"""
local IDS, CPS, REFS, BLOBS, WIDS, WRITES, RUNS, EPOCH =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local CHUNK = 512

local function strings(s)
  local out, pos, n = {}, 1, #s
  while pos <= n do
    local c = string.find(s, ':', pos, true)
    local len = tonumber(string.sub(s, pos, c - 1))
    out[#out + 1] = string.sub(s, c + 1, c + len)
    pos = c + len + 1
  end
  return out
end

-- redis.call(cmd, key, items[first..last]) in chunks of `width`-aligned
-- groups (Lua's unpack has a stack limit); concatenates table replies.
local function chunked(cmd, key, items, first, last, width)
  local out, size, i = {}, CHUNK * width, first
  while i <= last do
    local j = math.min(i + size - 1, last)
    local r = redis.call(cmd, key, unpack(items, i, j))
    if type(r) == 'table' then
      for k = 1, #r do out[#out + 1] = r[k] end
    end
    i = j + 1
  end
  return out
end

local function ns_of(field)
  return string.match(field, '^(.*)%z')
end

local function range(key, prefix)
  return redis.call('ZRANGEBYLEX', key, '[' .. prefix .. '\0', '(' .. prefix .. '\0\255')
end

local function fence(token)
  if token == '' then return nil end
  local cur = redis.call('GET', EPOCH)
  if cur ~= token then return {0, cur or ''} end
  return nil
end

local function touch(ttl)
  local ms = tonumber(ttl)
  if ms and ms > 0 then
    for i = 1, 6 do redis.call('PEXPIRE', KEYS[i], ms) end  -- not the 7th (unused)
  end
end

local function load(field, with_record)
  local rec = false
  if with_record then
    rec = redis.call('HGET', CPS, field)
    if not rec then return false end
  end
  local blobs = {}
  local refs = redis.call('HGET', REFS, field)
  if refs then
    refs = strings(refs)
    local ns, fields = ns_of(field), {}
    for i = 2, #refs do fields[#fields + 1] = ns .. '\0' .. refs[i] end
    if #fields > 0 then
      local vals = chunked('HMGET', BLOBS, fields, 1, #fields, 1)
      for i = 1, #fields do
        blobs[#blobs + 1] = refs[i + 1]
        blobs[#blobs + 1] = vals[i]
      end
    end
  end
  local writes = {}
  local wids = range(WIDS, field)
  if #wids > 0 then writes = chunked('HMGET', WRITES, wids, 1, #wids, 1) end
  return {field, rec, blobs, writes}
end

-- The run that wrote each checkpoint is the first item of its refs, so the
-- checkpoints of a run are found by reading the refs (maintenance only).
local function run_of(refs)
  return strings(refs)[1] or ''
end

local function drop(field)
  redis.call('HDEL', CPS, field)
  redis.call('HDEL', REFS, field)
  redis.call('ZREM', IDS, field)
  local wids = range(WIDS, field)
  if #wids > 0 then
    chunked('ZREM', WIDS, wids, 1, #wids, 1)
    chunked('HDEL', WRITES, wids, 1, #wids, 1)
  end
end

-- Drop the blobs no checkpoint refers to any more (drop() already took the
-- dropped checkpoints' writes). O(size of the thread): maintenance only.
local function gc()
  local live, all = {}, redis.call('HGETALL', REFS)
  for i = 1, #all, 2 do
    local ns, refs = ns_of(all[i]), strings(all[i + 1])
    for j = 2, #refs do live[ns .. '\0' .. refs[j]] = true end
  end
  local dead = {}
  for _, f in ipairs(redis.call('HKEYS', BLOBS)) do
    if not live[f] then dead[#dead + 1] = f end
  end
  if #dead > 0 then chunked('HDEL', BLOBS, dead, 1, #dead, 1) end
end
"""

# ARGV: ns, checkpoint id ('' = the newest of ns)
GET = r"""
local ns, cid = ARGV[1], ARGV[2]
local field
if cid == '' then
  local m = redis.call('ZREVRANGEBYLEX', IDS, '(' .. ns .. '\0\255', '[' .. ns .. '\0', 'LIMIT', 0, 1)
  if #m == 0 then return false end
  field = m[1]
else
  field = ns .. '\0' .. cid
end
return load(field, true)
"""

# ARGV: '1' to return records too, then fields ns\0cid
LOAD = r"""
local out = {}
for i = 2, #ARGV do out[#out + 1] = load(ARGV[i], ARGV[1] == '1') end
return out
"""

# ARGV: token, ttl ms, field, record, refs, blob field/value pairs...
PUT = r"""
local stale = fence(ARGV[1])
if stale then return stale end
local field = ARGV[3]
redis.call('HSET', CPS, field, ARGV[4])
if #ARGV >= 6 then chunked('HSET', BLOBS, ARGV, 6, #ARGV, 2) end
redis.call('HSET', REFS, field, ARGV[5])
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
local fields, recs, refs, blobs = {}, {}, {}, {}
local members, firstv, lasts = {}, {}, {}
local i = 3
while i <= #ARGV do
  local kind, a = ARGV[i], i + 2
  local b = a + tonumber(ARGV[i + 1]) - 1
  if kind == 'p' then
    local f = ARGV[a]
    if not recs[f] then fields[#fields + 1] = f end
    recs[f], refs[f] = ARGV[a + 1], ARGV[a + 2]
    for j = a + 3, b, 2 do blobs[#blobs + 1] = ARGV[j]; blobs[#blobs + 1] = ARGV[j + 1] end
  else
    for j = a, b, 3 do
      local m, v = ARGV[j], ARGV[j + 1]
      if firstv[m] == nil then
        members[#members + 1] = m
        firstv[m] = v
      end
      if ARGV[j + 2] == 's' then lasts[m] = v end
    end
  end
  i = b + 1
end
if #fields > 0 then
  local rows, ref_rows, id_rows = {}, {}, {}
  for _, f in ipairs(fields) do
    rows[#rows + 1] = f; rows[#rows + 1] = recs[f]
    ref_rows[#ref_rows + 1] = f; ref_rows[#ref_rows + 1] = refs[f]
    id_rows[#id_rows + 1] = 0; id_rows[#id_rows + 1] = f
  end
  chunked('HSET', CPS, rows, 1, #rows, 2)
  if #blobs > 0 then chunked('HSET', BLOBS, blobs, 1, #blobs, 2) end
  chunked('HSET', REFS, ref_rows, 1, #ref_rows, 2)
  chunked('ZADD', IDS, id_rows, 1, #id_rows, 2)
end
if #members > 0 then
  -- A member no operation overwrites keeps what Redis holds: one read for all.
  local keep, held = {}, {}
  for _, m in ipairs(members) do
    if lasts[m] == nil then keep[#keep + 1] = m end
  end
  if #keep > 0 then
    local found = chunked('HMGET', WRITES, keep, 1, #keep, 1)
    for k = 1, #keep do held[keep[k]] = found[k] end
  end
  local rows, id_rows = {}, {}
  for _, m in ipairs(members) do
    local v = lasts[m]
    if v == nil and not held[m] then v = firstv[m] end
    if v ~= nil then
      rows[#rows + 1] = m; rows[#rows + 1] = v
      id_rows[#id_rows + 1] = 0; id_rows[#id_rows + 1] = m
    end
  end
  if #rows > 0 then
    chunked('HSET', WRITES, rows, 1, #rows, 2)
    chunked('ZADD', WIDS, id_rows, 1, #id_rows, 2)
  end
end
touch(ARGV[2])
return {1}
"""

# ARGV: none. Returns the run ids the thread held.
DELETE_THREAD = r"""
local runs, seen = {}, {}
for _, refs in ipairs(redis.call('HVALS', REFS)) do
  local r = run_of(refs)
  if not seen[r] then
    seen[r] = true
    runs[#runs + 1] = r
  end
end
redis.call('UNLINK', IDS, CPS, REFS, BLOBS, WIDS, WRITES, RUNS)
return runs
"""

# ARGV: run ids. Returns how many checkpoints were dropped.
DELETE_RUNS = r"""
local n, wanted, all = 0, {}, redis.call('HGETALL', REFS)
for i = 1, #ARGV do wanted[ARGV[i]] = true end
for i = 1, #all, 2 do
  if wanted[run_of(all[i + 1])] then
    drop(all[i])
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
    name: _PRELUDE + body
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
