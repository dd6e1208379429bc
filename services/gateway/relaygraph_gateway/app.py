"""The gateway process: the LangGraph Server HTTP API, and the NATS resume
entry point for reviewers that speak only NATS (``resume_handler``).

It never imports user graph code: it reads langgraph.json for the graph names,
and asks executors, by NATS request/reply, whatever needs the graph. Its
resources open and close in one lifespan (``resources``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Collection
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from langgraph.store.base import InvalidNamespaceError
from nats.errors import Error as NatsError
from redis.exceptions import ClusterDownError, SlotNotCoveredError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.applications import Starlette
from starlette.responses import Response

from relaygraph import metrics, tracing
from relaygraph.auth import Authenticator, load_auth
from relaygraph.config import Config, HttpConfig, apply_config_env, load_config
from relaygraph.errors import RelaygraphError
from relaygraph.process import release_memory
from relaygraph.redis_client import REDIS_UNAVAILABLE
from relaygraph.settings import GatewaySettings, NatsSettings, RedisSettings, RunSettings
from relaygraph_gateway import (
    api_assistants,
    api_crons,
    api_docs,
    api_meta,
    api_runs,
    api_store,
    api_threads,
)
from relaygraph_gateway.authn import Guard
from relaygraph_gateway.core import Gateway
from relaygraph_gateway.cron_scheduler import schedule_forever
from relaygraph_gateway.fast import FastRoutes
from relaygraph_gateway.http_layer import (
    CustomRoutes,
    cors_options,
    load_custom_app,
    merge_openapi,
    with_custom_lifespan,
)
from relaygraph_gateway.limits import BodyLimit, Rate, RateLimiter
from relaygraph_gateway.observe import Observed
from relaygraph_gateway.render import JSON
from relaygraph_gateway.resources import NAME, Settings, open_resources
from relaygraph_gateway.resume_handler import ResumeHandler

log = logging.getLogger("relaygraph.gateway")


def create_app(
    config: Config | str | None = None,
    *,
    nats: NatsSettings | None = None,
    redis: RedisSettings | None = None,
    settings: GatewaySettings | None = None,
) -> FastAPI:
    everything = Settings(
        gateway=settings or GatewaySettings(),
        runs=RunSettings(),
        nats=nats or NatsSettings(),
        redis=redis or RedisSettings(),
    )
    limit = everything.gateway.rate_limit
    rate = Rate.parse(limit) if limit else None
    cfg = config if isinstance(config, Config) else load_config(config or "langgraph.json")
    http = cfg.http
    custom = load_custom_app(http.app, cfg.root, cfg.dependencies) if http.app else None
    lifespan: Any = functools.partial(_lifespan, cfg, everything, rate)
    if custom is not None:
        lifespan = with_custom_lifespan(lifespan, custom)
    app = _fastapi(http, lifespan)
    _include_routers(app, http.disabled)
    _add_middleware(app, cfg, everything.gateway, custom)
    _add_error_handlers(app)
    return app


def _fastapi(http: HttpConfig, lifespan: Any) -> FastAPI:
    meta = "meta" not in http.disabled
    return FastAPI(
        title="relaygraph",
        version="0.1.0",
        lifespan=lifespan,
        description="The LangGraph Server API over NATS JetStream and Redis.",
        openapi_url="/openapi.json" if meta else None,
        docs_url="/docs" if meta else None,
        redoc_url=None,
        # Our own span per request (``observe``) covers the fast routes too.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )


def _include_routers(app: FastAPI, disabled: Collection[str]) -> None:
    """The API's routes, but for the groups langgraph.json disables."""
    app.include_router(api_meta.ok_router)
    groups = {
        "assistants": [api_assistants.router],
        "threads": [api_threads.router],
        "runs": [api_runs.router, api_crons.router],
        "store": [api_store.router],
        "meta": [api_meta.router, api_docs.router],
    }
    for group, routers in groups.items():
        if group not in disabled:
            for router in routers:
                app.include_router(router)


def _add_middleware(
    app: FastAPI, cfg: Config, settings: GatewaySettings, custom: Starlette | None
) -> None:
    """Each middleware added wraps the ones before it. Outermost, the metrics
    and the trace see every request; then CORS (a preflight needs no key; a
    401 still carries CORS headers), the body limit, authentication and the
    rate limit, the custom app's routes, and the fast routes."""
    app.add_middleware(FastRoutes, errors=error_response, disabled=cfg.http.disabled)
    if custom is not None:
        merge_openapi(app, custom)
        app.add_middleware(CustomRoutes, custom=custom)
    auth = load_auth(cfg.auth.path, cfg.root, cfg.dependencies) if cfg.auth else None
    app.state.auth = auth
    public = CustomRoutes(app, custom).claims if custom is not None else (lambda scope: False)
    app.add_middleware(
        Guard,
        api_key=settings.api_key,
        authenticator=Authenticator(auth) if auth is not None else None,
        public=public if cfg.auth is not None and not cfg.auth.custom_routes else lambda s: False,
    )
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(CORSMiddleware, **cors_options(cfg.http))
    app.add_middleware(Observed)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RelaygraphError)
    @app.exception_handler(RedisConnectionError)
    @app.exception_handler(RedisTimeoutError)
    @app.exception_handler(ClusterDownError)
    @app.exception_handler(TryAgainError)
    @app.exception_handler(SlotNotCoveredError)
    @app.exception_handler(NatsError)
    async def on_error(request: Request, exc: Exception) -> Response:
        response = error_response(request.scope, exc)
        assert response is not None
        return response

    @app.exception_handler(InvalidNamespaceError)
    async def on_bad_namespace(request: Request, exc: InvalidNamespaceError) -> Response:
        return JSON({"detail": str(exc)}, 400)  # LangGraph's Store rules, as the reference

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> Response:
        return JSON({"detail": _validation_detail(exc)}, 422)


@contextlib.asynccontextmanager
async def _lifespan(
    cfg: Config, settings: Settings, rate: Rate | None, app: FastAPI
) -> AsyncIterator[None]:
    """The gateway's resources (``resources``), then the :class:`Gateway` the
    routes use (``app.state.gateway``), the NATS resume subscriber and the
    cron scheduler."""
    tracing.setup("relaygraph-gateway")
    async with open_resources(cfg, settings) as res:
        gateway = Gateway(res, cfg, settings.gateway)
        app.state.gateway = gateway
        if rate is not None:
            app.state.rate_limiter = RateLimiter(res.redis, res.trips, res.keys.prefix, rate)
        with contextlib.suppress(RedisConnectionError):  # made on first use otherwise
            await gateway.assistants.ensure_system()
        res.broker.include_router(ResumeHandler(gateway, app.state.auth).router())
        await res.broker.start()
        async with _firing_crons(gateway, settings.gateway):
            release_memory()
            log.info("gateway serving graphs %s", ", ".join(cfg.graphs))
            yield


@contextlib.asynccontextmanager
async def _firing_crons(gateway: Gateway, settings: GatewaySettings) -> AsyncIterator[None]:
    crons = asyncio.create_task(
        schedule_forever(gateway, settings.cron_interval, settings.cron_fire_grace)
    )
    try:
        yield
    finally:
        crons.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await crons


def error_response(scope: Any, exc: Exception) -> Response | None:
    """The response for an error the API reports (``None``: a bug, a 500)."""
    if isinstance(exc, RelaygraphError):
        return JSON({"detail": exc.message}, exc.status, headers=getattr(exc, "headers", None))
    if isinstance(exc, (*REDIS_UNAVAILABLE, NatsError)):
        what = "NATS" if isinstance(exc, NatsError) else "Redis"
        metrics.UNAVAILABLE.labels(what.lower()).inc()
        log.warning(
            "%s unavailable for %s %s: %s", what, scope.get("method"), scope.get("path"), exc
        )
        return JSON(
            {"detail": f"{what} is unavailable right now ({type(exc).__name__}); retry shortly"},
            503,
            headers={"Retry-After": "1"},
        )
    return None


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            pos = err.get("loc", ("body", "?"))[-1]
            reason = (err.get("ctx") or {}).get("error", "JSON decode error")
            parts.append(f"request body is not valid JSON (at character {pos}): {reason}")
            continue
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        if err.get("type") == "extra_forbidden":
            parts.append(
                f"unknown field {loc!r}: a state update goes under `values`, "
                'e.g. {"values": {...}, "as_node": "node"}'
            )
            continue
        msg = str(err.get("msg")).removeprefix("Value error, ")  # our validators' own words
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts) or "invalid request"


async def _check_redis(redis: RedisSettings) -> None:
    async with redis.connect(NAME) as rds:
        await redis.check(rds)


def run(config_path: str | None = None, port: int | None = None, host: str | None = None) -> None:
    """Entry point of ``relaygraph gateway``."""
    import uvicorn

    from relaygraph.process import setup_logging

    config = apply_config_env(config_path)
    setup_logging()
    settings = GatewaySettings()
    if port is not None:
        settings.port = port
    if host is not None:
        settings.host = host
    app = create_app(config or config_path, settings=settings)
    asyncio.run(_check_redis(RedisSettings()))  # a clear line, not uvicorn's traceback
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        timeout_graceful_shutdown=10,
    )
