"""``/ok`` (always served, never behind the API key), ``/info`` (what this
server is and what it serves) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

import contextlib
from importlib.metadata import version

from fastapi import APIRouter, Request
from nats.js.errors import NotFoundError
from starlette.responses import Response

from relaygraph import metrics
from relaygraph_gateway.core import Gateway
from relaygraph_gateway.render import JSON

ok_router = APIRouter(tags=["system"])
router = APIRouter(tags=["system"])


@ok_router.get("/ok")
async def ok() -> Response:
    return JSON({"ok": True})


@router.get("/info")
async def info(request: Request) -> Response:
    g: Gateway = request.app.state.gateway
    published = await g.catalog.catalog.current_many(sorted(g.config.graphs))
    off = g.config.http.disabled
    return JSON(
        {
            "version": version("relaygraph"),
            "relaygraph": True,
            "graphs": sorted(g.config.graphs),
            # Graphs the executors could not load, and why (their runs end in error).
            "graph_errors": {gid: e.error for gid, e in published.items() if e.error},
            "flags": {
                "assistants": "assistants" not in off,
                "crons": "runs" not in off,
                "langsmith": False,
                "store": "store" not in off,
                "thread_ttl": "threads" not in off,
            },
        }
    )


@router.get("/metrics", include_in_schema=False)
async def prometheus(request: Request) -> Response:
    """Prometheus text format. The queue depth is read from JetStream now."""
    g: Gateway = request.app.state.gateway
    with contextlib.suppress(Exception):  # NATS away: the last value stays
        metrics.QUEUE_DEPTH.set(await _queue_depth(g))
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)


async def _queue_depth(g: Gateway) -> int:
    """Run requests JetStream holds that no executor has taken yet (with no
    executor consumer yet: every request in the stream)."""
    s = g.subjects
    try:
        infos = [
            await g.js.consumer_info(s.runs_stream, durable)
            for durable in (s.executors_durable, s.executors_priority_durable)
        ]
    except NotFoundError:
        return int((await g.js.stream_info(s.runs_stream)).state.messages)
    return sum(int(info.num_pending or 0) for info in infos)
