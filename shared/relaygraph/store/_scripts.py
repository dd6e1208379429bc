"""The Store's Lua scripts: each touches one namespace's keys (one hash tag),
declared by name; the global indexes (namespaces, expiry) are written next to
them as plain commands.

An item's metadata is one string, ``created_at TAB updated_at TAB ttl TAB
expires_ms`` (ttl in minutes; the last two empty without a TTL), so a script
can keep ``created_at`` and read the expiry without decoding JSON."""

from __future__ import annotations

from relaygraph.lua import Lua

_NAMESPACE_KEYS = ("ITEMS", "META", "ORDER", "VECTORS")

_PARSE = """
local function parse(meta)
  return string.match(meta, '^([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)$')
end
"""

PUT = Lua(
    "store_put",
    keys=(*_NAMESPACE_KEYS, "SEQ"),
    args=("key", "value", "now", "ttl", "expires", "vectors"),
    functions=_PARSE,
    body="""
-- Writes the item (a first put takes the next place in the namespace's order;
-- an overwrite keeps its place and created_at). Replies: created_at
local meta = redis.call('HGET', META, key)
local created = now
if meta then
  created = parse(meta)
else
  redis.call('ZADD', ORDER, redis.call('INCR', SEQ), key)
end
redis.call('HSET', ITEMS, key, value)
redis.call('HSET', META, key, created .. '\\t' .. now .. '\\t' .. ttl .. '\\t' .. expires)
if vectors == '' then redis.call('HDEL', VECTORS, key) else redis.call('HSET', VECTORS, key, vectors) end
return created
""",
)

DELETE = Lua(
    "store_delete",
    keys=_NAMESPACE_KEYS,
    args=("key",),
    body="""
-- Replies: 1 if there was such an item, else 0
redis.call('HDEL', VECTORS, key)
redis.call('ZREM', ORDER, key)
redis.call('HDEL', META, key)
return redis.call('HDEL', ITEMS, key)
""",
)

REFRESH = Lua(
    "store_refresh",
    keys=("META",),
    args=("key", "now_ms"),
    functions=_PARSE,
    body="""
-- An item with a TTL read with refresh: it lives `ttl` minutes from now.
-- Replies: the new expiry (ms), or 0 (no such item, or no TTL)
local meta = redis.call('HGET', META, key)
if not meta then return 0 end
local created, updated, ttl = parse(meta)
if not ttl or ttl == '' then return 0 end
local expires = tonumber(now_ms) + math.floor(tonumber(ttl) * 60000)
redis.call('HSET', META, key, created .. '\\t' .. updated .. '\\t' .. ttl .. '\\t' .. expires)
return expires
""",
)

EXPIRE = Lua(
    "store_expire",
    keys=_NAMESPACE_KEYS,
    args=("key", "now_ms"),
    functions=_PARSE,
    body="""
-- The sweeper: deletes the item if its expiry has passed (a refresh may have
-- moved it since it was due). Replies: deleted | gone | the expiry it has now
-- ('' for none), when it was kept
local meta = redis.call('HGET', META, key)
if not meta then return 'gone' end
local _, _, _, expires = parse(meta)
if not expires or expires == '' or tonumber(expires) > tonumber(now_ms) then return expires or '' end
redis.call('HDEL', ITEMS, key)
redis.call('HDEL', META, key)
redis.call('HDEL', VECTORS, key)
redis.call('ZREM', ORDER, key)
return 'deleted'
""",
)
