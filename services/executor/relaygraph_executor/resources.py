"""Everything an executor works with, opened in one lifespan and closed in
reverse: Redis (and the process's one pipeline to it), the graphs with their
checkpointer, the run transitions, NATS with its streams and consumers."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from nats.aio.client import Client
from nats.js import JetStreamContext

from relaygraph import layout
from relaygraph.broker import Broker, ensure_run_consumers, ensure_streams, make_broker
from relaygraph.catalog import Catalog
from relaygraph.config import Config
from relaygraph.dispatch import Dispatcher
from relaygraph.keys import Keys
from relaygraph.owners import Owners
from relaygraph.pipelining import AutoPipeline
from relaygraph.redis_client import RedisClient
from relaygraph.runs import Runs
from relaygraph.settings import ExecutorSettings, NatsSettings, RedisSettings, RunSettings
from relaygraph.store import RedisStore, store_for
from relaygraph.subjects import Subjects
from relaygraph.threads import Threads
from relaygraph_executor.attempts import AttemptSaver
from relaygraph_executor.graphs import GraphRegistry
from relaygraph_executor.webhook_sender import WebhookSender


@dataclass(frozen=True, slots=True)
class Settings:
    """An executor's settings, every kind."""

    executor: ExecutorSettings
    runs: RunSettings
    nats: NatsSettings
    redis: RedisSettings


@dataclass(frozen=True, slots=True)
class Resources:
    settings: Settings
    redis: RedisClient
    keys: Keys
    subjects: Subjects
    saver: AttemptSaver
    store: RedisStore
    registry: GraphRegistry
    runs: Runs
    threads: Threads
    owners: Owners
    broker: Broker
    nc: Client
    js: JetStreamContext
    dispatcher: Dispatcher
    webhooks: WebhookSender


@contextlib.asynccontextmanager
async def open_resources(config: Config, settings: Settings) -> AsyncIterator[Resources]:
    ex, nats, redis = settings.executor, settings.nats, settings.redis
    keys, subjects = redis.keys(), Subjects(nats.prefix)
    async with (
        redis.connect(f"relaygraph-executor-{ex.executor_id}") as rds,
        contextlib.AsyncExitStack() as stack,
    ):
        await redis.check(rds)
        await layout.setup(rds, keys)
        # One pipeline for the whole process: what the runs, their checkpoints
        # and the sweeper ask in one turn of the event loop goes out together.
        trips = AutoPipeline(rds)
        saver = AttemptSaver(
            rds,
            key_prefix=redis.key_prefix,
            pipeline=trips,
            write_window=settings.executor.checkpoint_write_window,
        )
        await saver.asetup()
        store = store_for(config, rds, keys, trips, embed=True)
        registry = GraphRegistry(config, saver, store)
        await registry.load()
        # Gateways check runs' input against what is published here, with no
        # executor needed to answer at that moment.
        await Catalog(rds, keys).publish(registry.entries(ex.executor_id, time.time()))
        runs = settings.runs.lifecycle(rds, keys, trips)
        owners = Owners(rds, keys)
        broker = make_broker(nats, name=f"relaygraph-executor-{ex.executor_id}", apply_types=False)
        await broker.connect()
        stack.push_async_callback(broker.stop)
        js = broker.connection.jetstream()
        await ensure_streams(js, subjects, nats)
        await ensure_run_consumers(js, subjects, ex.ack_wait)
        webhooks = WebhookSender(config.webhooks, ex.webhook_secret)
        stack.push_async_callback(webhooks.close)
        yield Resources(
            settings=settings,
            redis=rds,
            keys=keys,
            subjects=subjects,
            saver=saver,
            store=store,
            registry=registry,
            runs=runs,
            threads=Threads(rds, keys, runs),
            owners=owners,
            broker=broker,
            nc=broker.connection,
            js=js,
            dispatcher=Dispatcher(
                broker.connection, js, owners, subjects, settings.runs.owner_timeout
            ),
            webhooks=webhooks,
        )
