"""What keeps storage bounded, run by every executor: Store items whose TTL
ran out, and threads idle for longer than their TTL (deleted with their runs
and checkpoints, or, with ``keep_latest``, pruned to their latest
checkpoints). Every step is idempotent, so executors sweeping at once only
repeat each other's work."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from relaygraph.config import ThreadTTL
from relaygraph.crons import Crons
from relaygraph.runs import ForgetOutcome
from relaygraph.store import RedisStore
from relaygraph.threads import TTL_FIELDS, Threads, ttl_of
from relaygraph_executor.graph_io import INFRA_ERRORS

log = logging.getLogger("relaygraph.executor")
_LOOKED_AT = ("status", "updated_at", *TTL_FIELDS)


async def sweep_store(store: RedisStore, interval: float) -> None:
    """Delete Store items whose TTL ran out, forever."""
    while True:
        await asyncio.sleep(interval)
        try:
            while await store.sweep() > 0:
                pass
        except INFRA_ERRORS as exc:
            log.warning("store sweep skipped: %s", exc)


async def sweep_threads_forever(
    threads: Threads, saver: BaseCheckpointSaver[Any], ttl: ThreadTTL
) -> None:
    while True:
        await asyncio.sleep(ttl.sweep_interval_minutes * 60)
        try:
            # A full sweep means more are due: go on at once, or deletions
            # fall behind a steady stream of new threads.
            while True:
                looked_at, removed = await sweep_threads(threads, saver, ttl)
                if removed:
                    log.info("deleted %d thread(s) idle for longer than their TTL", removed)
                if looked_at < ttl.sweep_limit:
                    break
        except INFRA_ERRORS as exc:
            log.warning("thread TTL sweep skipped: %s", exc)


async def sweep_threads(
    threads: Threads, saver: BaseCheckpointSaver[Any], ttl: ThreadTTL, width: int = 64
) -> tuple[int, int]:
    """Look at every thread due now (``width`` at a time: their commands go
    out together); how many were looked at, and how many deleted."""
    due = await threads.due(ttl.sweep_limit)
    deleted = 0
    for start in range(0, len(due), width):
        outcomes = await asyncio.gather(
            *(_sweep_one(threads, saver, ttl, t) for t in due[start : start + width])
        )
        deleted += sum(outcomes)
    return len(due), deleted


async def _sweep_one(
    threads: Threads, saver: BaseCheckpointSaver[Any], ttl: ThreadTTL, thread_id: str
) -> bool:
    """Whether the thread was deleted (else it is rescheduled or forgotten)."""
    found = await threads.rows([thread_id], _LOOKED_AT)
    row = found[0] if found else {}
    own = ttl_of(row, ttl)
    if own is None or "updated_at" not in row:  # gone, or no TTL any more
        await threads.forget_expiry(thread_id)
        return False
    minutes = own.minutes
    if row.get("status") == b"busy":  # its run's end starts the clock again
        await threads.reschedule(thread_id, minutes)
        return False
    idle_since = datetime.fromisoformat(row["updated_at"].decode()).timestamp()
    left = idle_since + minutes * 60 - time.time()
    if left > 0:  # updated since it was scheduled
        await threads.reschedule(thread_id, left / 60)
        return False
    if own.strategy == "keep_latest":
        await saver.aprune([thread_id], strategy="keep_latest")
        await threads.reschedule(thread_id, minutes)
        return False
    outcome = await threads.expire(thread_id, row["updated_at"])
    if outcome is ForgetOutcome.FORGOTTEN:
        await Crons(threads.redis, threads.keys).delete_of_thread(thread_id)
        await saver.adelete_thread(thread_id)
        return True
    if outcome in (ForgetOutcome.BUSY, ForgetOutcome.CHANGED, ForgetOutcome.RACED):
        await threads.reschedule(thread_id, minutes)
    return False
