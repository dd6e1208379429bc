"""Deleting threads: one thread with everything that hangs off it, and every
thread of an assistant (``DELETE /assistants/<id>?delete_threads=true``)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import msgspec

from relaygraph.errors import NotFound

if TYPE_CHECKING:  # the gateway deletes threads too
    from relaygraph_gateway.core import Gateway


async def delete_thread(g: Gateway, thread_id: str) -> None:
    """The thread, its runs (an active one cancelled first), its crons and
    its checkpoints."""
    row = await g.threads.get(thread_id)
    if row.get("status") == b"busy":
        active = row.get("active_run", b"").decode()
        if active:
            await g.cancel(thread_id, active)
    await g.threads.delete(thread_id)
    await g.crons.delete_of_thread(thread_id)
    await g.saver.adelete_thread(thread_id)


async def delete_threads_of(g: Gateway, assistant_id: str) -> None:
    """Delete every thread whose metadata names this assistant."""
    doomed = []
    async for rows in g.threads.pages(("metadata", "assistant_id")):
        doomed += [
            row["thread_id"].decode()
            for row in rows
            if msgspec.json.decode(row.get("metadata") or b"{}").get("assistant_id") == assistant_id
            or row.get("assistant_id", b"").decode() == assistant_id
        ]
    for thread_id in doomed:
        with contextlib.suppress(NotFound):  # deleted meanwhile
            await delete_thread(g, thread_id)
