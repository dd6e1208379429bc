"""The inbox's JSON API, for programs: ``GET /api/interrupts``,
``GET /api/interrupts/{thread_id}``, ``POST /api/interrupts/{thread_id}/resume``,
``GET /api/answered``."""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from relaygraph.errors import NotFound, from_code
from relaygraph_reviewer.inbox import AnsweredItem, PendingItem
from relaygraph_reviewer.service import Reviewer

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


def api_router(reviewer: Reviewer) -> APIRouter:
    router = APIRouter(prefix="/api")
    subjects = reviewer.subjects

    @router.get("/interrupts")
    async def list_pending() -> list[dict[str, Any]]:
        """Pending interrupts, oldest first."""
        items = await reviewer.inbox.pending()
        return [pending_json(i, subjects.resume(i.event.thread_id)) for i in items]

    @router.get("/interrupts/{thread_id}")
    async def get_pending(thread_id: str) -> dict[str, Any]:
        item = await reviewer.inbox.get(thread_id)
        if item is None:
            raise NotFound(f"no pending interrupt for thread {thread_id}")
        return pending_json(item, subjects.resume(thread_id))

    @router.post("/interrupts/{thread_id}/resume")
    async def resume(thread_id: str, body: ResumeBody) -> JSONResponse:
        """Answer a thread's pending interrupt: the reply of the gateway, or its error."""
        who = (body.reviewer or "").strip() or "anonymous"
        result = await reviewer.answer(thread_id, body.resume, who, msg_id=body.msg_id)
        if isinstance(result, AnsweredItem):
            answered = {"run_id": result.run_id, "thread_id": thread_id, "status": result.status}
            return JSONResponse({**answered, "reviewer": who, "msg_id": result.msg_id})
        return JSONResponse(
            {"detail": result.message, "error": msgspec.to_builtins(result)},
            status_code=_error_status(result.code),
        )

    @router.get("/answered")
    async def list_answered(limit: int = 50) -> list[dict[str, Any]]:
        """Answered interrupts, newest first."""
        return [answered_json(a) for a in await reviewer.inbox.recent(max(1, min(limit, 200)))]

    return router
