"""One executor: its NATS handlers on a FastStream router, the runs it is
stepping, and how it stops.

- ``on_run``: a run request from JetStream (the queue or the priority
  subject). Acked only once the run is recorded as ended or paused (or is not
  this executor's to run); while it runs, in-progress acks keep JetStream from
  delivering it again and lease renewals keep it ours. What happens to the
  request afterwards is decided in one place (``decisions``).
- ``on_owner_run``: a run routed to this executor as its thread's owner
  (request/reply: taken or not).
- ``on_query``: what only the graph knows (state, history, update_state).
- ``on_cancel``: a cancel broadcast; the executor stepping the run stops it.

On SIGTERM the executor drains: it stops pulling, stops taking runs as an
owner, lets in-flight runs finish within ``drain_grace``, and hands the rest
back at once (lease released, request delivered again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import msgspec
from faststream import AckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsMessage, NatsRouter, PullSub

from relaygraph import logs, metrics
from relaygraph.broker import as_message
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
from relaygraph.errors import RelaygraphError
from relaygraph_executor.decisions import (
    Attempt,
    Settle,
    Verdict,
    after_attempt,
    failure_of,
    undecodable,
)
from relaygraph_executor.liveness import FailureLog, Liveness, heartbeat
from relaygraph_executor.queries import Queries
from relaygraph_executor.resources import Resources
from relaygraph_executor.runner import Runner, Stop

log = logging.getLogger("relaygraph.executor")


class Executor:
    def __init__(self, res: Resources, liveness: Liveness, tasks: asyncio.TaskGroup) -> None:
        ex = res.settings.executor
        self.res = res
        self.liveness = liveness
        self.tasks = tasks
        self.stopping = False
        self.slots = asyncio.Semaphore(ex.max_concurrent_runs)
        self.in_flight: set[asyncio.Task[Any]] = set()
        # One limit for the in-progress acks of all runs: when NATS is away
        # every run's ack fails at once, and that is one thing to say.
        self.ack_failures = FailureLog()
        self.runner = Runner(
            res, renew_interval=min(ex.heartbeat_interval, res.settings.runs.lease_ttl / 3)
        )
        self.queries = Queries(res.registry, res.threads, res.store)

    def router(self) -> NatsRouter:
        """The executor's subscribers (FastStream), bound to this executor."""
        s, ex = self.res.subjects, self.res.settings.executor
        router = NatsRouter()
        for subject, durable in (
            (s.run_queue, s.executors_durable),
            (s.run_priority, s.executors_priority_durable),
        ):
            router.subscriber(
                subject,
                stream=JStream(s.runs_stream, declare=False),
                durable=durable,
                pull_sub=PullSub(batch_size=1, timeout=5.0),
                ack_policy=AckPolicy.MANUAL,
                config=ConsumerConfig(ack_wait=ex.ack_wait, max_ack_pending=-1),
                decoder=as_message,
                title=f"run requests ({durable})",
            )(self.on_run)
        router.subscriber(s.owner_run(ex.executor_id), decoder=as_message)(self.on_owner_run)
        router.subscriber(s.graph_query, queue=s.executors_queue_group, decoder=as_message)(
            self.on_query
        )
        router.subscriber(s.cancel, decoder=as_message)(self.on_cancel)
        return router

    # -- handlers ----------------------------------------------------------------
    async def on_run(self, msg: NatsMessage) -> None:
        try:
            req = decode(msg.body, RunRequest)
        except msgspec.DecodeError as exc:
            await self.settle(msg, undecodable(exc))
            return
        await self.slots.acquire()
        self.start(req, msg.body, msg)

    async def on_owner_run(self, msg: NatsMessage) -> bytes:
        req = decode(msg.body, RunRequest)
        if self.slots.locked() or self.stopping or not self.liveness.alive:
            return encode(OwnerReply(accepted=False))
        await self.slots.acquire()
        self.start(req, msg.body, None)
        return encode(OwnerReply(accepted=True))

    async def on_query(self, msg: NatsMessage) -> bytes:
        try:
            q = decode(msg.body, GraphQuery)
            return encode(GraphReply(result=msgspec.Raw(await self.queries.answer(q))))
        except msgspec.DecodeError as exc:
            err = ErrorBody(code="invalid_input", message=str(exc))
        except RelaygraphError as exc:
            err = ErrorBody(code=exc.code, message=exc.message)
        except Exception as exc:
            log.exception("graph query failed")
            err = ErrorBody(code="internal", message=f"{type(exc).__name__}: {exc}")
        return encode(GraphReply(error=err))

    async def on_cancel(self, msg: NatsMessage) -> None:
        req = decode(msg.body, CancelRequest)
        if self.runner.cancel(req.run_id, Stop.asked(req.action)):
            log.info("run %s cancelled (%s)", req.run_id, req.action)

    # -- runs ------------------------------------------------------------------------
    def start(self, req: RunRequest, body: bytes, msg: NatsMessage | None) -> None:
        task = self.tasks.create_task(self.attempt(req, body, msg))
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)

    async def attempt(self, req: RunRequest, body: bytes, msg: NatsMessage | None) -> None:
        """One attempt at a run; then settle its request (``msg``: from
        JetStream, or ``None`` when it came to this executor as the owner)."""
        metrics.RUNS_IN_FLIGHT.inc()
        try:
            with logs.about(run_id=req.run_id, thread_id=req.thread_id):
                await self._attempt(req, body, msg)
        finally:
            metrics.RUNS_IN_FLIGHT.dec()

    async def _attempt(self, req: RunRequest, body: bytes, msg: NatsMessage | None) -> None:
        beats = None
        if msg is not None:  # keep JetStream from delivering it again while we work
            beats = self.tasks.create_task(
                heartbeat(
                    msg.raw_message.in_progress,
                    self.res.settings.executor.heartbeat_interval,
                    f"in-progress ack of run {req.run_id}",
                    self.ack_failures,
                )
            )
        try:
            result: Attempt | BaseException = await self.runner.execute(req)
            if result is Attempt.STALE:
                metrics.LEASES_LOST.inc()
            log.debug("run %s: %s", req.run_id, result)
        except asyncio.CancelledError as stopped:
            if msg is not None:
                await self.settle(msg, after_attempt(stopped, delivered(msg)))
            raise
        except Exception as exc:
            log.exception(
                "run %s: this attempt failed in the executor (%s)", req.run_id, failure_of(exc)
            )
            result = exc
        finally:
            if beats is not None:
                beats.cancel()
            self.slots.release()
        verdict = after_attempt(result, delivered(msg))
        if msg is not None:
            await self.settle(msg, verdict)
        elif verdict.settle is Settle.REDELIVER:  # an owner's run: back to the queue
            dedupe = f"h{time.time_ns()}"
            await self.res.dispatcher.to_queue(body, req.run_id, dedupe=dedupe, priority=True)

    async def settle(self, msg: NatsMessage, verdict: Verdict) -> None:
        """Tell JetStream what becomes of a request (``decisions``)."""
        with contextlib.suppress(Exception):  # NATS away: it is delivered again
            if verdict.settle is Settle.ACK:
                await msg.ack()
            elif verdict.settle is Settle.REDELIVER:
                await msg.nack()
            elif verdict.settle is Settle.RETRY_LATER:
                await msg.nack(delay=verdict.delay)
            else:
                log.error("run request sent to the dead-letter stream: %s", verdict.reason)
                await self.res.js.publish(
                    self.res.subjects.dead_letter(verdict.kind),
                    msg.body,
                    headers={"Relaygraph-Reason": verdict.reason},
                )
                await msg.reject()

    # -- stopping ----------------------------------------------------------------------
    async def drain(self, background: list[asyncio.Task[Any]]) -> None:
        """Stop taking work, give in-flight runs ``drain_grace`` to end, hand the
        rest to another executor."""
        ex = self.res.settings.executor
        self.stopping = True
        log.info("executor %s draining: %d run(s) in flight", ex.executor_id, len(self.in_flight))
        for sub in self.res.broker.subscribers:
            with contextlib.suppress(Exception):
                await sub.stop()
        with contextlib.suppress(Exception):
            await self.res.owners.forget(ex.executor_id)  # its runs now go to the queue
        for task in background:
            task.cancel()
        if self.in_flight:
            await asyncio.wait(set(self.in_flight), timeout=ex.drain_grace)
        handed = [r for r in list(self.runner.active) if self.runner.cancel(r, Stop.HANDOFF)]
        if handed:
            log.info("handing %d run(s) to other executors", len(handed))
        if self.in_flight:
            await asyncio.wait(set(self.in_flight), timeout=10)
        await self.res.runs.watching.flush()
        log.info("executor %s stopped", ex.executor_id)


def delivered(msg: NatsMessage | None) -> int:
    """How many times JetStream delivered the request (1 if it cannot tell)."""
    try:
        return int(msg.raw_message.metadata.num_delivered or 1) if msg is not None else 1
    except Exception:  # not a JetStream message (a test broker's)
        return 1
