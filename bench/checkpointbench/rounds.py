"""How samples are taken: savers and points in interleaved, shuffled rounds,
and bulk work with bounded concurrency."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

Log = Callable[[str], None]
Sample = Callable[[bool], Awaitable[None]]  # takes one sample; keeps it when passed True


async def gather_limited(factories: Sequence[Callable[[], Awaitable[Any]]], limit: int) -> None:
    if limit <= 1:
        for make in factories:
            await make()
        return
    it = iter(factories)

    async def worker() -> None:
        for make in it:
            await make()

    await asyncio.gather(*(worker() for _ in range(min(limit, len(factories)))))


async def interleaved(
    groups: dict[str, list[Sample]], rounds: int, warmup: int, block: int, rng: random.Random
) -> None:
    """``rounds`` samples of every case, the first ``warmup`` discarded. The
    savers take turns in blocks of ``block`` rounds (shuffled order per turn), so
    drift on the machine hits them alike while one saver's after-effects (an
    fsync's journal commit on the other core, caches) seldom land on another's
    samples; within a block the cases of one saver (the points compared by the
    flatness checks) alternate in a shuffled order every round."""
    done = 0
    while done < rounds:
        n = min(block, rounds - done)
        turns = list(groups)
        rng.shuffle(turns)
        for name in turns:
            for i in range(n):
                cases = groups[name][:]
                rng.shuffle(cases)
                for case in cases:
                    await case(done + i >= warmup)
        done += n
