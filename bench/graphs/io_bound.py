"""I/O-bound graph: two nodes, each waits 50 ms (a stand-in for a model or API call)."""

import asyncio
from typing import TypedDict

from langgraph.graph import START, StateGraph


class State(TypedDict, total=False):
    n: int
    first: int
    second: int


async def first(state: State) -> State:
    await asyncio.sleep(0.05)
    return {"first": state["n"] + 1}


async def second(state: State) -> State:
    await asyncio.sleep(0.05)
    return {"second": state["first"] + 1}


builder = StateGraph(State)
builder.add_node("first", first)
builder.add_node("second", second)
builder.add_edge(START, "first")
builder.add_edge("first", "second")
graph = builder.compile()
