"""Benchmark 3, a 10-node linear graph run end to end (``ainvoke``) through each
saver, with ``durability="sync"`` and ``"async"``."""

from __future__ import annotations

import itertools
import random
import time
import uuid
from collections.abc import Callable
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

from checkpointbench.backends import Backend
from checkpointbench.chain import ITEMS, NODES, SETTINGS
from checkpointbench.config import Config
from checkpointbench.results import Results, Row
from checkpointbench.rounds import Sample, interleaved


class GraphState(TypedDict):
    counter: int
    text: str
    settings: dict[str, Any]  # never written by a node
    items: list[dict[str, Any]]  # never written by a node


def build_graph() -> StateGraph:
    graph = StateGraph(GraphState)

    def make(i: int) -> Callable[[GraphState], dict[str, Any]]:
        def node(state: GraphState) -> dict[str, Any]:
            out: dict[str, Any] = {"counter": state["counter"] + 1}
            if i % 2 == 0:  # text changes every other step
                out["text"] = f"node {i} saw {state['counter']}: " + "lorem ipsum " * 10
            return out

        return node

    for i, name in enumerate(NODES):
        graph.add_node(name, make(i))
    graph.add_edge(START, NODES[0])
    for a, b in itertools.pairwise(NODES):
        graph.add_edge(a, b)
    graph.add_edge(NODES[-1], END)
    return graph


async def bench_graph(backends: list[Backend], cfg: Config, res: Results) -> None:
    graph = build_graph()
    compiled = {b.name: graph.compile(checkpointer=b.saver) for b in backends}
    inputs = {"counter": 0, "text": "", "settings": SETTINGS, "items": ITEMS}
    rng = random.Random(3)
    for durability in ("sync", "async"):
        samples: dict[str, list[int]] = {b.name: [] for b in backends}

        def case(
            name: str, app: Any, durability: str = durability, samples: dict = samples
        ) -> Sample:
            async def sample(keep: bool) -> None:
                config = {"configurable": {"thread_id": f"graph-{uuid.uuid4().hex}"}}
                t0 = time.perf_counter_ns()
                out = await app.ainvoke(inputs, config, durability=durability)
                dt = time.perf_counter_ns() - t0
                if out["counter"] != len(NODES):
                    raise AssertionError(f"{name}: graph returned {out!r}")
                if keep:
                    samples[name].append(dt)

            return sample

        groups = {name: [case(name, app)] for name, app in compiled.items()}
        rounds = cfg.graph_warmup + cfg.graph_reps
        await interleaved(groups, rounds, cfg.graph_warmup, max(1, cfg.block // 5), rng)
        for b in backends:
            res.rows.append(Row(f"graph-{durability}", "10 nodes", b.name, samples[b.name]))
