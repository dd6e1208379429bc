"""What becomes of a run request once an attempt at it is over: one place
decides, from what happened, whether JetStream forgets it (ack), delivers it
again at once (nak) or after a pause (nak with a delay), or gives it up to the
dead-letter stream (term). Pure functions: no NATS, no Redis."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

MAX_BACKOFF = 30.0
"""Seconds at most between two deliveries of a request whose attempt failed."""


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
    """It can never run (it does not decode): kept for a person, never delivered again."""


@dataclass(frozen=True, slots=True)
class Verdict:
    settle: Settle
    delay: float = 0.0
    reason: str = ""


def after_attempt(result: Attempt | BaseException, delivered: int) -> Verdict:
    """``result``: what :meth:`Runner.execute` returned or raised;
    ``delivered``: how many times JetStream has delivered the request."""
    if isinstance(result, BaseException):
        return Verdict(Settle.RETRY_LATER, delay=min(MAX_BACKOFF, 2.0 ** (max(delivered, 1) - 1)))
    if result is Attempt.HANDED_BACK:
        return Verdict(Settle.REDELIVER)
    return Verdict(Settle.ACK)


def undecodable(error: Exception) -> Verdict:
    """A request that is not a ``RunRequest``: a poison message."""
    return Verdict(Settle.DEAD_LETTER, reason=str(error)[:200])
