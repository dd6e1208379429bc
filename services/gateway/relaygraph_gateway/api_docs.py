"""The AsyncAPI document of the public NATS contracts, next to the OpenAPI one:
``/asyncapi.json`` and a page at ``/asyncapi``."""

from __future__ import annotations

import functools
from importlib.metadata import version
from typing import Any

from fastapi import APIRouter, Request
from faststream.specification.asyncapi.site import get_asyncapi_html
from starlette.responses import HTMLResponse, Response

from relaygraph import asyncapi
from relaygraph_gateway.render import JSON

router = APIRouter(tags=["system"])


@functools.cache
def _document(prefix: str) -> dict[str, Any]:
    return asyncapi.document(prefix, version("relaygraph"))


@router.get("/asyncapi.json")
async def asyncapi_json(request: Request) -> Response:
    return JSON(_document(request.app.state.gateway.subjects.prefix))


@router.get("/asyncapi", response_class=HTMLResponse)
async def asyncapi_page(request: Request) -> Response:
    spec = asyncapi.specification(request.app.state.gateway.subjects.prefix, version("relaygraph"))
    return HTMLResponse(get_asyncapi_html(spec, try_it_out_path=None))
