"""The gateway process: the LangGraph Server HTTP API, and the NATS resume
entry point for reviewers that speak only NATS.

It never imports user graph code: it reads langgraph.json for the graph names,
and asks executors, by NATS request/reply, whatever needs the graph.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from faststream.nats import NatsMessage
from langgraph.store.base import InvalidNamespaceError
from langgraph_sdk import Auth
from nats.errors import Error as NatsError
from redis.exceptions import ClusterDownError, SlotNotCoveredError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.responses import Response

from relaygraph import layout, metrics, resumes, tracing
from relaygraph.auth import Authenticator, AuthFailed, load_auth, nats_access
from relaygraph.broker import ensure_streams, make_broker
from relaygraph.checkpoint import AsyncRedisSaver
from relaygraph.config import Config, apply_config_env, load_config
from relaygraph.contracts import (
    ErrorBody,
    ErrorReply,
    ResumeReply,
    ResumeRequest,
    decode,
    encode,
)
from relaygraph.errors import NotFound, RelaygraphError
from relaygraph.owners import Owners
from relaygraph.pipelining import AutoPipeline
from relaygraph.process import release_memory
from relaygraph.redis_client import REDIS_UNAVAILABLE
from relaygraph.settings import GatewaySettings, NatsSettings, RedisSettings, RunSettings
from relaygraph.subjects import Subjects
from relaygraph.threads import Threads
from relaygraph.tracing import SpanKind
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
from relaygraph_gateway.authz import Hidden
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
from relaygraph_gateway.models import CommandBody, RunCreate
from relaygraph_gateway.observe import Observed
from relaygraph_gateway.render import JSON

log = logging.getLogger("relaygraph.gateway")


async def resume_over_nats(
    gateway: Gateway,
    thread_id: str,
    body: bytes,
    headers: dict[str, str] | None = None,
    auth: Auth | None = None,
) -> bytes:
    """``relaygraph.resume.<thread_id>``: resume the thread's pending
    interrupt(s). With custom auth, the request's NATS headers (an
    ``Authorization`` one) are authenticated as an HTTP request's would be,
    and the resume is authorised as ``threads:create_run``; a refusal is a
    ``forbidden`` error."""
    try:
        access = await nats_access(auth, thread_id, headers or {})
        req = decode(body, ResumeRequest)
        thread = await gateway.threads.get(thread_id)
        assistant = thread.get("assistant_id")
        if assistant is None:
            raise NotFound(f"Thread {thread_id} has never run a graph")
        metadata = {"reviewer": req.reviewer} if req.reviewer else {}
        plan = resumes.over_nats(req.resume, req.interrupt_id, req.checkpoint_id)
        run, _, _ = await gateway.create_run(
            thread_id,
            RunCreate(
                assistant_id=assistant.decode(),
                command=CommandBody(resume=plan.value),
                metadata=metadata,
            ),
            resume=plan,
            access=access,
        )
        return encode(ResumeReply(run_id=run["run_id"], thread_id=thread_id, status=run["status"]))
    except msgspec.DecodeError as exc:
        err = ErrorBody(code="invalid_input", message=f"bad resume request: {exc}")
    except (AuthFailed, Hidden) as exc:
        err = ErrorBody(code="forbidden", message=exc.message)
    except RelaygraphError as exc:
        err = ErrorBody(code=exc.code, message=exc.message)
    except Exception as exc:
        log.exception("resume of thread %s failed", thread_id)
        err = ErrorBody(code="internal", message=f"{type(exc).__name__}: {exc}")
    return encode(ErrorReply(error=err))


def create_app(
    config: Config | str | None = None,
    *,
    nats: NatsSettings | None = None,
    redis: RedisSettings | None = None,
    settings: GatewaySettings | None = None,
) -> FastAPI:
    settings = settings or GatewaySettings()
    rate = Rate.parse(settings.rate_limit) if settings.rate_limit else None
    cfg = config if isinstance(config, Config) else load_config(config or "langgraph.json")
    http = cfg.http
    lifespan: Any = functools.partial(
        _lifespan, cfg, settings, rate, nats or NatsSettings(), redis or RedisSettings()
    )
    custom = load_custom_app(http.app, cfg.root, cfg.dependencies) if http.app else None
    if custom is not None:
        lifespan = with_custom_lifespan(lifespan, custom)
    meta = "meta" not in http.disabled
    app = FastAPI(
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
    app.include_router(api_meta.ok_router)
    groups = {
        "assistants": [api_assistants.router],
        "threads": [api_threads.router],
        "runs": [api_runs.router, api_crons.router],
        "store": [api_store.router],
        "meta": [api_meta.router, api_docs.router],
    }
    for group, routers in groups.items():
        if group not in http.disabled:
            for router in routers:
                app.include_router(router)
    # Each middleware added wraps the ones before it. Outermost, the metrics
    # and the trace see every request; then CORS (a preflight needs no key; a
    # 401 still carries CORS headers), the body limit, authentication and
    # the rate limit, the custom app's routes, and the fast routes.
    app.add_middleware(FastRoutes, errors=error_response, disabled=http.disabled)
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
    app.add_middleware(CORSMiddleware, **cors_options(http))
    app.add_middleware(Observed)

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

    return app


@contextlib.asynccontextmanager
async def _lifespan(
    cfg: Config,
    settings: GatewaySettings,
    rate: Rate | None,
    nats: NatsSettings,
    redis: RedisSettings,
    app: FastAPI,
) -> AsyncIterator[None]:
    """Redis, NATS and the streams, then the :class:`Gateway` the routes use
    (``app.state.gateway``) and the NATS resume subscriber."""
    subjects, keys = Subjects(nats.prefix), redis.keys()
    tracing.setup("relaygraph-gateway")
    broker = make_broker(nats, name="relaygraph-gateway")
    async with redis.connect("relaygraph-gateway") as rds:
        await redis.check(rds)
        with contextlib.suppress(RedisConnectionError):  # Redis away: the executors do it
            await layout.setup(rds, keys)
        await broker.connect()
        try:
            js = broker.connection.jetstream()
            await ensure_streams(js, subjects, nats)
            trips = AutoPipeline(rds)  # one pipeline for every request of the gateway
            runs = RunSettings().lifecycle(rds, keys, trips)
            gateway = Gateway(
                runs=runs,
                threads=Threads(rds, keys, runs),
                owners=Owners(rds, keys),
                config=cfg,
                saver=AsyncRedisSaver(rds, key_prefix=redis.key_prefix, pipeline=trips),
                nc=broker.connection,
                js=js,
                subjects=subjects,
                settings=settings,
            )
            app.state.gateway = gateway
            if rate is not None:
                app.state.rate_limiter = RateLimiter(rds, trips, keys.prefix, rate)
            with contextlib.suppress(RedisConnectionError):  # made on first use otherwise
                await gateway.assistants.ensure_system()

            @broker.subscriber(subjects.resume_all, queue=subjects.gateways_queue_group)
            async def on_resume(msg: NatsMessage) -> bytes:
                thread_id = msg.raw_message.subject.rsplit(".", 1)[-1]
                headers = msg.raw_message.headers or {}
                with tracing.span(
                    "nats resume", headers=headers, kind=SpanKind.SERVER, thread_id=thread_id
                ):
                    return await resume_over_nats(
                        gateway, thread_id, msg.body, headers, app.state.auth
                    )

            await broker.start()
            crons = asyncio.create_task(
                schedule_forever(gateway, settings.cron_interval, settings.cron_fire_grace)
            )
            release_memory()
            log.info("gateway serving graphs %s", ", ".join(cfg.graphs))
            try:
                yield
            finally:
                crons.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await crons
        finally:
            try:
                await broker.stop()
            except Exception as exc:  # NATS already gone: nothing left to flush
                log.warning("closing the NATS connection: %s", exc)


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
    async with redis.connect("relaygraph-gateway") as rds:
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
