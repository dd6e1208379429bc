"""The inbox's JSON API, for programs: ``GET /api/interrupts``,
``GET /api/interrupts/{thread_id}``, ``POST /api/interrupts/{thread_id}/resume``,
``GET /api/answered``."""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from relaygraph.errors import NotFound, from_code
from relaygraph_reviewer.inbox import AnsweredItem, PendingItem
from relaygraph_reviewer.service import Reviewer
from relaygraph_reviewer.web_auth import InboxAuth

REVIEWER_MAX = 100
"""Characters of a reviewer's name."""


class ResumeBody(BaseModel):
    resume: Any = None
    """The answer: a plain value, or a map interrupt id -> value."""
    reviewer: str | None = Field(None, max_length=REVIEWER_MAX)
    msg_id: str | None = None
    """Optional guard: answer only if this interrupt is still the pending one."""


def pending_json(item: PendingItem, resume_subject: str) -> dict[str, Any]:
    body: dict[str, Any] = msgspec.to_builtins(item.event)
    body.update(
        msg_id=item.msg_id,
        received_at=item.received_at,
        last_error=msgspec.to_builtins(item.last_error),
        resume_subject=resume_subject,
    )
    return body


def answered_json(item: AnsweredItem) -> dict[str, Any]:
    event = item.event
    return {
        "msg_id": item.msg_id,
        "thread_id": event.thread_id,
        "graph_id": event.graph_id,
        "assistant_id": event.assistant_id,
        "interrupted_run_id": event.run_id,
        "interrupts": msgspec.to_builtins(event.interrupts),
        "created_at": event.created_at,
        "reviewer": item.reviewer,
        "resume": item.resume,
        "run_id": item.run_id,
        "status": item.status,
        "answered_at": item.answered_at,
    }


def _error_status(code: str) -> int:
    status = from_code(code, "").status
    return 502 if status == 500 else status


def reviewer_name(guard: InboxAuth, request: Request, given: str | None) -> str:
    """Who answers: the authenticated person (custom auth), else the name given."""
    caller = guard.caller(request)
    if caller is not None and caller.user.identity:
        return caller.user.display_name[:REVIEWER_MAX]
    if (named := guard.key_name(request)) is not None:
        return named[:REVIEWER_MAX]
    return (given or "").strip()[:REVIEWER_MAX] or "anonymous"


async def may_answer(
    reviewer: Reviewer, guard: InboxAuth, request: Request, thread_id: str, msg_id: str | None
) -> None:
    """404 unless the caller may see the interrupt answered: the pending one,
    or (``msg_id``) the one it meant, answered meanwhile (then ``answer`` says
    who answered it: a 409)."""
    item = await reviewer.inbox.get(thread_id)
    event = item.event if item is not None else None
    if event is None and msg_id is not None:
        done = await reviewer.inbox.answer_of(msg_id)
        event = done.event if done is not None else None
    if event is None or not await guard.visible(request, event):
        raise NotFound(f"no pending interrupt for thread {thread_id}")


def api_router(reviewer: Reviewer, guard: InboxAuth) -> APIRouter:
    router = APIRouter(prefix="/api")
    subjects = reviewer.subjects

    async def visible_item(request: Request, thread_id: str) -> PendingItem:
        item = await reviewer.inbox.get(thread_id)
        if item is None or not await guard.visible(request, item.event):
            raise NotFound(f"no pending interrupt for thread {thread_id}")
        return item

    @router.get("/interrupts")
    async def list_pending(request: Request) -> list[dict[str, Any]]:
        """Pending interrupts, oldest first (those the caller may see)."""
        items = [i for i in await reviewer.inbox.pending() if await guard.visible(request, i.event)]
        return [pending_json(i, subjects.resume(i.event.thread_id)) for i in items]

    @router.get("/interrupts/{thread_id}")
    async def get_pending(thread_id: str, request: Request) -> dict[str, Any]:
        return pending_json(await visible_item(request, thread_id), subjects.resume(thread_id))

    @router.post("/interrupts/{thread_id}/resume")
    async def resume(thread_id: str, body: ResumeBody, request: Request) -> JSONResponse:
        """Answer a thread's pending interrupt: the reply of the gateway, or its error."""
        await may_answer(reviewer, guard, request, thread_id, body.msg_id)
        who = reviewer_name(guard, request, body.reviewer)
        result = await reviewer.answer(
            thread_id,
            body.resume,
            who,
            msg_id=body.msg_id,
            authorization=guard.authorization(request),
        )
        if isinstance(result, AnsweredItem):
            answered = {"run_id": result.run_id, "thread_id": thread_id, "status": result.status}
            return JSONResponse({**answered, "reviewer": who, "msg_id": result.msg_id})
        return JSONResponse(
            {"detail": result.message, "error": msgspec.to_builtins(result)},
            status_code=_error_status(result.code),
        )

    @router.get("/audit")
    async def audit(request: Request, limit: int = 50, before: str | None = None) -> dict[str, Any]:
        """Every answer, newest first (who, when, which interrupts, the answer,
        the run it started); ``next``: the ``before`` of the next page."""
        entries = await reviewer.inbox.audit(max(1, min(limit, 500)), before)
        shown = [e for e in entries if await guard.may_read(request, e.thread_id, e.metadata)]
        return {
            "entries": [msgspec.to_builtins(e) for e in shown],
            "next": entries[-1].id if len(entries) == max(1, min(limit, 500)) else None,
        }

    @router.get("/answered")
    async def list_answered(request: Request, limit: int = 50) -> list[dict[str, Any]]:
        """Answered interrupts, newest first (those the caller may see)."""
        recent = await reviewer.inbox.recent(max(1, min(limit, 200)))
        return [answered_json(a) for a in recent if await guard.visible(request, a.event)]

    return router
