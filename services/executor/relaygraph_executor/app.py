"""The executor process: pulls run requests from JetStream, steps the graphs,
answers graph queries, takes runs routed to it as a thread's owner, and sweeps
for runs whose lease ran out.

Its resources open and close in one lifespan (``resources``); its handlers are
the :class:`~relaygraph_executor.worker.Executor`'s, on a FastStream router;
background work (heartbeats, the sweeper, runs) lives in one TaskGroup.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from relaygraph import logs, metrics, tracing
from relaygraph.config import load_config
from relaygraph.dispatch import Dispatcher
from relaygraph.process import release_memory
from relaygraph.runs import Runs, SweepOutcome
from relaygraph.runs.lifecycle import SWEEP_BATCH
from relaygraph.settings import ExecutorSettings, NatsSettings, RedisSettings, RunSettings
from relaygraph_executor.graph_io import INFRA_ERRORS
from relaygraph_executor.liveness import Liveness, heartbeat
from relaygraph_executor.resources import Settings, open_resources
from relaygraph_executor.retention import sweep_store, sweep_threads_forever
from relaygraph_executor.worker import Executor

log = logging.getLogger("relaygraph.executor")


async def sweep(runs: Runs, dispatcher: Dispatcher, interval: float) -> None:
    """Re-dispatch runs whose lease (or dispatch grace) ran out, send delayed
    runs when they are due, and publish the interrupt events of runs whose
    executor died before it could, forever."""
    full = False
    while True:
        if not full:  # a full batch: more may be due already
            await asyncio.sleep(interval)
        full = False
        try:
            batch = await runs.sweep(SWEEP_BATCH)
            full = len(batch) == SWEEP_BATCH
            for due in batch:
                metrics.SWEPT.labels(due.outcome.value).inc()
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
                elif due.outcome is SweepOutcome.DUE:
                    log.info(
                        "run %s of thread %s is due; dispatching it", due.run_id, due.thread_id
                    )
                    await dispatcher.to_queue(due.request, due.run_id)
                elif due.outcome is SweepOutcome.PUBLISH:
                    log.warning(
                        "run %s: publishing its interrupt event left unpublished", due.run_id
                    )
                    await dispatcher.publish_interrupt(due.request)
                    await runs.watching.unwatch(due.thread_id, due.run_id)
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
    everything = Settings(
        executor=settings or ExecutorSettings(),
        runs=runs or RunSettings(),
        nats=nats or NatsSettings(),
        redis=redis or RedisSettings(),
    )
    ex = everything.executor
    logs.set_process_ids(executor_id=ex.executor_id)
    tracing.setup("relaygraph-executor")
    if ex.metrics_port is not None:
        metrics.serve(ex.metrics_port, ex.metrics_host)
    stop = stop or asyncio.Event()
    config = load_config(config_path or "langgraph.json")
    async with open_resources(config, everything) as res, asyncio.TaskGroup() as tasks:
        liveness = Liveness(res.owners, ex.executor_id, ex.liveness_ttl)
        executor = Executor(res, liveness, tasks)
        res.broker.include_router(executor.router())
        await res.broker.start()
        broken = ", ".join(res.registry.errors)
        log.info(
            "executor %s serving graphs %s%s",
            ex.executor_id,
            ", ".join(res.registry.graphs) or "(none)",
            f" (did not load, their runs end in error: {broken})" if broken else "",
        )
        # Alive (runs may be routed to it as a thread's owner) once subscribed.
        await liveness.refresh()
        background = [
            tasks.create_task(
                heartbeat(liveness.refresh, ex.heartbeat_interval, "liveness refresh")
            ),
            tasks.create_task(sweep(res.runs, res.dispatcher, ex.sweep_interval)),
            tasks.create_task(sweep_store(res.store, config.store.sweep_interval_minutes * 60)),
            tasks.create_task(sweep_threads_forever(res.threads, res.saver, config.thread_ttl)),
        ]
        release_memory()
        if ready is not None:
            ready.set()
        await stop.wait()
        await executor.drain(background)


def run(config_path: str | None = None, **kwargs: Any) -> None:
    """Entry point of ``relaygraph executor``: serve until SIGINT/SIGTERM."""
    from relaygraph.config import apply_config_env
    from relaygraph.process import run_until_signal

    apply_config_env(config_path)
    run_until_signal(lambda stop: serve(config_path, stop=stop, **kwargs))
