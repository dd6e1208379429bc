"""An agent asks before it sends an email, in LangChain Agent Inbox's shape
(``HumanInterrupt``): the reviewer inbox shows the draft with Accept, Edit,
Reply and Ignore, and the graph acts on the ``HumanResponse`` it gets back.

Unanswered for ``timeout_s`` seconds (when the input gives one), the inbox
answers with ``on_timeout``: here, not sending.
"""

from __future__ import annotations

from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt


class State(TypedDict, total=False):
    to: str
    subject: str
    body: str
    timeout_s: float
    outcome: str


def draft(state: State) -> State:
    return {
        "subject": state.get("subject") or "Quarterly report",
        "body": state.get("body") or "Hi, the report is attached. Best, the agent",
    }


def ask(state: State) -> State:
    request: dict[str, Any] = {
        "action_request": {
            "action": "send_email",
            "args": {"to": state["to"], "subject": state["subject"], "body": state["body"]},
        },
        "config": {
            "allow_accept": True,
            "allow_edit": True,
            "allow_respond": True,
            "allow_ignore": True,
        },
        "description": f"Send this email to **{state['to']}**?",
    }
    if state.get("timeout_s"):
        request |= {
            "timeout_s": state["timeout_s"],
            "on_timeout": [{"type": "ignore", "args": None}],
        }
    [response] = interrupt([request])
    kind, args = response["type"], response.get("args")
    if kind == "accept":
        return {"outcome": f"sent to {state['to']}"}
    if kind == "edit":
        edited = args["args"]
        return {**edited, "outcome": f"sent to {edited['to']} (edited)"}
    if kind == "response":
        return {"outcome": f"not sent: {args}"}
    return {"outcome": "not sent"}


builder = StateGraph(State)
builder.add_node("draft", draft)
builder.add_node("ask", ask)
builder.add_edge(START, "draft")
builder.add_edge("draft", "ask")
builder.add_edge("ask", END)
graph = builder.compile()
