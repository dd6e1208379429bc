"""The chaos suite's graphs: steps that take their time and record each run of
theirs (a side effect) in $RELAYGRAPH_TEST_EFFECTS, a person's answer in the
middle, and a node that crashes its executor."""

from __future__ import annotations

import asyncio
import operator
import os
import signal
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.config import get_config
from langgraph.graph import START, StateGraph
from langgraph.types import interrupt


class ChaosState(TypedDict, total=False):
    n: int
    delay: float
    log: Annotated[list[str], operator.add]
    answer: str


def effect(name: str) -> None:
    """One line per execution of a node: ``<thread_id> <node>``."""
    path = os.environ.get("RELAYGRAPH_TEST_EFFECTS")
    if path:
        thread_id = get_config()["configurable"]["thread_id"]
        with Path(path).open("a") as f:
            f.write(f"{thread_id} {name}\n")


def step(name: str) -> Any:
    async def node(state: ChaosState) -> ChaosState:
        await asyncio.sleep(state.get("delay", 0.0))
        effect(name)
        return {"log": [name]}

    node.__name__ = name
    return node


def ask(state: ChaosState) -> ChaosState:
    answer = interrupt({"n": state.get("n", 0), "question": "go on?"})
    effect("ask")
    return {"answer": str(answer), "log": ["ask"]}


builder = StateGraph(ChaosState)
for name in ("s1", "s2"):
    builder.add_node(name, step(name))
builder.add_node(ask)
for name in ("s3", "s4"):
    builder.add_node(name, step(name))
builder.add_edge(START, "s1")
builder.add_edge("s1", "s2")
builder.add_edge("s2", "ask")
builder.add_edge("ask", "s3")
builder.add_edge("s3", "s4")
chaos = builder.compile()


def crash(state: ChaosState) -> ChaosState:
    """Kills the executor that runs it, every time: a poison run."""
    effect("crash")
    os.kill(os.getpid(), signal.SIGKILL)
    # SIGKILL is asynchronous for the other threads: without this the node could
    # return and its writes land before the process is gone.
    time.sleep(30)
    return {}


crash_builder = StateGraph(ChaosState)
crash_builder.add_node(crash)
crash_builder.add_edge(START, "crash")
crasher = crash_builder.compile()
