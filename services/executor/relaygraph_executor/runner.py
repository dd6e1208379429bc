"""Stepping one run: claim it in Redis, stream the graph, publish every chunk as
a run event, record the outcome, publish the interrupt, hand the thread on.

The order of the last steps is the contract with the gateway and reviewers:
outcome in Redis first (so a client that sees the end reads the new state),
then the interrupt event (durable in JetStream), then the closing run event,
and only then the JetStream ack of the run request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from enum import StrEnum
from typing import Any

import msgspec
from langgraph.errors import GraphRecursionError
from langgraph.types import StateSnapshot
from nats.aio.client import Client
from nats.errors import MaxPayloadError
from nats.js import JetStreamContext

from relaygraph.checkpoint import FENCING_TOKEN
from relaygraph.contracts import (
    END_EVENT,
    InterruptEvent,
    InterruptItem,
    RunEnd,
    RunEvent,
    RunRequest,
    encode,
)
from relaygraph.dispatch import Dispatcher
from relaygraph.errors import StaleEpoch
from relaygraph.runs import ClaimOutcome, FinishOutcome, ReleaseOutcome, RenewOutcome, Runs, now_iso
from relaygraph.subjects import Subjects
from relaygraph.threads import STATELESS_RESULT_TTL, Threads
from relaygraph_executor.graph_io import (
    INFRA_ERRORS,
    MODES,
    caused_by,
    graph_input,
    interrupts_of,
    run_config,
    run_context,
    thread_interrupts,
)
from relaygraph_executor.graphs import Graph, GraphRegistry
from relaygraph_executor.serde import dumps

log = logging.getLogger("relaygraph.executor")


class Attempt(StrEnum):
    """What one attempt at a run came to (:meth:`Runner.execute`)."""

    DONE = "done"
    """Its outcome (or pause) is recorded."""
    SKIPPED = "skipped"
    """Not this attempt's to run (ended, held by another, not the active run)."""
    STALE = "stale"
    """It lost its lease: nothing of it was written."""
    HANDED_BACK = "handed_back"
    """Given back on a graceful stop, to run elsewhere at once."""


class Runner:
    def __init__(
        self,
        *,
        registry: GraphRegistry,
        runs: Runs,
        threads: Threads,
        nc: Client,
        js: JetStreamContext,
        subjects: Subjects,
        executor_id: str,
        dispatcher: Dispatcher,
        renew_interval: float,
    ) -> None:
        self.registry = registry
        self.runs = runs
        self.threads = threads
        self.nc = nc
        self.js = js
        self.subjects = subjects
        self.executor_id = executor_id
        self.dispatcher = dispatcher
        self.renew_interval = renew_interval
        self.active: dict[str, asyncio.Task[Any]] = {}
        self.cancel_actions: dict[str, str] = {}

    async def _event(self, req: RunRequest, seq: int, event: str, data: bytes) -> None:
        body = encode(RunEvent(seq=seq, event=event, data=msgspec.Raw(data)))
        if event == END_EVENT:  # the end must be stored: wait until JetStream has it
            await self.js.publish(self.subjects.event_end(req.run_id), body)
        else:
            # Chunks: the stream stores them too, in order on this connection, without
            # a round trip each (the run's outcome never depends on them).
            await self.nc.publish(self.subjects.event_chunk(req.run_id), body)

    async def execute(self, req: RunRequest) -> Attempt:
        """Run ``req`` to a terminal status or an interrupt; what happened."""
        saver = self.registry.checkpointer
        # The thread's latest checkpoint comes back with the claim: the graph's
        # first read of it is then answered by the saver without a round trip.
        claim = await self.runs.claim(
            req.thread_id, req.run_id, self.executor_id, then=saver.latest_step(req.thread_id)
        )
        if not claim.claimed:
            log.info("run %s not claimed: %s", req.run_id, claim.outcome)
            return Attempt.SKIPPED
        saver.seed(req.thread_id, claim.epoch, claim.then)
        # One INFO line per run (its outcome); the start is worth one only on a retry.
        log.log(
            logging.INFO
            if claim.attempt > 1 or claim.outcome is not ClaimOutcome.OK
            else logging.DEBUG,
            "run %s of thread %s (graph %s): attempt %d, epoch %d%s",
            req.run_id,
            req.thread_id,
            req.graph_id,
            claim.attempt,
            claim.epoch,
            "" if claim.outcome is ClaimOutcome.OK else f" ({claim.outcome})",
        )
        task = asyncio.current_task()
        assert task is not None
        self.active[req.run_id] = task
        renew = asyncio.create_task(self._renew(req, claim.epoch, task))
        try:
            loaded = self.registry.loaded.get(req.graph_id)
            if loaded is None or loaded.error is not None:
                return await self._unrunnable(req, claim.epoch, loaded)
            if claim.outcome is ClaimOutcome.CANCELLED:
                self.cancel_actions[req.run_id] = claim.detail
                graph = self.registry.get(req.graph_id)
                return await self._finish(req, graph, claim.epoch, 0, "interrupted", None)
            if claim.outcome is ClaimOutcome.EXHAUSTED:
                return await self._exhausted(req, claim.epoch, claim.attempt)
            try:
                return await self._execute(req, claim.epoch, claim.attempt)
            except Exception as exc:
                if caused_by(exc, INFRA_ERRORS):
                    renew.cancel()
                    await self._give_back(req, claim.epoch, exc)
                raise
        finally:
            renew.cancel()
            self.active.pop(req.run_id, None)
            self.cancel_actions.pop(req.run_id, None)
            saver.forget(req.thread_id, claim.epoch)

    async def _give_back(self, req: RunRequest, epoch: int, cause: BaseException) -> None:
        """An attempt cut off by NATS or Redis going away is not the run's fault:
        its lease is released as soon as Redis answers again (within the lease's
        life), so the attempt does not count towards RELAYGRAPH_MAX_ATTEMPTS and
        the redelivered request is claimed at once. Past the lease, the sweeper
        re-dispatches the run (and that attempt counts)."""
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
                self.cancel(req.run_id, "lost")
                return
            if cancel and req.run_id not in self.cancel_actions:
                self.cancel(req.run_id, cancel)

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

    async def _execute(self, req: RunRequest, epoch: int, attempt: int) -> Attempt:
        seq = 0
        await self._event(req, seq, "metadata", dumps({"run_id": req.run_id, "attempt": attempt}))
        loaded = self.registry.loaded_graph(req.graph_id)
        config = run_config(req, epoch)
        context = run_context(req, loaded.context_keys)
        modes = list(dict.fromkeys(m for m in req.stream_mode if m in MODES)) or ["values"]
        lg_modes = list(dict.fromkeys(MODES[m][0] for m in modes))
        run_status, error = "success", None
        graph = self.registry.get(req.graph_id)
        try:
            async with self.registry.for_run(req.graph_id, config, context) as graph:  # type: ignore[arg-type]
                first_input, anything_left = await self._start_input(req, graph, attempt)
                if attempt > 1:
                    log.info(
                        "run %s continues from its last checkpoint (%s)",
                        req.run_id,
                        "steps left" if anything_left else "nothing left to run",
                    )
                if anything_left:
                    async for part in graph.astream(  # type: ignore[call-overload]
                        first_input,
                        config,
                        context=context,
                        stream_mode=lg_modes,
                        subgraphs=req.stream_subgraphs,
                        interrupt_before=req.interrupt_before,
                        interrupt_after=req.interrupt_after,
                        durability=req.durability,
                    ):
                        if req.stream_subgraphs:
                            ns, mode, chunk = part
                        else:
                            ns, (mode, chunk) = (), part
                        name = "messages" if mode == "messages" else mode
                        if ns:
                            name = f"{name}|{'|'.join(ns)}"
                        seq += 1
                        await self._event(req, seq, name, dumps(chunk))
        except asyncio.CancelledError:
            action = self.cancel_actions.get(req.run_id)
            if action is None:
                raise  # the process is stopping: JetStream or the sweeper hands it on
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
            if action == "lost":
                return Attempt.STALE
            if action == "handoff":
                await self.runs.release(req.thread_id, req.run_id, epoch)
                return Attempt.HANDED_BACK
            run_status = "interrupted"
        except Exception as exc:
            if caused_by(exc, (StaleEpoch,)):
                log.warning("run %s lost its lease (epoch %s); dropping it", req.run_id, epoch)
                return Attempt.STALE
            if caused_by(exc, INFRA_ERRORS) and not caused_by(exc, (MaxPayloadError,)):
                raise  # not the graph's fault: this attempt is abandoned and retried
            run_status = "error"
            error = {"error": type(exc).__name__, "message": str(exc)}
            if isinstance(exc, GraphRecursionError):
                error["error"] = "GraphRecursionError"
            log.info("run %s failed: %s: %s", req.run_id, error["error"], error["message"])
            seq += 1
            await self._event(req, seq, "error", dumps(error))
        return await self._finish(req, graph, epoch, seq, run_status, error)

    async def _unrunnable(self, req: RunRequest, epoch: int, loaded: Any) -> Attempt:
        """A run of a graph this executor could not load ends in ``error`` saying
        why; the thread keeps its state and status (nothing ran)."""
        message = (
            loaded.error
            if loaded is not None
            else f"graph {req.graph_id!r} is not in this executor's langgraph.json"
        )
        error = {"error": "GraphLoadError", "message": message}
        log.warning("run %s not run: %s", req.run_id, message)
        await self._event(req, 0, "metadata", dumps({"run_id": req.run_id, "attempt": 1}))
        await self._event(req, 1, "error", dumps(error))
        return await self._record(
            req, epoch, 1, "error", "", b"", b"", dumps({"__error__": error}), b""
        )

    async def _exhausted(self, req: RunRequest, epoch: int, attempt: int) -> Attempt:
        error = {
            "error": "MaxAttemptsExceeded",
            "message": f"run {req.run_id} was attempted {attempt - 1} times without ending "
            f"(executor crashes or lost leases); it is in the dead-letter stream",
        }
        await self.js.publish(
            self.subjects.dead_letter(req.run_id),
            encode(req),
            headers={"Nats-Msg-Id": f"dead:{req.run_id}", "Relaygraph-Reason": error["error"]},
        )
        log.error("run %s: %s", req.run_id, error["message"])
        await self._event(req, 0, "error", dumps(error))
        graph = self.registry.get(req.graph_id)
        return await self._finish(req, graph, epoch, 0, "error", error)

    async def _finish(
        self,
        req: RunRequest,
        graph: Graph,
        epoch: int,
        seq: int,
        run_status: str,
        error: dict[str, str] | None,
    ) -> Attempt:
        rollback = run_status == "interrupted" and self.cancel_actions.get(req.run_id) == "rollback"
        if rollback:  # the run never happened: its checkpoints and writes go too
            await self._roll_back(req, graph, epoch)
        # With the attempt's token, the saver answers from what this attempt
        # read and wrote (no round trip): nobody else can write the thread now.
        state = await graph.aget_state(
            {"configurable": {"thread_id": req.thread_id, FENCING_TOKEN: epoch}}
        )
        pending = interrupts_of(state)
        values = dumps(state.values)
        if error is not None:
            thread_status, output = "error", dumps({"__error__": error})
        else:
            thread_status = "interrupted" if (state.next or pending) else "idle"
            out_values = state.values if isinstance(state.values, dict) else {"": state.values}
            output = dumps({**out_values, "__interrupt__": pending} if pending else state.values)
        # The interrupt event rides along with the outcome (an outbox): if this
        # process dies before publishing it, the sweeper publishes it.
        event = (
            self._interrupt_event(req, state, pending)
            if pending and error is None and run_status != "interrupted"
            else b""
        )
        return await self._record(
            req,
            epoch,
            seq,
            run_status,
            thread_status,
            values,
            dumps(thread_interrupts(state)),
            output,
            event,
            pause_checkpoint=state.config["configurable"].get("checkpoint_id", ""),
        )

    async def _record(
        self,
        req: RunRequest,
        epoch: int,
        seq: int,
        run_status: str,
        thread_status: str,
        values: bytes,
        interrupts: bytes,
        output: bytes,
        event: bytes,
        pause_checkpoint: str = "",
    ) -> Attempt:
        """Record the outcome, announce the end (and the interrupt), hand the
        thread on. ``thread_status`` '': back to what it was before the run;
        ``values`` / ``interrupts`` empty: left as they are."""
        # A queued run is watched by the sweeper from its creation until its turn,
        # so the thread is handed on in the same script.
        finished = await self.runs.finish(
            thread_id=req.thread_id,
            run_id=req.run_id,
            epoch=epoch,
            run_status=run_status,
            thread_status=thread_status,
            values=values,
            interrupts=interrupts,
            result=output,
            outbox=event,
            pause_checkpoint=pause_checkpoint,
        )
        if finished.outcome is FinishOutcome.STALE:
            log.warning("run %s finished after losing its lease; outcome dropped", req.run_id)
            return Attempt.STALE
        log.info(
            "run %s: %s; thread %s %s",
            req.run_id,
            run_status,
            req.thread_id,
            thread_status or "as it was",
        )
        if self.cancel_actions.get(req.run_id) == "rollback" and run_status == "interrupted":
            await self.runs.delete(req.thread_id, req.run_id)
        if req.temporary:
            # The thread goes; the run's record stays a while, for a waiter
            # whose closing event is lost (the gateway then reads it).
            await self.threads.delete(
                req.thread_id, keep_run=req.run_id, keep_for=STATELESS_RESULT_TTL
            )
            await self.registry.checkpointer.adelete_thread(req.thread_id)
        # The outcome is in Redis: whoever waits on the run may see its end now.
        # The interrupt event goes out with it (both wait for JetStream's ack);
        # until it is acknowledged the outbox keeps it for the sweeper.
        end = self._event(
            req,
            seq + 1,
            END_EVENT,
            encode(RunEnd(status=run_status, output=msgspec.Raw(output))),  # type: ignore[arg-type]
        )
        if event:
            await asyncio.gather(self.dispatcher.publish_interrupt(event), end)
        else:
            await end
        self.runs.watching.unwatch_soon(req.thread_id, req.run_id, outbox_sent=bool(event))
        if finished.next_run is not None:
            nxt = finished.next_run
            await self.dispatcher.send(nxt.request, req.thread_id, nxt.run_id)
        return Attempt.DONE

    async def _roll_back(self, req: RunRequest, graph: Graph, epoch: int) -> None:
        """Remove what the run wrote: its checkpoints, and the pending writes it
        added to the checkpoint it started from (known from the attempt's first
        read, kept by the saver)."""
        saver = self.registry.checkpointer
        base = saver.base(req.thread_id, epoch)
        await saver.adelete_for_runs([req.run_id])
        config, before = base if base is not None else (None, set())
        if config is not None:
            added = await saver.apending_write_keys(config) - before
            await saver.adelete_pending_writes(config, added)

    @staticmethod
    def _interrupt_event(req: RunRequest, state: StateSnapshot, pending: list[Any]) -> bytes:
        return encode(
            InterruptEvent(
                thread_id=req.thread_id,
                run_id=req.run_id,
                assistant_id=req.assistant_id,
                graph_id=req.graph_id,
                checkpoint_id=state.config["configurable"].get("checkpoint_id", ""),
                interrupts=[
                    InterruptItem(id=i.id, value=msgspec.Raw(dumps(i.value))) for i in pending
                ],
                created_at=now_iso(),
            )
        )

    def cancel(self, run_id: str, action: str) -> bool:
        """Stop a run this executor is stepping: ``interrupt`` or ``rollback``
        (asked by a user), ``handoff`` (graceful stop), ``lost`` (lease gone)."""
        task = self.active.get(run_id)
        if task is None or run_id in self.cancel_actions:
            return False
        self.cancel_actions[run_id] = action
        task.cancel()
        return True
