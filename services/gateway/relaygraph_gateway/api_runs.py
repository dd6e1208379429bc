"""Runs: background, wait, stream (SSE), join, cancel, on a thread or stateless.

SSE is framed as LangGraph Server frames it: CRLF line ends, a ``metadata``
event with the run id first, ``: heartbeat`` comments while quiet, and no
closing event (the stream just ends). A response that waits for a run (wait,
join, cancel with ``wait``) sends a newline every few seconds while it waits,
as LangGraph Server does, so neither proxies nor clients time it out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Body, Header, Query, Request
from nats.aio.subscription import Subscription
from starlette.responses import Response, StreamingResponse
from starlette.types import Scope

from relaygraph.contracts import END_EVENT, RunStatus
from relaygraph.errors import Conflict, InvalidInput, NotFound
from relaygraph_gateway import bulk_cancel, guards
from relaygraph_gateway.authz import access_of
from relaygraph_gateway.core import Gateway, check_id, gw
from relaygraph_gateway.follow import TERMINAL
from relaygraph_gateway.models import MAX_OFFSET, RunCreate, RunsCancel
from relaygraph_gateway.render import JSON, run_locations
from relaygraph_gateway.run_request import run_from_row
from relaygraph_gateway.thread_stream import hidden_stream

router = APIRouter(tags=["runs"])
log = logging.getLogger("relaygraph.gateway")
HEARTBEAT = b": heartbeat\r\n\r\n"
NO_RUNS = "No runs found to cancel."


async def waiting_response(
    outcome: AsyncGenerator[bytes | None, None],
    headers: dict[str, str],
    on_disconnect: Callable[[], Awaitable[Any]] | None = None,
) -> Response:
    """A run's output as JSON (``outcome``: :meth:`Gateway.outcome`). Ready
    before the first quiet heartbeat, it is a plain response (an error still
    gets its own status); otherwise the response starts, and a newline goes
    out at every heartbeat until the output comes (JSON parsers skip leading
    whitespace). ``on_disconnect`` (``on_disconnect="cancel"``): the response
    starts at once, so a client that leaves before the output is noticed,
    and this is called then."""
    if on_disconnect is not None:
        return StreamingResponse(
            _until_output(outcome, on_disconnect), media_type="application/json", headers=headers
        )
    first = await anext(outcome)
    if first is not None:
        await outcome.aclose()
        return JSON(first, headers=headers)
    return StreamingResponse(_keep_alive(outcome), media_type="application/json", headers=headers)


async def _until_output(
    outcome: AsyncGenerator[bytes | None, None], on_disconnect: Callable[[], Awaitable[Any]]
) -> AsyncIterator[bytes]:
    try:
        async for output in _keep_alive(outcome, first=False):
            yield output
    except (asyncio.CancelledError, GeneratorExit):
        # The client left before the output (the response is being torn down).
        with anyio.CancelScope(shield=True):
            await on_disconnect()
        raise


async def _keep_alive(
    outcome: AsyncGenerator[bytes | None, None], first: bool = True
) -> AsyncIterator[bytes]:
    try:
        if first:
            yield b"\n"
        async for output in outcome:
            yield b"\n" if output is None else output
    except Exception as exc:  # the status line is sent: the error goes in the body
        log.warning("waiting for a run failed after the response began: %s", exc)
        yield JSON.render_error(type(exc).__name__, getattr(exc, "message", None) or str(exc))
    finally:
        await outcome.aclose()


async def sse(
    g: Gateway,
    thread_id: str,
    run_id: str,
    after: int = -1,
    request: Request | None = None,
    cancel_on_disconnect: str | None = None,
    sub: Subscription | None = None,
) -> AsyncIterator[bytes]:
    try:
        async for event in g.follower.events(thread_id, run_id, sub=sub):
            if event is None:
                yield HEARTBEAT
                continue
            if event.event == END_EVENT:
                return
            if event.seq <= after:
                continue
            yield b"event: %s\r\ndata: %s\r\nid: %d\r\n\r\n" % (
                event.event.encode(),
                bytes(event.data),
                event.seq,
            )
    finally:
        if cancel_on_disconnect and request is not None and await request.is_disconnected():
            await g.cancel(cancel_on_disconnect, run_id)


def _stream_response(
    g: Gateway,
    thread_id: str,
    run_id: str,
    after: int = -1,
    request: Request | None = None,
    cancel: bool = False,
    sub: Subscription | None = None,
) -> StreamingResponse:
    return StreamingResponse(
        sse(g, thread_id, run_id, after, request, thread_id if cancel else None, sub),
        media_type="text/event-stream",
        headers={**run_locations(thread_id, run_id, "stream"), "Cache-Control": "no-store"},
    )


# -- on a thread -----------------------------------------------------------------


@router.post("/threads/{thread_id}/runs")
async def create_run(thread_id: str, body: RunCreate, request: Request) -> Response:
    run, _, _ = await gw(request).create_run(
        check_id("thread_id", thread_id), body, access=access_of(request.scope)
    )
    return JSON(
        run,
        headers=run_locations(thread_id, run["run_id"], "")
        | {"Content-Location": f"/threads/{thread_id}/runs/{run['run_id']}"},
    )


@router.post("/threads/{thread_id}/runs/wait")
async def wait_run(thread_id: str, body: RunCreate, request: Request) -> Response:
    return await wait_run_response(gw(request), request.scope, thread_id, body)


async def wait_run_response(g: Gateway, scope: Scope, thread_id: str, body: RunCreate) -> Response:
    """Also served by :mod:`fast` without FastAPI's layers."""
    run, _, sub = await g.create_run(
        check_id("thread_id", thread_id), body, follow="end", access=access_of(scope)
    )
    return await waiting_response(
        g.follower.outcome(thread_id, run["run_id"], sub),
        run_locations(thread_id, run["run_id"], "join"),
        _canceller(g, thread_id, run["run_id"], body),
    )


def _canceller(
    g: Gateway, thread_id: str, run_id: str, body: RunCreate
) -> Callable[[], Awaitable[Any]] | None:
    """With ``on_disconnect="cancel"``: what cancels the run when its client leaves."""
    if body.on_disconnect != "cancel":
        return None
    return lambda: g.cancel(thread_id, run_id)


@router.post("/threads/{thread_id}/runs/stream")
async def stream_run(thread_id: str, body: RunCreate, request: Request) -> Response:
    g = gw(request)
    run, _, sub = await g.create_run(
        check_id("thread_id", thread_id), body, follow="all", access=access_of(request.scope)
    )
    return _stream_response(
        g,
        thread_id,
        run["run_id"],
        request=request,
        cancel=body.on_disconnect == "cancel",
        sub=sub,
    )


@router.get("/threads/{thread_id}/runs")
async def list_runs(
    thread_id: str,
    request: Request,
    limit: int = Query(10, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    status: RunStatus | None = None,
) -> Response:
    g = gw(request)
    await guards.thread(request.scope, g, check_id("thread_id", thread_id))
    await guards.search(request.scope, "threads", {"thread_id": thread_id, "metadata": {}})
    await g.threads.get(thread_id)
    if status is None:
        return JSON([run_from_row(row) for row in await g.runs.page(thread_id, offset, limit)])
    # Filtered before it is paged, as the reference does: read on until the page is full.
    found: list[dict[str, Any]] = []
    cursor, chunk = 0, 200
    while len(found) < offset + limit:
        rows = await g.runs.page(thread_id, cursor, chunk)
        if not rows and cursor >= await g.runs.count(thread_id):
            break
        cursor += chunk
        found += [r for r in map(run_from_row, rows) if r["status"] == status]
    return JSON(found[offset : offset + limit])


@router.get("/threads/{thread_id}/runs/{run_id}")
async def get_run(thread_id: str, run_id: str, request: Request) -> Response:
    g = gw(request)
    await guards.thread(request.scope, g, check_id("thread_id", thread_id))
    return JSON(await g.run_json(thread_id, check_id("run_id", run_id)))


@router.delete("/threads/{thread_id}/runs/{run_id}", status_code=204)
async def delete_run(thread_id: str, run_id: str, request: Request) -> Response:
    g = gw(request)
    value = {"run_id": check_id("run_id", run_id), "thread_id": check_id("thread_id", thread_id)}
    await guards.thread(request.scope, g, thread_id, "delete", value, NotFound("Not Found"))
    run = await g.run_json(thread_id, run_id)
    if run["status"] not in TERMINAL:
        raise Conflict(f"Run {run_id} is {run['status']}; cancel it before deleting it")
    await g.runs.delete(thread_id, run_id)
    return Response(status_code=204)


@router.get("/threads/{thread_id}/runs/{run_id}/join")
async def join_run(thread_id: str, run_id: str, request: Request) -> Response:
    g = gw(request)
    check_id("thread_id", thread_id)
    await guards.thread(request.scope, g, thread_id, hidden=NotFound("Thread not found"))
    await g.runs.get(thread_id, check_id("run_id", run_id))
    return await waiting_response(
        g.follower.outcome(thread_id, run_id), run_locations(thread_id, run_id, "join")
    )


@router.get("/threads/{thread_id}/runs/{run_id}/stream")
async def join_stream(
    thread_id: str, run_id: str, request: Request, last_event_id: str | None = Header(None)
) -> Response:
    g = gw(request)
    check_id("thread_id", thread_id)
    try:
        await guards.thread(request.scope, g, thread_id)
    except NotFound:
        return _hidden(thread_id, run_id)
    await g.runs.get(thread_id, check_id("run_id", run_id))
    numeric = last_event_id is not None and last_event_id.isascii() and last_event_id.isdigit()
    after = int(last_event_id) if numeric and last_event_id else -1
    return _stream_response(g, thread_id, run_id, after)


@router.post("/threads/{thread_id}/runs/{run_id}/cancel")
async def cancel_run(
    thread_id: str,
    run_id: str,
    request: Request,
    wait: bool = False,
    action: Literal["interrupt", "rollback"] = "interrupt",
) -> Response:
    g = gw(request)
    value = {
        "thread_id": check_id("thread_id", thread_id),
        "action": action,
        "metadata": {"run_ids": [check_id("run_id", run_id)], "status": None},
    }
    await guards.thread(request.scope, g, thread_id, "update", value, NotFound(NO_RUNS))
    await g.runs.get(thread_id, run_id)
    await g.cancel(thread_id, run_id, action)
    if not wait:
        return Response(status_code=202)
    return await waiting_response(
        g.follower.outcome(thread_id, run_id), run_locations(thread_id, run_id, "join")
    )


# -- stateless -------------------------------------------------------------------


@router.post("/runs")
async def create_stateless(body: RunCreate, request: Request) -> Response:
    run, _, _ = await gw(request).create_run(None, body, access=access_of(request.scope))
    return JSON(run)


@router.post("/runs/batch")
async def create_stateless_batch(
    body: Annotated[list[RunCreate], Body(min_length=1, max_length=1000)], request: Request
) -> Response:
    """Stateless background runs, all vetted before any is created (a bad one
    is a 4xx and none is made)."""
    g = gw(request)
    for one in body:
        await g.vet_run(one)
    access = access_of(request.scope)
    made = await asyncio.gather(*(g.create_run(None, one, access=access) for one in body))
    return JSON([run for run, _, _ in made])


@router.post("/runs/cancel")
async def cancel_many(
    body: RunsCancel, request: Request, action: Literal["interrupt", "rollback"] = "interrupt"
) -> Response:
    g = gw(request)
    value = {
        "thread_id": body.thread_id,
        "action": action,
        "metadata": {"run_ids": body.run_ids, "status": body.status},
    }
    access = access_of(request.scope)
    auth = None
    if body.thread_id:
        await guards.thread(request.scope, g, body.thread_id, "update", value, NotFound(NO_RUNS))
    elif access.on:
        auth = await access.check("threads", "update", value)
    if body.status is not None:
        if body.thread_id or body.run_ids:
            raise InvalidInput(
                "When providing a 'status', 'thread_id' and 'run_ids' must be omitted: "
                "'status' cancels every run with that status, on every thread"
            )
        cancelled = await bulk_cancel.cancel_with_status(g, body.status, action, auth)
        if auth and not cancelled:
            raise NotFound(NO_RUNS)
    elif body.thread_id and body.run_ids is not None:
        await bulk_cancel.cancel_named(g, body.thread_id, body.run_ids, action)
    else:
        raise InvalidInput("Give either 'status', or 'thread_id' with 'run_ids'")
    return Response(status_code=204)


@router.post("/runs/wait")
async def wait_stateless(body: RunCreate, request: Request) -> Response:
    return await wait_stateless_response(gw(request), request.scope, body)


async def wait_stateless_response(g: Gateway, scope: Scope, body: RunCreate) -> Response:
    """Also served by :mod:`fast` without FastAPI's layers."""
    run, _, sub = await g.create_run(None, body, follow="end", access=access_of(scope))
    return await waiting_response(
        g.follower.outcome(run["thread_id"], run["run_id"], sub),
        run_locations(run["thread_id"], run["run_id"], "join"),
        _canceller(g, run["thread_id"], run["run_id"], body),
    )


@router.post("/runs/stream")
async def stream_stateless(body: RunCreate, request: Request) -> Response:
    g = gw(request)
    run, _, sub = await g.create_run(None, body, follow="all", access=access_of(request.scope))
    return _stream_response(
        g,
        run["thread_id"],
        run["run_id"],
        request=request,
        cancel=body.on_disconnect == "cancel",
        sub=sub,
    )


def _hidden(thread_id: str, run_id: str) -> Response:
    """The join stream of a run the caller may not see: 200 and one error
    event, as the reference answers (its check runs inside the stream)."""
    return StreamingResponse(
        hidden_stream(),
        media_type="text/event-stream",
        headers=run_locations(thread_id, run_id, "stream"),
    )
