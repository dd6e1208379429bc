"""A graph that pauses twice in a row: the resume of the first question is
followed at once by a new interrupt (what a retried resume must not answer)."""

from __future__ import annotations

from typing import TypedDict

from langgraph.graph import START, StateGraph
from langgraph.types import interrupt


class Answers(TypedDict, total=False):
    first: str
    second: str


def ask_first(state: Answers) -> Answers:
    return {"first": interrupt("first?")}


def ask_second(state: Answers) -> Answers:
    return {"second": interrupt("second?")}


builder = StateGraph(Answers)
builder.add_node(ask_first)
builder.add_node(ask_second)
builder.add_edge(START, "ask_first")
builder.add_edge("ask_first", "ask_second")
two_questions = builder.compile()
