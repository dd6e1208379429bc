"""Every Prometheus metric relaygraph exports, in one place.

The gateway serves them at ``/metrics`` on its API port, the reviewer on its
inbox's port, and an executor on ``RELAYGRAPH_METRICS_PORT`` (off unless set:
several executors often share a host). Each process exports the ones it
updates; a dashboard sums or takes the max over processes (``deploy/grafana``).

Runs are counted where they change: the gateway counts what it accepted, the
executors what they ran and how it ended; nothing here reads Redis to count.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

# Buckets from a millisecond (a checkpoint read) to a day (a person's answer).
_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_RUN = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
_PERSON = (1, 5, 15, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 86400, 7 * 86400)

# -- gateway ---------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "relaygraph_http_requests", "HTTP requests answered, by route and status", ["route", "status"]
)
HTTP_SECONDS = Histogram(
    "relaygraph_http_request_duration_seconds",
    "Time to the response's first byte, by route",
    ["route"],
    buckets=_FAST,
)
RUNS_CREATED = Counter(
    "relaygraph_runs_created",
    "Runs the gateway accepted, by how: dispatched, queued behind the thread's active run, "
    "or an earlier run given back (a retried request)",
    ["outcome"],
)
RESUMES = Counter(
    "relaygraph_resumes",
    "Resumes of an interrupted thread, by transport (http, nats) and outcome",
    ["transport", "outcome"],
)
INTERRUPT_WAIT = Histogram(
    "relaygraph_interrupt_wait_seconds",
    "From a thread's interrupt to the resume that answered it",
    buckets=_PERSON,
)
QUEUE_DEPTH = Gauge(
    "relaygraph_queue_depth",
    "Run requests in JetStream not yet delivered to an executor (read at scrape time)",
)
UNAVAILABLE = Counter(
    "relaygraph_backend_errors",
    "Requests or steps that failed because NATS or Redis was unavailable",
    ["backend"],
)

# -- executor --------------------------------------------------------------------
RUNS_IN_FLIGHT = Gauge("relaygraph_runs_in_flight", "Runs this executor is stepping now")
CLAIM_DELAY = Histogram(
    "relaygraph_run_claim_delay_seconds",
    "From a run's creation (or its due time) to an executor claiming its first attempt",
    buckets=_RUN,
)
RUN_SECONDS = Histogram(
    "relaygraph_run_attempt_duration_seconds",
    "One attempt of a run, claim to outcome, by the status it left the run in",
    ["status"],
    buckets=_RUN,
)
RUNS_ENDED = Counter(
    "relaygraph_runs_ended",
    "Run attempts by the status they left the run in (success, also for a run that paused "
    "at an interrupt; error, interrupted (cancelled), timeout; stale, handed_back: the run "
    "went on elsewhere)",
    ["status"],
)
CHECKPOINT_SECONDS = Histogram(
    "relaygraph_checkpoint_seconds",
    "Checkpoint operations as a graph sees them (read, write) and the fenced batches "
    "sent to Redis (flush)",
    ["op"],
    buckets=_FAST,
)
INTERRUPTS = Counter(
    "relaygraph_interrupts",
    "Pauses for a person (interrupt events) the executor's runs made, by graph",
    ["graph_id"],
)
LEASES_LOST = Counter(
    "relaygraph_leases_lost",
    "Attempts that lost their lease (another executor took the run over)",
)
SWEPT = Counter(
    "relaygraph_runs_swept",
    "Runs this executor's sweeper acted on, by what it did (failover: a lease ran out and "
    "the run was sent again)",
    ["outcome"],
)

# -- reviewer --------------------------------------------------------------------
INTERRUPTS_PENDING = Gauge(
    "relaygraph_interrupts_pending", "Interrupts waiting for an answer in this reviewer's inbox"
)
REVIEWS = Counter(
    "relaygraph_reviews",
    "Interrupts this reviewer answered, by who answered (person, rules, deadline)",
    ["by"],
)


@contextmanager
def timed(histogram: Histogram, *labels: str) -> Iterator[None]:
    """Observe the block's duration (also when it raises)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        (histogram.labels(*labels) if labels else histogram).observe(time.perf_counter() - start)


def exposition() -> tuple[bytes, str]:
    """The body and content type of a ``/metrics`` response."""
    return generate_latest(), CONTENT_TYPE_LATEST


def serve(port: int, host: str = "0.0.0.0") -> None:
    """``/metrics`` on its own port (an executor has no HTTP server otherwise)."""
    from prometheus_client import start_http_server

    start_http_server(port, host)
