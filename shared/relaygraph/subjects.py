"""Every NATS subject, JetStream stream name and Redis key, built in one place.

No other module formats a subject or a key: a newcomer finds every name here.
Thread ids, graph ids and executor ids become subject tokens, so they are
checked with :func:`is_token` before they reach this module's builders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")


def is_token(value: str) -> bool:
    """True when ``value`` is safe as one NATS subject token and a Redis key part."""
    return bool(_TOKEN.match(value))


@dataclass(frozen=True, slots=True)
class Subjects:
    """NATS names under one prefix (``relaygraph`` unless configured)."""

    prefix: str = "relaygraph"

    # -- JetStream streams ---------------------------------------------------
    @property
    def runs_stream(self) -> str:
        """Work-queue stream of run requests (one consumer group: the executors)."""
        return f"{self.prefix.upper()}_RUNS"

    @property
    def events_stream(self) -> str:
        """Limits stream of run events (stream chunks), replayable by join/stream."""
        return f"{self.prefix.upper()}_EVENTS"

    @property
    def interrupts_stream(self) -> str:
        """Public stream of interrupt events for reviewer services."""
        return f"{self.prefix.upper()}_INTERRUPTS"

    # -- run requests (JetStream work queue) --------------------------------
    @property
    def run_queue(self) -> str:
        return f"{self.prefix}.runs.queue"

    @property
    def runs_all(self) -> str:
        return f"{self.prefix}.runs.>"

    @property
    def executors_durable(self) -> str:
        return f"{self.prefix}-executors"

    # -- resumes routed to the executor that owns a thread (core request) ----
    def owner_run(self, executor_id: str) -> str:
        return f"{self.prefix}.owner.{executor_id}.run"

    # -- run events (JetStream, limits retention) ----------------------------
    def events(self, run_id: str) -> str:
        return f"{self.prefix}.events.{run_id}"

    @property
    def events_all(self) -> str:
        return f"{self.prefix}.events.>"

    # -- interrupts (public) -------------------------------------------------
    def interrupts(self, graph_id: str, thread_id: str) -> str:
        return f"{self.prefix}.interrupts.{graph_id}.{thread_id}"

    @property
    def interrupts_all(self) -> str:
        return f"{self.prefix}.interrupts.>"

    # -- resume over NATS (public, request/reply) ---------------------------
    def resume(self, thread_id: str) -> str:
        return f"{self.prefix}.resume.{thread_id}"

    @property
    def resume_all(self) -> str:
        return f"{self.prefix}.resume.*"

    # -- graph queries answered by any executor (request/reply) -------------
    @property
    def graph_query(self) -> str:
        return f"{self.prefix}.graph.query"

    @property
    def executors_queue_group(self) -> str:
        return f"{self.prefix}-executors"

    @property
    def gateways_queue_group(self) -> str:
        return f"{self.prefix}-gateways"

    # -- cancels, broadcast to every executor --------------------------------
    @property
    def cancel(self) -> str:
        return f"{self.prefix}.cancel"


@dataclass(frozen=True, slots=True)
class Keys:
    """Redis keys. Every key of one thread carries the hash tag ``{<thread_id>}``
    so one thread's multi-key scripts stay in one Redis Cluster slot."""

    prefix: str = "rg"

    def thread(self, thread_id: str) -> str:
        return f"{self.prefix}:thread:{{{thread_id}}}"

    def thread_queue(self, thread_id: str) -> str:
        """Run ids waiting for the thread's active run to end (``enqueue``)."""
        return f"{self.prefix}:thread:{{{thread_id}}}:queue"

    def thread_runs(self, thread_id: str) -> str:
        """Sorted set of the thread's run ids, scored by creation time."""
        return f"{self.prefix}:thread:{{{thread_id}}}:runs"

    def thread_resumes(self, thread_id: str) -> str:
        """Hash interrupt id -> run id: each interrupt is resumed once."""
        return f"{self.prefix}:thread:{{{thread_id}}}:resumes"

    def run(self, thread_id: str, run_id: str) -> str:
        return f"{self.prefix}:run:{{{thread_id}}}:{run_id}"

    @property
    def threads_index(self) -> str:
        """Sorted set of every thread id, scored by creation time (search)."""
        return f"{self.prefix}:threads"

    def executor(self, executor_id: str) -> str:
        """Liveness key of an executor, refreshed while it lives (TTL)."""
        return f"{self.prefix}:executor:{executor_id}"

    def thread_epoch(self, thread_id: str) -> str:
        """The thread's current fencing epoch (INCR on every run claim)."""
        return f"{self.prefix}:thread:{{{thread_id}}}:epoch"

    # -- checkpointer keys (relaygraph.checkpoint) ---------------------------
    def checkpoint_prefix(self) -> str:
        return f"{self.prefix}:cp"

    # -- reviewer keys (relaygraph_reviewer) ---------------------------------
    # One inbox per durable consumer name; its keys share the hash tag
    # ``{<durable>}`` so the inbox's scripts stay in one Redis Cluster slot.
    def reviewer_pending(self, durable: str) -> str:
        """Hash thread id -> the thread's pending interrupt event (JSON)."""
        return f"{self.prefix}:reviewer:{{{durable}}}:pending"

    def reviewer_recent(self, durable: str) -> str:
        """List of answered interrupts (JSON), newest first, capped."""
        return f"{self.prefix}:reviewer:{{{durable}}}:recent"

    def reviewer_seen(self, durable: str) -> str:
        """Sorted set of recorded interrupt msg ids, scored by time (dedupe)."""
        return f"{self.prefix}:reviewer:{{{durable}}}:seen"
