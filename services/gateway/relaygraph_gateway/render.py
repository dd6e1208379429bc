"""JSON responses built from what Redis holds, without decoding user state:
stored values are passed through as raw JSON."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.responses import Response

NULL = msgspec.Raw(b"null")


class JSON(Response):
    media_type = "application/json"

    def __init__(
        self, content: Any, status_code: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        body = content if isinstance(content, bytes) else msgspec.json.encode(content)
        super().__init__(body, status_code=status_code, headers=headers)

    @staticmethod
    def render_error(error: str, message: str) -> bytes:
        """A run's output that reports a failure, as ``runs.wait`` returns it."""
        return msgspec.json.encode({"__error__": {"error": error, "message": message}})


def stored_metadata(h: dict[str, bytes]) -> dict[str, Any]:
    """A thread's metadata as the API shows it: with its graph and assistant."""
    metadata: dict[str, Any] = msgspec.json.decode(h.get("metadata") or b"{}")
    for key in ("graph_id", "assistant_id"):
        if key in h:
            metadata.setdefault(key, h[key].decode())
    return metadata


def thread_json(h: dict[str, bytes]) -> dict[str, Any]:
    metadata = stored_metadata(h)
    return {
        "thread_id": h["thread_id"].decode(),
        "created_at": h["created_at"].decode(),
        "updated_at": h["updated_at"].decode(),
        "state_updated_at": h.get("state_updated_at", h["updated_at"]).decode(),
        "metadata": metadata,
        "status": h.get("status", b"idle").decode(),
        "values": msgspec.Raw(h["values"]) if h.get("values") else NULL,
        "interrupts": msgspec.Raw(h["interrupts"]) if h.get("interrupts") else {},
        "config": {},
        "error": None,
    }


def run_locations(thread_id: str, run_id: str, suffix: str) -> dict[str, str]:
    base = f"/threads/{thread_id}/runs/{run_id}"
    return {"Location": f"{base}/{suffix}", "Content-Location": base}


def matches(doc: Any, expected: dict[str, Any] | None) -> bool:
    """LangGraph's metadata filter: every expected key equals (subset match)."""
    if not expected:
        return True
    if not isinstance(doc, dict):
        return False
    for key, value in expected.items():
        if key not in doc:
            return False
        if isinstance(value, dict) and isinstance(doc[key], dict):
            if not matches(doc[key], value):
                return False
        elif doc[key] != value:
            return False
    return True


def page_headers(total_seen: int, offset: int, limit: int) -> dict[str, str]:
    """LangGraph Server's pagination headers for ``items[offset:offset+limit]``
    of ``total_seen`` matches: with a next page, ``X-Pagination-Next`` and a
    total of next + 1 (what the reference sends); else the real end."""
    if total_seen > offset + limit:
        return {
            "X-Pagination-Total": str(offset + limit + 1),
            "X-Pagination-Next": str(offset + limit),
        }
    return {
        "X-Pagination-Total": str(
            min(total_seen, offset + limit) if total_seen > offset else offset
        )
    }
