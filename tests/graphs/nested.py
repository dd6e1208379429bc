"""A graph with a subgraph as a node, for drawings (``xray``) and subgraph
schemas."""

from __future__ import annotations

from typing import TypedDict

from langgraph.graph import START, StateGraph


class Inner(TypedDict, total=False):
    text: str
    steps: int


def shout(state: Inner) -> Inner:
    return {"text": state.get("text", "").upper(), "steps": state.get("steps", 0) + 1}


inner_builder = StateGraph(Inner)
inner_builder.add_node(shout)
inner_builder.add_edge(START, "shout")
inner = inner_builder.compile()


class Outer(TypedDict, total=False):
    text: str
    steps: int


outer_builder = StateGraph(Outer)
outer_builder.add_node("child", inner)
outer_builder.add_edge(START, "child")
nested = outer_builder.compile(name="Nested")
