"""The audit of a reviewer's answers: every answer it gave or saw given
(who, when, which interrupt, the answer, the run it started), kept in a Redis
stream beside its inbox, newest first on the "Answered" page and at
``GET /api/audit``."""

from __future__ import annotations

from typing import Any

import msgspec

from relaygraph_reviewer.records import AnsweredItem


class AuditEntry(msgspec.Struct, kw_only=True):
    """One answer as the audit keeps it."""

    id: str
    """The stream entry's id: pages go ``before`` it."""
    at: str
    reviewer: str
    thread_id: str
    graph_id: str
    interrupt_ids: list[str]
    answer: Any
    run_id: str
    status: str
    msg_id: str
    metadata: dict[str, Any] = {}
    """The run's metadata the event carried (whose the thread is)."""

    @classmethod
    def of(cls, entry_id: Any, fields: dict[Any, Any]) -> AuditEntry:
        got = {_text(k): _text(v) for k, v in fields.items()}
        return cls(
            id=_text(entry_id),
            at=got.get("at", ""),
            reviewer=got.get("reviewer", ""),
            thread_id=got.get("thread_id", ""),
            graph_id=got.get("graph_id", ""),
            interrupt_ids=msgspec.json.decode(got.get("interrupt_ids") or "[]"),
            answer=msgspec.json.decode(got.get("answer") or "null"),
            run_id=got.get("run_id", ""),
            status=got.get("status", ""),
            msg_id=got.get("msg_id", ""),
            metadata=msgspec.json.decode(got.get("metadata") or "{}"),
        )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def audit_fields(answer: AnsweredItem) -> dict[Any, Any]:
    event = answer.event
    return {
        "at": answer.answered_at,
        "reviewer": answer.reviewer,
        "thread_id": event.thread_id,
        "graph_id": event.graph_id,
        "interrupt_ids": msgspec.json.encode([i.id for i in event.interrupts]).decode(),
        "answer": msgspec.json.encode(answer.resume).decode(),
        "run_id": answer.run_id,
        "status": answer.status,
        "msg_id": answer.msg_id,
        "metadata": msgspec.json.encode(event.metadata).decode(),
    }
