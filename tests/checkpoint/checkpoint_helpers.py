"""Test helpers: checkpoints, configs and a command counter."""

from __future__ import annotations

from collections import Counter
from typing import Any

from langgraph.checkpoint.base import Checkpoint, empty_checkpoint
from langgraph.checkpoint.base.id import uuid6


def config(thread: str, ns: str = "", checkpoint_id: str | None = None, **extra: Any) -> dict:
    conf: dict[str, Any] = {"thread_id": thread, "checkpoint_ns": ns, **extra}
    if checkpoint_id:
        conf["checkpoint_id"] = checkpoint_id
    return {"configurable": conf}


def checkpoint(values: dict[str, Any], versions: dict[str, Any]) -> Checkpoint:
    cp = empty_checkpoint()
    cp["id"] = str(uuid6(clock_seq=-1))
    cp["channel_values"] = dict(values)
    cp["channel_versions"] = dict(versions)
    return cp


class CommandCounter:
    """Counts what a redis-py client sends: one entry per round trip
    (``execute_command`` call, or one pipeline)."""

    def __init__(self, client: Any) -> None:
        self.sent: list[str] = []
        self._client = client
        self._orig = client.execute_command

        async def counting(*args: Any, **kwargs: Any) -> Any:
            self.sent.append(str(args[0]).upper())
            return await self._orig(*args, **kwargs)

        client.execute_command = counting
        self._orig_pipeline = client.pipeline

        def pipeline(*args: Any, **kwargs: Any) -> Any:
            pipe = self._orig_pipeline(*args, **kwargs)
            execute = pipe.execute

            async def counted(*a: Any, **kw: Any) -> Any:
                self.sent.append("PIPELINE")
                return await execute(*a, **kw)

            pipe.execute = counted
            return pipe

        client.pipeline = pipeline

    def reset(self) -> None:
        self.sent.clear()

    def close(self) -> None:
        del self._client.execute_command, self._client.pipeline


async def server_commands(client: Any) -> Counter[str]:
    """INFO commandstats as calls per command (includes commands run by Lua),
    summed over every node of a cluster."""
    if hasattr(client, "get_nodes"):
        stats = await client.info("commandstats", target_nodes=client.ALL_NODES)
        per_node = list(stats.values())
    else:
        per_node = [await client.info("commandstats")]
    total: Counter[str] = Counter()
    for node in per_node:
        for k, v in node.items():
            total[k.removeprefix("cmdstat_")] += int(v["calls"])
    return total
