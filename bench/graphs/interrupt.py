"""Interrupt cycle: like examples/graphs/edit_text.py, one node that asks a person to
revise a text with interrupt() and keeps the answer."""

from typing import TypedDict

from langgraph.graph import START, StateGraph
from langgraph.types import interrupt


class State(TypedDict):
    some_text: str


def human_node(state: State) -> State:
    value = interrupt({"text_to_revise": state["some_text"]})
    return {"some_text": value}


builder = StateGraph(State)
builder.add_node("human_node", human_node)
builder.add_edge(START, "human_node")
graph = builder.compile()
