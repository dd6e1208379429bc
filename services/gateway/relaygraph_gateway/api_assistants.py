"""Assistants: one default assistant per graph of langgraph.json, as LangGraph
Server creates them (id = uuid5 of the graph id), plus /ok and /info."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from relaygraph.contracts import GraphQuery
from relaygraph.runs import now_iso
from relaygraph_gateway.core import Gateway
from relaygraph_gateway.models import AssistantSearch
from relaygraph_gateway.render import JSON, matches

router = APIRouter(tags=["assistants"])
STARTED = now_iso()


def gw(request: Request) -> Gateway:
    return request.app.state.gateway  # type: ignore[no-any-return]


def assistant_json(graph_id: str, assistant_id: str) -> dict[str, Any]:
    return {
        "assistant_id": assistant_id,
        "graph_id": graph_id,
        "config": {},
        "context": {},
        "metadata": {"created_by": "system"},
        "name": graph_id,
        "description": None,
        "version": 1,
        "created_at": STARTED,
        "updated_at": STARTED,
    }


def all_assistants(g: Gateway) -> list[dict[str, Any]]:
    return [assistant_json(s.graph_id, s.assistant_id) for s in g.config.graphs.values()]


@router.post("/assistants/search")
async def search_assistants(body: AssistantSearch, request: Request) -> Response:
    found = [
        a
        for a in all_assistants(gw(request))
        if (body.graph_id is None or a["graph_id"] == body.graph_id)
        and (body.name is None or body.name in a["name"])
        and matches(a["metadata"], body.metadata)
    ]
    return JSON(found[body.offset : body.offset + body.limit])


@router.post("/assistants/count")
async def count_assistants(body: AssistantSearch, request: Request) -> Response:
    found = [
        a
        for a in all_assistants(gw(request))
        if body.graph_id is None or a["graph_id"] == body.graph_id
    ]
    return JSON(len(found))


@router.get("/assistants/{assistant_id}")
async def get_assistant(assistant_id: str, request: Request) -> Response:
    graph_id, aid = gw(request).graph_of(assistant_id)
    return JSON(assistant_json(graph_id, aid))


@router.get("/assistants/{assistant_id}/schemas")
async def get_schemas(assistant_id: str, request: Request) -> Response:
    g = gw(request)
    graph_id, _ = g.graph_of(assistant_id)
    return JSON(await g.schemas(graph_id))


@router.get("/assistants/{assistant_id}/graph")
async def get_graph(assistant_id: str, request: Request, xray: bool | int = False) -> Response:
    g = gw(request)
    graph_id, _ = g.graph_of(assistant_id)
    return JSON(bytes(await g.query(GraphQuery(op="graph", graph_id=graph_id, xray=xray))))


@router.get("/ok", tags=["system"])
async def ok() -> Response:
    return JSON({"ok": True})


@router.get("/info", tags=["system"])
async def info(request: Request) -> Response:
    from importlib.metadata import version

    g = gw(request)
    published = await g.catalog.catalog.current_many(sorted(g.config.graphs))
    return JSON(
        {
            "version": version("relaygraph"),
            "relaygraph": True,
            "graphs": sorted(g.config.graphs),
            # Graphs the executors could not load, and why (their runs end in error).
            "graph_errors": {gid: e.error for gid, e in published.items() if e.error},
            "flags": {
                "assistants": True,
                "crons": False,
                "langsmith": False,
                "thread_ttl": False,
                "store": False,
            },
        }
    )
