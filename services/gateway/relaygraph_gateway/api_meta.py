"""``/ok`` (always served, never behind the API key) and ``/info``: what this
server is and what it serves."""

from __future__ import annotations

from importlib.metadata import version

from fastapi import APIRouter, Request
from starlette.responses import Response

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
