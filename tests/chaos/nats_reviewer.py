"""The chaos workload's reviewer: it answers every interrupt of the `chaos`
graph over NATS (``relaygraph.resume.<thread_id>``), sometimes twice, through
NATS and Redis restarts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections import Counter
from typing import Any

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy


def answer_for(n: int) -> str:
    return f"ok-{n}"


class Reviewer:
    """Answers every `chaos` interrupt over NATS, with a duplicate now and then."""

    def __init__(self, urls: list[str], duplicate_rate: float) -> None:
        self.urls = urls
        self.duplicate_rate = duplicate_rate
        self.seen: Counter[str] = Counter()
        self.answered: set[str] = set()
        self.duplicates = 0

    async def run(self, stop: asyncio.Event) -> None:
        async def quiet(exc: Exception) -> None:  # NATS restarts are the point here
            pass

        nc = await nats.connect(
            servers=self.urls, max_reconnect_attempts=-1, reconnect_time_wait=0.2, error_cb=quiet
        )
        try:
            js = nc.jetstream()
            durable = f"chaos-{uuid.uuid4().hex[:8]}"
            await js.add_consumer(
                "RELAYGRAPH_INTERRUPTS",
                ConsumerConfig(
                    durable_name=durable,
                    filter_subject="relaygraph.interrupts.chaos.*",
                    deliver_policy=DeliverPolicy.ALL,
                    ack_policy=AckPolicy.EXPLICIT,
                    ack_wait=10,
                ),
            )
            sub = await js.pull_subscribe_bind(durable, "RELAYGRAPH_INTERRUPTS")
            while not stop.is_set():
                try:
                    msgs = await sub.fetch(32, timeout=0.5)
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                except Exception:
                    await asyncio.sleep(0.2)
                    continue
                await asyncio.gather(*(self._answer(nc, m) for m in msgs))
        finally:
            with contextlib.suppress(Exception):
                await nc.close()

    async def _answer(self, nc: Any, msg: Any) -> None:
        event = json.loads(msg.data)
        tid = event["thread_id"]
        self.seen[tid] += 1
        n = event["interrupts"][0]["value"]["n"]
        body = json.dumps({"resume": answer_for(n), "reviewer": "chaos"}).encode()
        sends = 2 if random.random() < self.duplicate_rate else 1
        self.duplicates += sends - 1
        for _ in range(sends):
            for _ in range(50):  # through NATS and Redis restarts
                try:
                    reply = json.loads(
                        (await nc.request(f"relaygraph.resume.{tid}", body, timeout=5)).data
                    )
                except Exception:
                    await asyncio.sleep(0.2)
                    continue
                if "run_id" in reply or reply["error"]["code"] in ("bad_request", "conflict"):
                    break  # conflict/bad_request: an earlier answer already went through
                await asyncio.sleep(0.2)
        self.answered.add(tid)
        with contextlib.suppress(Exception):
            await msg.ack()
