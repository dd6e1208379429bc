"""The NATS side every service shares: one FastStream broker per process, with
credentials and TLS from the settings, and the JetStream streams relaygraph
owns, declared idempotently by whichever service starts first.
"""

from __future__ import annotations

import logging
import ssl
import time
from typing import Any

from faststream.nats import (
    NatsBroker,
    NatsCredentials,
    NatsSecurity,
    NatsToken,
    NatsUserPassword,
)
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from relaygraph.errors import InvalidInput
from relaygraph.settings import NatsSettings
from relaygraph.subjects import Subjects

log = logging.getLogger("relaygraph.broker")


def _ssl_context(settings: NatsSettings) -> ssl.SSLContext | None:
    if settings.tls_key and not settings.tls_cert:
        raise InvalidInput("NATS_TLS_KEY is set without NATS_TLS_CERT: give both for mutual TLS")
    if not (settings.tls_ca or settings.tls_cert):
        return None
    ctx = ssl.create_default_context(cafile=settings.tls_ca)
    if settings.tls_cert:
        ctx.load_cert_chain(settings.tls_cert, settings.tls_key)
    return ctx


def security(settings: NatsSettings) -> NatsSecurity | None:
    """FastStream security object for the configured credentials and TLS.

    With TLS settings, the client starts the TLS handshake before anything
    else (``tls_handshake_first``): nats-py would otherwise upgrade only when
    the server asks for it, so a plaintext or impersonating server would get
    the credentials in the clear. The server needs ``handshake_first`` in its
    ``tls`` block (``deploy/nats.conf``)."""
    ctx = _ssl_context(settings)
    on = ctx is not None
    tls: dict[str, Any] = {"ssl_context": ctx, "use_ssl": on, "tls_handshake_first": on}
    if settings.creds:
        return NatsCredentials.from_file(settings.creds, **tls)
    if settings.user:
        return NatsUserPassword(settings.user, settings.password or "", **tls)
    if settings.token:
        return NatsToken(settings.token, **tls)
    if on:
        return NatsSecurity(**tls)
    return None


class ConnectFailures:
    """nats-py's error callback. Until the first connection succeeds, nats-py
    retries forever and FastStream says nothing (a service started before
    NATS waits for it, which is what an orchestrator wants); this says why
    each try failed (a refused TLS handshake, a wrong address), at most once
    every :data:`EVERY` seconds. Once connected, FastStream logs the errors."""

    EVERY = 10.0

    def __init__(self, url: str) -> None:
        self.url = url
        self._logged_at = -self.EVERY
        self.connected = False

    async def __call__(self, exc: Exception) -> None:
        if self.connected:
            return
        now = time.monotonic()
        if now - self._logged_at >= self.EVERY:
            self._logged_at = now
            log.warning("cannot connect to NATS at %s yet: %r; retrying", self.url, exc)


class Broker(NatsBroker):
    """FastStream's NATS broker, which also says why it cannot connect at start."""

    def __init__(self, *args: Any, connect_failures: ConnectFailures, **kwargs: Any) -> None:
        super().__init__(*args, error_cb=connect_failures, **kwargs)
        self.connect_failures = connect_failures

    async def connect(self) -> Any:
        connection = await super().connect()
        self.connect_failures.connected = True  # from here on FastStream logs errors
        return connection


def make_broker(settings: NatsSettings, name: str, *, apply_types: bool = True) -> Broker:
    """A broker that reconnects forever: NATS restarts are survived, not fatal,
    and a service started before NATS waits for it.

    ``apply_types=False``: handlers are called without FastDepends (whose
    context lookups run in a worker thread, one hop per message); give their
    subscribers ``decoder=as_message`` and they receive the message itself."""
    return Broker(
        [u.strip() for u in settings.url.split(",") if u.strip()],
        name=name,
        security=security(settings),
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_failures=ConnectFailures(settings.url),
        logger=logging.getLogger("relaygraph.faststream"),
        log_level=logging.DEBUG,
        graceful_timeout=15.0,
        apply_types=apply_types,
    )


async def as_message(msg: Any) -> Any:
    """A subscriber's decoder that hands the handler the message itself (its
    body undecoded: relaygraph decodes its own contracts with msgspec)."""
    return msg


def runs_stream_config(subjects: Subjects, replicas: int = 1, max_bytes: int = -1) -> StreamConfig:
    """Run requests: a work queue, each message taken by one executor. When
    full it refuses new requests rather than drop accepted ones (a refused
    dispatch stays in its Redis outbox and is sent again by the sweeper)."""
    return StreamConfig(
        name=subjects.runs_stream,
        subjects=[subjects.runs_all],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        num_replicas=replicas,
        duplicate_window=120.0,
        discard=DiscardPolicy.NEW,
        max_bytes=max_bytes,
    )


def events_stream_config(
    subjects: Subjects, max_age: float, replicas: int = 1, max_bytes: int = -1
) -> StreamConfig:
    """Run events: kept for ``max_age`` so join and stream can replay a run."""
    return StreamConfig(
        name=subjects.events_stream,
        subjects=[subjects.events_all],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=replicas,
        max_age=max_age,
        max_bytes=max_bytes,
        duplicate_window=60.0,
    )


def dead_letter_stream_config(
    subjects: Subjects, replicas: int = 1, max_bytes: int = -1
) -> StreamConfig:
    """Run requests given up on, kept 14 days for a person to look at."""
    return StreamConfig(
        name=subjects.dead_letter_stream,
        subjects=[subjects.dead_letter_all],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=replicas,
        max_age=14 * 24 * 3600.0,
        max_bytes=max_bytes,
        duplicate_window=120.0,
    )


async def ensure_streams(js: JetStreamContext, subjects: Subjects, settings: NatsSettings) -> None:
    """Declare every stream relaygraph owns; safe to call from every service."""
    from relaygraph.streams import ensure_stream, interrupts_stream_config

    limit = settings.stream_max_bytes
    await ensure_stream(js, runs_stream_config(subjects, settings.replicas, limit))
    await ensure_stream(
        js, events_stream_config(subjects, settings.events_max_age, settings.replicas, limit)
    )
    await ensure_stream(js, interrupts_stream_config(subjects, settings.replicas, limit))
    await ensure_stream(js, dead_letter_stream_config(subjects, settings.replicas, limit))


def run_consumer_configs(subjects: Subjects, ack_wait: float) -> list[ConsumerConfig]:
    """The executors' two durable pull consumers of run requests (the queue
    and the priority subject)."""
    return [
        ConsumerConfig(
            durable_name=durable,
            filter_subject=subject,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ack_wait,
            max_ack_pending=-1,
        )
        for subject, durable in (
            (subjects.run_queue, subjects.executors_durable),
            (subjects.run_priority, subjects.executors_priority_durable),
        )
    ]


async def ensure_run_consumers(js: JetStreamContext, subjects: Subjects, ack_wait: float) -> None:
    """Create the executors' consumers, or bring an existing one to the
    current settings (JetStream updates a durable's editable fields, such as
    ``ack_wait``, when it is created again): a changed ``RELAYGRAPH_ACK_WAIT``
    takes effect at the next executor start, not only on a fresh stream."""
    for config in run_consumer_configs(subjects, ack_wait):
        await js.add_consumer(subjects.runs_stream, config=config)
