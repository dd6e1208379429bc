"""The reviewer process: one lifespan that opens Redis, NATS and the HTTP client,
subscribes to interrupts with a durable consumer, and serves the inbox.

``relaygraph reviewer`` calls :func:`run`; tests and embedders await
:func:`serve` (or enter :func:`open_reviewer` and mount :func:`create_app`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
from collections.abc import AsyncIterator, Iterator

import httpx
import nats.errors
import uvicorn
from fastapi import FastAPI
from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsBroker, PullSub
from langgraph_sdk import Auth
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.exceptions import ConnectionError as RedisConnectionError

from relaygraph import layout, tracing
from relaygraph.auth import load_auth
from relaygraph.broker import as_message, make_broker
from relaygraph.config import apply_config_env
from relaygraph.process import run as run_loop
from relaygraph.process import setup_logging
from relaygraph.redis_client import RedisClient
from relaygraph.settings import NatsSettings, RedisSettings, ReviewerSettings
from relaygraph.streams import ensure_stream, interrupts_stream_config
from relaygraph.subjects import Subjects
from relaygraph_reviewer.inbox import Inbox
from relaygraph_reviewer.outbox import WebhookOutbox
from relaygraph_reviewer.rules import load_rules
from relaygraph_reviewer.service import Reviewer
from relaygraph_reviewer.web import create_app

log = logging.getLogger("relaygraph.reviewer")

FETCH_BATCH = 16
FETCH_TIMEOUT = 2.0
"""Seconds one pull waits for interrupts (also how fast a stop is noticed)."""


def named_keys(text: str | None) -> dict[str, str]:
    """``REVIEWER_API_KEYS``: ``name:key`` pairs separated by commas."""
    found: dict[str, str] = {}
    for pair in (text or "").split(","):
        name, sep, key = pair.strip().partition(":")
        if not pair.strip():
            continue
        if not sep or not name.strip() or not key.strip():
            raise SystemExit(f"REVIEWER_API_KEYS: {pair.strip()!r} is not name:key")
        found[name.strip()] = key.strip()
    return found


class InboxAuthSettings(BaseSettings):
    """The inbox's optional API key: the same ``RELAYGRAPH_API_KEY`` as the gateway's."""

    model_config = SettingsConfigDict(env_prefix="RELAYGRAPH_", extra="ignore")

    api_key: str | None = Field(
        default=None,
        description="When set, the inbox asks for it (x-api-key header or sign-in page).",
    )


async def _open_redis(
    stack: contextlib.AsyncExitStack, redis_settings: RedisSettings, durable: str
) -> RedisClient:
    redis = await stack.enter_async_context(
        redis_settings.connect(f"relaygraph-reviewer-{durable}")
    )
    await redis_settings.check(redis)
    # The reviewer reads the threads' records, so records of a newer layout
    # are refused; it migrates nothing (the gateway and executors do) and may
    # have a Redis of its own, so it writes no layout key. Redis away now:
    # nothing to check yet (as the gateway).
    with contextlib.suppress(RedisConnectionError):
        await layout.check(redis, redis_settings.keys())
    return redis


@contextlib.asynccontextmanager
async def open_reviewer(
    settings: ReviewerSettings,
    nats_settings: NatsSettings,
    redis_settings: RedisSettings,
    *,
    resume_timeout: float = 10.0,
    webhook_backoff: float = 0.5,
    webhook_max_backoff: float = 60.0,
    webhook_give_up_after: float = 24 * 3600.0,
) -> AsyncIterator[Reviewer]:
    """Every resource of a reviewer, opened in order and closed in reverse.

    The rules file is checked first: a bad file fails before any connection.
    """
    rules = load_rules(settings.rules)
    tracing.setup("relaygraph-reviewer")
    subjects = Subjects(nats_settings.prefix)
    keys = redis_settings.keys()
    async with contextlib.AsyncExitStack() as stack:
        redis = await _open_redis(stack, redis_settings, settings.durable)
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=10.0))
        webhook = None
        if settings.webhook_url:
            webhook = WebhookOutbox(
                *(redis, keys, settings.durable, http, settings.webhook_url),
                backoff=webhook_backoff,
                max_backoff=webhook_max_backoff,
                give_up_after=webhook_give_up_after,
            )
        broker = make_broker(
            nats_settings, name=f"relaygraph-reviewer-{settings.durable}", apply_types=False
        )
        reviewer = Reviewer(
            inbox=Inbox(redis, keys, settings.durable),
            subjects=subjects,
            connection=lambda: broker.connection,
            rules=rules,
            webhook=webhook,
            resume_timeout=resume_timeout,
            authorization=settings.resume_authorization,
        )
        _subscribe(broker, reviewer, settings.durable)
        await _connect(stack, broker, nats_settings, subjects)
        async with _running(broker, reviewer, webhook):
            log.info(
                "reviewer %s: consuming %s (stream %s), %d rule(s), webhook %s",
                *(settings.durable, subjects.interrupts_all, subjects.interrupts_stream),
                *(len(rules.rules), settings.webhook_url or "off"),
            )
            yield reviewer


async def _connect(
    stack: contextlib.AsyncExitStack,
    broker: NatsBroker,
    nats_settings: NatsSettings,
    subjects: Subjects,
) -> None:
    """Connect the broker (drained when ``stack`` closes) and make sure the
    interrupts stream is there."""
    await broker.connect()
    stack.push_async_callback(_stop_broker, broker)
    await ensure_stream(
        broker.connection.jetstream(),
        interrupts_stream_config(subjects, nats_settings.replicas, nats_settings.stream_max_bytes),
    )


@contextlib.asynccontextmanager
async def _running(
    broker: NatsBroker, reviewer: Reviewer, webhook: WebhookOutbox | None
) -> AsyncIterator[None]:
    """While the block runs: the webhook's deliveries, the deadline looks and
    the consumer."""
    async with asyncio.TaskGroup() as tasks:
        delivering = tasks.create_task(webhook.run()) if webhook else None
        looking = tasks.create_task(reviewer.look_forever())
        await broker.start()
        try:
            yield
        finally:
            looking.cancel()
            if delivering is not None and webhook is not None:
                webhook.stop()
                delivering.cancel()


def _subscribe(broker: NatsBroker, reviewer: Reviewer, durable: str) -> None:
    """The reviewer's durable pull consumer of every interrupt event."""
    subjects = reviewer.subjects
    broker.subscriber(
        subjects.interrupts_all,
        stream=JStream(subjects.interrupts_stream, declare=False),
        durable=durable,
        pull_sub=PullSub(batch_size=FETCH_BATCH, timeout=FETCH_TIMEOUT),
        ack_policy=AckPolicy.MANUAL,
        title="reviewer interrupts",
        decoder=as_message,  # the handler takes the message (no FastDepends thread hop)
    )(reviewer.handle)


async def _stop_broker(broker: NatsBroker) -> None:
    """Stop the consumer and drain the connection; a NATS already gone is no crash."""
    connection = broker.connection
    try:
        await broker.stop()
    except (nats.errors.Error, OSError) as exc:
        log.warning("NATS connection not drained on stop (%r): closing it", exc)
        with contextlib.suppress(nats.errors.Error, OSError):
            await connection.close()


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: :func:`serve` owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(
            exc.errno, f"reviewer inbox cannot listen on {host}:{port}: {exc.strerror}"
        ) from exc
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def serve(
    settings: ReviewerSettings | None = None,
    nats_settings: NatsSettings | None = None,
    redis_settings: RedisSettings | None = None,
    *,
    api_key: str | None = None,
    auth: Auth | None = None,
    stop: asyncio.Event | None = None,
    resume_timeout: float = 10.0,
    webhook_backoff: float = 0.5,
    webhook_max_backoff: float = 60.0,
    webhook_give_up_after: float = 24 * 3600.0,
    handle_signals: bool = True,
) -> None:
    """Run the reviewer until ``stop`` is set, or SIGTERM/SIGINT arrives.

    ``handle_signals=False`` leaves the process's signals alone (embedding, tests).
    """
    settings = settings or ReviewerSettings()
    nats_settings = nats_settings or NatsSettings()
    redis_settings = redis_settings or RedisSettings()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    handled = _stop_on_signals(loop, stop) if handle_signals else []
    sock = _bind(settings.host, settings.port)
    try:
        async with open_reviewer(
            settings,
            nats_settings,
            redis_settings,
            resume_timeout=resume_timeout,
            webhook_backoff=webhook_backoff,
            webhook_max_backoff=webhook_max_backoff,
            webhook_give_up_after=webhook_give_up_after,
        ) as reviewer:
            app = create_app(
                reviewer,
                api_key=api_key,
                auth=auth,
                api_url=settings.api_url,
                named_keys=named_keys(settings.api_keys),
            )
            await _serve_app(app, sock, stop, settings)
    finally:
        sock.close()
        for sig in handled:
            loop.remove_signal_handler(sig)


def _stop_on_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> list[signal.Signals]:
    """SIGTERM and SIGINT set ``stop`` (only the main thread may handle
    signals): the signals handled, to be let go of after."""
    if threading.current_thread() is not threading.main_thread():
        return []
    handled = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
        handled.append(sig)
    return handled


async def _serve_app(
    app: FastAPI, sock: socket.socket, stop: asyncio.Event, settings: ReviewerSettings
) -> None:
    """Serve ``app`` on ``sock`` until ``stop`` is set."""
    config = uvicorn.Config(
        app, lifespan="off", log_config=None, access_log=False, timeout_graceful_shutdown=5
    )
    server = _Server(config)

    async def stop_server() -> None:
        await stop.wait()
        server.should_exit = True

    async with asyncio.TaskGroup() as tasks:
        watcher = tasks.create_task(stop_server())
        log.info("reviewer inbox on http://%s:%d/", settings.host, settings.port)
        await server.serve(sockets=[sock])
        watcher.cancel()


def run(config_path: str | None = None, port: int | None = None) -> None:
    """Entry point of ``relaygraph reviewer``: settings from the environment.

    ``config_path``: a ``langgraph.json`` whose ``env`` is applied (variables
    already set win); ``./langgraph.json`` is used when present. ``port``
    overrides ``REVIEWER_PORT``.
    """
    config = apply_config_env(config_path)
    setup_logging()
    settings = ReviewerSettings()
    if port is not None:
        settings = settings.model_copy(update={"port": port})
    auth = None
    if config is not None and config.auth is not None:  # each person sees what they may
        auth = load_auth(config.auth.path, config.root, config.dependencies)
    run_loop(serve(settings, api_key=InboxAuthSettings().api_key, auth=auth))
