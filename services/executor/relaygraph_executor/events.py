"""A run's events on NATS: its chunks as it streams, and the closing event."""

from __future__ import annotations

import msgspec
from nats.aio.client import Client
from nats.js import JetStreamContext

from relaygraph.contracts import END_EVENT, RunEnd, RunEvent, RunRequest, encode
from relaygraph.runs import RunStatus
from relaygraph.subjects import Subjects

EVENTS_PER_ATTEMPT = 1_000_000


def first_seq(epoch: int) -> int:
    """The sequence number of an attempt's first event: the attempt's fencing
    epoch (never reused on a thread) times :data:`EVENTS_PER_ATTEMPT`, so a
    run's event ids grow across a failover retry, and a client that resumes
    from the last id it saw gets the new attempt's events."""
    return epoch * EVENTS_PER_ATTEMPT


class RunEvents:
    def __init__(self, nc: Client, js: JetStreamContext, subjects: Subjects) -> None:
        self.nc, self.js, self.subjects = nc, js, subjects

    async def chunk(self, req: RunRequest, seq: int, event: str, data: bytes) -> None:
        """The stream stores chunks too, in order on this connection, without a
        round trip each: the run's outcome never depends on them."""
        body = encode(RunEvent(seq=seq, event=event, data=msgspec.Raw(data)))
        await self.nc.publish(self.subjects.event_chunk(req.thread_id, req.run_id), body)

    async def end(self, req: RunRequest, seq: int, status: RunStatus, output: bytes) -> None:
        """The closing event must be stored: this waits until JetStream has it."""
        end = encode(RunEnd(status=status.value, output=msgspec.Raw(output)))
        body = encode(RunEvent(seq=seq, event=END_EVENT, data=msgspec.Raw(end)))
        await self.js.publish(self.subjects.event_end(req.thread_id, req.run_id), body)
