"""What becomes of a run request once an attempt at it is over: one place
decides, from what happened, whether JetStream forgets it (ack), delivers it
again at once (nak) or after a pause (nak with a delay), or gives it up to the
dead-letter stream (term). Pure functions: no NATS, no Redis.

An attempt that raised is judged by the error's kind: NATS, Redis or the
network away (:data:`UNAVAILABLE`) is waited out for as long as it lasts; the
executor being stopped hands the request back at once; any other error is a
fault of the executor's own that may repeat forever on this request (before
its claim, where a run's attempts are not counted yet), so after
:data:`FAULTS_BEFORE_DEAD_LETTER` deliveries the request is kept for a person
instead.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum

from nats.errors import Error as NatsError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

MAX_BACKOFF = 30.0
"""Seconds at most between two deliveries of a request whose attempt failed."""

FAULTS_BEFORE_DEAD_LETTER = 10
"""Deliveries of a request whose attempts failed in the executor's own code
before it goes to the dead-letter stream (about four minutes of backoff)."""

UNAVAILABLE: tuple[type[BaseException], ...] = (
    NatsError,
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    TimeoutError,
)
"""Errors that say a server is away, not that the request is wrong."""


class Failure(StrEnum):
    """The kind of error an attempt raised."""

    UNAVAILABLE = "unavailable"
    STOPPING = "stopping"
    FAULT = "fault"


def failure_of(error: BaseException) -> Failure:
    if isinstance(error, asyncio.CancelledError):
        return Failure.STOPPING
    if isinstance(error, UNAVAILABLE):
        return Failure.UNAVAILABLE
    return Failure.FAULT


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


class Settle(StrEnum):
    ACK = "ack"
    """Done with: its outcome is recorded, or it is not this request's to run."""
    REDELIVER = "redeliver"
    """Handed back (graceful stop): another executor takes it now."""
    RETRY_LATER = "retry_later"
    """The attempt failed in the executor (not in the graph): again, after a pause."""
    DEAD_LETTER = "dead_letter"
    """It can never run (it does not decode, or it fails the executor every
    time): kept for a person, never delivered again."""


@dataclass(frozen=True, slots=True)
class Verdict:
    settle: Settle
    delay: float = 0.0
    reason: str = ""
    kind: str = ""
    """(dead letter) The last token of its dead-letter subject."""


def after_attempt(result: Attempt | BaseException, delivered: int) -> Verdict:
    """``result``: what :meth:`Runner.execute` returned or raised;
    ``delivered``: how many times JetStream has delivered the request."""
    if not isinstance(result, BaseException):
        return Verdict(Settle.REDELIVER if result is Attempt.HANDED_BACK else Settle.ACK)
    failure = failure_of(result)
    if failure is Failure.STOPPING:
        return Verdict(Settle.REDELIVER)
    if failure is Failure.FAULT and delivered >= FAULTS_BEFORE_DEAD_LETTER:
        return Verdict(Settle.DEAD_LETTER, reason=f"{result!r}"[:200], kind="failing")
    backoff = min(MAX_BACKOFF, 2.0 ** (max(delivered, 1) - 1))
    return Verdict(Settle.RETRY_LATER, delay=backoff, reason=failure)


def undecodable(error: Exception) -> Verdict:
    """A request that is not a ``RunRequest``: a poison message."""
    return Verdict(Settle.DEAD_LETTER, reason=str(error)[:200], kind="undecodable")
