"""The gateway's work behind every route: resolving assistants, creating runs
(strategy decided in Redis), dispatching them, following their events, and
asking executors what only the graph knows.

HTTP routes and the NATS resume handler both call into :class:`Gateway`, so a
resume behaves the same whichever way it arrives.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from langgraph.checkpoint.base import BaseCheckpointSaver
from nats.aio.client import Client
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError, TimeoutError
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy

from relaygraph.config import Config
from relaygraph.contracts import (
    END_EVENT,
    CancelRequest,
    GraphQuery,
    GraphReply,
    RunEnd,
    RunEvent,
    RunRequest,
    decode,
    encode,
)
from relaygraph.dispatch import Dispatcher
from relaygraph.errors import (
    InvalidInput,
    NotFound,
    Unavailable,
    from_code,
)
from relaygraph.leases import Leases, now_ms
from relaygraph.settings import GatewaySettings
from relaygraph.store import NO_RESUME, Created, Store, now_iso
from relaygraph.subjects import Subjects, is_token
from relaygraph_gateway.models import RunCreate

TERMINAL = {"success", "error", "timeout", "interrupted"}
SCHEMA_TTL = 60.0


def run_from_row(row: dict[str, bytes]) -> dict[str, Any]:
    run: dict[str, Any] = msgspec.json.decode(row["run"])
    run["status"] = row["status"].decode()
    run["updated_at"] = row["updated_at"].decode()
    return run


def check_id(kind: str, value: str) -> str:
    if not is_token(value):
        raise InvalidInput(
            f"{kind} {value!r} is not valid: use letters, digits, '-' and '_' (a UUID is typical)"
        )
    return value


class Gateway:
    def __init__(
        self,
        *,
        leases: Leases,
        config: Config,
        store: Store,
        saver: BaseCheckpointSaver[Any],
        nc: Client,
        js: JetStreamContext,
        subjects: Subjects,
        settings: GatewaySettings,
    ) -> None:
        self.config = config
        self.leases = leases
        self.saver = saver
        self.store = store
        self.nc = nc
        self.js = js
        self.subjects = subjects
        self.settings = settings
        self.dispatcher = Dispatcher(nc, js, store, subjects, settings.owner_timeout)
        self._schemas: dict[str, tuple[float, dict[str, Any]]] = {}

    # -- assistants ----------------------------------------------------------
    def graph_of(self, assistant_id: str) -> tuple[str, str]:
        """(graph_id, assistant_id) for an assistant id or a graph name."""
        if assistant_id in self.config.graphs:
            return assistant_id, self.config.graphs[assistant_id].assistant_id
        for spec in self.config.graphs.values():
            if spec.assistant_id == assistant_id:
                return spec.graph_id, spec.assistant_id
        raise NotFound(f"Assistant {assistant_id} not found")

    # -- executor queries ----------------------------------------------------
    async def query(self, q: GraphQuery) -> msgspec.Raw:
        try:
            msg = await self.nc.request(
                self.subjects.graph_query, encode(q), timeout=self.settings.query_timeout
            )
        except (NoRespondersError, TimeoutError) as exc:
            raise Unavailable(
                f"no executor answered for graph {q.graph_id!r} within "
                f"{self.settings.query_timeout}s; is `relaygraph executor` running?"
            ) from exc
        reply = decode(msg.data, GraphReply)
        if reply.error is not None:
            raise from_code(reply.error.code, reply.error.message)
        return reply.result

    async def schemas(self, graph_id: str) -> dict[str, Any]:
        cached = self._schemas.get(graph_id)
        if cached and time.monotonic() - cached[0] < SCHEMA_TTL:
            return cached[1]
        raw = await self.query(GraphQuery(op="schemas", graph_id=graph_id))
        schemas: dict[str, Any] = msgspec.json.decode(raw)
        self._schemas[graph_id] = (time.monotonic(), schemas)
        return schemas

    async def check_input(self, graph_id: str, value: Any) -> None:
        """Refuse input the graph cannot take: not an object, unknown keys, or a
        top-level scalar of the wrong JSON type."""
        if value is None:
            return
        schema = (await self.schemas(graph_id)).get("input_schema") or {}
        props = schema.get("properties")
        if schema.get("type") != "object" or not isinstance(props, dict):
            return
        if not isinstance(value, dict):
            raise InvalidInput(
                f"input of graph {graph_id!r} must be an object with keys {sorted(props)}"
            )
        unknown = sorted(set(value) - set(props))
        if unknown:
            raise InvalidInput(
                f"input key(s) {unknown} are not in graph {graph_id!r}'s input schema; "
                f"it accepts {sorted(props)}"
            )
        # Scalars only: reducers (add_messages...) accept more shapes than a
        # schema's array/object says, and LangGraph itself does not check them.
        types = {"string": str, "integer": int, "number": (int, float), "boolean": bool}
        for key, item in value.items():
            expected = props[key].get("type") if isinstance(props[key], dict) else None
            py = types.get(expected) if isinstance(expected, str) else None
            if py is None or item is None:
                continue
            if not isinstance(item, py) or (
                expected in ("integer", "number") and isinstance(item, bool)
            ):
                raise InvalidInput(
                    f"input key {key!r} must be of type {expected}, got {type(item).__name__}"
                )

    # -- runs ----------------------------------------------------------------
    async def create_run(
        self, thread_id: str | None, body: RunCreate, follow: str | None = None
    ) -> tuple[dict[str, Any], Created, Subscription | None]:
        """Record a run and send it on its way. Returns the Run object, what Redis
        decided (``dispatch``, ``queued`` or ``duplicate`` of a resume) and, with
        ``follow`` (``end`` or ``all``), a subscription to the new run's events
        made before it was dispatched, so none is missed and no JetStream
        consumer is needed."""
        graph_id, assistant_id = self.graph_of(body.assistant_id)
        if body.input is not None and body.command is not None:
            raise InvalidInput("a run takes `input` or `command`, not both")
        temporary = thread_id is None
        if thread_id is None:
            thread_id = str(uuid.uuid4())
        check_id("thread_id", thread_id)
        is_resume = body.command is not None and "resume" in body.command.model_fields_set
        if body.input is not None and not is_resume:
            await self.check_input(graph_id, body.input)
        run_id = str(uuid.uuid4())
        created_at = now_iso()
        modes = body.stream_mode if isinstance(body.stream_mode, list) else [body.stream_mode]
        command = body.command.model_dump(exclude_unset=True) if body.command else None
        req = RunRequest(
            run_id=run_id,
            thread_id=thread_id,
            assistant_id=assistant_id,
            graph_id=graph_id,
            input=body.input,
            command=command,
            config=body.config or {},
            context=body.context,
            metadata=body.metadata or {},
            stream_mode=list(modes),
            stream_subgraphs=body.stream_subgraphs,
            interrupt_before=body.interrupt_before,
            interrupt_after=body.interrupt_after,
            checkpoint_id=body.checkpoint_id,
            checkpoint=body.checkpoint,
            durability=body.durability,
            temporary=temporary and body.on_completion != "keep",
            created_at=created_at,
        )
        run = {
            "run_id": run_id,
            "thread_id": thread_id,
            "assistant_id": assistant_id,
            "created_at": created_at,
            "updated_at": created_at,
            "metadata": body.metadata or {},
            "multitask_strategy": body.multitask_strategy,
            "kwargs": {
                "input": body.input,
                "command": command,
                "config": body.config or {},
                "stream_mode": modes,
                "interrupt_before": body.interrupt_before,
                "interrupt_after": body.interrupt_after,
            },
        }
        request = encode(req)
        # The sweeper watches the run before it exists (first in the same round
        # trip), so no crash can strand it.
        deadline = now_ms() + self.leases.grace_ms
        created = await self.store.create_run(
            thread_id=thread_id,
            run_id=run_id,
            run_json=msgspec.json.encode(run),
            request=request,
            strategy=body.multitask_strategy,
            create_thread=temporary or body.if_not_exists == "create",
            graph_id=graph_id,
            assistant_id=assistant_id,
            thread_metadata={"graph_id": graph_id, "assistant_id": assistant_id},
            lease_until_ms=deadline,
            before=[self.leases.watch_step(thread_id, run_id, deadline)],
            resume=body.command.resume if is_resume and body.command else NO_RESUME,
        )
        if created.decision == "duplicate":
            return await self.run_json(thread_id, created.run_id), created, None
        sub = None
        if follow is not None:
            sub = await self.nc.subscribe(
                self.subjects.run_events(run_id)
                if follow == "all"
                else self.subjects.event_end(run_id)
            )
        if created.decision == "dispatch":
            await self.dispatcher.send(request, thread_id, run_id, owner=created.owner)
        elif body.multitask_strategy in ("interrupt", "rollback") and created.active_run:
            await self.cancel(thread_id, created.active_run, body.multitask_strategy)
        run["status"] = "pending"
        return run, created, sub

    async def run_json(self, thread_id: str, run_id: str) -> dict[str, Any]:
        return run_from_row(await self.store.get_run(thread_id, run_id))

    async def cancel(self, thread_id: str, run_id: str, action: str = "interrupt") -> None:
        action = "rollback" if action == "rollback" else "interrupt"
        if await self.store.request_cancel(thread_id, run_id, action) != "flagged":
            return  # it had not started (now interrupted), or already ended
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

    # -- events --------------------------------------------------------------
    async def events(
        self,
        run_id: str,
        heartbeat: float = 5.0,
        only_end: bool = False,
        sub: Subscription | None = None,
    ) -> AsyncIterator[RunEvent | None]:
        """The run's events from its start, then live; ``None`` marks a quiet
        ``heartbeat`` interval. Ends after the closing event. ``sub``: the
        subscription :meth:`create_run` made before dispatching the run;
        otherwise the run's events are replayed from JetStream."""
        if sub is None:
            subject = (
                self.subjects.event_end(run_id) if only_end else self.subjects.run_events(run_id)
            )
            sub = await self.js.subscribe(
                subject, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
            )
        try:
            while True:
                try:
                    msg = await sub.next_msg(timeout=heartbeat)
                except TimeoutError:
                    yield None
                    continue
                event = decode(msg.data, RunEvent)
                yield event
                if event.event == END_EVENT:
                    return
        finally:
            await sub.unsubscribe()

    async def wait(
        self, thread_id: str, run_id: str, temporary: bool = False, sub: Subscription | None = None
    ) -> bytes:
        """Block until the run ends or pauses; its output as JSON bytes.

        A stateless (temporary) run's records vanish with its thread when it
        ends, so only its closing event is read."""
        if not temporary and sub is None:
            rec = await self.store.get_run(thread_id, run_id)
            if rec["status"].decode() in TERMINAL and "result" in rec:
                return rec["result"]
        async for event in self.events(run_id, heartbeat=5.0, only_end=True, sub=sub):
            if event is not None and event.event == END_EVENT:
                return bytes(decode(event.data, RunEnd).output)
            if event is None and not temporary:
                # The closing event can be lost (NATS restarting as it was sent):
                # the outcome in Redis is the truth.
                rec = await self.store.get_run(thread_id, run_id)
                if rec["status"].decode() in TERMINAL and "result" in rec:
                    return rec["result"]
        raise Unavailable(f"run {run_id} ended without an outcome")  # pragma: no cover

    async def thread_graph(self, thread_id: str) -> str | None:
        thread = await self.store.get_thread(thread_id)
        graph = thread.get("graph_id")
        return graph.decode() if graph else None
