"""Everything a gateway works with, opened in one lifespan and closed in
reverse: Redis (and the process's one pipeline to it), the run transitions,
threads, the store and the checkpointer, NATS with its streams, and the
dispatcher that sends runs on their way."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from nats.aio.client import Client
from nats.js import JetStreamContext
from redis.exceptions import ConnectionError as RedisConnectionError

from relaygraph import layout
from relaygraph.broker import Broker, ensure_streams, make_broker
from relaygraph.checkpoint import AsyncRedisSaver
from relaygraph.config import Config
from relaygraph.dispatch import Dispatcher
from relaygraph.keys import Keys
from relaygraph.owners import Owners
from relaygraph.pipelining import AutoPipeline
from relaygraph.redis_client import RedisClient
from relaygraph.runs import Runs
from relaygraph.settings import GatewaySettings, NatsSettings, RedisSettings, RunSettings
from relaygraph.store import RedisStore, store_for
from relaygraph.subjects import Subjects
from relaygraph.threads import Threads

log = logging.getLogger("relaygraph.gateway")

NAME = "relaygraph-gateway"
"""The gateway's name on its NATS and Redis connections."""


@dataclass(frozen=True, slots=True)
class Settings:
    """A gateway's settings, every kind."""

    gateway: GatewaySettings
    runs: RunSettings
    nats: NatsSettings
    redis: RedisSettings


@dataclass(frozen=True, slots=True)
class Resources:
    redis: RedisClient
    keys: Keys
    subjects: Subjects
    trips: AutoPipeline
    runs: Runs
    threads: Threads
    owners: Owners
    store: RedisStore
    saver: AsyncRedisSaver
    broker: Broker
    nc: Client
    js: JetStreamContext
    dispatcher: Dispatcher


@contextlib.asynccontextmanager
async def open_resources(config: Config, settings: Settings) -> AsyncIterator[Resources]:
    nats, redis = settings.nats, settings.redis
    keys, subjects = redis.keys(), Subjects(nats.prefix)
    broker = make_broker(nats, name=NAME, apply_types=False)
    async with redis.connect(NAME) as rds:
        await redis.check(rds)
        with contextlib.suppress(RedisConnectionError):  # Redis away: the executors do it
            await layout.setup(rds, keys)
        await broker.connect()
        try:
            js = broker.connection.jetstream()
            await ensure_streams(js, subjects, nats)
            yield _assemble(config, settings, rds, keys, subjects, broker, js)
        finally:
            await _close(broker)


def _assemble(
    config: Config,
    settings: Settings,
    rds: RedisClient,
    keys: Keys,
    subjects: Subjects,
    broker: Broker,
    js: JetStreamContext,
) -> Resources:
    # One pipeline for every request of the gateway: what concurrent requests
    # ask in one turn of the event loop goes out together.
    trips = AutoPipeline(rds)
    runs = settings.runs.lifecycle(rds, keys, trips)
    owners = Owners(rds, keys)
    return Resources(
        redis=rds,
        keys=keys,
        subjects=subjects,
        trips=trips,
        runs=runs,
        threads=Threads(rds, keys, runs),
        owners=owners,
        # The gateway never loads user code: no embedding function.
        store=store_for(config, rds, keys, trips, embed=False),
        saver=AsyncRedisSaver(rds, key_prefix=settings.redis.key_prefix, pipeline=trips),
        broker=broker,
        nc=broker.connection,
        js=js,
        dispatcher=Dispatcher(broker.connection, js, owners, subjects, settings.runs.owner_timeout),
    )


async def _close(broker: Broker) -> None:
    try:
        await broker.stop()
    except Exception as exc:  # NATS already gone: nothing left to flush
        log.warning("closing the NATS connection: %s", exc)
