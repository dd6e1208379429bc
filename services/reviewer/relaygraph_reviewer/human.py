"""LangChain Agent Inbox's interrupt shape in the inbox: a ``HumanInterrupt``
(``action_request {action, args}``, ``config {allow_accept, allow_edit,
allow_respond, allow_ignore}``, ``description``) is shown as a form with only
the controls its ``config`` allows, and answered with a ``HumanResponse``
(``{"type": "accept" | "edit" | "response" | "ignore", "args": ...}``): ``null``
for accept and ignore, the reply's text for a response, the action request with
the edited arguments for an edit. A graph that interrupts with a list of one
``HumanInterrupt`` (as ``langgraph.prebuilt`` does) gets a list of one response.

The description is Markdown, rendered without raw HTML (markdown-it's
CommonMark with ``html`` off, which also refuses ``javascript:`` links), under
the page's Content-Security-Policy.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt

from relaygraph.errors import InvalidInput

CONTROLS = ("accept", "edit", "response", "ignore")
_ALLOW = {"accept": "allow_accept", "edit": "allow_edit", "response": "allow_respond"}
_ALLOW["ignore"] = "allow_ignore"
_LABELS = {"accept": "Accept", "edit": "Send edited", "response": "Send reply", "ignore": "Ignore"}
_markdown = MarkdownIt("commonmark", {"html": False})


@dataclass(frozen=True)
class HumanRequest:
    action: str
    args: dict[str, Any]
    allowed: tuple[str, ...]
    description: str | None
    in_list: bool
    """The interrupt's value was ``[HumanInterrupt]``: the answer is ``[HumanResponse]``."""


def human_request(value: Any) -> HumanRequest | None:
    """The ``HumanInterrupt`` in an interrupt's value, if that is what it is."""
    in_list = isinstance(value, list)
    if in_list:
        if len(value) != 1:
            return None
        value = value[0]
    if not isinstance(value, dict):
        return None
    request, config = value.get("action_request"), value.get("config")
    if not isinstance(request, dict) or not isinstance(config, dict):
        return None
    action, args = request.get("action"), request.get("args")
    if not isinstance(action, str) or not isinstance(args, dict):
        return None
    allowed = tuple(c for c in CONTROLS if config.get(_ALLOW[c]) is True)
    description = value.get("description")
    return HumanRequest(
        action, args, allowed, description if isinstance(description, str) else None, in_list
    )


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def render(interrupt_id: str, request: HumanRequest) -> str:
    """The interrupt's block of the inbox form."""
    iid = _esc(interrupt_id)
    meta = json.dumps({"action": request.action, "list": request.in_list})
    parts = [
        '<div class="interrupt human">',
        f'<div class="iid">interrupt <code>{iid}</code></div>',
        f'<input type="hidden" name="human:{iid}" value="{_esc(meta)}">',
    ]
    if request.description:
        parts.append(f'<div class="description">{_markdown.render(request.description)}</div>')
    parts.append(f'<div class="action">Action <b>{_esc(request.action)}</b></div>')
    editable = "edit" in request.allowed
    rows = []
    for n, (name, value) in enumerate(request.args.items()):
        shown = value if isinstance(value, str) else json.dumps(value)
        if editable:
            marker = (
                ""
                if isinstance(value, str)
                else f'<input type="hidden" name="editjson:{iid}:{n}" value="1">'
            )
            rows.append(
                f'<label>{_esc(name)}<input name="edit:{iid}:{n}" value="{_esc(shown)}"></label>'
                f'<input type="hidden" name="editkey:{iid}:{n}" value="{_esc(name)}">{marker}'
            )
        else:
            rows.append(f"<tr><th>{_esc(name)}</th><td><code>{_esc(shown)}</code></td></tr>")
    if rows:
        parts.append(
            f'<fieldset class="args"><legend>Arguments</legend>{"".join(rows)}</fieldset>'
            if editable
            else f'<table class="args">{"".join(rows)}</table>'
        )
    if "response" in request.allowed:
        parts.append(
            f'<label>Reply<textarea name="respond:{iid}" rows="3" '
            'placeholder="What the agent should know or do instead"></textarea></label>'
        )
    buttons = "".join(
        f'<button type="submit" name="choice:{iid}" value="{control}"'
        + (' class="primary"' if control == "accept" else "")
        + f">{_LABELS[control]}</button>"
        for control in request.allowed
    )
    parts.append(f'<div class="choices">{buttons}</div></div>')
    return "".join(parts)


def response_from_form(form: dict[str, str]) -> tuple[str, Any] | None:
    """(interrupt id, the resume value) when a ``HumanInterrupt``'s control
    was pressed; None for any other form."""
    chosen = [(k.removeprefix("choice:"), v) for k, v in form.items() if k.startswith("choice:")]
    if not chosen:
        return None
    iid, control = chosen[0]
    if control not in CONTROLS:
        raise InvalidInput(f"unknown answer {control!r}: one of {', '.join(CONTROLS)}")
    try:
        meta = json.loads(form.get(f"human:{iid}", ""))
    except json.JSONDecodeError:
        raise InvalidInput("the form lost which action it answers: reload the inbox") from None
    args: Any = None
    if control == "response":
        args = form.get(f"respond:{iid}", "").strip()
        if not args:
            raise InvalidInput("the reply is empty: write what the agent should know")
    elif control == "edit":
        args = {"action": meta.get("action"), "args": _edited(form, iid)}
    response = {"type": control, "args": args}
    return iid, [response] if meta.get("list") else response


def _edited(form: dict[str, str], iid: str) -> dict[str, Any]:
    edited: dict[str, Any] = {}
    prefix = f"editkey:{iid}:"
    for key, name in form.items():
        if not key.startswith(prefix):
            continue
        n = key.removeprefix(prefix)
        text = form.get(f"edit:{iid}:{n}", "")
        if form.get(f"editjson:{iid}:{n}"):
            try:
                edited[name] = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"argument {name!r} is not valid JSON: {exc}") from None
        else:
            edited[name] = text
    return edited
