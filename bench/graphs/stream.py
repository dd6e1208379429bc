"""Streaming graph: one node that emits `count` (default 200) small `custom` events."""

from typing import TypedDict

from langgraph.config import get_stream_writer
from langgraph.graph import START, StateGraph


class State(TypedDict, total=False):
    count: int
    emitted: int


async def emit(state: State) -> State:
    write = get_stream_writer()
    count = state.get("count", 200)
    for i in range(count):
        write({"i": i})
    return {"emitted": count}


builder = StateGraph(State)
builder.add_node("emit", emit)
builder.add_edge(START, "emit")
graph = builder.compile()
