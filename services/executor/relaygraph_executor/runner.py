"""Stepping one run: claim it in Redis, stream the graph, publish every chunk as
a run event, record the outcome, publish the interrupt, hand the thread on.

The order of the last steps is the contract with the gateway and reviewers:
outcome in Redis first (so a client that sees the end reads the new state),
then the interrupt event (durable in JetStream), then the closing run event,
and only then the JetStream ack of the run request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from langgraph.errors import GraphRecursionError
from langgraph.pregel import Pregel
from langgraph.types import Command, StateSnapshot
from nats.js import JetStreamContext

from relaygraph.contracts import (
    END_EVENT,
    InterruptEvent,
    InterruptItem,
    RunEnd,
    RunEvent,
    RunRequest,
    encode,
)
from relaygraph.errors import StaleEpoch
from relaygraph.store import Store, now_iso
from relaygraph.subjects import Subjects
from relaygraph_executor.graphs import GraphRegistry
from relaygraph_executor.serde import dumps

log = logging.getLogger("relaygraph.executor")

# API stream modes -> langgraph stream modes, and the SSE event name they use.
_MODES = {
    "values": ("values", "values"),
    "updates": ("updates", "updates"),
    "custom": ("custom", "custom"),
    "debug": ("debug", "debug"),
    "tasks": ("tasks", "tasks"),
    "checkpoints": ("checkpoints", "checkpoints"),
    "messages-tuple": ("messages", "messages"),
    "messages": ("messages", "messages"),
}


def run_config(req: RunRequest, epoch: int | None) -> dict[str, Any]:
    cfg = dict(req.config or {})
    configurable = dict(cfg.get("configurable") or {})
    configurable["thread_id"] = req.thread_id
    configurable.setdefault("checkpoint_ns", "")
    if req.checkpoint_id:
        configurable["checkpoint_id"] = req.checkpoint_id
    elif req.checkpoint and req.checkpoint.get("checkpoint_id"):
        configurable["checkpoint_id"] = req.checkpoint["checkpoint_id"]
    if epoch is not None:
        configurable["fencing_token"] = epoch
    cfg["configurable"] = configurable
    metadata = dict(cfg.get("metadata") or {})
    metadata.update(req.metadata or {})
    metadata.update(
        run_id=req.run_id,
        thread_id=req.thread_id,
        graph_id=req.graph_id,
        assistant_id=req.assistant_id,
    )
    cfg["metadata"] = metadata
    cfg["run_id"] = req.run_id
    return cfg


def graph_input(req: RunRequest) -> Any:
    if req.command:
        cmd = req.command
        return Command(
            resume=cmd.get("resume"),
            goto=cmd.get("goto") or (),
            update=cmd.get("update"),
        )
    return req.input


def interrupts_of(state: StateSnapshot) -> list[Any]:
    return [i for task in state.tasks for i in task.interrupts]


def thread_interrupts(state: StateSnapshot) -> dict[str, list[Any]]:
    """The thread's ``interrupts`` field: task id -> interrupts of that task."""
    return {task.id: list(task.interrupts) for task in state.tasks if task.interrupts}


class Runner:
    def __init__(
        self,
        *,
        registry: GraphRegistry,
        store: Store,
        js: JetStreamContext,
        subjects: Subjects,
        executor_id: str,
        dispatch: Callable[[bytes], Awaitable[None]],
    ) -> None:
        self.registry = registry
        self.store = store
        self.js = js
        self.subjects = subjects
        self.executor_id = executor_id
        self.dispatch = dispatch
        self.active: dict[str, asyncio.Task[Any]] = {}
        self.cancel_actions: dict[str, str] = {}

    async def _event(self, req: RunRequest, seq: int, event: str, data: bytes) -> None:
        body = encode(RunEvent(seq=seq, event=event, data=msgspec.Raw(data)))
        subject = (
            self.subjects.event_end(req.run_id)
            if event == END_EVENT
            else self.subjects.event_chunk(req.run_id)
        )
        await self.js.publish(subject, body)

    async def execute(self, req: RunRequest) -> str:
        """Run ``req`` to a terminal status or an interrupt. Returns what happened:
        ``done`` (recorded), ``skipped`` (not ours to run), ``stale`` (lost lease)."""
        claim = await self.store.claim_run(req.thread_id, req.run_id, self.executor_id)
        if claim.outcome != "ok":
            log.info("run %s not claimed: %s", req.run_id, claim.outcome)
            return "skipped"
        task = asyncio.current_task()
        assert task is not None
        self.active[req.run_id] = task
        try:
            return await self._execute(req, claim.epoch, claim.attempt)
        finally:
            self.active.pop(req.run_id, None)
            self.cancel_actions.pop(req.run_id, None)

    async def _execute(self, req: RunRequest, epoch: int, attempt: int) -> str:
        seq = 0
        await self._event(req, seq, "metadata", dumps({"run_id": req.run_id, "attempt": attempt}))
        graph = self.registry.get(req.graph_id)
        config = run_config(req, epoch)
        modes = list(dict.fromkeys(m for m in req.stream_mode if m in _MODES)) or ["values"]
        lg_modes = list(dict.fromkeys(_MODES[m][0] for m in modes))
        run_status, error = "success", None
        try:
            async for part in graph.astream(
                graph_input(req),
                config,
                stream_mode=lg_modes,
                subgraphs=req.stream_subgraphs,
                interrupt_before=req.interrupt_before,
                interrupt_after=req.interrupt_after,
                durability=req.durability,  # type: ignore[arg-type]
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
            if req.run_id not in self.cancel_actions:
                raise  # the executor is shutting down: the run goes back to the queue
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
            run_status = "interrupted"
        except StaleEpoch:
            log.warning("run %s lost its lease (epoch %s); dropping it", req.run_id, epoch)
            return "stale"
        except Exception as exc:  # the user's graph failed: the run ends in error
            if isinstance(exc.__cause__, StaleEpoch) or isinstance(exc.__context__, StaleEpoch):
                log.warning("run %s lost its lease; dropping it", req.run_id)
                return "stale"
            run_status = "error"
            error = {"error": type(exc).__name__, "message": str(exc)}
            if isinstance(exc, GraphRecursionError):
                error["error"] = "GraphRecursionError"
            log.info("run %s failed: %s: %s", req.run_id, error["error"], error["message"])
            seq += 1
            await self._event(req, seq, "error", dumps(error))
        return await self._finish(req, graph, epoch, seq, run_status, error)

    async def _finish(
        self,
        req: RunRequest,
        graph: Pregel,
        epoch: int,
        seq: int,
        run_status: str,
        error: dict[str, str] | None,
    ) -> str:
        state = await graph.aget_state({"configurable": {"thread_id": req.thread_id}})
        pending = interrupts_of(state)
        values = dumps(state.values)
        if error is not None:
            thread_status, output = "error", dumps({"__error__": error})
        else:
            thread_status = "interrupted" if (state.next or pending) else "idle"
            out_values = state.values if isinstance(state.values, dict) else {"": state.values}
            output = dumps({**out_values, "__interrupt__": pending} if pending else state.values)
            if run_status == "interrupted":
                thread_status = "idle"
        outcome, next_request = await self.store.finish_run(
            thread_id=req.thread_id,
            run_id=req.run_id,
            epoch=epoch,
            run_status=run_status,
            thread_status=thread_status,
            values=values,
            interrupts=dumps(thread_interrupts(state)),
            result=output,
        )
        if outcome == "stale":
            log.warning("run %s finished after losing its lease; outcome dropped", req.run_id)
            return "stale"
        if pending and error is None:
            await self._publish_interrupt(req, state, pending)
        seq += 1
        await self._event(
            req, seq, END_EVENT, encode(RunEnd(status=run_status, output=msgspec.Raw(output)))
        )  # type: ignore[arg-type]
        if next_request is not None:
            await self.dispatch(next_request)
        if req.temporary:
            await self.store.delete_thread(req.thread_id)
            await self.registry.checkpointer.adelete_thread(req.thread_id)
        return "done"

    async def _publish_interrupt(
        self, req: RunRequest, state: StateSnapshot, pending: list[Any]
    ) -> None:
        checkpoint_id = state.config["configurable"].get("checkpoint_id", "")
        event = InterruptEvent(
            thread_id=req.thread_id,
            run_id=req.run_id,
            assistant_id=req.assistant_id,
            graph_id=req.graph_id,
            checkpoint_id=checkpoint_id,
            interrupts=[InterruptItem(id=i.id, value=msgspec.Raw(dumps(i.value))) for i in pending],
            created_at=now_iso(),
        )
        await self.js.publish(
            self.subjects.interrupts(req.graph_id, req.thread_id),
            encode(event),
            headers={"Nats-Msg-Id": f"{req.thread_id}:{checkpoint_id}"},
        )

    def cancel(self, run_id: str, action: str) -> bool:
        task = self.active.get(run_id)
        if task is None:
            return False
        self.cancel_actions[run_id] = action
        task.cancel()
        return True


async def heartbeat(beat: Callable[[], Awaitable[Any]], interval: float) -> None:
    """Call ``beat`` every ``interval`` seconds until cancelled."""
    while True:
        await asyncio.sleep(interval)
        with contextlib.suppress(Exception):
            await beat()
