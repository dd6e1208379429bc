"""Stepping one run: claim it in Redis, stream the graph, publishing every chunk
as a run event, then hand the end to :class:`Recorder` (``outcome``), which
records it, announces it and hands the thread on. While it runs, the lease is
renewed; a cancel, a lost lease or a graceful stop cancels the graph's task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime
from enum import StrEnum
from typing import Any

from langgraph.errors import GraphRecursionError
from nats.errors import MaxPayloadError

from relaygraph import metrics, tracing
from relaygraph.contracts import RunRequest
from relaygraph.errors import StaleEpoch
from relaygraph.redis_client import REDIS_UNAVAILABLE
from relaygraph.runs import Claim, ClaimOutcome, ReleaseOutcome, RenewOutcome, RunStatus
from relaygraph_executor.decisions import Attempt
from relaygraph_executor.events import RunEvents, first_seq
from relaygraph_executor.graph_io import (
    INFRA_ERRORS,
    caused_by,
    graph_input,
    interrupts_of,
    run_config,
    run_context,
)
from relaygraph_executor.graphs import Graph
from relaygraph_executor.outcome import Ending, Recorder
from relaygraph_executor.resources import Resources
from relaygraph_executor.serde import dumps
from relaygraph_executor.stream_frames import MODES, Framer, framed

log = logging.getLogger("relaygraph.executor")


class Stop(StrEnum):
    """Why a run's task was cancelled (:meth:`Runner.cancel`)."""

    INTERRUPT = "interrupt"
    """A user's cancel: the run ends ``interrupted``, its checkpoints stay."""
    ROLLBACK = "rollback"
    """A user's cancel: the run and what it wrote go."""
    HANDOFF = "handoff"
    """Graceful stop: the lease is released, another executor runs it now."""
    LOST = "lost"
    """The lease is gone: another attempt owns the run; write nothing."""

    @classmethod
    def asked(cls, action: str) -> Stop:
        """A user's cancel as the gateway stored or broadcast it."""
        return cls.ROLLBACK if action == cls.ROLLBACK else cls.INTERRUPT


class Runner:
    def __init__(self, res: Resources, renew_interval: float) -> None:
        self.res = res
        self.registry = res.registry
        self.runs = res.runs
        self.executor_id = res.settings.executor.executor_id
        self.renew_interval = renew_interval
        self.events = RunEvents(res.nc, res.js, res.subjects)
        self.recorder = Recorder(res, self.events)
        self.active: dict[str, asyncio.Task[Any]] = {}
        self.stops: dict[str, Stop] = {}
        self._ended: dict[str, str] = {}
        """Run id -> the status its attempt recorded (for the metrics)."""
        self.run_timeout = res.settings.executor.run_timeout

    async def execute(self, req: RunRequest) -> Attempt:
        """Run ``req`` to a terminal status or an interrupt; what happened."""
        saver = self.registry.checkpointer
        # The thread's latest checkpoint comes back with the claim: the graph's
        # first read of it is then answered by the saver without a round trip.
        claim = await self.runs.claim(req.thread_id, req.run_id, self.executor_id)
        if not claim.claimed:
            log.info("run %s not claimed: %s", req.run_id, claim.outcome)
            return Attempt.SKIPPED
        started = time.perf_counter()
        if claim.attempt == 1 and req.created_at:
            metrics.CLAIM_DELAY.observe(max(0.0, time.time() - _epoch_seconds(req.created_at)))
        saver.seed(req.thread_id, claim.epoch, claim.latest, hold_writes=req.durability != "sync")
        # One INFO line per run (its outcome); the start is worth one only on a retry.
        retry = claim.attempt > 1 or claim.outcome is not ClaimOutcome.OK
        log.log(
            logging.INFO if retry else logging.DEBUG,
            "run %s of thread %s (graph %s): attempt %d, epoch %d%s",
            req.run_id,
            req.thread_id,
            req.graph_id,
            claim.attempt,
            claim.epoch,
            "" if claim.outcome is ClaimOutcome.OK else f" ({claim.outcome})",
        )
        with tracing.span(
            f"run {req.graph_id}",
            parent=req.trace,
            kind=tracing.SpanKind.CONSUMER,
            run_id=req.run_id,
            thread_id=req.thread_id,
            attempt=claim.attempt,
        ):
            return await self._claimed(req, claim, started)

    async def _claimed(self, req: RunRequest, claim: Claim, started: float) -> Attempt:
        saver = self.registry.checkpointer
        task = asyncio.current_task()
        assert task is not None
        self.active[req.run_id] = task
        renew = asyncio.create_task(self._renew(req, claim.epoch, task))
        try:
            result = await self._attempt(
                req, claim.epoch, claim.attempt, claim.outcome, claim.detail
            )
            ended = self._ended.get(req.run_id) if result is Attempt.DONE else None
            status = ended or result.value
            metrics.RUN_SECONDS.labels(status).observe(time.perf_counter() - started)
            metrics.RUNS_ENDED.labels(status).inc()
            return result
        except Exception as exc:
            if caused_by(exc, INFRA_ERRORS):
                renew.cancel()
                await self._give_back(req, claim.epoch, exc)
            raise
        finally:
            renew.cancel()
            self.active.pop(req.run_id, None)
            self.stops.pop(req.run_id, None)
            self._ended.pop(req.run_id, None)
            saver.forget(req.thread_id, claim.epoch)

    async def _attempt(
        self, req: RunRequest, epoch: int, attempt: int, claimed: ClaimOutcome, detail: str
    ) -> Attempt:
        loaded = self.registry.loaded.get(req.graph_id)
        if loaded is None or loaded.error is not None:
            why = (
                loaded.error
                if loaded is not None and loaded.error is not None
                else f"graph {req.graph_id!r} is not in this executor's langgraph.json"
            )
            self._ended[req.run_id] = RunStatus.ERROR.value
            return await self.recorder.unrunnable(req, epoch, why)
        graph = self.registry.get(req.graph_id)
        if claimed is ClaimOutcome.CANCELLED:  # cancelled before it started
            stop = self.stops[req.run_id] = Stop.asked(detail)
            ending = Ending(RunStatus.INTERRUPTED, seq=0, rollback=stop is Stop.ROLLBACK)
            self._ended[req.run_id] = ending.status.value
            return await self.recorder.finish(req, graph, epoch, ending)
        if claimed is ClaimOutcome.EXHAUSTED:
            self._ended[req.run_id] = RunStatus.ERROR.value
            return await self.recorder.exhausted(req, graph, epoch, attempt)
        ended = await self._stream(req, epoch, attempt)
        if isinstance(ended, Attempt):
            return ended
        # The graph is done: a cancel from now on has nothing left to stop, and
        # must not cut the recording short.
        self.active.pop(req.run_id, None)
        self._ended[req.run_id] = ended.status.value
        return await self.recorder.finish(req, graph, epoch, ended)

    async def _give_back(self, req: RunRequest, epoch: int, cause: BaseException) -> None:
        """An attempt cut off by NATS or Redis going away is not the run's fault:
        its lease is released as soon as Redis answers again (within the lease's
        life), so the attempt does not count towards RELAYGRAPH_MAX_ATTEMPTS and
        the redelivered request is claimed at once. Past the lease, the sweeper
        re-dispatches the run (and that attempt counts)."""
        metrics.UNAVAILABLE.labels("redis" if caused_by(cause, REDIS_UNAVAILABLE) else "nats").inc()
        deadline = time.monotonic() + self.runs.lease_ms / 1000
        while time.monotonic() < deadline:
            try:
                released = await self.runs.release(req.thread_id, req.run_id, epoch)
            except INFRA_ERRORS:
                await asyncio.sleep(0.25)
                continue
            log.info(
                "run %s: attempt cut off by %s (%s); %s",
                req.run_id,
                type(cause).__name__,
                cause,
                "given back, not counted"
                if released is ReleaseOutcome.RELEASED
                else "already taken over",
            )
            return
        log.warning("run %s: attempt cut off by %r; its lease runs out instead", req.run_id, cause)

    async def _renew(self, req: RunRequest, epoch: int, task: asyncio.Task[Any]) -> None:
        """Keep the lease while the run goes on; stop the run if it is lost or a
        cancel was asked for (the broadcast may have been missed)."""
        while True:
            await asyncio.sleep(self.renew_interval)
            try:
                renewed, cancel = await self.runs.renew(req.thread_id, req.run_id, epoch)
            except INFRA_ERRORS as exc:
                log.warning("run %s: lease renewal failed: %s", req.run_id, exc)
                continue
            if renewed is RenewOutcome.LOST:
                log.warning("run %s lost its lease (epoch %s)", req.run_id, epoch)
                self.cancel(req.run_id, Stop.LOST)
                return
            if cancel and req.run_id not in self.stops:
                self.cancel(req.run_id, Stop.asked(cancel))

    async def _start_input(self, req: RunRequest, graph: Graph, attempt: int) -> tuple[Any, bool]:
        """What to give the graph, and whether there is anything left to run.

        A later attempt continues from the checkpoints the earlier one wrote: a
        superstep that was checkpointed is not run again."""
        if attempt <= 1:
            return graph_input(req), True
        state = await graph.aget_state({"configurable": {"thread_id": req.thread_id}})
        if (state.metadata or {}).get("run_id") != req.run_id:
            return graph_input(req), True  # the earlier attempt checkpointed nothing
        if interrupts_of(state) or not state.tasks:
            return None, False  # it had paused or ended: only the record is missing
        # ``next`` lists the tasks without saved writes: none means the step ran
        # but its successor checkpoint was not written; langgraph applies the
        # saved writes and goes on.
        stops = req.interrupt_before or getattr(graph, "interrupt_before_nodes", None)
        if state.next and (stops == "*" or (stops and set(state.next) <= set(stops))):
            return None, False  # paused at a breakpoint
        return None, True

    async def _stream(self, req: RunRequest, epoch: int, attempt: int) -> Ending | Attempt:
        """Stream the graph, each chunk a run event; how it ended (or, if there
        is nothing to record, what the attempt came to)."""
        seq = first_seq(epoch)
        metadata = dumps({"run_id": req.run_id, "attempt": attempt})
        await self.events.chunk(req, seq, "metadata", metadata)
        config = run_config(req, epoch)
        context = run_context(req, self.registry.loaded_graph(req.graph_id).context_keys)
        framer = Framer([m for m in req.stream_mode if m in MODES] or ["values"], req.graph_id)
        try:
            async with self.registry.for_run(req.graph_id, config, context) as graph:  # type: ignore[arg-type]
                first_input, anything_left = await self._start_input(req, graph, attempt)
                if attempt > 1:
                    left = "steps left" if anything_left else "nothing left to run"
                    log.info("run %s continues from its last checkpoint (%s)", req.run_id, left)
                if not anything_left:
                    return Ending(RunStatus.SUCCESS, seq)
                clock = asyncio.timeout(self.run_timeout)
                try:
                    async with clock:
                        async for name, data in framed(
                            framer,
                            graph,
                            first_input,
                            config,
                            context=context,
                            subgraphs=req.stream_subgraphs,
                            interrupt_before=req.interrupt_before,
                            interrupt_after=req.interrupt_after,
                            durability=req.durability,
                        ):
                            seq += 1
                            await self.events.chunk(req, seq, name, dumps(data))
                except TimeoutError:
                    if not clock.expired():
                        raise  # the graph's own: an error of the graph, as any other
                    # As in the reference: ``timeout``, the thread in error, no error event.
                    log.warning("run %s ran out of time (RELAYGRAPH_RUN_TIMEOUT)", req.run_id)
                    error = {"error": "TimeoutError", "message": ""}
                    return Ending(RunStatus.TIMEOUT, seq, error=error)
        except asyncio.CancelledError:
            stop = self.stops.get(req.run_id)
            if stop is None:
                raise  # the process is stopping: JetStream or the sweeper hands it on
            return await self._stopped(req, epoch, seq, stop)
        except Exception as exc:
            if caused_by(exc, (StaleEpoch,)):
                log.warning("run %s lost its lease (epoch %s); dropping it", req.run_id, epoch)
                return Attempt.STALE
            if caused_by(exc, INFRA_ERRORS) and not caused_by(exc, (MaxPayloadError,)):
                raise  # not the graph's fault: this attempt is abandoned and retried
            return await self._failed(req, seq, exc)
        return Ending(RunStatus.SUCCESS, seq)

    async def _stopped(self, req: RunRequest, epoch: int, seq: int, stop: Stop) -> Ending | Attempt:
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()
        if stop is Stop.LOST:
            return Attempt.STALE
        if stop is Stop.HANDOFF:
            with contextlib.suppress(*INFRA_ERRORS, StaleEpoch):  # the next attempt redoes it
                await self.registry.checkpointer.flush(req.thread_id)
            await self.runs.release(req.thread_id, req.run_id, epoch)
            return Attempt.HANDED_BACK
        return Ending(RunStatus.INTERRUPTED, seq, rollback=stop is Stop.ROLLBACK)

    async def _failed(self, req: RunRequest, seq: int, exc: Exception) -> Ending:
        """The graph raised: the run ends in ``error`` saying what."""
        name = "GraphRecursionError" if isinstance(exc, GraphRecursionError) else type(exc).__name__
        error = {"error": name, "message": str(exc)}
        log.info("run %s failed: %s: %s", req.run_id, name, error["message"])
        seq += 1
        await self.events.chunk(req, seq, "error", dumps(error))
        return Ending(RunStatus.ERROR, seq, error=error)

    def cancel(self, run_id: str, stop: Stop) -> bool:
        """Stop a run this executor is stepping; ``False`` if it is not, or is
        already stopping."""
        task = self.active.get(run_id)
        if task is None or run_id in self.stops:
            return False
        self.stops[run_id] = stop
        task.cancel()
        return True


def _epoch_seconds(iso: str) -> float:
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return time.time()
