"""Threads: create, read, search, delete, and the graph state behind them."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Header, Query, Request
from nats.errors import Error as NatsError
from starlette.responses import Response, StreamingResponse
from starlette.types import Scope

from relaygraph.contracts import GraphQuery, StateUpdated
from relaygraph.errors import BadRequest, Conflict, InvalidInput, NotFound
from relaygraph.threads import TTL, ttl_of
from relaygraph_gateway import guards, thread_deletion, thread_search
from relaygraph_gateway.authz import access_of
from relaygraph_gateway.core import Gateway, check_id, gw
from relaygraph_gateway.models import (
    HistoryQuery,
    StateAt,
    StateUpdate,
    ThreadCount,
    ThreadCreate,
    ThreadPatch,
    ThreadPrune,
    ThreadSearch,
    ThreadTTLBody,
)
from relaygraph_gateway.render import JSON, page_headers, thread_json
from relaygraph_gateway.thread_rules import check_extract, shaped, without_reserved
from relaygraph_gateway.thread_stream import after_of, hidden_stream, modes_of, thread_events

router = APIRouter(tags=["threads"])
log = logging.getLogger("relaygraph.gateway")


EMPTY_STATE: dict[str, Any] = {
    "values": {},
    "next": [],
    "tasks": [],
    "metadata": None,
    "created_at": None,
    "checkpoint": None,
    "parent_checkpoint": None,
    "checkpoint_id": None,
    "parent_checkpoint_id": None,
    "interrupts": [],
}


@router.post("/threads")
async def create_thread(body: ThreadCreate, request: Request) -> Response:
    return await create_thread_response(gw(request), request.scope, body)


def _ttl(body: ThreadTTLBody | None) -> TTL | None:
    return TTL(body.strategy, body.ttl) if body is not None else None


async def create_thread_response(g: Gateway, scope: Scope, body: ThreadCreate) -> Response:
    """Also served by :mod:`fast` without FastAPI's layers."""
    if body.supersteps:
        raise InvalidInput("supersteps are not supported: create the thread, then update its state")
    thread_id = check_id("thread_id", body.thread_id or str(uuid.uuid4()))
    ttl = _ttl(body.ttl)
    value = {"thread_id": thread_id, "metadata": without_reserved(body.metadata)}
    metadata = await guards.new_thread(
        scope, g, thread_id, body.thread_id is not None, value | {"if_exists": body.if_exists}
    )
    row = await g.threads.create(
        thread_id,
        metadata,
        body.if_exists,
        ttl=ttl,
        expires_in=ttl.minutes if ttl else g.config.thread_ttl.default_ttl,
        fresh=body.thread_id is None,
    )
    return JSON(thread_json(row))


def _with_ttl(g: Gateway, row: dict[str, bytes], include: str | None) -> dict[str, Any]:
    thread = thread_json(row)
    if include and "ttl" in include.split(","):
        ttl = ttl_of(row, g.config.thread_ttl)
        thread["ttl"] = None
        if ttl is not None:
            since = datetime.fromisoformat(thread["updated_at"])
            thread["ttl"] = {
                "strategy": ttl.strategy,
                "ttl_minutes": ttl.minutes,
                "expires_at": (since + timedelta(minutes=ttl.minutes)).isoformat(),
            }
    return thread


@router.get("/threads/{thread_id}")
async def get_thread(thread_id: str, request: Request, include: str | None = None) -> Response:
    g = gw(request)
    await guards.thread(request.scope, g, check_id("thread_id", thread_id))
    return JSON(_with_ttl(g, await g.threads.get(thread_id), include))


@router.patch("/threads/{thread_id}")
async def patch_thread(
    thread_id: str, body: ThreadPatch, request: Request, prefer: str | None = Header(None)
) -> Response:
    g = gw(request)
    threads = g.threads
    metadata = without_reserved(body.metadata)
    value: dict[str, Any] = {"thread_id": check_id("thread_id", thread_id), "metadata": metadata}
    await guards.thread(request.scope, g, thread_id, "update", value, NotFound("Not Found"))
    await threads.update(thread_id, value["metadata"], _ttl(body.ttl))
    if prefer and "return=minimal" in prefer:
        return Response(status_code=204)
    return JSON(thread_json(await threads.get(thread_id)))


@router.delete("/threads/{thread_id}", status_code=204)
async def delete_thread(thread_id: str, request: Request) -> Response:
    g = gw(request)
    await guards.thread(request.scope, g, check_id("thread_id", thread_id), "delete")
    await thread_deletion.delete_thread(g, thread_id)
    return Response(status_code=204)


@router.post("/threads/{thread_id}/copy")
async def copy_thread(thread_id: str, request: Request) -> Response:
    """A new thread with this one's checkpoints, metadata and state (not its runs)."""
    g = gw(request)
    await guards.thread(
        request.scope, g, check_id("thread_id", thread_id), hidden=Conflict("Conflict")
    )
    source = await g.threads.get(thread_id)
    copy_id = str(uuid.uuid4())
    await guards.created(request.scope, "threads", {"thread_id": copy_id})
    await g.saver.acopy_thread(thread_id, copy_id)
    ttl = ttl_of(source, g.config.thread_ttl)
    await g.threads.copy(thread_id, copy_id, ttl.minutes if ttl else None)
    return JSON(thread_json(await g.threads.get(copy_id)))


@router.post("/threads/prune")
async def prune_threads(body: ThreadPrune, request: Request) -> Response:
    """``delete``: the threads, with their runs and checkpoints; ``keep_latest``:
    only their older checkpoints. Threads that do not exist are skipped."""
    g = gw(request)
    ids = list(dict.fromkeys(check_id("thread_id", t) for t in body.thread_ids))
    access = access_of(request.scope)
    if access.on:
        await access.check("threads", "delete", {"thread_ids": ids})
    hidden = NotFound("At least one thread not found or not authorized")
    for thread_id in ids if access.on else ():
        await guards.thread(request.scope, g, thread_id, "delete", hidden=hidden)
    pruned = 0
    for thread_id in ids:
        try:
            if body.strategy == "delete":
                await thread_deletion.delete_thread(g, thread_id)
            else:
                await g.threads.get(thread_id)
                await g.saver.aprune([thread_id], strategy="keep_latest")
        except NotFound:
            continue
        pruned += 1
    return JSON({"pruned_count": pruned})


@router.post("/threads/search")
async def search_threads(body: ThreadSearch, request: Request) -> Response:
    g = gw(request)
    check_extract(body.extract)
    auth = await guards.search(
        request.scope, "threads", _search_value(body, body.limit, body.offset)
    )
    ids, seen = await thread_search.search(g, body, auth)
    rows = {r["thread_id"].decode(): r for r in await g.threads.rows(ids)}
    found = []
    for thread_id in ids:
        if thread_id in rows:
            thread = thread_json(rows[thread_id])
            if body.extract:  # paths reach into values: decoded, not passed through
                thread = msgspec.json.decode(msgspec.json.encode(thread))
            found.append(shaped(thread, body.select, body.extract))
    return JSON(found, headers=page_headers(seen, body.offset, body.limit))


@router.post("/threads/count")
async def count_threads(body: ThreadCount, request: Request) -> Response:
    auth = await guards.search(request.scope, "threads", _search_value(body, 0, 0))
    return JSON(await thread_search.count(gw(request), body, auth))


def _search_value(body: ThreadCount, limit: int, offset: int) -> dict[str, Any]:
    return {
        "metadata": body.metadata or {},
        "values": body.values or {},
        "status": body.status,
        "limit": limit,
        "offset": offset,
    }


@router.get("/threads/{thread_id}/stream")
async def join_thread_stream(
    thread_id: str,
    request: Request,
    stream_modes: str | None = None,
    stream_mode: Annotated[list[str] | None, Query()] = None,
    last_event_id: str | None = Header(None),
) -> Response:
    """``stream_modes`` as the reference reads it; ``stream_mode`` as the SDK sends it."""
    g = gw(request)
    check_id("thread_id", thread_id)
    modes = modes_of(stream_modes or ",".join(stream_mode or []))
    try:
        await guards.thread(request.scope, g, thread_id)
        events = thread_events(g, thread_id, modes, after_of(last_event_id))
    except NotFound:
        events = hidden_stream()
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


# -- state ---------------------------------------------------------------------


async def _state(
    g: Gateway, thread_id: str, checkpoint_id: str | None, subgraphs: bool, checkpoint_ns: str = ""
) -> Response:
    graph_id = await g.thread_graph(check_id("thread_id", thread_id))
    if graph_id is None:
        return JSON(EMPTY_STATE)
    raw = await g.query(
        GraphQuery(
            op="get_state",
            graph_id=graph_id,
            thread_id=thread_id,
            checkpoint_id=checkpoint_id,
            subgraphs=subgraphs,
            checkpoint_ns=checkpoint_ns,
        )
    )
    return JSON(bytes(raw))


@router.get("/threads/{thread_id}/state")
async def get_state(thread_id: str, request: Request, subgraphs: bool = False) -> Response:
    g = gw(request)
    await guards.thread(request.scope, g, check_id("thread_id", thread_id))
    return await _state(g, thread_id, None, subgraphs)


@router.get("/threads/{thread_id}/state/{checkpoint_id}")
async def get_state_at(
    thread_id: str, checkpoint_id: str, request: Request, subgraphs: bool = False
) -> Response:
    g = gw(request)
    await guards.thread(request.scope, g, check_id("thread_id", thread_id))
    return await _state(g, thread_id, checkpoint_id, subgraphs)


@router.post("/threads/{thread_id}/state/checkpoint")
async def post_state_at(thread_id: str, body: StateAt, request: Request) -> Response:
    g = gw(request)
    await guards.thread(request.scope, g, check_id("thread_id", thread_id))
    return await _state(
        g,
        thread_id,
        body.checkpoint.get("checkpoint_id"),
        body.subgraphs,
        body.checkpoint.get("checkpoint_ns", ""),
    )


@router.post("/threads/{thread_id}/state")
async def update_state(thread_id: str, body: StateUpdate, request: Request) -> Response:
    g = gw(request)
    await guards.thread(request.scope, g, check_id("thread_id", thread_id), "update")
    row = await g.threads.get(thread_id)
    if row.get("status") == b"busy":
        raise Conflict(f"Thread {thread_id} is busy with a run; update its state after it ends")
    graph = row.get("graph_id")
    if graph is None:
        raise BadRequest(
            f"Thread '{thread_id}' has no assigned graph ID: run it once, create it with a "
            "graph_id (threads.create(graph_id=...)), or set 'graph_id' in its metadata"
        )
    checkpoint_id = body.checkpoint_id or (body.checkpoint or {}).get("checkpoint_id")
    raw = await g.query(
        GraphQuery(
            op="update_state",
            graph_id=graph.decode(),
            thread_id=thread_id,
            values=body.values,
            as_node=body.as_node,
            checkpoint_id=checkpoint_id,
        )
    )
    updated = msgspec.json.decode(raw, type=StateUpdated)
    await _announce_state(g, thread_id, updated.state)
    return JSON({"checkpoint": updated.checkpoint})


async def _announce_state(g: Gateway, thread_id: str, state: msgspec.Raw) -> None:
    """A ``state_update`` event for the thread's stream (its ``state_update``
    mode): the state after an update made outside a run."""
    event = b'{"state":%s,"thread_id":"%s"}' % (bytes(state), thread_id.encode())
    try:
        await g.nc.publish(g.subjects.thread_state_update(thread_id), event)
    except NatsError as exc:  # the update is made; only its announcement is lost
        log.warning("state_update event of thread %s not published: %r", thread_id, exc)


async def _history(g: Gateway, thread_id: str, q: HistoryQuery) -> Response:
    graph_id = await g.thread_graph(check_id("thread_id", thread_id))
    if graph_id is None:
        return JSON([])
    before = q.before.get("checkpoint_id") if isinstance(q.before, dict) else q.before
    raw = await g.query(
        GraphQuery(
            op="history",
            graph_id=graph_id,
            thread_id=thread_id,
            limit=q.limit,
            before=before,
            filter=q.metadata,
            checkpoint_id=(q.checkpoint or {}).get("checkpoint_id"),
            checkpoint_ns=(q.checkpoint or {}).get("checkpoint_ns", ""),
        )
    )
    return JSON(bytes(raw))


@router.get("/threads/{thread_id}/history")
async def get_history(
    thread_id: str,
    request: Request,
    limit: int = Query(10, ge=1, le=1000),
    before: str | None = None,
) -> Response:
    g = gw(request)
    await guards.thread(request.scope, g, check_id("thread_id", thread_id))
    return await _history(g, thread_id, HistoryQuery(limit=limit, before=before))


@router.post("/threads/{thread_id}/history")
async def post_history(thread_id: str, body: HistoryQuery, request: Request) -> Response:
    g = gw(request)
    await guards.thread(request.scope, g, check_id("thread_id", thread_id))
    return await _history(g, thread_id, body)
