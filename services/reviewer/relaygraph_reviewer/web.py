"""The inbox over HTTP: HTML pages for people (``web_pages``), JSON for
programs (``web_api``), behind one guard (``web_auth``)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from redis.exceptions import RedisError

from relaygraph import metrics
from relaygraph.errors import RelaygraphError
from relaygraph_reviewer.service import Reviewer
from relaygraph_reviewer.web_api import api_router
from relaygraph_reviewer.web_auth import guard
from relaygraph_reviewer.web_pages import InboxPages, assets_router, session_router


def create_app(reviewer: Reviewer, *, api_key: str | None = None) -> FastAPI:
    """The inbox app over a running :class:`Reviewer` (its lifespan is the caller's)."""
    app = FastAPI(title="relaygraph reviewer", version="0.1.0")
    app.middleware("http")(guard(api_key))

    @app.exception_handler(RelaygraphError)
    async def relaygraph_error(request: Request, exc: RelaygraphError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

    @app.exception_handler(RedisError)
    async def redis_error(request: Request, exc: RedisError) -> JSONResponse:
        return JSONResponse({"detail": f"the inbox store is unavailable: {exc}"}, status_code=503)

    app.include_router(assets_router())
    app.include_router(api_router(reviewer))
    app.include_router(InboxPages(reviewer, signed_in=bool(api_key)).router())
    app.include_router(session_router(api_key))

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        metrics.INTERRUPTS_PENDING.set(await reviewer.inbox.count())
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    return app
