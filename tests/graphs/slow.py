"""Test graphs: a node that takes its time, and one that counts its side effects."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TypedDict

from langgraph.graph import START, StateGraph
from langgraph.types import interrupt


class State(TypedDict, total=False):
    seconds: float
    done: bool
    answer: str


async def wait_a_bit(state: State) -> State:
    await asyncio.sleep(state.get("seconds", 0.5))
    return {"done": True}


builder = StateGraph(State)
builder.add_node(wait_a_bit)
builder.add_edge(START, "wait_a_bit")
slow = builder.compile()


def side_effect(state: State) -> State:
    """Appends a line to $RELAYGRAPH_TEST_EFFECTS each time it runs."""
    path = os.environ.get("RELAYGRAPH_TEST_EFFECTS")
    answer = interrupt({"question": "go?"})
    if path:
        with Path(path).open("a") as f:
            f.write(f"{answer}\n")
    return {"answer": str(answer)}


counter_builder = StateGraph(State)
counter_builder.add_node(side_effect)
counter_builder.add_edge(START, "side_effect")
counter = counter_builder.compile()
