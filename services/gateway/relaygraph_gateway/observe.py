"""What the gateway tells an operator about each HTTP request: a Prometheus
count and latency by route, and an OpenTelemetry server span whose context
the request's run carries on to the executor (:mod:`relaygraph.tracing`).

The route label is the matched route's template (``/threads/{thread_id}``),
never the raw path, so a label's values stay few.
"""

from __future__ import annotations

import time
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relaygraph import metrics, tracing

FAST_ROUTE = "relaygraph.route"
"""Scope key where the fast routes (served before routing) name their route."""


def route_of(scope: Scope) -> str:
    route = scope.get("route")
    if route is not None:
        return str(getattr(route, "path", "other"))
    return str(scope.get(FAST_ROUTE, "other"))


class Observed:
    """ASGI: count, time and trace every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        first = True
        span: Any = None
        token = None
        if tracing.enabled():
            parent = tracing.context_of(dict(scope["headers"]))
            span = tracing.tracer.start_span(
                f"{scope['method']} {scope['path']}",
                context=parent,
                kind=tracing.SpanKind.SERVER,
                attributes={"http.request.method": scope["method"], "url.path": scope["path"]},
            )
            token = otel_context.attach(trace.set_span_in_context(span))

        async def observed(message: Message) -> None:
            nonlocal status, first
            if message["type"] == "http.response.start":
                status = message["status"]
                if first:
                    first = False
                    metrics.HTTP_SECONDS.labels(route_of(scope)).observe(
                        time.perf_counter() - start
                    )
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            route = route_of(scope)
            if route != "/metrics":  # a scrape is not traffic
                metrics.HTTP_REQUESTS.labels(route, str(status)).inc()
            if span is not None:
                span.update_name(f"{scope['method']} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(trace.StatusCode.ERROR)
                span.end()
            if token is not None:
                otel_context.detach(token)
