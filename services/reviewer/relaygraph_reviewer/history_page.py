"""A thread's history in the inbox (``/threads/{thread_id}/history``): its
checkpoints, newest first, read from the gateway's API (``REVIEWER_API_URL``)
with the person's own credentials (custom auth) or the API key, so the
gateway decides what they may read."""

from __future__ import annotations

import json
from typing import Any

import httpx

from relaygraph.errors import NotFound, Unavailable
from relaygraph_reviewer.pages import compact, esc, page

LIMIT = 20


async def fetch_history(
    http: httpx.AsyncClient, api_url: str, thread_id: str, headers: dict[str, str]
) -> list[dict[str, Any]]:
    try:
        r = await http.post(
            f"{api_url.rstrip('/')}/threads/{thread_id}/history",
            json={"limit": LIMIT},
            headers=headers,
        )
    except httpx.HTTPError as exc:
        raise Unavailable(f"the API at {api_url} is unavailable: {exc}") from None
    if r.status_code in (403, 404):
        raise NotFound(f"thread {thread_id} not found")
    if r.status_code >= 400:
        raise Unavailable(f"the API answered {r.status_code}: {r.text[:200]}")
    found: list[dict[str, Any]] = r.json()
    return found


def history_page(thread_id: str, states: list[dict[str, Any]], *, logout: bool) -> str:
    rows = []
    for state in states:
        meta = state.get("metadata") or {}
        values = json.dumps(state.get("values"), indent=2, ensure_ascii=False)
        rows.append(
            "<tr>"
            f"<td><time>{esc(state.get('created_at') or '')}</time></td>"
            f"<td>{esc(meta.get('step', ''))}</td><td>{esc(meta.get('source', ''))}</td>"
            f"<td><code>{esc(', '.join(state.get('next') or []) or '(end)')}</code></td>"
            f"<td><code>{esc(compact(meta.get('writes')))}</code></td>"
            f"<td><details><summary>values</summary><pre>{esc(values[:4000])}</pre></details></td>"
            "</tr>"
        )
    table = (
        "<table><thead><tr><th>checkpoint</th><th>step</th><th>source</th><th>next</th>"
        f"<th>writes</th><th></th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if rows
        else '<div class="empty">No checkpoints.</div>'
    )
    body = (
        f'<section id="history"><h2>Thread <code>{esc(thread_id)}</code></h2>'
        f"<p>Its last {LIMIT} checkpoints, newest first.</p>{table}</section>"
    )
    return page(
        f"Thread {thread_id} · relaygraph reviewer",
        body,
        logout=logout,
        header_extra='<a href="./">Inbox</a>',
        base="../../",
    )
