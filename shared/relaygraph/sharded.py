"""An index split into shards (``Keys.*_shards``), read as one sorted set.

Each shard is a sorted set under a hash tag of its own, so on Redis Cluster the
shards sit on different masters; a member lives in exactly one shard. Reads
ask every shard in one round trip and merge the replies in score order
(ties by member), which is what one sorted set would have answered.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from relaygraph.pipelining import RoundTrips, Step

Entry = tuple[float, bytes]


def _entries(raw: list[Any]) -> list[Entry]:
    """A WITHSCORES reply as (score, member): flat in RESP2, pairs in RESP3."""
    if raw and isinstance(raw[0], list | tuple):
        return [(float(score), member) for member, score in raw]
    return [(float(score), member) for member, score in zip(raw[::2], raw[1::2], strict=True)]


class ShardedIndex:
    def __init__(self, trips: RoundTrips, shards: list[str]) -> None:
        self.trips = trips
        self.shards = shards

    async def count(self) -> int:
        return sum(await self.trips.run([("ZCARD", key) for key in self.shards]))

    async def page(self, offset: int, limit: int, newest_first: bool) -> list[str]:
        """Members ``offset`` to ``offset + limit`` in score order (highest
        first if ``newest_first``)."""
        if limit <= 0:
            return []
        steps: list[Step] = [
            _range(key, 0, offset + limit - 1, newest_first) for key in self.shards
        ]
        merged = sorted(
            (e for raw in await self.trips.run(steps) for e in _entries(raw)),
            reverse=newest_first,
        )
        return [member.decode() for _, member in merged[offset : offset + limit]]

    async def batches(self, size: int, newest_first: bool) -> AsyncIterator[list[str]]:
        """Every member in score order, ``size`` at a time; each shard is read
        a page at a time, so memory stays at ``size`` per shard. A member added
        or removed meanwhile may shift a shard's pages (a caller that must not
        see one twice keeps what it saw)."""
        n = len(self.shards)
        buffers: list[deque[Entry]] = [deque() for _ in range(n)]
        read, finished = [0] * n, [False] * n
        while True:
            empty = [i for i in range(n) if not buffers[i] and not finished[i]]
            if empty:
                steps = [
                    _range(self.shards[i], read[i], read[i] + size - 1, newest_first) for i in empty
                ]
                for i, raw in zip(empty, await self.trips.run(steps), strict=True):
                    entries = _entries(raw)
                    buffers[i].extend(entries)
                    read[i] += len(entries)
                    finished[i] = len(entries) < size
            batch: list[str] = []
            while len(batch) < size:
                heads = [i for i in range(n) if buffers[i]]
                if not heads:
                    break
                pick = (max if newest_first else min)(heads, key=lambda i: buffers[i][0])
                batch.append(buffers[pick].popleft()[1].decode())
                if not buffers[pick] and not finished[pick]:
                    break  # its next page may hold what comes next
            if not batch:
                return
            yield batch

    async def due(self, max_score: float, limit: int) -> list[Entry]:
        """The ``limit`` entries of lowest score up to ``max_score``."""
        steps: list[Step] = [
            ("ZRANGEBYSCORE", key, "-inf", max_score, "WITHSCORES", "LIMIT", 0, limit)
            for key in self.shards
        ]
        merged = sorted(e for raw in await self.trips.run(steps) for e in _entries(raw))
        return merged[:limit]

    async def lex_range(self, low: str, high: str) -> list[bytes]:
        """Members between ``low`` and ``high`` (ZRANGEBYLEX syntax), in
        lexicographic order: for shards whose members all score 0."""
        replies = await self.trips.run([("ZRANGEBYLEX", key, low, high) for key in self.shards])
        return sorted(member for raw in replies for member in raw)


def _range(key: str, start: int, stop: int, reverse: bool) -> Step:
    if reverse:
        return ("ZRANGE", key, start, stop, "REV", "WITHSCORES")
    return ("ZRANGE", key, start, stop, "WITHSCORES")
