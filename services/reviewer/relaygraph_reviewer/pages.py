"""Server-rendered HTML of the inbox. Every value from a graph or a person goes
through :func:`esc` (text and attributes alike): nothing is trusted.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from relaygraph_reviewer import human
from relaygraph_reviewer.deadlines import instant
from relaygraph_reviewer.human import human_request
from relaygraph_reviewer.inbox import AnsweredItem, PendingItem


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


def compact(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Flash:
    ok: bool
    message: str
    run_id: str | None = None
    status: str | None = None


def quick_answers(value: Any) -> list[tuple[str, Any]]:
    """One-click answers when the interrupt value has an obvious shape."""
    if isinstance(value, list) and len(value) == 1 and _is_human_interrupt(value[0]):
        return [(label, [answer]) for label, answer in _human_interrupt_answers(value[0])]
    if _is_human_interrupt(value):
        return _human_interrupt_answers(value)
    if isinstance(value, dict):
        for key in ("options", "choices"):
            options = value.get(key)
            if (
                isinstance(options, list)
                and 0 < len(options) <= 8
                and all(isinstance(o, str | int | float | bool) for o in options)
            ):
                return [(str(o), o) for o in options]
    question = value.get("question") if isinstance(value, dict) else value
    if isinstance(question, str) and question.rstrip().endswith("?"):
        return [("yes", True), ("no", False)]
    return []


def _is_human_interrupt(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("action_request"), dict)
        and isinstance(value.get("config"), dict)
    )


def _human_interrupt_answers(value: dict[str, Any]) -> list[tuple[str, Any]]:
    config = value["config"]
    answers: list[tuple[str, Any]] = []
    if config.get("allow_accept"):
        answers.append(("accept", {"type": "accept", "args": None}))
    if config.get("allow_ignore"):
        answers.append(("ignore", {"type": "ignore", "args": None}))
    return answers


def page(
    title: str, body: str, *, logout: bool = False, header_extra: str = "", base: str = ""
) -> str:
    """A page of the inbox's frame (header, stylesheet, sign-out)."""
    return _page(title, body, logout=logout, header_extra=header_extra, base=base)


def _page(
    title: str, body: str, *, logout: bool = False, header_extra: str = "", base: str = ""
) -> str:
    logout_form = (
        '<form method="post" action="logout"><button type="submit">log out</button></form>'
        if logout
        else ""
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        + (f'<base href="{esc(base)}">' if base else "")
        + f"<title>{esc(title)}</title>"
        '<link rel="icon" href="favicon.svg" type="image/svg+xml">'
        '<link rel="stylesheet" href="inbox.css"></head><body>'
        "<header><h1>relaygraph <span>reviewer inbox</span></h1>"
        f"<nav>{header_extra}{logout_form}</nav></header>"
        f"<main>{body}</main></body></html>"
    )


def _flash(flash: Flash | None) -> str:
    if flash is None:
        return ""
    cls = "ok" if flash.ok else "err"
    run = ""
    if flash.run_id:
        status = f" ({esc(flash.status)})" if flash.status else ""
        run = f' <span class="run-id">New run <code>{esc(flash.run_id)}</code>{status}.</span>'
    return f'<div class="flash {cls}" role="status">{esc(flash.message)}{run}</div>'


def _interrupt_block(item: PendingItem) -> str:
    event = item.event
    if not event.interrupts:
        return (
            '<div class="interrupt"><label>Answer (JSON)'
            '<textarea class="json" name="resume" rows="3" placeholder="null"></textarea>'
            "</label></div>"
        )
    if len(event.interrupts) == 1 and (asked := human_request(event.interrupts[0].value)):
        return human.render(event.interrupts[0].id, asked)
    blocks = []
    for interrupt in event.interrupts:
        field = f"resume:{interrupt.id}"
        quick = "".join(
            f'<button type="submit" name="quick:{esc(interrupt.id)}" '
            f'value="{esc(json.dumps(answer))}" title="{esc(json.dumps(answer))}">'
            f"{esc(label)}</button>"
            for label, answer in quick_answers(interrupt.value)
        )
        blocks.append(
            '<div class="interrupt">'
            f'<div class="iid">interrupt <code>{esc(interrupt.id)}</code></div>'
            f'<pre class="value">{esc(pretty(interrupt.value))}</pre>'
            f'<label>Answer (JSON)<textarea class="json" name="{esc(field)}" rows="3" '
            'placeholder=\'e.g. true, "text", {"approved": true}\'></textarea></label>'
            + (f'<div class="quick">answer with one click: {quick}</div>' if quick else "")
            + "</div>"
        )
    return "".join(blocks)


def _age(stamp: str) -> str:
    moment = instant(stamp)
    if not isinstance(moment, datetime):
        return ""
    seconds = max(0, int((datetime.now(UTC) - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f" ({seconds // size} {unit} ago)"
    return f" ({seconds} s ago)"


def _deadline(item: PendingItem) -> str:
    if item.deadline_ms is None:
        return ""
    at = datetime.fromtimestamp(item.deadline_ms / 1000, UTC).isoformat(timespec="seconds")
    return (
        f'<span class="deadline">unanswered by <time>{esc(at)}</time>, it resumes with '
        f"<code>{esc(compact(item.on_timeout))}</code></span>"
    )


def card(
    item: PendingItem, who: str | None = None, context: str = "", history: bool = False
) -> str:
    """One pending interrupt (also sent live to open pages: ``api/stream``);
    ``history``: with a link to its thread's history."""
    tid = esc(item.event.thread_id)
    link = f'<a class="history" href="threads/{tid}/history">history</a>' if history else ""
    event = item.event
    asked = len(event.interrupts) == 1 and human_request(event.interrupts[0].value)
    # A HumanInterrupt's own buttons send it; anything else has one "Send answer".
    send = "" if asked else '<button type="submit" class="primary">Send answer</button>'
    name = (
        f'<span class="reviewer-name">answering as <b>{esc(who)}</b></span>'
        if who
        else '<label>Your name<input class="reviewer-name" name="reviewer" '
        'autocomplete="name" placeholder="anonymous"></label>'
    )
    last_error = (
        f'<div class="lasterr">last attempt failed: <b>{esc(item.last_error.code)}</b>: '
        f"{esc(item.last_error.message)}</div>"
        if item.last_error
        else ""
    )
    return (
        f'<article class="card" id="thread-{esc(event.thread_id)}" '
        f'data-msg-id="{esc(item.msg_id)}" data-graph="{esc(event.graph_id)}">'
        '<div class="meta">'
        f'<span class="graph">{esc(event.graph_id)}</span>'
        f"<span>thread <code>{esc(event.thread_id)}</code></span>"
        f"<span>run <code>{esc(event.run_id)}</code></span>"
        f"<span>paused <time>{esc(event.created_at)}</time>{_age(event.created_at)}</span>"
        f"{link}{_deadline(item)}</div>"
        f"{last_error}{context}"
        f'<form method="post" action="inbox/{esc(event.thread_id)}/resume">'
        f'<input type="hidden" name="msg_id" value="{esc(item.msg_id)}">'
        f"{_interrupt_block(item)}"
        f'<div class="actions">{name}{send}</div>'
        "</form></article>"
    )


def _recent_table(recent: list[AnsweredItem]) -> str:
    if not recent:
        return '<div class="empty">No answers yet.</div>'
    rows = "".join(
        "<tr>"
        f"<td>{esc(a.answered_at)}</td><td>{esc(a.event.graph_id)}</td>"
        f"<td><code>{esc(a.event.thread_id)}</code></td><td>{esc(a.reviewer)}</td>"
        f"<td><code>{esc(a.run_id)}</code></td><td>{esc(a.status)}</td>"
        f"<td><code>{esc(compact(a.resume))}</code></td>"
        "</tr>"
        for a in recent
    )
    return (
        "<table><thead><tr><th>answered</th><th>graph</th><th>thread</th><th>by</th>"
        "<th>run</th><th>status</th><th>answer</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def inbox_page(
    pending: list[PendingItem],
    recent: list[AnsweredItem],
    *,
    flash: Flash | None = None,
    logout: bool = False,
    base: str = "",
    who: str | None = None,
    contexts: dict[str, str] | None = None,
    history: bool = False,
) -> str:
    """The inbox. ``base``: the inbox root relative to the current URL, for a
    page rendered at a deeper path (the answer of a form post); ``who``: the
    signed-in person (custom auth), who answers under that name; ``contexts``:
    each thread's "what led here" block."""
    contexts = contexts or {}
    cards = "".join(
        card(item, who, contexts.get(item.event.thread_id, ""), history) for item in pending
    )
    hidden = " hidden" if pending else ""
    graphs: dict[str, int] = {}
    for item in pending:
        graphs[item.event.graph_id] = graphs.get(item.event.graph_id, 0) + 1
    options = "".join(
        f'<option value="{esc(g)}">{esc(g)} ({n})</option>' for g, n in sorted(graphs.items())
    )
    body = (
        f"{_flash(flash)}"
        f'<section id="pending"><h2>Pending <span class="count">{len(pending)}</span></h2>'
        '<div class="toolbar"><select id="graph-filter" aria-label="graph">'
        f'<option value="">all graphs</option>{options}</select>'
        '<input id="search" type="search" placeholder="search" aria-label="search"></div>'
        f'<div class="empty" id="empty"{hidden}>Nothing is waiting. Interrupts appear here '
        "as graphs pause.</div>"
        f'<div id="cards">{cards}</div></section>'
        f'<section id="recent"><h2>Recently answered</h2>{_recent_table(recent)}</section>'
        '<script src="inbox.js"></script>'
    )
    extra = f'<span>{len(pending)} pending</span><a href="answered">Answered</a>'
    return _page(
        f"({len(pending)}) relaygraph reviewer",
        body,
        logout=logout,
        header_extra=extra,
        base=base,
    )


def login_page(error: str | None = None, token: bool = False) -> str:
    message = f'<div class="flash err">{esc(error)}</div>' if error else ""
    what = "your access token" if token else "the relaygraph API key"
    label = "Token" if token else "API key"
    body = (
        '<div class="login card"><h2>Sign in</h2>'
        f"<p>This inbox needs {what}.</p>"
        f"{message}"
        f'<form method="post" action="login"><label>{label}'
        '<input type="password" name="api_key" autocomplete="current-password" autofocus>'
        '</label><button type="submit" class="primary">Sign in</button></form></div>'
    )
    return _page("Sign in · relaygraph reviewer", body)
