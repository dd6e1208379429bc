"""The ``http`` section of langgraph.json, applied as LangGraph Server applies
it: CORS (any origin unless ``http.cors`` says otherwise), a custom
Starlette or FastAPI app (``http.app``) whose routes are served before the
API's and listed in ``/openapi.json``, and route groups turned off
(``http.disable_*``).

The custom app is user code, so the gateway imports it (it never imports
graphs); its routes stay behind the API key like every other route.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import Match
from starlette.schemas import SchemaGenerator
from starlette.types import ASGIApp, Receive, Scope, Send

from relaygraph.config import HttpConfig
from relaygraph.errors import InvalidInput
from relaygraph.user_code import TargetError, import_target, make_importable

DEFAULT_CORS: dict[str, Any] = {
    "allow_origins": ["*"],
    "allow_methods": ["*"],
    "allow_headers": ["*"],
    "allow_credentials": False,
    "expose_headers": ["x-pagination-total", "x-pagination-next", "content-location"],
    "max_age": 600,
}
API_ONLY = frozenset({"/ok", "/docs", "/openapi.json"})
"""Paths a custom app cannot take over."""


def cors_options(http: HttpConfig) -> dict[str, Any]:
    """``http.cors`` as given (Starlette's defaults for what it leaves out),
    else LangGraph Server's defaults."""
    return dict(http.cors) if http.cors is not None else dict(DEFAULT_CORS)


def load_custom_app(target: str, root: Path, dependencies: list[Path]) -> Starlette:
    """``./file.py:app`` (relative to langgraph.json) or ``module:app``, with
    the config's ``dependencies`` importable, as for graphs."""
    make_importable(dependencies)
    try:
        app = import_target(target, root)
    except TargetError as exc:
        raise InvalidInput(f"http.app: {exc}") from None
    if not isinstance(app, Starlette):
        raise InvalidInput(f"http.app: {target!r} is not a Starlette or FastAPI application")
    return app


class CustomRoutes:
    """ASGI: a request one of the custom app's routes matches (path and
    method) goes to that app, with its own middleware and error handlers;
    anything else to the API."""

    def __init__(self, app: ASGIApp, custom: Starlette) -> None:
        self.app = app
        self.custom = custom

    def claims(self, scope: Scope) -> bool:
        """Whether the custom app serves this request."""
        if scope["type"] not in ("http", "websocket") or scope["path"] in API_ONLY:
            return False
        return any(route.matches(scope)[0] is Match.FULL for route in self.custom.routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.claims(scope):
            await self.custom(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def with_custom_lifespan(
    lifespan: Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]], custom: Starlette
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """The API's start-up and shut-down around the custom app's."""

    @contextlib.asynccontextmanager
    async def both(app: FastAPI) -> AsyncIterator[None]:
        async with lifespan(app), custom.router.lifespan_context(custom):
            yield

    return both


def merge_openapi(app: FastAPI, custom: Starlette) -> None:
    """``/openapi.json`` lists the custom app's routes too (a FastAPI app's
    own document; a Starlette app's from its docstrings' YAML)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = FastAPI.openapi(app)
            if isinstance(custom, FastAPI):
                extra = custom.openapi().get("paths", {})
            else:
                generator = SchemaGenerator({"openapi": "3.1.0", "info": {}})
                extra = generator.get_schema(custom.routes).get("paths", {})
            for path, operations in extra.items():
                doc.setdefault("paths", {}).setdefault(path, {}).update(operations)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
