"""Test graphs: a node that takes its time, one that counts its side effects, and
one with a dataclass and an enum in its state."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from enum import Enum
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


class Priority(Enum):
    LOW = "low"
    HIGH = "high"


@dataclass
class Ticket:
    title: str
    priority: Priority


class TicketState(TypedDict, total=False):
    title: str
    ticket: Ticket
    approved: bool


def open_ticket(state: TicketState) -> TicketState:
    return {"ticket": Ticket(state["title"], Priority.HIGH)}


def approve(state: TicketState) -> TicketState:
    ok = interrupt({"approve": state["ticket"].title, "priority": state["ticket"].priority.value})
    return {"approved": bool(ok)}


typed_builder = StateGraph(TicketState)
typed_builder.add_node(open_ticket)
typed_builder.add_node(approve)
typed_builder.add_edge(START, "open_ticket")
typed_builder.add_edge("open_ticket", "approve")
typed = typed_builder.compile()
