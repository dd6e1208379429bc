"""The executor process: pulls run requests from JetStream, steps the graphs,
answers graph queries, takes resumes routed to it as a thread's owner.

Everything opens and closes in :func:`serve`; background work lives in one
TaskGroup. JetStream acks a run request only once the run is recorded as ended
or interrupted; while it runs, in-progress acks keep it from being redelivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec
from faststream import AckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsMessage, PullSub
from redis.asyncio import Redis

from relaygraph.broker import ensure_streams, make_broker
from relaygraph.checkpoint import AsyncRedisSaver
from relaygraph.config import load_config
from relaygraph.contracts import (
    CancelRequest,
    ErrorBody,
    GraphQuery,
    GraphReply,
    OwnerReply,
    RunRequest,
    decode,
    encode,
)
from relaygraph.dispatch import Dispatcher
from relaygraph.errors import RelaygraphError
from relaygraph.settings import ExecutorSettings, NatsSettings, RedisSettings
from relaygraph.store import Store
from relaygraph.subjects import Keys, Subjects
from relaygraph_executor.graphs import GraphRegistry
from relaygraph_executor.queries import Queries
from relaygraph_executor.runner import Runner, heartbeat

log = logging.getLogger("relaygraph.executor")


async def serve(
    config_path: str | None = None,
    *,
    nats: NatsSettings | None = None,
    redis: RedisSettings | None = None,
    settings: ExecutorSettings | None = None,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    nats = nats or NatsSettings()
    redis = redis or RedisSettings()
    settings = settings or ExecutorSettings()
    stop = stop or asyncio.Event()
    config = load_config(config_path or "langgraph.json")
    subjects, keys = Subjects(nats.prefix), Keys(redis.key_prefix)
    broker = make_broker(nats, name=f"relaygraph-executor-{settings.executor_id}")
    slots = asyncio.Semaphore(settings.max_concurrent_runs)

    async with Redis.from_url(redis.url) as rds, contextlib.AsyncExitStack() as stack:
        saver = AsyncRedisSaver(rds, key_prefix=redis.key_prefix)
        await saver.asetup()
        registry = GraphRegistry(config, saver)
        await registry.load()
        store = Store(rds, keys)
        await broker.connect()
        stack.push_async_callback(broker.stop)
        nc = broker.connection
        js = nc.jetstream()
        await ensure_streams(js, subjects, nats)
        dispatcher = Dispatcher(nc, js, store, subjects)

        async def dispatch_next(request: bytes) -> None:
            req = decode(request, RunRequest)
            await dispatcher.send(request, req.thread_id, req.run_id)

        runner = Runner(
            registry=registry,
            store=store,
            js=js,
            subjects=subjects,
            executor_id=settings.executor_id,
            dispatch=dispatch_next,
        )
        queries = Queries(registry, store)

        async with asyncio.TaskGroup() as tg:

            async def run_task(req: RunRequest, msg: NatsMessage | None) -> None:
                beats = [
                    lambda: store.heartbeat_executor(settings.executor_id, settings.liveness_ttl)
                ]
                if msg is not None:
                    beats.append(msg.raw_message.in_progress)

                async def beat() -> None:
                    for b in beats:
                        await b()

                hb = tg.create_task(heartbeat(beat, settings.heartbeat_interval))
                try:
                    outcome = await runner.execute(req)
                    if msg is not None:
                        await msg.ack()
                    log.debug("run %s: %s", req.run_id, outcome)
                except asyncio.CancelledError:
                    if msg is not None:  # shutting down: another executor takes it now
                        with contextlib.suppress(Exception):
                            await msg.nack()
                    raise
                except Exception:
                    log.exception(
                        "run %s failed in the executor; it will be redelivered", req.run_id
                    )
                    if msg is not None:
                        with contextlib.suppress(Exception):
                            await msg.nack(delay=1.0)
                finally:
                    hb.cancel()
                    slots.release()

            @broker.subscriber(
                subjects.run_queue,
                stream=JStream(subjects.runs_stream, declare=False),
                durable=subjects.executors_durable,
                pull_sub=PullSub(batch_size=1, timeout=5.0),
                ack_policy=AckPolicy.MANUAL,
                config=ConsumerConfig(ack_wait=settings.ack_wait, max_ack_pending=-1),
            )
            async def on_run(msg: NatsMessage) -> None:
                body = msg.body
                try:
                    req = decode(body, RunRequest)
                except msgspec.DecodeError as exc:
                    log.error("poison run request dropped: %s", exc)
                    await msg.reject()
                    return
                await slots.acquire()
                tg.create_task(run_task(req, msg))

            @broker.subscriber(subjects.owner_run(settings.executor_id))
            async def on_owner_run(msg: NatsMessage) -> bytes:
                req = decode(msg.body, RunRequest)
                if slots.locked():
                    return encode(OwnerReply(accepted=False))
                await slots.acquire()
                tg.create_task(run_task(req, None))
                return encode(OwnerReply(accepted=True))

            @broker.subscriber(subjects.graph_query, queue=subjects.executors_queue_group)
            async def on_query(msg: NatsMessage) -> bytes:
                try:
                    q = decode(msg.body, GraphQuery)
                    return encode(GraphReply(result=msgspec.Raw(await queries.answer(q))))
                except msgspec.DecodeError as exc:
                    err = ErrorBody(code="invalid_input", message=str(exc))
                except RelaygraphError as exc:
                    err = ErrorBody(code=exc.code, message=exc.message)
                except Exception as exc:
                    log.exception("graph query failed")
                    err = ErrorBody(code="internal", message=f"{type(exc).__name__}: {exc}")
                return encode(GraphReply(error=err))

            @broker.subscriber(subjects.cancel)
            async def on_cancel(msg: NatsMessage) -> None:
                req = decode(msg.body, CancelRequest)
                if runner.cancel(req.run_id, req.action):
                    log.info("run %s cancelled (%s)", req.run_id, req.action)

            await store.heartbeat_executor(settings.executor_id, settings.liveness_ttl)
            await broker.start()
            live = tg.create_task(
                heartbeat(
                    lambda: store.heartbeat_executor(settings.executor_id, settings.liveness_ttl),
                    settings.heartbeat_interval,
                )
            )
            log.info(
                "executor %s serving graphs %s", settings.executor_id, ", ".join(registry.graphs)
            )
            if ready is not None:
                ready.set()
            await stop.wait()
            log.info("executor %s stopping", settings.executor_id)
            for sub in broker.subscribers:
                await sub.stop()
            live.cancel()
            for task in list(runner.active.values()):
                task.cancel()
        await store.forget_executor(settings.executor_id)


def run(config_path: str | None = None, **kwargs: Any) -> None:
    """Entry point of ``relaygraph executor``: serve until SIGINT/SIGTERM."""
    from relaygraph.process import run_until_signal

    run_until_signal(lambda stop: serve(config_path, stop=stop, **kwargs))
