"""Cancelling runs by the batch: ``POST /runs/cancel`` (``runs.cancel_many``:
named runs of one thread, or every run of a status on every thread), and the
queue a new run clears with ``multitask_strategy`` interrupt or rollback.

A thread with work has an active run (``busy``) and maybe runs queued behind
it, so finding pending and running runs reads only busy threads: their
active run and their queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from relaygraph.errors import InvalidInput, NotFound
from relaygraph.subjects import is_token
from relaygraph_gateway.authz import Filters
from relaygraph_gateway.authz import matches as auth_matches
from relaygraph_gateway.render import stored_metadata

if TYPE_CHECKING:  # the gateway calls in here too
    from relaygraph_gateway.core import Gateway

CancelStatus = Literal["pending", "running", "all"]


async def cancel_named(g: Gateway, thread_id: str, run_ids: list[str], action: str) -> None:
    """Every run must exist (a 404 names the first that does not), then each
    is cancelled; runs that already ended are left as they are."""
    for run_id in [thread_id, *run_ids]:
        if not is_token(run_id):
            raise InvalidInput(f"Invalid id {run_id!r}: use letters, digits, '-' and '_'")
    for run_id in run_ids:
        await g.runs.get(thread_id, run_id)  # NotFound: "Run ... not found"
    for run_id in run_ids:
        await g.cancel(thread_id, run_id, action)


async def runs_with_status(
    g: Gateway, status: CancelStatus, auth: Filters | None = None
) -> list[tuple[str, str]]:
    """(thread_id, run_id) of every pending and/or running run (of the
    threads ``auth``, the caller's filter, lets it see)."""
    found: list[tuple[str, str]] = []
    fields = ("status", "active_run", "metadata", "graph_id", "assistant_id")
    async for rows in g.threads.pages(fields if auth else fields[:2]):
        busy = [
            r
            for r in rows
            if r.get("status") == b"busy"
            and r.get("active_run")
            and (not auth or auth_matches(stored_metadata(r), auth))
        ]
        for row in busy:
            thread_id, active = row["thread_id"].decode(), row["active_run"].decode()
            queued = await g.runs.queued(thread_id)
            try:
                state = (await g.runs.get(thread_id, active))["status"].decode()
            except NotFound:  # ended and gone meanwhile
                state = ""
            if state == "running" and status in ("running", "all"):
                found.append((thread_id, active))
            if state == "pending" and status in ("pending", "all"):
                found.append((thread_id, active))
            if status in ("pending", "all"):
                found += [(thread_id, q) for q in queued]
    return found


async def cancel_with_status(
    g: Gateway, status: CancelStatus, action: str, auth: Filters | None = None
) -> int:
    doomed = await runs_with_status(g, status, auth)
    for thread_id, run_id in doomed:
        await g.cancel(thread_id, run_id, action)
    return len(doomed)


async def clear_queue_for(g: Gateway, thread_id: str, run_id: str, action: str) -> None:
    """Every other run queued on the thread ends (``interrupt``) or goes
    (``rollback``), as LangGraph Server's multitask strategies do."""
    for other in await g.runs.queued(thread_id):
        if other == run_id:
            continue
        await g.cancel(thread_id, other, action)
        if action == "rollback":
            await g.runs.delete(thread_id, other)
