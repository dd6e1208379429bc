"""The checks the routes make before touching a thread, an assistant or a
cron: the caller's ``@auth.on`` handler (:mod:`authz`), then its filter
against the item's stored metadata. An item the filter hides is answered as
one that does not exist, with the route's own not-found (or, where the
reference answers so, conflict) error, so a caller cannot tell the two
apart. Without auth rules every check returns at once.
"""

from __future__ import annotations

from typing import Any

from starlette.types import Scope

from relaygraph.errors import Conflict, NotFound, RelaygraphError
from relaygraph_gateway.authz import Access, Filters, access_of, matches
from relaygraph_gateway.core import Gateway
from relaygraph_gateway.render import stored_metadata


def thread_missing(thread_id: str) -> NotFound:
    return NotFound(f"Thread with ID {thread_id} not found")


async def thread(
    scope: Scope,
    g: Gateway,
    thread_id: str,
    action: str = "read",
    value: dict[str, Any] | None = None,
    hidden: RelaygraphError | None = None,
) -> Access:
    """Check ``action`` on the thread: the handler, then its filter over the
    thread's metadata (``hidden`` raised if it does not match)."""
    access = access_of(scope)
    if access.on:
        filters = await access.check("threads", action, value or {"thread_id": thread_id})
        if filters and not matches(await g.threads.metadata_of(thread_id), filters):
            raise hidden or thread_missing(thread_id)
    return access


async def search(scope: Scope, resource: str, value: dict[str, Any]) -> Filters | None:
    """The filter a search or count of ``resource`` applies (None: all)."""
    access = access_of(scope)
    return await access.check(resource, "search", value) if access.on else None


async def assistant(
    scope: Scope,
    doc: dict[str, Any],
    action: str = "read",
    value: dict[str, Any] | None = None,
    hidden: RelaygraphError | None = None,
) -> None:
    """Check ``action`` on the assistant ``doc`` (as stored)."""
    aid = doc["assistant_id"]
    missing = hidden or NotFound(f"Assistant {aid} not found")
    await _stored_item(scope, "assistants", action, value or {"assistant_id": aid}, doc, missing)


async def cron(
    scope: Scope,
    doc: dict[str, Any],
    action: str = "read",
    value: dict[str, Any] | None = None,
    hidden: RelaygraphError | None = None,
) -> None:
    """Check ``action`` on the cron ``doc`` (as stored)."""
    missing = hidden or NotFound("Not Found")  # the reference's words for a cron
    await _stored_item(scope, "crons", action, value or {"cron_id": doc["cron_id"]}, doc, missing)


async def _stored_item(
    scope: Scope,
    resource: str,
    action: str,
    value: dict[str, Any],
    doc: dict[str, Any],
    missing: RelaygraphError,
) -> None:
    """The handler of ``resource``'s ``action``, then its filter over the
    item's metadata: an item it does not match is ``missing``."""
    access = access_of(scope)
    if access.on:
        filters = await access.check(resource, action, value)
        if filters and not matches(doc.get("metadata"), filters):
            raise missing


async def created(
    scope: Scope, resource: str, value: dict[str, Any]
) -> tuple[dict[str, Any], Filters | None]:
    """The ``create`` check: the metadata to store (as the handler left it in
    ``value``) and the filter an existing item of the same id must match."""
    access = access_of(scope)
    if not access.on:
        return value.get("metadata") or {}, None
    value["metadata"] = dict(value.get("metadata") or {})
    filters = await access.check(resource, "create", value)
    return value["metadata"], filters


async def new_thread(
    scope: Scope, g: Gateway, thread_id: str, given: bool, value: dict[str, Any]
) -> dict[str, Any]:
    """``threads:create``: the metadata to store. An existing thread of that
    id the caller may not see is a conflict, whatever ``if_exists`` says."""
    metadata, filters = await created(scope, "threads", value)
    if filters and given:
        rows = await g.threads.rows(
            [thread_id], ("thread_id", "metadata", "graph_id", "assistant_id")
        )
        if rows and not matches(stored_metadata(rows[0]), filters):
            raise Conflict(f"Thread with ID {thread_id} already exists")
    return metadata
