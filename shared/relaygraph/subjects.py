"""Every NATS subject and JetStream stream name, built in one place (Redis keys:
``relaygraph.keys``).

No other module formats a subject: a newcomer finds every name here.
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

    @property
    def dead_letter_stream(self) -> str:
        """Run requests that could not be run: poison messages, too many attempts."""
        return f"{self.prefix.upper()}_DEADLETTER"

    def dead_letter(self, run_id: str) -> str:
        return f"{self.prefix}.deadletter.{run_id}"

    @property
    def dead_letter_all(self) -> str:
        return f"{self.prefix}.deadletter.>"

    # -- run requests (JetStream work queue) --------------------------------
    @property
    def run_queue(self) -> str:
        return f"{self.prefix}.runs.queue"

    @property
    def run_priority(self) -> str:
        """Runs that must not wait behind the backlog: re-dispatches after a lost
        lease or a hand-back, and resumes whose owner is gone."""
        return f"{self.prefix}.runs.priority"

    @property
    def executors_priority_durable(self) -> str:
        return f"{self.prefix}-executors-priority"

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
    # Under the thread's token, so one subscription follows every run of a
    # thread (``threads.join_stream``).
    def event_chunk(self, thread_id: str, run_id: str) -> str:
        """Stream chunks of one run, in order."""
        return f"{self.prefix}.events.{thread_id}.{run_id}.chunk"

    def event_end(self, thread_id: str, run_id: str) -> str:
        """The closing event of one run attempt (``RunEnd``)."""
        return f"{self.prefix}.events.{thread_id}.{run_id}.end"

    def run_events(self, thread_id: str, run_id: str) -> str:
        """Chunks and end of one run: what a stream follows."""
        return f"{self.prefix}.events.{thread_id}.{run_id}.*"

    def thread_state_update(self, thread_id: str) -> str:
        """A thread's state changed outside a run (``update_state``)."""
        return f"{self.prefix}.events.{thread_id}.thread.state_update"

    def thread_events(self, thread_id: str) -> str:
        """Every run's events on a thread, and its state updates."""
        return f"{self.prefix}.events.{thread_id}.>"

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
