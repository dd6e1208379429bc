"""``GET /threads/{id}/stream``: every run's events on a thread from the
moment of joining, as LangGraph Server's thread stream sends them.

Run events live in JetStream under the thread's token, so one ordered
consumer follows them all. Each event's SSE ``id`` is its JetStream sequence:
a client that reconnects with ``Last-Event-ID`` gets what it missed (while
the events stream keeps it), which the reference offers only for runs made
with ``stream_resumable``. Like the reference's, the stream does not end on
its own; the client closes it.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator

import msgspec
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import ConsumerConfig, DeliverPolicy

from relaygraph.contracts import END_EVENT, RunEvent, decode
from relaygraph.errors import InvalidInput
from relaygraph_gateway.core import Gateway

HEARTBEAT = b": heartbeat\r\n\r\n"


class Mode(enum.StrEnum):
    """What a thread stream carries (``stream_modes``, a comma list)."""

    RUN_MODES = "run_modes"
    """Every run's own events, its start and its end (the default)."""
    LIFECYCLE = "lifecycle"
    """Only each run's start (``metadata`` with ``run_id``) and end (``run_done``)."""
    STATE_UPDATE = "state_update"
    """Only state changes made outside runs."""


def modes_of(raw: str | None) -> set[Mode]:
    if not raw:
        return {Mode.RUN_MODES}
    found = set()
    for word in raw.split(","):
        try:
            found.add(Mode(word.strip()))
        except ValueError:
            raise InvalidInput(f"Invalid stream mode: {word.strip()}") from None
    return found


def after_of(last_event_id: str | None) -> int | None:
    if last_event_id is None:
        return None
    if not (last_event_id.isascii() and last_event_id.isdigit()):
        raise InvalidInput(
            f"Invalid Last-Event-ID {last_event_id!r}: send the id of the last event received"
        )
    return int(last_event_id)


def _frame(event: str, data: bytes, seq: int) -> bytes:
    return b"event: %s\r\ndata: %s\r\nid: %d\r\n\r\n" % (event.encode(), data, seq)


async def thread_events(
    g: Gateway, thread_id: str, modes: set[Mode], after: int | None, heartbeat: float = 5.0
) -> AsyncIterator[bytes]:
    policy = DeliverPolicy.NEW if after is None else DeliverPolicy.BY_START_SEQUENCE
    config = ConsumerConfig(opt_start_seq=after + 1) if after is not None else None
    sub = await g.js.subscribe(
        g.subjects.thread_events(thread_id),
        stream=g.subjects.events_stream,
        ordered_consumer=True,
        deliver_policy=policy,
        config=config,
    )
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=heartbeat)
            except (TimeoutError, NatsTimeout):
                yield HEARTBEAT
                continue
            seq = msg.metadata.sequence.stream if msg.metadata else 0
            if msg.subject == g.subjects.thread_state_update(thread_id):
                if Mode.STATE_UPDATE in modes:
                    yield _frame("state_update", msg.data, seq)
                continue
            event = decode(msg.data, RunEvent)
            run_id = msg.subject.split(".")[-2]
            if event.event == END_EVENT:
                if modes & {Mode.RUN_MODES, Mode.LIFECYCLE}:
                    done = msgspec.json.encode({"status": "run_done", "run_id": run_id})
                    yield _frame("metadata", done, seq)
            elif Mode.RUN_MODES in modes or (Mode.LIFECYCLE in modes and event.event == "metadata"):
                yield _frame(event.event, bytes(event.data), seq)
    finally:
        await sub.unsubscribe()


HIDDEN = b'{"error":"HTTPException","message":"404: Thread not found"}'


async def hidden_stream() -> AsyncIterator[bytes]:
    """A stream the caller may not join: one ``error`` event, as the
    reference sends after its 200 (the check runs inside its stream)."""
    yield b"event: error\r\ndata: %s\r\n\r\n" % HIDDEN
