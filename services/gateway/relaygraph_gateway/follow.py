"""Following a run from the gateway: its events (replayed from JetStream, or
live on the subscription made before it was dispatched) and its outcome.

The run's record in Redis is the truth about its end: a run that ended with
its events expired (or never published: cancelled while queued) ends at once,
and a closing event lost in a NATS reconnect is made up from the record after
one quiet heartbeat. So nothing that follows a run waits forever.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator

import msgspec
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.errors import TimeoutError
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from nats.js.errors import NotFoundError as JsNotFound

from relaygraph.contracts import END_EVENT, RunEnd, RunEvent, decode, encode
from relaygraph.errors import NotFound, Unavailable
from relaygraph.runs import Runs
from relaygraph.subjects import Subjects
from relaygraph.threads import Threads

TERMINAL = {"success", "error", "timeout", "interrupted"}
# How long following a run waits for JetStream to take a subscription (a
# stream's leader election after a node died takes a few seconds).
SUBSCRIBE_PATIENCE = 30.0
log = logging.getLogger("relaygraph.gateway")


def thread_result(row: dict[str, bytes]) -> bytes:
    """What waiting on a run returns when the run left no output of its own
    (it never ran): the thread's pending interrupts, else its values."""
    if row.get("status") == b"interrupted":
        pending = [
            item
            for items in msgspec.json.decode(row.get("interrupts") or b"{}").values()
            if isinstance(items, list)
            for item in items
        ]
        if pending:
            return msgspec.json.encode({"__interrupt__": pending})
    values = row.get("values")
    return values if values and values != b"null" else b"{}"


class Follower:
    def __init__(
        self, runs: Runs, threads: Threads, js: JetStreamContext, subjects: Subjects
    ) -> None:
        self.runs = runs
        self.threads = threads
        self.js = js
        self.subjects = subjects

    async def thread_result(self, thread_id: str) -> bytes:
        try:
            return thread_result(await self.threads.get(thread_id))
        except NotFound:
            return b"{}"

    async def events(
        self,
        thread_id: str,
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
            ended = await self._ended(thread_id, run_id, replayable=True)
            if ended is not None:
                yield ended
                return
            subject = (
                self.subjects.event_end(thread_id, run_id)
                if only_end
                else self.subjects.run_events(thread_id, run_id)
            )
            deadline = time.monotonic() + SUBSCRIBE_PATIENCE
            while sub is None:
                try:
                    sub = await self.js.subscribe(
                        subject, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
                    )
                except (NatsError, builtins.TimeoutError) as exc:
                    # The events stream electing a leader (a NATS node died) or
                    # the connection coming back: the run goes on meanwhile, so
                    # keep the caller waiting, and answer from the record if it ends.
                    if time.monotonic() > deadline:
                        raise
                    log.info("following run %s: JetStream not ready (%r); retrying", run_id, exc)
                    ended = await self._ended(thread_id, run_id, replayable=False)
                    if ended is not None:
                        yield ended
                        return
                    yield None
                    await asyncio.sleep(min(1.0, heartbeat))
        try:
            while True:
                try:
                    msg = await sub.next_msg(timeout=heartbeat)
                except TimeoutError:
                    ended = await self._ended(thread_id, run_id, replayable=False)
                    if ended is not None:
                        yield ended
                        return
                    yield None
                    continue
                event = decode(msg.data, RunEvent)
                yield event
                if event.event == END_EVENT:
                    return
        finally:
            await sub.unsubscribe()

    async def _ended(self, thread_id: str, run_id: str, replayable: bool) -> RunEvent | None:
        """The closing event of a run that has ended, when it cannot come from
        the stream: ``replayable``, when the stream no longer holds it (a replay
        would wait forever); otherwise always (the subscription missed it).
        ``None`` while the run goes on."""
        try:
            rec = await self.runs.get(thread_id, run_id)
        except NotFound:
            rec = None
        if rec is not None and rec["status"].decode() not in TERMINAL:
            return None
        try:
            msg = await self.js.get_last_msg(
                self.subjects.events_stream, self.subjects.event_end(thread_id, run_id)
            )
        except JsNotFound:
            msg = None
        except (NatsError, builtins.TimeoutError):  # NATS away: the record in Redis answers
            if replayable:
                return None
            msg = None
        if msg is not None and msg.data:
            return None if replayable else decode(msg.data, RunEvent)
        if rec is None:
            error = {"__error__": {"error": "NotFound", "message": f"Run {run_id} not found"}}
            status, output = "error", msgspec.json.encode(error)
        else:
            status = rec["status"].decode()
            output = rec.get("result") or await self.thread_result(thread_id)
        data = encode(RunEnd(status=status, output=msgspec.Raw(output)))  # type: ignore[arg-type]
        return RunEvent(seq=0, event=END_EVENT, data=msgspec.Raw(data))

    async def outcome(
        self, thread_id: str, run_id: str, sub: Subscription | None = None
    ) -> AsyncGenerator[bytes | None, None]:
        """The run's output (JSON bytes) once it ends or pauses, after a
        ``None`` for each quiet heartbeat while it goes on. A run that never
        ran gives the thread's values, as LangGraph Server does."""
        if sub is None:
            try:
                rec = await self.runs.get(thread_id, run_id)
            except NotFound:
                rec = None
            if rec is not None and rec["status"].decode() in TERMINAL:
                yield rec.get("result") or await self.thread_result(thread_id)
                return
        async for event in self.events(thread_id, run_id, only_end=True, sub=sub):
            if event is None:
                yield None
            elif event.event == END_EVENT:
                yield bytes(decode(event.data, RunEnd).output)
                return

    async def wait(self, thread_id: str, run_id: str, sub: Subscription | None = None) -> bytes:
        """Block until the run ends or pauses; its output."""
        async for output in self.outcome(thread_id, run_id, sub):
            if output is not None:
                return output
        raise Unavailable(f"run {run_id} ended without an outcome")  # pragma: no cover
