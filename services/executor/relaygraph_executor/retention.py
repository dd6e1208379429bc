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
from relaygraph.store import RedisStore
from relaygraph.threads import Threads
from relaygraph_executor.graph_io import INFRA_ERRORS

log = logging.getLogger("relaygraph.executor")
_LOOKED_AT = ("status", "updated_at", "ttl_strategy", "ttl_minutes")


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
            if removed := await sweep_threads(threads, saver, ttl):
                log.info("deleted %d thread(s) idle for longer than their TTL", removed)
        except INFRA_ERRORS as exc:
            log.warning("thread TTL sweep skipped: %s", exc)


async def sweep_threads(threads: Threads, saver: BaseCheckpointSaver[Any], ttl: ThreadTTL) -> int:
    """Look at every thread due now; how many were deleted."""
    deleted = 0
    for thread_id in await threads.due(ttl.sweep_limit):
        found = await threads.rows([thread_id], _LOOKED_AT)
        row = found[0] if found else {}
        own = row.get("ttl_minutes")
        minutes = float(own) if own else ttl.default_ttl
        if minutes is None or "updated_at" not in row:  # gone, or no TTL any more
            await threads.forget_expiry(thread_id)
            continue
        if row.get("status") == b"busy":  # its run's end starts the clock again
            await threads.reschedule(thread_id, minutes)
            continue
        idle_since = datetime.fromisoformat(row["updated_at"].decode()).timestamp()
        left = idle_since + minutes * 60 - time.time()
        if left > 0:  # updated since it was scheduled
            await threads.reschedule(thread_id, left / 60)
            continue
        strategy = (row.get("ttl_strategy") or ttl.strategy.encode()).decode()
        if strategy == "keep_latest":
            await saver.aprune([thread_id], strategy="keep_latest")
            await threads.reschedule(thread_id, minutes)
            continue
        outcome = await threads.expire(thread_id, row["updated_at"])
        if outcome == "deleted":
            await saver.adelete_thread(thread_id)
            deleted += 1
        elif outcome in ("busy", "changed"):
            await threads.reschedule(thread_id, minutes)
    return deleted
