"""The gateway's work behind every route: resolving assistants, creating runs
(strategy decided in Redis), dispatching them, following their events, and
asking executors what only the graph knows.

HTTP routes and the NATS resume handler both call into :class:`Gateway`, so a
resume behaves the same whichever way it arrives.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import time
import uuid
from datetime import datetime
from typing import Any

import msgspec
from fastapi import Request
from langgraph.checkpoint.base import BaseCheckpointSaver
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.errors import TimeoutError

from relaygraph import metrics, resumes, tracing
from relaygraph.catalog import Catalog, CatalogCache
from relaygraph.config import Config
from relaygraph.contracts import (
    END_EVENT,
    CancelRequest,
    RunEnd,
    RunEvent,
    encode,
)
from relaygraph.crons import Crons
from relaygraph.errors import (
    InvalidInput,
    NotFound,
)
from relaygraph.pipelining import Step
from relaygraph.resumes import ResumePlan
from relaygraph.runs import (
    CancelAction,
    Cancelled,
    CancelOutcome,
    Created,
    Decision,
    Strategy,
)
from relaygraph.settings import GatewaySettings
from relaygraph.subjects import is_token
from relaygraph.threads import Paused
from relaygraph.webhooks import check_url
from relaygraph_gateway.assistant_rules import canonical_id, for_run
from relaygraph_gateway.assistants import Assistants
from relaygraph_gateway.authz import Access, authorize_run
from relaygraph_gateway.bulk_cancel import clear_queue_for
from relaygraph_gateway.follow import Follower
from relaygraph_gateway.graph_queries import GraphQueries
from relaygraph_gateway.models import RunCreate
from relaygraph_gateway.resources import Resources
from relaygraph_gateway.run_request import (
    Draft,
    NewRun,
    StartTime,
    check_run_body,
    is_resume,
    run_from_row,
    run_object,
    run_request,
)

log = logging.getLogger("relaygraph.gateway")


def check_id(kind: str, value: str) -> str:
    if not is_token(value):
        raise InvalidInput(
            f"{kind} {value!r} is not valid: use letters, digits, '-' and '_' (a UUID is typical)"
        )
    return value


def gw(request: Request) -> Gateway:
    """The gateway a route serves with."""
    return request.app.state.gateway  # type: ignore[no-any-return]


async def _nothing() -> tuple[dict[str, Any], Paused | None]:
    return {}, None


def count_created(created: Created, resuming: bool, transport: str, paused: Paused | None) -> None:
    """A new run for the metrics; a resume also by ``transport`` (``http`` or
    ``nats``) and, when it answered a pause, how long that pause waited."""
    metrics.RUNS_CREATED.labels(created.decision.value).inc()
    if resuming:
        metrics.RESUMES.labels(transport, created.decision.value).inc()
        if paused is not None and created.decision is not Decision.DUPLICATE:
            metrics.INTERRUPT_WAIT.observe(seconds_since(paused.created_at))


def seconds_since(iso: str) -> float:
    try:
        return max(0.0, time.time() - datetime.fromisoformat(iso).timestamp())
    except ValueError:
        return 0.0


class Gateway(GraphQueries):
    def __init__(self, res: Resources, config: Config, settings: GatewaySettings) -> None:
        self.config = config
        self.settings = settings
        self.runs = res.runs
        self.threads = res.threads
        self.saver: BaseCheckpointSaver[Any] = res.saver
        self.store = res.store
        self.nc = res.nc
        self.js = res.js
        self.subjects = res.subjects
        self.dispatcher = res.dispatcher
        self.catalog = CatalogCache(Catalog(res.redis, res.keys))
        self.follower = Follower(res.runs, res.threads, res.js, res.subjects)
        self.assistants = Assistants(res.redis, res.keys, res.trips, config)
        self.crons = Crons(res.redis, res.keys)

    # -- assistants ----------------------------------------------------------
    def check_graph(self, graph_id: str) -> None:
        if graph_id not in self.config.graphs:
            raise NotFound(
                f"Graph '{graph_id}' not found. Expected one of: {sorted(self.config.graphs)!r}"
            )

    def assistant_id_of(self, value: str) -> str:
        """An assistant's id as a request names it: its UUID, or a graph id
        (the graph's default assistant)."""
        spec = self.config.graphs.get(value)
        return spec.assistant_id if spec is not None else canonical_id(value)

    async def assistant_for_run(self, assistant_id: str) -> dict[str, Any]:
        """The assistant a run names: by id, or by its graph's id (the graph's
        default assistant)."""
        spec = self.config.graphs.get(assistant_id)
        if spec is not None:
            aid = spec.assistant_id
        else:
            try:
                aid = str(uuid.UUID(assistant_id))
            except ValueError:
                raise InvalidInput(
                    f"Invalid assistant: '{assistant_id}'. Must be either:\n"
                    f"- A valid assistant UUID, or\n"
                    f"- One of the registered graphs: {', '.join(self.config.graphs)}"
                ) from None
        doc = await self.assistants.get(aid)
        if doc is None:
            raise NotFound(f"Assistant {aid} not found")
        return doc

    async def vet_run(self, body: RunCreate) -> None:
        """The checks :meth:`create_run` makes before it records anything
        (body, assistant, input), on their own: a batch is vetted whole first."""
        check_run_body(body)
        assistant = await self.assistant_for_run(body.assistant_id)
        await self._check_payload(assistant["graph_id"], body)

    async def _check_payload(self, graph_id: str, body: RunCreate) -> None:
        """What a run carries that must be checked against the graph or the
        config: its input (not a resume's) and its webhook."""
        if body.input is not None and not is_resume(body):
            await self.check_input(graph_id, body.input)
        if body.webhook:
            await check_url(body.webhook, self.config.webhooks)

    # -- runs ----------------------------------------------------------------
    async def create_run(
        self,
        thread_id: str | None,
        body: RunCreate,
        follow: str | None = None,
        resume: ResumePlan | None = None,
        *,
        run_id: str | None = None,
        new_thread_id: str | None = None,
        then: list[Step] | None = None,
        access: Access | None = None,
    ) -> tuple[dict[str, Any], Created, Subscription | None]:
        """Record a run and send it on its way. Returns the Run object, what Redis
        decided (``dispatch``, ``queued`` or ``duplicate`` of a resume) and, with
        ``follow`` (``end`` or ``all``), a subscription to the new run's events
        made before it was dispatched, so none is missed and no JetStream
        consumer is needed. ``resume``: which pause a resume answers, when the
        caller decided it (NATS); otherwise LangGraph's HTTP rule applies.
        ``run_id``, ``new_thread_id`` (a stateless run's thread) and ``then``:
        a cron's run, its ids fixed by the tick, and the step that marks the
        tick fired (:meth:`Runs.create`). ``access``: the caller's, checked
        and stamped on the run (:func:`authorize_run`)."""
        check_run_body(body)
        temporary = thread_id is None
        thread_id = check_id("thread_id", thread_id or new_thread_id or str(uuid.uuid4()))
        fresh_id = run_id is None  # drawn here at random: no record can hold it yet
        draft = await self._draft(body, thread_id, run_id or str(uuid.uuid4()), temporary, access)
        resuming = is_resume(body)
        plan = None
        if resuming and body.command:
            plan = resume or resumes.over_http(body.command.resume)
        created = await self._record(draft, plan, then, fresh_id)
        count_created(created, resuming, "nats" if resume is not None else "http", draft.paused)
        if created.decision is Decision.DUPLICATE:
            return await self.run_json(thread_id, created.run_id), created, None
        sub = await self._send(draft, created, follow)
        draft.run["status"] = "pending"
        return draft.run, created, sub

    async def _draft(
        self, body: RunCreate, thread_id: str, run_id: str, temporary: bool, access: Access | None
    ) -> Draft:
        """The run as it is to be recorded: its assistant and thread read,
        the caller's ``access`` checked and stamped, its payload checked."""
        resuming = is_resume(body)
        # Both in one round trip: they go out in the same pipeline.
        assistant, (thread_metadata, paused) = await asyncio.gather(
            self.assistant_for_run(body.assistant_id),
            self.threads.paused(thread_id, resuming) if not temporary else _nothing(),
        )
        graph_id, assistant_id = assistant["graph_id"], assistant["assistant_id"]
        new_thread_metadata = {"graph_id": graph_id, "assistant_id": assistant_id}
        if access is not None:
            body = await self._authorize(
                access, body, thread_id, run_id, temporary, thread_metadata, assistant
            )
            if access.on:
                new_thread_metadata |= body.metadata or {}
        await self._check_payload(graph_id, body)
        due = StartTime.after(body.after_seconds)
        new = NewRun(
            run_id=run_id,
            thread_id=thread_id,
            assistant_id=assistant_id,
            graph_id=graph_id,
            created_at=due.iso,  # the reference's: when the run may start
            temporary=temporary,
        )
        merged = for_run(assistant, body.config, body.context, body.metadata, thread_metadata)
        req = run_request(new, body, *merged)
        if tracing.enabled():
            traced = paused.trace if paused is not None else None
            trace = tracing.resume_span(traced, thread_id) if resuming else tracing.traceparent()
            req = msgspec.structs.replace(req, trace=trace)
        run = run_object(new, body, req)
        return Draft(new, body, encode(req), run, new_thread_metadata, paused, due.ms)

    async def _authorize(
        self,
        access: Access,
        body: RunCreate,
        thread_id: str,
        run_id: str,
        temporary: bool,
        thread_metadata: dict[str, Any],
        assistant: dict[str, Any],
    ) -> RunCreate:
        # The thread's metadata is what its filter is matched against, once
        # the thread exists (``authorize_run``).
        exists = (
            access.on and not temporary and await self.threads.rows([thread_id], ("created_at",))
        )
        return await authorize_run(
            access,
            body,
            thread_id=None if temporary else thread_id,
            run_id=run_id,
            thread=thread_metadata if exists else None,
            assistant=assistant,
        )

    async def _record(
        self, draft: Draft, resume: ResumePlan | None, then: list[Step] | None, fresh_id: bool
    ) -> Created:
        """The run's record (:meth:`Runs.create`): Redis decides there whether
        it is dispatched, queued or a duplicate, or refuses it."""
        new, body = draft.new, draft.body
        return await self.runs.create(
            thread_id=new.thread_id,
            run_id=new.run_id,
            run_json=msgspec.json.encode(draft.run),
            request=draft.request,
            strategy=Strategy(body.multitask_strategy),
            create_thread=new.temporary or body.if_not_exists == "create",
            graph_id=new.graph_id,
            assistant_id=new.assistant_id,
            thread_metadata=draft.thread_metadata,
            resume=resume,
            due_ms=draft.due_ms,
            then=then,
            fresh_id=fresh_id,
        )

    async def _send(
        self, draft: Draft, created: Created, follow: str | None
    ) -> Subscription | None:
        """What follows a run's record: a thread it may have made gets the
        default TTL; with ``follow``, a subscription to the run's events
        (``all``) or its end, made before it is dispatched; then the run is
        dispatched, or, queued behind an active run it interrupts or rolls
        back, that run is cancelled."""
        new, body, strategy = draft.new, draft.body, draft.body.multitask_strategy
        default_ttl = self.config.thread_ttl.default_ttl
        if body.if_not_exists == "create" and not new.temporary and default_ttl is not None:
            # NX: not an existing thread's own TTL.
            await self.runs.trips.run([self.threads.expiry_step(new.thread_id, default_ttl, True)])
        sub = None
        if follow is not None:
            sub = await self.nc.subscribe(
                self.subjects.run_events(new.thread_id, new.run_id)
                if follow == "all"
                else self.subjects.event_end(new.thread_id, new.run_id)
            )
        if created.decision is Decision.DISPATCH:
            await self._dispatch(draft.request, new.thread_id, new.run_id, created.owner)
        elif strategy in ("interrupt", "rollback") and created.active_run:
            await clear_queue_for(self, new.thread_id, new.run_id, strategy)
            await self.cancel(new.thread_id, created.active_run, strategy)
        return sub

    async def _dispatch(
        self, request: bytes, thread_id: str, run_id: str, owner: str | None
    ) -> None:
        """Send a run that Redis has recorded. The record is the outbox: from
        here on the run is accepted, and if NATS cannot take it now (after the
        publish's own retries), the sweeper sends it once its dispatch grace
        runs out. So a 5xx never answers a run that will run anyway."""
        try:
            await self.dispatcher.send(request, thread_id, run_id, owner=owner)
        except (NatsError, TimeoutError, builtins.TimeoutError) as exc:
            log.warning(
                "run %s of thread %s is accepted but NATS did not take it (%r); "
                "it is dispatched again within RELAYGRAPH_DISPATCH_GRACE",
                run_id,
                thread_id,
                exc,
            )

    async def run_json(self, thread_id: str, run_id: str) -> dict[str, Any]:
        return run_from_row(await self.runs.get(thread_id, run_id))

    async def cancel(self, thread_id: str, run_id: str, action: str = "interrupt") -> Cancelled:
        action = CancelAction.ROLLBACK if action == "rollback" else CancelAction.INTERRUPT
        res = await self.runs.cancel(thread_id, run_id, action)
        if res.outcome is CancelOutcome.FLAGGED:
            await self.nc.publish(
                self.subjects.cancel,
                encode(
                    CancelRequest(
                        thread_id=thread_id,
                        run_id=run_id,
                        action=action,  # type: ignore[arg-type]
                    )
                ),
            )
        elif res.outcome.ended_here:
            # No executor ran it, so none will announce its end: whoever
            # follows the run (wait, join, stream) hears it from here.
            output = await self.follower.thread_result(thread_id)
            end = RunEvent(
                seq=0,
                event=END_EVENT,
                data=msgspec.Raw(encode(RunEnd(status="interrupted", output=msgspec.Raw(output)))),
            )
            try:
                await self.js.publish(self.subjects.event_end(thread_id, run_id), encode(end))
            except (NatsError, TimeoutError, builtins.TimeoutError) as exc:
                # Followers read the outcome in Redis at their next heartbeat.
                log.warning("the end of cancelled run %s was not published: %r", run_id, exc)
            if res.next_run is not None:
                await self._dispatch(res.next_run.request, thread_id, res.next_run.run_id, None)
        return res

    async def thread_graph(self, thread_id: str) -> str | None:
        thread = await self.threads.get(thread_id)
        graph = thread.get("graph_id")
        return graph.decode() if graph else None
