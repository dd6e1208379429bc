"""Stateless 1-node graph for `/runs/wait`: doubles a number."""

from typing import TypedDict

from langgraph.graph import START, StateGraph


class State(TypedDict, total=False):
    n: int
    doubled: int


def double(state: State) -> State:
    return {"doubled": state["n"] * 2}


builder = StateGraph(State)
builder.add_node("double", double)
builder.add_edge(START, "double")
graph = builder.compile()
