"""The NATS resume entry point, for reviewers that speak only NATS:
``relaygraph.resume.<thread_id>`` (request/reply), a FastStream subscriber
on a router.

A resume becomes the same run an HTTP ``POST /threads/<id>/runs`` with a
``command.resume`` would make (:meth:`Gateway.create_run`), so it behaves
the same whichever way it arrives. Every failure is answered, never raised:
a reviewer waiting on the reply gets an ``ErrorReply`` with a code.
"""

from __future__ import annotations

import logging

import msgspec
from faststream.nats import NatsMessage, NatsRouter
from langgraph_sdk import Auth

from relaygraph import resumes, tracing
from relaygraph.auth import Authenticator, AuthFailed, nats_access
from relaygraph.broker import as_message
from relaygraph.contracts import (
    ErrorBody,
    ErrorReply,
    ResumeReply,
    ResumeRequest,
    decode,
    encode,
)
from relaygraph.errors import NotFound, RelaygraphError
from relaygraph.tracing import SpanKind
from relaygraph_gateway.authz import Hidden
from relaygraph_gateway.core import Gateway
from relaygraph_gateway.models import CommandBody, RunCreate

log = logging.getLogger("relaygraph.gateway")


class ResumeHandler:
    """Resumes over NATS, with the gateway that makes their runs and the
    app's custom ``Auth`` (None: no ``auth`` in langgraph.json)."""

    def __init__(self, gateway: Gateway, auth: Auth | None) -> None:
        self.gateway = gateway
        self.auth = auth
        self.authenticator = Authenticator(auth) if auth is not None else None

    def router(self) -> NatsRouter:
        """The subscriber, bound to this handler. One queue group for every
        gateway: each resume is answered once."""
        s = self.gateway.subjects
        router = NatsRouter()
        router.subscriber(
            s.resume_all,
            queue=s.gateways_queue_group,
            decoder=as_message,
            title="resume requests",
        )(self.on_resume)
        return router

    async def on_resume(self, msg: NatsMessage) -> bytes:
        thread_id = msg.raw_message.subject.rsplit(".", 1)[-1]
        headers = msg.raw_message.headers or {}
        with tracing.span(
            "nats resume", headers=headers, kind=SpanKind.SERVER, thread_id=thread_id
        ):
            try:
                return encode(await self.resume(thread_id, msg.body, headers))
            except Exception as exc:
                return encode(ErrorReply(error=resume_error(exc, thread_id)))

    async def resume(self, thread_id: str, body: bytes, headers: dict[str, str]) -> ResumeReply:
        """Resume the thread's pending interrupt(s). With custom auth, the
        request's NATS headers (an ``Authorization`` one) are authenticated
        as an HTTP request's would be, and the resume is authorised as
        ``threads:create_run``."""
        access = await nats_access(self.auth, thread_id, headers, self.authenticator)
        req = decode(body, ResumeRequest)
        thread = await self.gateway.threads.get(thread_id)
        assistant = thread.get("assistant_id")
        if assistant is None:
            raise NotFound(f"Thread {thread_id} has never run a graph")
        plan = resumes.over_nats(req.resume, req.interrupt_id, req.checkpoint_id)
        run, _, _ = await self.gateway.create_run(
            thread_id,
            RunCreate(
                assistant_id=assistant.decode(),
                command=CommandBody(resume=plan.value),
                metadata={"reviewer": req.reviewer} if req.reviewer else {},
            ),
            resume=plan,
            access=access,
        )
        return ResumeReply(run_id=run["run_id"], thread_id=thread_id, status=run["status"])


def resume_error(exc: Exception, thread_id: str) -> ErrorBody:
    """What a failed resume is answered with: a body that is not a
    ``ResumeRequest`` is ``invalid_input``; a refusal by custom auth, or a
    thread or assistant hidden from the caller, is ``forbidden``; any other
    error of ours keeps its code; anything else is a bug, logged, and
    ``internal``."""
    if isinstance(exc, msgspec.DecodeError):
        return ErrorBody(code="invalid_input", message=f"bad resume request: {exc}")
    if isinstance(exc, (AuthFailed, Hidden)):
        return ErrorBody(code="forbidden", message=exc.message)
    if isinstance(exc, RelaygraphError):
        return ErrorBody(code=exc.code, message=exc.message)
    log.error("resume of thread %s failed", thread_id, exc_info=exc)
    return ErrorBody(code="internal", message=f"{type(exc).__name__}: {exc}")
