"""The inbox over HTTP: HTML pages for people (``web_pages``), JSON for
programs (``web_api``), behind one guard (``web_auth``)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from langgraph_sdk import Auth
from redis.exceptions import RedisError

from relaygraph import metrics
from relaygraph.errors import RelaygraphError
from relaygraph_reviewer.service import Reviewer
from relaygraph_reviewer.web_api import api_router
from relaygraph_reviewer.web_auth import InboxAuth
from relaygraph_reviewer.web_pages import InboxPages, assets_router, session_router


def create_app(
    reviewer: Reviewer,
    *,
    api_key: str | None = None,
    auth: Auth | None = None,
    api_url: str | None = None,
    named_keys: dict[str, str] | None = None,
) -> FastAPI:
    """The inbox app over a running :class:`Reviewer` (its lifespan is the
    caller's); ``auth``: langgraph.json's custom auth, applied per person."""
    app = FastAPI(title="relaygraph reviewer", version="0.1.0")
    guard = InboxAuth(api_key, auth, named_keys)
    app.middleware("http")(guard.middleware)

    @app.exception_handler(RelaygraphError)
    async def relaygraph_error(request: Request, exc: RelaygraphError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

    @app.exception_handler(RedisError)
    async def redis_error(request: Request, exc: RedisError) -> JSONResponse:
        return JSONResponse({"detail": f"the inbox store is unavailable: {exc}"}, status_code=503)

    app.include_router(assets_router())
    app.include_router(api_router(reviewer, guard))
    app.include_router(InboxPages(reviewer, guard, api_url).router())
    app.include_router(session_router(guard))

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        metrics.INTERRUPTS_PENDING.set(await reviewer.inbox.count())
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    return app
