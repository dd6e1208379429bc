"""Threads: create, read, search, delete, and the graph state behind them."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from relaygraph.contracts import GraphQuery
from relaygraph.errors import BadRequest, Conflict
from relaygraph_gateway.core import Gateway, check_id
from relaygraph_gateway.models import (
    HistoryQuery,
    StateAt,
    StateUpdate,
    ThreadCount,
    ThreadCreate,
    ThreadPatch,
    ThreadSearch,
)
from relaygraph_gateway.render import JSON, matches, thread_json

router = APIRouter(tags=["threads"])


def gw(request: Request) -> Gateway:
    return request.app.state.gateway  # type: ignore[no-any-return]


EMPTY_STATE: dict[str, Any] = {
    "values": {},
    "next": [],
    "tasks": [],
    "metadata": {},
    "created_at": None,
    "checkpoint": None,
    "parent_checkpoint": None,
    "checkpoint_id": None,
    "parent_checkpoint_id": None,
    "interrupts": [],
}


@router.post("/threads")
async def create_thread(body: ThreadCreate, request: Request) -> Response:
    return await create_thread_response(gw(request), body)


async def create_thread_response(g: Gateway, body: ThreadCreate) -> Response:
    """Also served by :mod:`fast` without FastAPI's layers."""
    thread_id = check_id("thread_id", body.thread_id or str(uuid.uuid4()))
    row = await g.threads.create(thread_id, body.metadata, body.if_exists)
    return JSON(thread_json(row))


@router.get("/threads/{thread_id}")
async def get_thread(thread_id: str, request: Request) -> Response:
    return JSON(thread_json(await gw(request).threads.get(check_id("thread_id", thread_id))))


@router.patch("/threads/{thread_id}")
async def patch_thread(thread_id: str, body: ThreadPatch, request: Request) -> Response:
    threads = gw(request).threads
    await threads.update_metadata(check_id("thread_id", thread_id), body.metadata)
    return JSON(thread_json(await threads.get(thread_id)))


@router.delete("/threads/{thread_id}", status_code=204)
async def delete_thread(thread_id: str, request: Request) -> Response:
    await gw(request).delete_thread(check_id("thread_id", thread_id))
    return Response(status_code=204)


async def _search(
    g: Gateway, body: ThreadSearch | ThreadCount, limit: int, offset: int
) -> list[dict[str, Any]]:
    """Threads newest first matching the filters (scans the index in pages)."""
    out: list[dict[str, Any]] = []
    skipped, cursor, page = 0, 0, 200
    ids = getattr(body, "ids", None)
    values = getattr(body, "values", None)
    while len(out) < limit:
        rows = await g.threads.search(cursor, page)
        if not rows:
            break
        cursor += page
        for row in rows:
            t = thread_json(row)
            if body.status and t["status"] != body.status:
                continue
            if ids is not None and t["thread_id"] not in ids:
                continue
            if not matches(t["metadata"], body.metadata):
                continue
            if values and not matches(msgspec.json.decode(row.get("values") or b"null"), values):
                continue
            if skipped < offset:
                skipped += 1
                continue
            out.append(t)
            if len(out) >= limit:
                break
    return out


@router.post("/threads/search")
async def search_threads(body: ThreadSearch, request: Request) -> Response:
    return JSON(await _search(gw(request), body, body.limit, body.offset))


@router.post("/threads/count")
async def count_threads(body: ThreadCount, request: Request) -> Response:
    g = gw(request)
    if body.status is None and not body.metadata:
        return JSON(await g.threads.count())
    return JSON(len(await _search(g, body, 10**9, 0)))


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
    return await _state(gw(request), thread_id, None, subgraphs)


@router.get("/threads/{thread_id}/state/{checkpoint_id}")
async def get_state_at(
    thread_id: str, checkpoint_id: str, request: Request, subgraphs: bool = False
) -> Response:
    return await _state(gw(request), thread_id, checkpoint_id, subgraphs)


@router.post("/threads/{thread_id}/state/checkpoint")
async def post_state_at(thread_id: str, body: StateAt, request: Request) -> Response:
    return await _state(
        gw(request),
        thread_id,
        body.checkpoint.get("checkpoint_id"),
        body.subgraphs,
        body.checkpoint.get("checkpoint_ns", ""),
    )


@router.post("/threads/{thread_id}/state")
async def update_state(thread_id: str, body: StateUpdate, request: Request) -> Response:
    g = gw(request)
    row = await g.threads.get(check_id("thread_id", thread_id))
    if row.get("status") == b"busy":
        raise Conflict(f"Thread {thread_id} is busy with a run; update its state after it ends")
    graph = row.get("graph_id")
    if graph is None:
        raise BadRequest(
            f"Thread {thread_id} has no graph yet: run it once before updating its state"
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
    return JSON(bytes(raw))


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
    return await _history(gw(request), thread_id, HistoryQuery(limit=limit, before=before))


@router.post("/threads/{thread_id}/history")
async def post_history(thread_id: str, body: HistoryQuery, request: Request) -> Response:
    return await _history(gw(request), thread_id, body)
