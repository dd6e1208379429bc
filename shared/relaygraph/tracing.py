"""OpenTelemetry traces across the broker.

Off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``..._TRACES_ENDPOINT``) is set:
then each service exports its spans over OTLP/HTTP with the SDK's usual
``OTEL_*`` settings. Off, every call here is the OpenTelemetry API's no-op.

A run is one trace from the HTTP request (or the NATS resume) that made it:
the span context travels as a W3C ``traceparent`` inside the run request
itself (it is kept in Redis with a queued run and sent again after a
failover, where NATS headers would be lost) and as a header on each NATS
message. The executor's run span is its child; each graph node is a child of
that; the interrupt event carries the run span's context, so a reviewer's
answer, and the resumed run, join the same trace. An HTTP resume without a
``traceparent`` of its own continues the interrupted run's trace.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.trace import Span, SpanKind

__all__ = ["SpanKind", "carrier", "context_of", "enabled", "setup", "span", "traceparent", "tracer"]

tracer = trace.get_tracer("relaygraph")
_enabled = False


def setup(service: str, exporter: Any = None) -> bool:
    """Install a tracer provider for ``service`` exporting over OTLP (or to
    ``exporter``, a test's in-memory one); whether tracing is on."""
    global _enabled
    if _enabled:
        return True
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if exporter is None and not endpoint:
        return False
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service)})
    provider = TracerProvider(resource=resource)
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _enabled = True
    return True


def enabled() -> bool:
    return _enabled


def traceparent(span: Span | None = None) -> str | None:
    """The W3C ``traceparent`` of ``span`` (default: the current one), or None
    when there is no recording span."""
    if not _enabled:
        return None
    ctx = trace.set_span_in_context(span) if span is not None else context.get_current()
    out: dict[str, str] = {}
    propagate.inject(out, context=ctx)
    return out.get("traceparent")


def carrier(parent: str | None = None) -> dict[str, str]:
    """NATS headers that carry the current span (or ``parent``)."""
    if parent is not None:
        return {"traceparent": parent}
    tp = traceparent()
    return {"traceparent": tp} if tp else {}


def context_of(headers: Mapping[str, Any] | None, fallback: str | None = None) -> Any:
    """The context to start a span in: from ``headers`` (HTTP or NATS), else
    from a stored ``traceparent``, else a new trace."""
    if not _enabled:
        return None
    found = {}
    for name, value in (headers or {}).items():
        key = name.decode() if isinstance(name, bytes) else str(name)
        if key.lower() in ("traceparent", "tracestate"):
            found[key.lower()] = value.decode() if isinstance(value, bytes) else str(value)
    if "traceparent" not in found and fallback:
        found["traceparent"] = fallback
    return propagate.extract(found) if found else None


def resume_span(interrupted: str | None, thread_id: str) -> str | None:
    """A ``resume`` span in the trace of the run that paused (``interrupted``,
    its ``traceparent``), linked to the span that asked for the resume; its
    ``traceparent``, which the resumed run carries."""
    if not _enabled:
        return None
    asking = trace.get_current_span().get_span_context()
    links = [trace.Link(asking)] if asking.is_valid else []
    parent = context_of(None, interrupted) if interrupted else None
    with tracer.start_as_current_span(
        "resume", context=parent, links=links, attributes={"relaygraph.thread_id": thread_id}
    ) as span:
        return traceparent(span)


@contextlib.contextmanager
def span(
    name: str,
    parent: str | None = None,
    headers: Mapping[str, Any] | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    **attributes: Any,
) -> Iterator[Span | None]:
    """A current span named ``name``, child of ``headers``' or ``parent``'s
    context (a ``traceparent``); nothing when tracing is off."""
    if not _enabled:
        yield None
        return
    ctx = context_of(headers, parent)
    attrs = {f"relaygraph.{k}": v for k, v in attributes.items() if v is not None}
    with tracer.start_as_current_span(name, context=ctx, kind=kind, attributes=attrs) as current:
        yield current
