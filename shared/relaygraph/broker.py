"""The NATS side every service shares: one FastStream broker per process, with
credentials and TLS from the settings, and the JetStream streams relaygraph
owns, declared idempotently by whichever service starts first.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any

from faststream.nats import (
    NatsBroker,
    NatsCredentials,
    NatsSecurity,
    NatsToken,
    NatsUserPassword,
)
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from relaygraph.settings import NatsSettings
from relaygraph.subjects import Subjects

log = logging.getLogger("relaygraph.broker")


def _ssl_context(settings: NatsSettings) -> ssl.SSLContext | None:
    if not (settings.tls_ca or settings.tls_cert):
        return None
    ctx = ssl.create_default_context(cafile=settings.tls_ca)
    if settings.tls_cert:
        ctx.load_cert_chain(settings.tls_cert, settings.tls_key)
    return ctx


def security(settings: NatsSettings) -> NatsSecurity | None:
    """FastStream security object for the configured credentials and TLS."""
    ctx = _ssl_context(settings)
    if settings.creds:
        return NatsCredentials.from_file(settings.creds, ssl_context=ctx)
    if settings.user:
        return NatsUserPassword(settings.user, settings.password or "", ssl_context=ctx)
    if settings.token:
        return NatsToken(settings.token, ssl_context=ctx)
    if ctx is not None:
        return NatsSecurity(ssl_context=ctx, use_ssl=True)
    return None


def make_broker(settings: NatsSettings, name: str, *, apply_types: bool = True) -> NatsBroker:
    """A broker that reconnects forever: NATS restarts are survived, not fatal.

    ``apply_types=False``: handlers are called without FastDepends (whose
    context lookups run in a worker thread, one hop per message); give their
    subscribers ``decoder=as_message`` and they receive the message itself."""
    return NatsBroker(
        [u.strip() for u in settings.url.split(",") if u.strip()],
        name=name,
        security=security(settings),
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        logger=logging.getLogger("relaygraph.faststream"),
        log_level=logging.DEBUG,
        graceful_timeout=15.0,
        apply_types=apply_types,
    )


async def as_message(msg: Any) -> Any:
    """A subscriber's decoder that hands the handler the message itself (its
    body undecoded: relaygraph decodes its own contracts with msgspec)."""
    return msg


def runs_stream_config(subjects: Subjects, replicas: int = 1) -> StreamConfig:
    """Run requests: a work queue, each message taken by one executor."""
    return StreamConfig(
        name=subjects.runs_stream,
        subjects=[subjects.runs_all],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        num_replicas=replicas,
        duplicate_window=120.0,
        discard=DiscardPolicy.OLD,
    )


def events_stream_config(subjects: Subjects, max_age: float, replicas: int = 1) -> StreamConfig:
    """Run events: kept for ``max_age`` so join and stream can replay a run."""
    return StreamConfig(
        name=subjects.events_stream,
        subjects=[subjects.events_all],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=replicas,
        max_age=max_age,
        duplicate_window=60.0,
    )


def dead_letter_stream_config(subjects: Subjects, replicas: int = 1) -> StreamConfig:
    """Run requests given up on, kept 14 days for a person to look at."""
    return StreamConfig(
        name=subjects.dead_letter_stream,
        subjects=[subjects.dead_letter_all],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=replicas,
        max_age=14 * 24 * 3600.0,
        duplicate_window=120.0,
    )


async def _ensure(js: JetStreamContext, config: StreamConfig) -> None:
    try:
        await js.add_stream(config)
    except BadRequestError:
        # The stream exists with another config (an older relaygraph, or a
        # setting changed): bring it to ours.
        await js.update_stream(config)


async def ensure_streams(js: JetStreamContext, subjects: Subjects, settings: NatsSettings) -> None:
    """Declare every stream relaygraph owns; safe to call from every service."""
    from relaygraph.streams import interrupts_stream_config

    await _ensure(js, runs_stream_config(subjects, settings.replicas))
    await _ensure(js, events_stream_config(subjects, settings.events_max_age, settings.replicas))
    await _ensure(js, interrupts_stream_config(subjects, settings.replicas))
    await _ensure(js, dead_letter_stream_config(subjects, settings.replicas))
