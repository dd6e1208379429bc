"""The LangGraph Store over HTTP (``/store/*``), on the same Redis store
graphs reach as ``get_store()``.

With a semantic index in langgraph.json (``store.index``), writing an indexed
item and searching by ``query`` need the embedding function, which is user
code: the gateway never imports it, so those two calls are answered by an
executor. Everything else is read and written here.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from langgraph.store.base import NOT_PROVIDED
from starlette.responses import Response

from relaygraph.contracts import GraphQuery
from relaygraph.errors import BadRequest, InvalidInput
from relaygraph_gateway.authz import Filters, access_of
from relaygraph_gateway.core import Gateway, gw
from relaygraph_gateway.render import JSON
from relaygraph_gateway.store_models import (
    StoreDelete,
    StoreNamespaces,
    StorePut,
    StoreSearch,
    label_problem,
)

router = APIRouter(tags=["store"])


def _semantic(g: Gateway) -> bool:
    return g.config.store.index is not None


@router.put("/store/items")
async def put_item(body: StorePut, request: Request) -> Response:
    g = gw(request)
    value: dict[str, Any] = {
        "namespace": tuple(body.namespace),
        "key": body.key,
        "value": body.value,
        "index": body.index,
        "ttl": body.ttl,
    }
    await _authorize(request, "put", value)
    body = body.model_copy(update={"namespace": list(value["namespace"]), "key": value["key"]})
    given = body.model_dump(exclude_unset=True)
    if _semantic(g) and body.index is not False:
        await g.query(GraphQuery(op="store_put", graph_id="", values=given))
        return Response(status_code=204)
    try:
        await g.store.aput(
            tuple(body.namespace),
            body.key,
            body.value,
            index=body.index,
            # left out: the configured default_ttl; an explicit null: no expiry
            ttl=given.get("ttl", NOT_PROVIDED),
        )
    except ValueError as exc:  # the store's own namespace rules ("langgraph" root, empty)
        raise BadRequest(str(exc)) from None
    return Response(status_code=204)


@router.get("/store/items")
async def get_item(
    request: Request,
    namespace: str = "",
    key: str = "",
    refresh_ttl: str | None = Query(None),
) -> Response:
    labels = namespace.split(".")
    for label in labels:
        if problem := label_problem(label):
            raise InvalidInput(problem)
    if not key:
        raise BadRequest("Key is required")
    refresh = None if refresh_ttl is None else refresh_ttl.lower() == "true"
    value: dict[str, Any] = {"namespace": tuple(labels), "key": key, "refresh_ttl": refresh}
    await _authorize(request, "get", value)
    item = await gw(request).store.aget(value["namespace"], value["key"], refresh_ttl=refresh)
    return JSON(item.dict() if item is not None else None)


@router.delete("/store/items")
async def delete_item(body: StoreDelete, request: Request) -> Response:
    value: dict[str, Any] = {"namespace": tuple(body.namespace), "key": body.key}
    await _authorize(request, "delete", value)
    await gw(request).store.adelete(value["namespace"], value["key"])
    return Response(status_code=204)


@router.post("/store/items/search")
async def search_items(body: StoreSearch, request: Request) -> Response:
    g = gw(request)
    limit = body.limit or 10  # as LangGraph Server: a limit of 0 is the default
    value: dict[str, Any] = {
        "namespace": tuple(body.namespace_prefix or ()),
        "filter": body.filter,
        "limit": limit,
        "offset": body.offset,
        "query": body.query,
        "refresh_ttl": body.refresh_ttl,
    }
    auth = await _authorize(request, "search", value)
    if auth:  # the handler's filter over the items' values; its keys win
        value["filter"] = dict(value["filter"] or {}) | auth
    body = body.model_copy(
        update={"namespace_prefix": list(value["namespace"]), "filter": value["filter"]}
    )
    if _semantic(g) and body.query:
        values: dict[str, Any] = body.model_dump() | {"limit": limit}
        return JSON(
            {"items": await g.query(GraphQuery(op="store_search", graph_id="", values=values))}
        )
    try:
        found = await g.store.asearch(
            tuple(body.namespace_prefix or ()),
            query=body.query,
            filter=body.filter,
            limit=limit,
            offset=body.offset,
            refresh_ttl=body.refresh_ttl,
        )
    except ValueError as exc:  # an unsupported filter operator, a non-numeric comparison
        raise BadRequest(str(exc)) from None
    return JSON({"items": [item.dict() for item in found]})


@router.post("/store/namespaces")
async def list_namespaces(body: StoreNamespaces, request: Request) -> Response:
    value: dict[str, Any] = {
        "namespace": tuple(body.prefix) if body.prefix else None,
        "suffix": tuple(body.suffix) if body.suffix else None,
        "max_depth": body.max_depth,
        "limit": body.limit,
        "offset": body.offset,
    }
    await _authorize(request, "list_namespaces", value)
    found = await gw(request).store.alist_namespaces(
        prefix=value["namespace"],
        suffix=tuple(body.suffix) if body.suffix else None,
        max_depth=body.max_depth,
        limit=body.limit,
        offset=body.offset,
    )
    return JSON({"namespaces": [list(ns) for ns in found]})


async def _authorize(request: Request, action: str, value: dict[str, Any]) -> Filters | None:
    """``store:<action>``: the handler may refuse, or move the request to
    another namespace (``value["namespace"]``, checked again here)."""
    access = access_of(request.scope)
    if not access.on:
        return None
    found = await access.check("store", action, value)
    namespace = value.get("namespace")
    if namespace is not None:
        value["namespace"] = tuple(namespace)
        for label in value["namespace"]:
            if problem := label_problem(label):
                raise InvalidInput(problem)
    return found
