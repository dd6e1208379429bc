"""The end of an attempt: read the thread's state, record the outcome, announce
it, hand the thread on.

The order is the contract with the gateway and reviewers: the outcome in Redis
first (so a client that sees the end reads the new state, and the interrupt
event rides along as an outbox), then the interrupt event and the closing run
event (both wait for JetStream's ack), then the thread's next run is sent. The
JetStream ack of the run request comes after, from the handler.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from langgraph.types import StateSnapshot

from relaygraph import metrics, tracing
from relaygraph.checkpoint import FENCING_TOKEN
from relaygraph.contracts import InterruptEvent, InterruptItem, RunRequest, encode
from relaygraph.errors import StaleEpoch
from relaygraph.runs import FinishOutcome, RunStatus, ThreadStatus, now_iso
from relaygraph.threads import STATELESS_RESULT_TTL
from relaygraph_executor.decisions import Attempt
from relaygraph_executor.events import RunEvents, first_seq
from relaygraph_executor.graph_io import interrupts_of, thread_interrupts
from relaygraph_executor.graphs import Graph
from relaygraph_executor.resources import Resources
from relaygraph_executor.serde import dumps

log = logging.getLogger("relaygraph.executor")


@dataclass(frozen=True, slots=True)
class Ending:
    """How the graph's part of an attempt ended, before anything is recorded."""

    status: RunStatus
    seq: int
    """The last run event's sequence number."""
    error: dict[str, str] | None = None
    rollback: bool = False
    """Cancelled with ``rollback``: the run's checkpoints and its record go."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What :meth:`Recorder.record` writes. ``thread_status`` ``None``: back to
    what it was before the run; ``values`` / ``interrupts`` empty: left as they are."""

    status: RunStatus
    thread_status: ThreadStatus | None
    output: bytes
    values: bytes = b""
    interrupts: bytes = b""
    outbox: bytes = b""
    """The interrupt event, if the thread paused."""
    pause_checkpoint: str = ""


def error_output(error: dict[str, str]) -> bytes:
    return dumps({"__error__": error})


class Recorder:
    def __init__(self, res: Resources, events: RunEvents) -> None:
        self.res = res
        self.events = events

    async def finish(self, req: RunRequest, graph: Graph, epoch: int, ending: Ending) -> Attempt:
        """Record what the thread's state says after the graph ran."""
        if ending.rollback:  # the run never happened: its checkpoints and writes go too
            await self._roll_back(req, epoch)
        # With the attempt's token, the saver answers from what this attempt
        # read and wrote (no round trip): nobody else can write the thread now.
        state = await graph.aget_state(
            {"configurable": {"thread_id": req.thread_id, FENCING_TOKEN: epoch}}
        )
        pending = interrupts_of(state)
        if ending.error is not None:
            thread_status, output = ThreadStatus.ERROR, error_output(ending.error)
        else:
            paused = bool(state.next or pending)
            thread_status = ThreadStatus.INTERRUPTED if paused else ThreadStatus.IDLE
            values = state.values if isinstance(state.values, dict) else {"": state.values}
            output = dumps({**values, "__interrupt__": pending} if pending else state.values)
        announce = pending and ending.error is None and ending.status is not RunStatus.INTERRUPTED
        outcome = Outcome(
            status=ending.status,
            thread_status=thread_status,
            output=output,
            values=dumps(state.values),
            interrupts=dumps(thread_interrupts(state)),
            outbox=self._interrupt_event(req, state, pending) if announce else b"",
            pause_checkpoint=state.config["configurable"].get("checkpoint_id", ""),
        )
        return await self.record(req, epoch, ending, outcome)

    async def record(
        self, req: RunRequest, epoch: int, ending: Ending, outcome: Outcome
    ) -> Attempt:
        runs = self.res.runs
        try:  # the checkpoints not sent yet go with the outcome, fenced alike
            held = await self.res.saver.take_held(req.thread_id)
        except StaleEpoch:
            log.warning("run %s finished after losing its lease; outcome dropped", req.run_id)
            return Attempt.STALE
        hook = await self._webhook_base(req) if req.webhook else None
        # A queued run is watched by the sweeper from its creation until its
        # turn, so the thread is handed on in the same script.
        finished = await runs.finish(
            thread_id=req.thread_id,
            run_id=req.run_id,
            epoch=epoch,
            run_status=outcome.status,
            thread_status=outcome.thread_status,
            values=outcome.values,
            interrupts=outcome.interrupts,
            result=outcome.output,
            outbox=outcome.outbox,
            pause_checkpoint=outcome.pause_checkpoint,
            checkpoint_writes=held,
        )
        if finished.outcome is FinishOutcome.STALE:
            log.warning("run %s finished after losing its lease; outcome dropped", req.run_id)
            return Attempt.STALE
        log.info(
            "run %s: %s; thread %s %s",
            req.run_id,
            outcome.status,
            req.thread_id,
            outcome.thread_status or "as it was",
        )
        if ending.rollback:
            await runs.delete(req.thread_id, req.run_id)
        if req.temporary:
            # The thread goes; the run's record stays a while, for a waiter
            # whose closing event is lost (the gateway then reads it).
            await self.res.threads.delete(
                req.thread_id, keep_run=req.run_id, keep_for=STATELESS_RESULT_TTL
            )
            await self.res.saver.adelete_thread(req.thread_id)
        # The outcome is in Redis: whoever waits on the run may see its end now.
        # Until the interrupt event is acknowledged the outbox keeps it for the sweeper.
        end = self.events.end(req, ending.seq + 1, outcome.status, outcome.output)
        if outcome.outbox:
            await asyncio.gather(self.res.dispatcher.publish_interrupt(outcome.outbox), end)
        else:
            await end
        runs.watching.unwatch_soon(req.thread_id, req.run_id)
        if hook is not None and req.webhook:
            self.res.webhooks.send_soon(req.webhook, self._webhook_body(req, hook, ending, outcome))
        if finished.next_run is not None:
            nxt = finished.next_run
            await self.res.dispatcher.send(nxt.request, req.thread_id, nxt.run_id)
        return Attempt.DONE

    async def _webhook_base(self, req: RunRequest) -> dict[str, Any]:
        """The run as the API shows it, and when this attempt began (read
        before the outcome is written: a rollback deletes the record)."""
        raw, claimed = await self.res.runs.fields(req.thread_id, req.run_id, "run", "claimed_ms")
        run: dict[str, Any] = msgspec.json.decode(raw) if raw else {"run_id": req.run_id}
        started = int(claimed) / 1000 if claimed else time.time()
        run["run_started_at"] = datetime.fromtimestamp(started, UTC).isoformat()
        return run

    @staticmethod
    def _webhook_body(
        req: RunRequest, run: dict[str, Any], ending: Ending, outcome: Outcome
    ) -> dict[str, Any]:
        """The reference's body: the run, its final status (``rollback`` for a
        rolled-back run), when it ran, the thread's values (none for a stateless
        or rolled-back run) and the error, if any."""
        body = {
            **run,
            "status": "rollback" if ending.rollback else str(outcome.status),
            "run_ended_at": now_iso(),
            "values": None
            if req.temporary or ending.rollback or not outcome.values
            else msgspec.Raw(outcome.values),
        }
        if ending.error is not None:
            body["error"] = ending.error
        return body

    async def unrunnable(self, req: RunRequest, epoch: int, why: str) -> Attempt:
        """A run of a graph this executor could not load ends in ``error`` saying
        why; the thread keeps its state and status (nothing ran)."""
        error = {"error": "GraphLoadError", "message": why}
        log.warning("run %s not run: %s", req.run_id, why)
        seq = first_seq(epoch)
        await self.events.chunk(req, seq, "metadata", dumps({"run_id": req.run_id, "attempt": 1}))
        await self.events.chunk(req, seq + 1, "error", dumps(error))
        ending = Ending(RunStatus.ERROR, seq=seq + 1, error=error)
        return await self.record(
            req, epoch, ending, Outcome(RunStatus.ERROR, None, error_output(error))
        )

    async def exhausted(self, req: RunRequest, graph: Graph, epoch: int, attempt: int) -> Attempt:
        """Attempted too often without ending: the request goes to the
        dead-letter stream and the run ends in ``error``."""
        error = {
            "error": "MaxAttemptsExceeded",
            "message": f"run {req.run_id} was attempted {attempt - 1} times without ending "
            f"(executor crashes or lost leases); it is in the dead-letter stream",
        }
        await self.res.js.publish(
            self.res.subjects.dead_letter(req.run_id),
            encode(req),
            headers={"Nats-Msg-Id": f"dead:{req.run_id}", "Relaygraph-Reason": error["error"]},
        )
        log.error("run %s: %s", req.run_id, error["message"])
        seq = first_seq(epoch)
        await self.events.chunk(req, seq, "error", dumps(error))
        return await self.finish(req, graph, epoch, Ending(RunStatus.ERROR, seq=seq, error=error))

    async def _roll_back(self, req: RunRequest, epoch: int) -> None:
        """Remove what the run wrote: its checkpoints, and the pending writes it
        added to the checkpoint it started from (known from the attempt's first
        read, kept by the saver)."""
        saver = self.res.saver
        base = saver.base(req.thread_id, epoch)
        await saver.adelete_for_runs([req.run_id], thread_id=req.thread_id)
        config, before = base if base is not None else (None, set())
        if config is not None:
            added = await saver.apending_write_keys(config) - before
            await saver.adelete_pending_writes(config, added)

    @staticmethod
    def _interrupt_event(req: RunRequest, state: StateSnapshot, pending: list[Any]) -> bytes:
        metrics.INTERRUPTS.labels(req.graph_id).inc()
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
                metadata=req.metadata,
                user_id=str(req.config.get("configurable", {}).get("langgraph_auth_user_id") or ""),
                trace=tracing.traceparent(),
            )
        )
