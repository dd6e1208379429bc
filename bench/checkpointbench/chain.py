"""The state a superstep writes, and a thread written step by step the way a
Pregel loop writes it."""

from __future__ import annotations

import copy
import time
import uuid
from typing import TYPE_CHECKING, Any

from langgraph.checkpoint.base import BaseCheckpointSaver, empty_checkpoint
from langgraph.checkpoint.base.id import uuid6

if TYPE_CHECKING:
    from checkpointbench.backends import Backend

SETTINGS = {  # ~1 KB, written once per thread, never changed: stored once by the savers
    "model": "gpt-bench",
    "temperature": 0.2,
    "tools": [{"name": f"tool_{i}", "description": "does a thing " * 4} for i in range(8)],
    "system": "You are a helpful assistant. " * 10,
}
ITEMS = [{"id": i, "label": f"item-{i}", "score": i / 7} for i in range(20)]  # unchanged too
NODES = [f"node_{i}" for i in range(10)]


class Chain:
    """One thread, written the way a Pregel loop does it: the input checkpoint,
    then per superstep the task's writes against the current checkpoint and the
    next checkpoint (``updated`` channels get new versions, the others keep
    theirs, so their values are not written again by savers that store blobs)."""

    def __init__(self, saver: BaseCheckpointSaver, thread_id: str, run_id: str) -> None:
        self.saver = saver
        self.thread_id = thread_id
        self.run_id = run_id
        self.config: dict[str, Any] = {
            "configurable": {"thread_id": thread_id, "checkpoint_ns": ""}
        }
        self.step = -1
        self.values: dict[str, Any] = {}
        self.versions: dict[str, Any] = {}
        self.seen: dict[str, dict[str, Any]] = {}
        self.length = 0  # checkpoints written

    def _text(self) -> str:
        return f"step {self.step} of {self.thread_id}: " + "lorem ipsum dolor sit amet " * 6

    async def _put(self, updated: list[str], source: str) -> int:
        """Write the next checkpoint; returns the ns spent in ``aput`` alone."""
        for ch in updated:
            self.versions[ch] = self.saver.get_next_version(self.versions.get(ch), None)
        cp = empty_checkpoint()
        cp["id"] = str(uuid6(clock_seq=self.step))
        cp["channel_values"] = dict(self.values)
        cp["channel_versions"] = dict(self.versions)
        cp["versions_seen"] = copy.deepcopy(self.seen)
        cp["updated_channels"] = sorted(updated)
        md = {"source": source, "step": self.step, "parents": {}, "run_id": self.run_id}
        new_versions = {ch: self.versions[ch] for ch in updated}
        t0 = time.perf_counter_ns()
        self.config = await self.saver.aput(self.config, cp, md, new_versions)  # type: ignore[arg-type]
        dt = time.perf_counter_ns() - t0
        self.length += 1
        return dt

    async def start(self) -> None:
        """The input checkpoint (every channel new). ``versions_seen`` holds an
        entry per node from the start, so a checkpoint's size does not depend
        on how far the thread is (only the history length changes)."""
        self.seen = {
            node: {f"branch:to:{node}": self.saver.get_next_version(None, None)} for node in NODES
        }
        self.values = {
            "counter": 0,
            "text": self._text(),
            "settings": SETTINGS,
            "items": ITEMS,
            "branch:to:node_0": None,
        }
        await self._put(list(self.values), "input")

    def _task_writes(self) -> tuple[str, list[tuple[str, Any]]]:
        node = NODES[(self.step + 1) % len(NODES)]
        nxt = NODES[(self.step + 2) % len(NODES)]
        return node, [
            ("counter", self.values["counter"] + 1),
            ("text", self._text()),
            (f"branch:to:{nxt}", None),
        ]

    async def pending_writes(self) -> None:
        """The task's writes against the current checkpoint (no next checkpoint)."""
        _, writes = self._task_writes()
        await self.saver.aput_writes(self.config, writes, str(uuid.uuid4()))  # type: ignore[arg-type]

    async def superstep(self) -> tuple[int, int]:
        """One superstep; returns the ns spent in ``aput_writes`` and in ``aput``
        (only the awaits of the saver are timed, not the bench's bookkeeping)."""
        node, writes = self._task_writes()
        task_id = str(uuid.uuid4())
        t0 = time.perf_counter_ns()
        await self.saver.aput_writes(self.config, writes, task_id)  # type: ignore[arg-type]
        writes_ns = time.perf_counter_ns() - t0
        self.step += 1
        old_branch = next(k for k in self.values if k.startswith("branch:to:"))
        self.seen[node] = {old_branch: self.versions[old_branch]}
        del self.values[old_branch]
        del self.versions[old_branch]
        for ch, value in writes:
            self.values[ch] = value
        return writes_ns, await self._put([ch for ch, _ in writes], "loop")


def new_chain(backend: Backend, tag: str) -> Chain:
    return Chain(backend.saver, f"{tag}-{uuid.uuid4().hex[:12]}", str(uuid.uuid4()))


async def build_chain(backend: Backend, tag: str, length: int) -> Chain:
    chain = new_chain(backend, tag)
    await chain.start()
    while chain.length < length:
        await chain.superstep()
    return chain


async def fill(chain: Chain, length: int) -> None:
    await chain.start()
    while chain.length < length:
        await chain.superstep()
