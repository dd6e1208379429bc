"""The hottest routes without FastAPI's routing, dependency and body layers:
``POST /threads``, ``POST /threads/{thread_id}/runs/wait`` and ``POST
/runs/wait`` (an interrupt cycle is these three). Measured on the interrupt
cycle, FastAPI's layers were about a third of the gateway's CPU per request.

The handlers are the FastAPI routes' own (:mod:`api_runs`,
:mod:`api_threads`), so both paths answer alike. A request the fast path does
not take whole goes on to FastAPI untouched: another route or method, or a
body that does not validate (FastAPI then writes the 422 as for any route).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relaygraph_gateway import api_runs, api_threads
from relaygraph_gateway.core import Gateway
from relaygraph_gateway.models import RunCreate, ThreadCreate
from relaygraph_gateway.observe import FAST_ROUTE

_WAIT = re.compile(r"^/threads/([^/]+)/runs/wait$")


def _create_thread(g: Gateway, scope: Scope, body: ThreadCreate) -> Awaitable[Response]:
    return api_threads.create_thread_response(g, scope, body)


def _wait_stateless(g: Gateway, scope: Scope, body: RunCreate) -> Awaitable[Response]:
    return api_runs.wait_stateless_response(g, scope, body)


def _wait_run(thread_id: str) -> Callable[[Gateway, Scope, RunCreate], Awaitable[Response]]:
    return lambda g, scope, body: api_runs.wait_run_response(g, scope, thread_id, body)


def _route(
    path: str, disabled: frozenset[str]
) -> tuple[type[BaseModel], Callable[[Gateway, Scope, Any], Awaitable[Response]], str] | None:
    if path == "/threads" and "threads" not in disabled:
        return ThreadCreate, _create_thread, "/threads"
    if "runs" in disabled:
        return None
    if path == "/runs/wait":
        return RunCreate, _wait_stateless, "/runs/wait"
    if m := _WAIT.match(path):
        return RunCreate, _wait_run(m.group(1)), "/threads/{thread_id}/runs/wait"
    return None


class FastRoutes:
    """ASGI middleware: serves the routes above itself, passes the rest on.
    ``errors`` maps an exception to the response FastAPI's handlers give."""

    def __init__(
        self,
        app: ASGIApp,
        errors: Callable[[Scope, Exception], Response | None],
        disabled: frozenset[str] = frozenset(),
    ):
        self.app = app
        self.errors = errors
        self.disabled = disabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = (
            _route(scope["path"], self.disabled)
            if scope["type"] == "http" and scope["method"] == "POST"
            else None
        )
        if route is None:
            await self.app(scope, receive, send)
            return
        model, handler, template = route
        scope[FAST_ROUTE] = template
        body, more, gone = await _read_body(receive)
        if gone:
            return  # the client left before sending its request: nobody to answer
        try:
            if more or not body:
                raise ValueError("not whole")
            parsed = model.model_validate_json(body)
        except (ValueError, ValidationError):
            await self.app(scope, _replay(body, more, receive), send)
            return
        gateway: Gateway = scope["app"].state.gateway
        try:
            response = await handler(gateway, scope, parsed)
        except Exception as exc:
            mapped = self.errors(scope, exc)
            if mapped is None:
                raise
            response = mapped
        await response(scope, receive, send)


_BODY_LIMIT = 1 << 20  # larger bodies go through FastAPI as they are


async def _read_body(receive: Receive) -> tuple[bytes, bool, bool]:
    """The request body (up to ``_BODY_LIMIT``), whether more is to come, and
    whether the client disconnected instead."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"", False, True
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False, False
        if size > _BODY_LIMIT:
            return b"".join(chunks), True, False


def _replay(body: bytes, more: bool, receive: Receive) -> Receive:
    """A ``receive`` that gives what was read first, then the rest."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return again
