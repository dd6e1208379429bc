"""The Lua functions the checkpointer's scripts share (``_scripts``), and the
run scripts that touch checkpoints too (``relaygraph.runs``): they expect
locals ``IDS, CPS, REFS, BLOBS, WIDS, WRITES, EPOCH, THREAD`` naming the
thread's keys, declared by whoever includes them."""

from __future__ import annotations

FUNCTIONS = r"""
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

-- The thread's epoch: its record's field (an older layout's own key, else).
local function epoch_now()
  return redis.call('HGET', THREAD, 'epoch') or redis.call('GET', EPOCH)
end

local function fence(token)
  if token == '' then return nil end
  local cur = epoch_now()
  if cur ~= token then return {0, cur or ''} end
  return nil
end

local function touch(ttl)
  local ms = tonumber(ttl)
  if ms and ms > 0 then
    for _, key in ipairs({IDS, CPS, REFS, BLOBS, WIDS, WRITES}) do
      redis.call('PEXPIRE', key, ms)
    end
  end
end

-- A checkpoint's stored value: 'R' <len>:<refs> <record> (its refs, then the
-- record), or an older layout's bare record (refs in REFS). Its refs as a
-- string, or nil for the older layout.
local function refs_in(value)
  if string.byte(value, 1) ~= 82 then return nil end  -- 'R'
  local c = string.find(value, ':', 2, true)
  return string.sub(value, c + 1, c + tonumber(string.sub(value, 2, c - 1)))
end

local function refs_of(field, value)
  return refs_in(value) or redis.call('HGET', REFS, field)
end

local function load(field, with_record)
  local value = redis.call('HGET', CPS, field)
  if not value then return false end
  local rec = false
  if with_record then rec = value end
  local blobs = {}
  local refs = refs_of(field, value)
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

-- Each checkpoint's (field, refs string), both layouts. O(size of the
-- thread): maintenance only.
local function all_refs()
  local out, all = {}, redis.call('HGETALL', CPS)
  for i = 1, #all, 2 do
    local refs = refs_in(all[i + 1])
    if refs then out[#out + 1] = {all[i], refs} end
  end
  all = redis.call('HGETALL', REFS)
  for i = 1, #all, 2 do out[#out + 1] = {all[i], all[i + 1]} end
  return out
end

-- Drop the blobs no checkpoint refers to any more (drop() already took the
-- dropped checkpoints' writes).
local function gc()
  local live = {}
  for _, fr in ipairs(all_refs()) do
    local ns, refs = ns_of(fr[1]), strings(fr[2])
    for j = 2, #refs do live[ns .. '\0' .. refs[j]] = true end
  end
  local dead = {}
  for _, f in ipairs(redis.call('HKEYS', BLOBS)) do
    if not live[f] then dead[#dead + 1] = f end
  end
  if #dead > 0 then chunked('HDEL', BLOBS, dead, 1, #dead, 1) end
end

-- The newest checkpoint of namespace ns as ``load`` returns it, or false.
local function latest(ns)
  local m = redis.call('ZREVRANGEBYLEX', IDS, '(' .. ns .. '\0\255', '[' .. ns .. '\0', 'LIMIT', 0, 1)
  if #m == 0 then return false end
  return load(m[1], true)
end

-- Puts and writes (``batch``'s operations, from ARGV[first]) applied as one
-- by one, each key written once. A write's mode: 's' overwrites, 'n' keeps
-- what is there, 'f' too but its writer knows nothing is (no read).
local function apply_batch(first)
  local fields, recs, blobs = {}, {}, {}
  local members, firstv, firstmode, lasts = {}, {}, {}, {}
  local i = first
  while i <= #ARGV do
    local kind, a = ARGV[i], i + 2
    local b = a + tonumber(ARGV[i + 1]) - 1
    if kind == 'p' then
      local f = ARGV[a]
      if not recs[f] then fields[#fields + 1] = f end
      recs[f] = ARGV[a + 1]
      for j = a + 2, b, 2 do blobs[#blobs + 1] = ARGV[j]; blobs[#blobs + 1] = ARGV[j + 1] end
    else
      for j = a, b, 3 do
        local m, v = ARGV[j], ARGV[j + 1]
        if firstv[m] == nil then
          members[#members + 1] = m
          firstv[m], firstmode[m] = v, ARGV[j + 2]
        end
        if ARGV[j + 2] == 's' then lasts[m] = v end
      end
    end
    i = b + 1
  end
  if #fields > 0 then
    local rows, id_rows = {}, {}
    for _, f in ipairs(fields) do
      rows[#rows + 1] = f; rows[#rows + 1] = recs[f]
      id_rows[#id_rows + 1] = 0; id_rows[#id_rows + 1] = f
    end
    chunked('HSET', CPS, rows, 1, #rows, 2)
    if #blobs > 0 then chunked('HSET', BLOBS, blobs, 1, #blobs, 2) end
    chunked('ZADD', IDS, id_rows, 1, #id_rows, 2)
  end
  if #members > 0 then
    -- A member no operation overwrites keeps what Redis holds: one read for all.
    local keep, held = {}, {}
    for _, m in ipairs(members) do
      if lasts[m] == nil and firstmode[m] == 'n' then keep[#keep + 1] = m end
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
end
"""
