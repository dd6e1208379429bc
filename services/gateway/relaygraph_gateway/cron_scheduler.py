"""Every gateway fires due crons; Redis decides which gateway fires each tick
(``relaygraph.crons``), so it fires once however many gateways run, and a
tick whose gateway died before its run was recorded is fired again by another.

As in the reference, a cron's next fire time is the schedule's first time
after *now*: ticks missed while nothing ran are fired once, not each.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from nats.errors import Error as NatsError

from relaygraph.errors import InvalidInput, RelaygraphError
from relaygraph.redis_client import REDIS_UNAVAILABLE
from relaygraph.runs import now_ms
from relaygraph_gateway.core import Gateway
from relaygraph_gateway.cron_rules import ended, next_fire, run_body, tick_ids

log = logging.getLogger("relaygraph.crons")

BATCH = 100
"""Crons looked at per turn (a full batch: the next turn starts at once)."""

INFRA_ERRORS: tuple[type[Exception], ...] = (*REDIS_UNAVAILABLE, NatsError, OSError)


async def fire(g: Gateway, cron_id: str, tick: int, doc: dict[str, Any] | None) -> None:
    """Make the tick's run (its ids fixed by the tick) from the cron ``doc``;
    the claim is cleared in the same round trip as the run's record, or here
    when the run is refused."""
    if doc is None:  # deleted since it was claimed
        await g.crons.fired(cron_id, tick)
        return
    thread_id, run_id = tick_ids(cron_id, tick)
    try:
        run, _, _ = await g.create_run(
            doc["thread_id"],
            run_body(doc),
            run_id=run_id,
            new_thread_id=thread_id,
            then=[g.crons.fired_step(cron_id, tick)],
        )
    except RelaygraphError as exc:
        if exc.status >= 500:
            raise
        # As in the reference: the tick is used up, the cron goes on.
        log.warning("cron %s: its run at tick %d was refused: %s", cron_id, tick, exc.message)
        await g.crons.fired(cron_id, tick)
        return
    log.info("cron %s fired: run %s on thread %s", cron_id, run["run_id"], run["thread_id"])


async def turn(g: Gateway, grace_ms: int) -> int:
    """Fire what is due now; how many crons were looked at."""
    now = now_ms()
    stalled = await g.crons.stalled(now, BATCH, now + grace_ms)
    for cron_id, tick in stalled:
        log.warning("cron %s: tick %d was claimed but never fired; firing it", cron_id, tick)
        await fire(g, cron_id, tick, await g.crons.get(cron_id))
    due = await g.crons.due(now, BATCH)
    for cron_id, tick in due:
        doc = await g.crons.get(cron_id)
        if doc is None:
            continue
        over = ended(doc, now)
        try:
            upcoming = None if over else next_fire(doc["schedule"], doc["timezone"], now)
        except InvalidInput:  # no date after this one matches (checked when made)
            upcoming = None
        if not await g.crons.claim(cron_id, tick, upcoming, now + grace_ms):
            continue  # another gateway took it, or it changed meanwhile
        if over:
            await g.crons.fired(cron_id, tick)
        else:
            await fire(g, cron_id, tick, doc)
    return len(stalled) + len(due)


async def schedule_forever(g: Gateway, interval: float, grace: float) -> None:
    while True:
        try:
            if await turn(g, int(grace * 1000)) >= BATCH:
                continue
        except INFRA_ERRORS as exc:
            log.warning("cron turn skipped: %s", exc)
        except Exception:
            log.exception("cron turn failed")
        await asyncio.sleep(interval)
