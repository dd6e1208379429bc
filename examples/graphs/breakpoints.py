"""Static breakpoints (LangGraph guide): the graph stops before ``step_3``,
set at compile time; resume with ``input=None``. Run-time breakpoints
(``interrupt_before`` / ``interrupt_after`` in the run) stop it elsewhere too."""

from __future__ import annotations

from typing import TypedDict

from langgraph.graph import END, START, StateGraph


class State(TypedDict):
    input: str
    steps: list[str]


def step_1(state: State) -> dict[str, list[str]]:
    return {"steps": [*state.get("steps", []), "step_1"]}


def step_2(state: State) -> dict[str, list[str]]:
    return {"steps": [*state["steps"], "step_2"]}


def step_3(state: State) -> dict[str, list[str]]:
    return {"steps": [*state["steps"], "step_3"]}


builder = StateGraph(State)
builder.add_node(step_1)
builder.add_node(step_2)
builder.add_node(step_3)
builder.add_edge(START, "step_1")
builder.add_edge("step_1", "step_2")
builder.add_edge("step_2", "step_3")
builder.add_edge("step_3", END)
graph = builder.compile(interrupt_before=["step_3"])
