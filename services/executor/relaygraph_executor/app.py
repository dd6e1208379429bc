"""The executor process: pulls run requests from JetStream, steps the graphs,
answers graph queries, takes resumes routed to it as a thread's owner, and
sweeps for runs whose lease ran out.

Everything opens and closes in :func:`serve`; background work lives in one
TaskGroup. JetStream acks a run request only once the run is recorded as ended
or interrupted (or is not this executor's to run); while it runs, in-progress
acks keep it from being redelivered and lease renewals keep it ours.

On SIGTERM the executor drains: it stops pulling, stops taking resumes as an
owner, lets in-flight runs finish within ``drain_grace``, and hands the rest
back at once (lease released, request back on the queue).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import msgspec
from faststream import AckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsMessage, PullSub

from relaygraph import layout
from relaygraph.broker import as_message, ensure_run_consumers, ensure_streams, make_broker
from relaygraph.catalog import Catalog
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
from relaygraph.owners import Owners
from relaygraph.pipelining import AutoPipeline
from relaygraph.process import release_memory
from relaygraph.runs import Runs, SweepOutcome
from relaygraph.settings import ExecutorSettings, NatsSettings, RedisSettings, RunSettings
from relaygraph.subjects import Keys, Subjects
from relaygraph.threads import Threads
from relaygraph_executor.attempts import AttemptSaver
from relaygraph_executor.graph_io import INFRA_ERRORS
from relaygraph_executor.graphs import GraphRegistry
from relaygraph_executor.liveness import Liveness, heartbeat
from relaygraph_executor.queries import Queries
from relaygraph_executor.runner import Attempt, Runner

log = logging.getLogger("relaygraph.executor")


async def sweep(runs: Runs, dispatcher: Dispatcher, interval: float) -> None:
    """Re-dispatch runs whose lease (or dispatch grace) ran out, and publish the
    interrupt events of runs whose executor died before it could, forever."""
    while True:
        await asyncio.sleep(interval)
        try:
            for due in await runs.sweep():
                if due.request is None:
                    continue
                if due.outcome is SweepOutcome.REDISPATCH:
                    log.warning(
                        "run %s of thread %s: lease ran out; dispatching it again",
                        due.run_id,
                        due.thread_id,
                    )
                    await dispatcher.to_queue(
                        due.request, due.run_id, dedupe=f"s{due.until}", priority=True
                    )
                elif due.outcome is SweepOutcome.PUBLISH:
                    log.warning(
                        "run %s: publishing its interrupt event left unpublished", due.run_id
                    )
                    await dispatcher.publish_interrupt(due.request)
                    await runs.watching.unwatch(due.thread_id, due.run_id, outbox_sent=True)
        except INFRA_ERRORS as exc:
            log.warning("sweep skipped: %s", exc)


async def serve(
    config_path: str | None = None,
    *,
    nats: NatsSettings | None = None,
    redis: RedisSettings | None = None,
    settings: ExecutorSettings | None = None,
    runs: RunSettings | None = None,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    nats = nats or NatsSettings()
    redis = redis or RedisSettings()
    settings = settings or ExecutorSettings()
    runs = runs or RunSettings()
    stop = stop or asyncio.Event()
    config = load_config(config_path or "langgraph.json")
    subjects, keys = Subjects(nats.prefix), Keys(redis.key_prefix)
    broker = make_broker(
        nats, name=f"relaygraph-executor-{settings.executor_id}", apply_types=False
    )
    slots = asyncio.Semaphore(settings.max_concurrent_runs)
    renew_every = min(settings.heartbeat_interval, runs.lease_ttl / 3)

    async with (
        redis.client(f"relaygraph-executor-{settings.executor_id}") as rds,
        contextlib.AsyncExitStack() as stack,
    ):
        await redis.check(rds)
        await layout.setup(rds, keys)
        # One pipeline for the whole process: what the runs, their checkpoints
        # and the sweeper ask in one turn of the event loop goes out together.
        trips = AutoPipeline(rds)
        saver = AttemptSaver(rds, key_prefix=redis.key_prefix, pipeline=trips)
        await saver.asetup()
        registry = GraphRegistry(config, saver)
        await registry.load()
        # Gateways check runs' input against what is published here, with no
        # executor needed to answer at that moment.
        await Catalog(rds, keys).publish(registry.entries(settings.executor_id, time.time()))
        owners = Owners(rds, keys)
        liveness = Liveness(owners, settings.executor_id, settings.liveness_ttl)
        lifecycle = runs.lifecycle(rds, keys, trips)
        threads = Threads(rds, keys, lifecycle)
        await broker.connect()
        stack.push_async_callback(broker.stop)
        nc = broker.connection
        js = nc.jetstream()
        await ensure_streams(js, subjects, nats)
        await ensure_run_consumers(js, subjects, settings.ack_wait)
        dispatcher = Dispatcher(nc, js, owners, subjects, runs.owner_timeout)

        runner = Runner(
            registry=registry,
            runs=lifecycle,
            threads=threads,
            nc=nc,
            js=js,
            subjects=subjects,
            executor_id=settings.executor_id,
            dispatcher=dispatcher,
            renew_interval=renew_every,
        )
        queries = Queries(registry, threads)
        in_flight: set[asyncio.Task[Any]] = set()

        async with asyncio.TaskGroup() as tg:

            async def run_task(req: RunRequest, body: bytes, msg: NatsMessage | None) -> None:
                hb = None
                if msg is not None:  # keep JetStream from redelivering while we work
                    hb = tg.create_task(
                        heartbeat(
                            msg.raw_message.in_progress,
                            settings.heartbeat_interval,
                            f"in-progress ack of run {req.run_id}",
                        )
                    )
                try:
                    outcome = await runner.execute(req)
                    if outcome is Attempt.HANDED_BACK:
                        if msg is not None:
                            await msg.nack()  # redelivered to another executor at once
                        else:
                            await dispatcher.to_queue(
                                body, req.run_id, dedupe=f"h{time.time_ns()}", priority=True
                            )
                    elif msg is not None:
                        await msg.ack()
                    log.debug("run %s: %s", req.run_id, outcome)
                except asyncio.CancelledError:
                    if msg is not None:
                        with contextlib.suppress(Exception):
                            await msg.nack()
                    raise
                except Exception:
                    log.exception(
                        "run %s: this attempt failed in the executor; it will be retried",
                        req.run_id,
                    )
                    if msg is not None:  # back off: 1 s, 2 s, 4 s ... at most 30 s
                        tries = msg.raw_message.metadata.num_delivered or 1
                        with contextlib.suppress(Exception):
                            await msg.nack(delay=min(30.0, 2.0 ** (tries - 1)))
                finally:
                    if hb is not None:
                        hb.cancel()
                    slots.release()

            def start(req: RunRequest, body: bytes, msg: NatsMessage | None) -> None:
                task = tg.create_task(run_task(req, body, msg))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)

            @broker.subscriber(
                subjects.run_queue,
                stream=JStream(subjects.runs_stream, declare=False),
                durable=subjects.executors_durable,
                pull_sub=PullSub(batch_size=1, timeout=5.0),
                ack_policy=AckPolicy.MANUAL,
                config=ConsumerConfig(ack_wait=settings.ack_wait, max_ack_pending=-1),
                decoder=as_message,
            )
            @broker.subscriber(
                subjects.run_priority,
                stream=JStream(subjects.runs_stream, declare=False),
                durable=subjects.executors_priority_durable,
                pull_sub=PullSub(batch_size=1, timeout=5.0),
                ack_policy=AckPolicy.MANUAL,
                config=ConsumerConfig(ack_wait=settings.ack_wait, max_ack_pending=-1),
                decoder=as_message,
            )
            async def on_run(msg: NatsMessage) -> None:
                try:
                    req = decode(msg.body, RunRequest)
                except msgspec.DecodeError as exc:
                    log.error("poison run request sent to the dead-letter stream: %s", exc)
                    await js.publish(
                        subjects.dead_letter("undecodable"),
                        msg.body,
                        headers={"Relaygraph-Reason": str(exc)[:200]},
                    )
                    await msg.reject()
                    return
                await slots.acquire()
                start(req, msg.body, msg)

            @broker.subscriber(subjects.owner_run(settings.executor_id), decoder=as_message)
            async def on_owner_run(msg: NatsMessage) -> bytes:
                req = decode(msg.body, RunRequest)
                if slots.locked() or stop.is_set() or not liveness.alive:
                    return encode(OwnerReply(accepted=False))
                await slots.acquire()
                start(req, msg.body, None)
                return encode(OwnerReply(accepted=True))

            @broker.subscriber(
                subjects.graph_query, queue=subjects.executors_queue_group, decoder=as_message
            )
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

            @broker.subscriber(subjects.cancel, decoder=as_message)
            async def on_cancel(msg: NatsMessage) -> None:
                req = decode(msg.body, CancelRequest)
                if runner.cancel(req.run_id, req.action):
                    log.info("run %s cancelled (%s)", req.run_id, req.action)

            await broker.start()
            broken = ", ".join(registry.errors)
            log.info(
                "executor %s serving graphs %s%s",
                settings.executor_id,
                ", ".join(registry.graphs) or "(none)",
                f" (did not load, their runs end in error: {broken})" if broken else "",
            )
            # Alive (resumes may be routed to it as a thread's owner) once subscribed.
            await liveness.refresh()
            background = [
                tg.create_task(
                    heartbeat(liveness.refresh, settings.heartbeat_interval, "liveness refresh")
                ),
                tg.create_task(sweep(lifecycle, dispatcher, settings.sweep_interval)),
            ]
            release_memory()
            if ready is not None:
                ready.set()
            await stop.wait()
            await drain(broker, owners, runner, in_flight, background, settings)


async def drain(
    broker: Any,
    owners: Owners,
    runner: Runner,
    in_flight: set[asyncio.Task[Any]],
    background: list[asyncio.Task[Any]],
    settings: ExecutorSettings,
) -> None:
    """Stop taking work, give in-flight runs ``drain_grace`` to end, hand the
    rest to another executor."""
    log.info("executor %s draining: %d run(s) in flight", settings.executor_id, len(in_flight))
    for sub in broker.subscribers:
        with contextlib.suppress(Exception):
            await sub.stop()
    with contextlib.suppress(Exception):
        await owners.forget(settings.executor_id)  # resumes now go to the queue
    for task in background:
        task.cancel()
    if in_flight:
        await asyncio.wait(set(in_flight), timeout=settings.drain_grace)
    handed = [run_id for run_id in list(runner.active) if runner.cancel(run_id, "handoff")]
    if handed:
        log.info("handing %d run(s) to other executors", len(handed))
    if in_flight:
        await asyncio.wait(set(in_flight), timeout=10)
    await runner.runs.watching.flush()
    log.info("executor %s stopped", settings.executor_id)


def run(config_path: str | None = None, **kwargs: Any) -> None:
    """Entry point of ``relaygraph executor``: serve until SIGINT/SIGTERM."""
    from relaygraph.config import apply_config_env
    from relaygraph.process import run_until_signal

    apply_config_env(config_path)
    run_until_signal(lambda stop: serve(config_path, stop=stop, **kwargs))
