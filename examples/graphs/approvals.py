"""Two interrupts pending at once: two parallel nodes each ask a person for an
approval. Resume both in one go with ``Command(resume={id: value, ...})``."""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt


class State(TypedDict):
    request: str
    decisions: Annotated[list[str], operator.add]


def legal(state: State) -> dict[str, list[str]]:
    answer = interrupt({"team": "legal", "request": state["request"]})
    return {"decisions": [f"legal: {answer}"]}


def finance(state: State) -> dict[str, list[str]]:
    answer = interrupt({"team": "finance", "request": state["request"]})
    return {"decisions": [f"finance: {answer}"]}


builder = StateGraph(State)
builder.add_node(legal)
builder.add_node(finance)
builder.add_edge(START, "legal")
builder.add_edge(START, "finance")
builder.add_edge("legal", END)
builder.add_edge("finance", END)
graph = builder.compile()
