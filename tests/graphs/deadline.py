"""An interrupt with a deadline: unanswered for ``timeout_s`` seconds, the
reviewer resumes it with ``on_timeout``."""

from __future__ import annotations

from typing import TypedDict

from langgraph.graph import START, StateGraph
from langgraph.types import interrupt


class State(TypedDict, total=False):
    timeout_s: float
    answer: str


def ask(state: State) -> State:
    answer = interrupt(
        {"question": "approve?", "timeout_s": state["timeout_s"], "on_timeout": "default"}
    )
    return {"answer": answer}


builder = StateGraph(State)
builder.add_node("ask", ask)
builder.add_edge(START, "ask")
deadline = builder.compile()
