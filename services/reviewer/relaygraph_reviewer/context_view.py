"""What led to a pause, shown collapsed on each pending interrupt: the
thread's latest messages when its state has a ``messages`` list (LangChain
messages as a graph stores them), else its state values, and how long ago it
paused. Read from the thread's record in Redis (the values at the pause)."""

from __future__ import annotations

import json
from typing import Any

from relaygraph_reviewer.pages import esc

LAST_MESSAGES = 6
MAX_CHARS = 600


def _clip(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"


def _message(message: Any) -> str:
    if not isinstance(message, dict):
        return f"<li><code>{esc(_clip(json.dumps(message)))}</code></li>"
    role = message.get("type") or message.get("role") or "message"
    content = message.get("content")
    text = content if isinstance(content, str) else json.dumps(content)
    calls = message.get("tool_calls") or []
    called = "".join(
        f' <span class="call">calls <b>{esc(c.get("name"))}</b>'
        f"<code>{esc(_clip(json.dumps(c.get('args'))))}</code></span>"
        for c in calls
        if isinstance(c, dict)
    )
    return f'<li><span class="role">{esc(role)}</span> {esc(_clip(text or ""))}{called}</li>'


def context_block(values: Any) -> str:
    """The collapsed block for a thread's values at the pause (None: unknown)."""
    if values is None:
        return ""
    messages = values.get("messages") if isinstance(values, dict) else None
    if isinstance(messages, list) and messages:
        shown = messages[-LAST_MESSAGES:]
        more = len(messages) - len(shown)
        head = f"{len(messages)} messages" + (f", the last {len(shown)}" if more else "")
        body = '<ol class="messages">' + "".join(_message(m) for m in shown) + "</ol>"
    else:
        head = "state"
        text = json.dumps(values, indent=2, ensure_ascii=False)
        body = f"<pre>{esc(text if len(text) <= 4000 else text[:3999] + '…')}</pre>"
    return (
        f'<details class="context"><summary>What led here ({esc(head)})</summary>{body}</details>'
    )
