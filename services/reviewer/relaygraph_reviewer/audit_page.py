"""The "Answered" page: the audit of every answer, newest first, a page at a time."""

from __future__ import annotations

from urllib.parse import quote

from relaygraph_reviewer.audit import AuditEntry
from relaygraph_reviewer.pages import compact, esc, page


def answered_page(entries: list[AuditEntry], older: str | None, *, logout: bool) -> str:
    rows = "".join(
        "<tr>"
        f"<td><time>{esc(e.at)}</time></td><td>{esc(e.reviewer)}</td>"
        f"<td>{esc(e.graph_id)}</td><td><code>{esc(e.thread_id)}</code></td>"
        f"<td><code>{esc(', '.join(e.interrupt_ids))}</code></td>"
        f"<td><code>{esc(compact(e.answer))}</code></td>"
        f"<td><code>{esc(e.run_id)}</code></td><td>{esc(e.status)}</td>"
        "</tr>"
        for e in entries
    )
    table = (
        "<table><thead><tr><th>answered</th><th>by</th><th>graph</th><th>thread</th>"
        "<th>interrupts</th><th>answer</th><th>run</th><th>status</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        if entries
        else '<div class="empty">No answers yet.</div>'
    )
    more = (
        f'<p><a href="answered?before={quote(older, safe="")}">Older answers</a></p>'
        if older
        else ""
    )
    body = f'<section id="audit"><h2>Answered</h2>{table}{more}</section>'
    return page(
        "Answered · relaygraph reviewer",
        body,
        logout=logout,
        header_extra='<a href="./">Inbox</a>',
    )
