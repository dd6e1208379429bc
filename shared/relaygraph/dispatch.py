"""Sending a run to an executor: to the thread's owner while it lives, else to
the shared JetStream work queue, where any executor takes it.

Used by the gateway (new runs, resumes) and by executors (the next queued run
of a thread whose run just ended).
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import time

from nats.aio.client import Client
from nats.errors import NoRespondersError, TimeoutError
from nats.js import JetStreamContext
from nats.js.errors import NoStreamResponseError, ServiceUnavailableError

from relaygraph import tracing
from relaygraph.contracts import InterruptEvent, OwnerReply, decode
from relaygraph.owners import Owners
from relaygraph.subjects import Subjects

log = logging.getLogger("relaygraph.dispatch")
ALIVE_CACHE = 1.0  # seconds
PUBLISH_RETRY_FOR = 5.0
"""Seconds a JetStream publish is retried (a stream leader election in a
cluster takes a few)."""
TRANSIENT_PUBLISH_ERRORS: tuple[type[BaseException], ...] = (
    NoStreamResponseError,
    NoRespondersError,
    ServiceUnavailableError,
    TimeoutError,
    builtins.TimeoutError,
)


class Dispatcher:
    def __init__(
        self,
        nc: Client,
        js: JetStreamContext,
        owners: Owners,
        subjects: Subjects,
        owner_timeout: float = 0.5,
    ) -> None:
        self.nc = nc
        self.js = js
        self.owners = owners
        self.subjects = subjects
        self.owner_timeout = owner_timeout
        self._alive_seen: dict[str, tuple[float, bool]] = {}

    async def to_queue(
        self, request: bytes, run_id: str, dedupe: str = "", priority: bool = False
    ) -> None:
        """Durably enqueue. JetStream drops a repeat of the same run id (within
        two minutes) unless ``dedupe`` marks a new dispatch of it (a re-dispatch
        after a lease ran out, a hand-back on a graceful stop). ``priority`` runs
        skip the backlog (executors pull them on a consumer of their own)."""
        msg_id = f"run:{run_id}:{dedupe}" if dedupe else f"run:{run_id}"
        subject = self.subjects.run_priority if priority else self.subjects.run_queue
        await self._publish(subject, request, {"Nats-Msg-Id": msg_id} | tracing.carrier())

    async def _publish(self, subject: str, body: bytes, headers: dict[str, str]) -> None:
        """A JetStream publish that rides out a stream leader election or a
        reconnect: retried (same ``Nats-Msg-Id``, so JetStream keeps one) for
        up to :data:`PUBLISH_RETRY_FOR` seconds, then the error is raised."""
        deadline = time.monotonic() + PUBLISH_RETRY_FOR
        delay = 0.1
        while True:
            try:
                await self.js.publish(subject, body, headers=headers)
                return
            except TRANSIENT_PUBLISH_ERRORS as exc:
                if time.monotonic() + delay > deadline:
                    raise
                log.info("publish on %s failed (%r); retrying in %.1f s", subject, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def publish_interrupt(self, event: bytes) -> None:
        """Publish an interrupt event; the same checkpoint's event twice is
        dropped by JetStream (``Nats-Msg-Id``)."""
        parsed = decode(event, InterruptEvent)
        await self._publish(
            self.subjects.interrupts(parsed.graph_id, parsed.thread_id),
            event,
            {"Nats-Msg-Id": f"{parsed.thread_id}:{parsed.checkpoint_id}"},
        )

    async def _alive(self, executor_id: str) -> bool:
        """Whether the executor's liveness key is there, as read at most
        ``ALIVE_CACHE`` seconds ago (most resumes go to a few owners: one read
        a second each instead of one per run; the key's TTL is longer)."""
        now = time.monotonic()
        seen = self._alive_seen.get(executor_id)
        if seen is not None and now - seen[0] < ALIVE_CACHE:
            return seen[1]
        alive = await self.owners.alive(executor_id)
        if len(self._alive_seen) > 4096:
            self._alive_seen.clear()
        self._alive_seen[executor_id] = (now, alive)
        return alive

    async def send(
        self,
        request: bytes,
        thread_id: str,
        run_id: str,
        owner: str | None = None,
    ) -> str:
        """Returns where the run went: the owner's id, or ``queue``. ``owner``:
        the thread's owner ("" for none), when the caller read it already."""
        if owner is None:
            owner = await self.owners.of_thread(thread_id)
        if owner and not await self._alive(owner):
            # Its owner is gone: whoever takes it next must not wait behind the backlog.
            await self.to_queue(request, run_id, priority=True)
            return "queue"
        if owner:
            try:
                msg = await self.nc.request(
                    self.subjects.owner_run(owner), request, timeout=self.owner_timeout
                )
                if decode(msg.data, OwnerReply).accepted:
                    return owner
            except (NoRespondersError, TimeoutError):
                log.info(
                    "owner %s of thread %s did not take run %s; queueing it",
                    owner,
                    thread_id,
                    run_id,
                )
                await self.to_queue(request, run_id, priority=True)  # it is gone
                return "queue"
        await self.to_queue(request, run_id)
        return "queue"
