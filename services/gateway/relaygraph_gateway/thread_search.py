"""Searching and counting threads: the filters (ids, status, metadata and
values containment) and the order of ``/threads/search``.

Threads are indexed by creation time only, so the default order (newest
first) and ``sort_by=created_at`` read the index a page at a time and stop
once the page asked for is full; any other sort reads the few fields it
needs of every thread that matches, sorts them, and then reads the page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec

from relaygraph.errors import BadRequest
from relaygraph.subjects import is_token
from relaygraph_gateway.authz import Filters
from relaygraph_gateway.authz import matches as auth_matches
from relaygraph_gateway.core import Gateway
from relaygraph_gateway.models import ThreadCount, ThreadSearch
from relaygraph_gateway.render import matches, stored_metadata

_FIELDS = (
    "thread_id",
    "status",
    "metadata",
    "graph_id",
    "assistant_id",
    "created_at",
    "updated_at",
    "state_updated_at",
)


def _matches(row: dict[str, bytes], body: ThreadCount, auth: Filters | None) -> bool:
    if auth and not auth_matches(stored_metadata(row), auth):
        return False
    if body.status and row.get("status", b"idle").decode() != body.status:
        return False
    if body.metadata and not matches(stored_metadata(row), body.metadata):
        return False
    if body.values:
        values = msgspec.json.decode(row.get("values") or b"null")
        if not matches(values, body.values):
            return False
    return True


def _ids(body: ThreadCount) -> list[str] | None:
    ids = getattr(body, "ids", None)
    if ids is None:
        return None
    for thread_id in ids:
        if not is_token(thread_id):
            raise BadRequest(f"Invalid thread ID {thread_id}")
    return list(dict.fromkeys(ids))


async def _candidates(
    g: Gateway, body: ThreadCount, oldest_first: bool
) -> AsyncIterator[list[dict[str, bytes]]]:
    """Pages of thread rows (the filter and sort fields) in index order."""
    fields = _FIELDS + (("values",) if body.values else ())
    ids = _ids(body)
    if ids is not None:
        rows = await g.threads.rows(ids, fields)
        yield sorted(rows, key=lambda r: r["created_at"], reverse=not oldest_first)
        return
    async for rows in g.threads.pages(fields, oldest_first):
        yield rows


async def search(
    g: Gateway, body: ThreadSearch, auth: Filters | None = None
) -> tuple[list[str], int]:
    """The ids of the page asked for, and how many matches were seen (at most
    one past the page: enough for the pagination headers). ``auth``: the
    caller's filter (:mod:`authz`)."""
    ascending = body.sort_order == "asc"
    end = body.offset + body.limit
    if body.sort_by in (None, "created_at"):
        found: list[str] = []
        async for rows in _candidates(g, body, oldest_first=ascending):
            found += [r["thread_id"].decode() for r in rows if _matches(r, body, auth)]
            if len(found) > end:
                break
        return found[body.offset : end], min(len(found), end + 1)
    key = body.sort_by
    keyed: list[tuple[bytes, bytes]] = []
    async for rows in _candidates(g, body, oldest_first=False):
        keyed += [
            (r.get(key) or r.get("updated_at", b""), r["thread_id"])
            for r in rows
            if _matches(r, body, auth)
        ]
    keyed.sort(reverse=not ascending)
    return [tid.decode() for _, tid in keyed[body.offset : end]], len(keyed)


async def count(g: Gateway, body: ThreadCount, auth: Filters | None = None) -> int:
    if not (body.status or body.metadata or body.values or auth):
        return await g.threads.count()
    total = 0
    async for rows in _candidates(g, body, oldest_first=False):
        total += sum(1 for r in rows if _matches(r, body, auth))
    return total
