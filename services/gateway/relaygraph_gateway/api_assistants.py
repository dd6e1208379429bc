"""Assistants, persisted in Redis with their versions (``assistants.py``),
as LangGraph Server serves them.

Each graph of langgraph.json has a default assistant with LangGraph Server's
id (uuid5 of the graph id). Where the reference takes only an assistant's
UUID, relaygraph also takes its graph's id for the default assistant.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response
from starlette.types import Scope

from relaygraph.contracts import GraphQuery
from relaygraph.errors import Conflict, InvalidInput, NotFound
from relaygraph_gateway import guards, thread_deletion
from relaygraph_gateway.assistant_rules import (
    canonical_id,
    only,
    ordered,
    selected,
)
from relaygraph_gateway.authz import Filters, access_of
from relaygraph_gateway.authz import matches as auth_matches
from relaygraph_gateway.core import Gateway, gw
from relaygraph_gateway.models import (
    AssistantCount,
    AssistantCreate,
    AssistantPatch,
    AssistantSearch,
    AssistantVersionChange,
    AssistantVersions,
)
from relaygraph_gateway.render import JSON, matches, page_headers

router = APIRouter(tags=["assistants"])


async def _get(
    g: Gateway,
    assistant_id: str,
    scope: Scope,
    action: str = "read",
    value: dict[str, Any] | None = None,
    hidden: str = "Not Found",
) -> dict[str, Any]:
    """The assistant, once the caller may ``action`` it (else ``hidden``)."""
    aid = g.assistant_id_of(assistant_id)
    doc = await g.assistants.get(aid)
    if doc is None:
        raise NotFound(f"Assistant {aid} not found")
    await guards.assistant(scope, doc, action, value, NotFound(hidden))
    return doc


@router.post("/assistants")
async def create_assistant(body: AssistantCreate, request: Request) -> Response:
    g = gw(request)
    g.check_graph(body.graph_id)
    aid = canonical_id(body.assistant_id) if body.assistant_id else None
    value = {
        "assistant_id": aid,
        "graph_id": body.graph_id,
        "config": body.config,
        "context": body.context,
        "metadata": body.metadata,
        "name": body.name,
    }
    metadata, filters = await guards.created(request.scope, "assistants", value)
    if filters and aid is not None:
        existing = await g.assistants.get(aid)
        if existing is not None and not auth_matches(existing.get("metadata"), filters):
            raise Conflict(f"Assistant {aid} already exists")
    doc = await g.assistants.create(
        graph_id=body.graph_id,
        assistant_id=aid,
        config=body.config,
        context=body.context,
        metadata=metadata,
        name=body.name,
        description=body.description,
        if_exists=body.if_exists,
    )
    return JSON(doc)


@router.post("/assistants/search")
async def search_assistants(body: AssistantSearch, request: Request) -> Response:
    g = gw(request)
    if body.graph_id is not None:
        g.check_graph(body.graph_id)
    auth = await _search_filter(request.scope, body, body.limit, body.offset)
    found = ordered(
        selected(
            _visible(await g.assistants.all(), auth),
            graph_id=body.graph_id,
            name=body.name,
            metadata=body.metadata,
        ),
        body.sort_by,
        body.sort_order,
    )
    page = [only(a, body.select) for a in found[body.offset : body.offset + body.limit]]
    return JSON(page, headers=page_headers(len(found), body.offset, body.limit))


@router.post("/assistants/count")
async def count_assistants(body: AssistantCount, request: Request) -> Response:
    g = gw(request)
    if body.graph_id is not None:
        g.check_graph(body.graph_id)
    auth = await _search_filter(request.scope, body, 0, 0)
    found = selected(
        _visible(await g.assistants.all(), auth),
        graph_id=body.graph_id,
        name=body.name,
        metadata=body.metadata,
    )
    return JSON(len(found))


@router.post("/assistants/{assistant_id}/latest")
async def set_latest_version(
    assistant_id: str, body: AssistantVersionChange, request: Request
) -> Response:
    g = gw(request)
    aid = g.assistant_id_of(assistant_id)
    value = {"assistant_id": aid, "version": body.version}
    await _get(g, aid, request.scope, "update", value, f"Assistant {aid} not found")
    return JSON(await g.assistants.set_latest(aid, body.version))


@router.post("/assistants/{assistant_id}/versions")
async def list_versions(assistant_id: str, body: AssistantVersions, request: Request) -> Response:
    g = gw(request)
    aid = g.assistant_id_of(assistant_id)
    await _get(g, aid, request.scope, hidden=f"Assistant {aid} not found")
    versions = [
        v for v in await g.assistants.versions(aid) if matches(v["metadata"], body.metadata)
    ]
    page = versions[body.offset : body.offset + body.limit]
    if not page and not await g.assistants.get(aid):
        raise NotFound(f"Assistant {aid} not found")
    return JSON(page)


@router.get("/assistants/{assistant_id}")
async def get_assistant(assistant_id: str, request: Request) -> Response:
    return JSON(await _get(gw(request), assistant_id, request.scope))


@router.get("/assistants/{assistant_id}/graph")
async def get_graph(assistant_id: str, request: Request, xray: str = "") -> Response:
    g = gw(request)
    doc = await _get(g, assistant_id, request.scope)
    query = GraphQuery(op="graph", graph_id=doc["graph_id"], config=doc["config"], xray=_xray(xray))
    return JSON(bytes(await g.query(query)))


def _xray(value: str) -> bool | int:
    if value in ("", "false", "False"):
        return False
    if value in ("true", "True"):
        return True
    if value.isascii() and value.isdigit() and int(value) > 0:
        return int(value)
    raise InvalidInput("Invalid xray value")


@router.get("/assistants/{assistant_id}/schemas")
async def get_schemas(assistant_id: str, request: Request) -> Response:
    g = gw(request)
    doc = await _get(g, assistant_id, request.scope)
    return JSON(await g.schemas(doc["graph_id"]))


@router.get("/assistants/{assistant_id}/subgraphs")
async def get_subgraphs(assistant_id: str, request: Request, recurse: bool = False) -> Response:
    return await _subgraphs(gw(request), request.scope, assistant_id, None, recurse)


@router.get("/assistants/{assistant_id}/subgraphs/{namespace}")
async def get_subgraphs_of(
    assistant_id: str, namespace: str, request: Request, recurse: bool = False
) -> Response:
    return await _subgraphs(gw(request), request.scope, assistant_id, namespace, recurse)


async def _subgraphs(
    g: Gateway, scope: Scope, assistant_id: str, namespace: str | None, recurse: bool
) -> Response:
    doc = await _get(g, assistant_id, scope)
    query = GraphQuery(
        op="subgraphs",
        graph_id=doc["graph_id"],
        config=doc["config"],
        checkpoint_ns=namespace or "",
        subgraphs=recurse,
    )
    return JSON(bytes(await g.query(query)))


@router.patch("/assistants/{assistant_id}")
async def patch_assistant(assistant_id: str, body: AssistantPatch, request: Request) -> Response:
    g = gw(request)
    if body.graph_id is not None:
        g.check_graph(body.graph_id)
    changes = body.model_dump(exclude_unset=True)
    aid = g.assistant_id_of(assistant_id)
    value: dict[str, Any] = {"assistant_id": aid} | {
        k: changes.get(k) for k in ("graph_id", "config", "context", "metadata", "name")
    }
    if access_of(request.scope).on:
        value["metadata"] = dict(value["metadata"] or {})
        await _get(g, aid, request.scope, "update", value, f"Assistant {aid} not found")
        if value["metadata"] or "metadata" in changes:
            changes["metadata"] = value["metadata"]
    return JSON(await g.assistants.patch(aid, changes))


@router.delete("/assistants/{assistant_id}", status_code=204)
async def delete_assistant(
    assistant_id: str, request: Request, delete_threads: bool = False
) -> Response:
    g = gw(request)
    aid = g.assistant_id_of(assistant_id)
    gone = f"Assistant with ID {aid} not found"
    doc = await g.assistants.get(aid)
    if doc is not None:
        await guards.assistant(request.scope, doc, "delete", None, NotFound(gone))
    if not await g.assistants.delete(aid):
        raise NotFound(gone)
    await g.crons.delete_of_assistant(aid)
    if delete_threads:
        await thread_deletion.delete_threads_of(g, aid)
    return Response(status_code=204)


async def _search_filter(
    scope: Scope, body: AssistantCount, limit: int, offset: int
) -> Filters | None:
    value = {"graph_id": body.graph_id, "metadata": body.metadata or {}}
    return await guards.search(scope, "assistants", value | {"limit": limit, "offset": offset})


def _visible(docs: list[dict[str, Any]], auth: Filters | None) -> list[dict[str, Any]]:
    return [d for d in docs if auth_matches(d.get("metadata"), auth)] if auth else docs
