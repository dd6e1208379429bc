"""The README's NATS permissions for a reviewer, on a real nats-server: the
reviewer of the ``billing`` graph reads that graph's interrupts and sends
resumes, and nothing more (no other graph's interrupts, no run requests)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.js.api import ConsumerConfig

from relaygraph.streams import ensure_stream, interrupts_stream_config
from relaygraph.subjects import Subjects
from relaygraph_dev.servers import nats_server

pytestmark = pytest.mark.integration
README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_block() -> list[str]:
    """The ``authorization`` block of the README, passwords filled in."""
    text = README.read_text().split("**Keeping reviewers to their own subjects.**", 1)[1]
    block = re.search(r"```\n(authorization \{.*?)\n```", text, re.S)
    assert block is not None, "the README shows the block"
    body = block.group(1).replace("$RELAYGRAPH_PASS", "gw-pass").replace("$BILLING_PASS", "b-pass")
    return [re.sub(r"\s+#.*$", "", line) for line in body.splitlines()]


async def test_a_reviewer_reads_only_its_graphs_interrupts(tmp_path: Path) -> None:
    server = nats_server(tmp_path / "nats", extra=_readme_block()).start()
    try:
        url = f"nats://127.0.0.1:{server.port}"
        main = await nats.connect(url, user="relaygraph", password="gw-pass")
        violations: list[str] = []

        async def on_error(exc: Exception) -> None:
            violations.append(str(exc))

        reviewer = await nats.connect(
            url, user="billing-reviewer", password="b-pass", error_cb=on_error
        )
        try:
            subjects = Subjects()
            js = main.jetstream()
            await ensure_stream(js, interrupts_stream_config(subjects, 1, 8 << 20))
            await js.publish("relaygraph.interrupts.billing.t1", b'{"thread_id":"t1"}')
            await js.publish("relaygraph.interrupts.payroll.t2", b'{"thread_id":"t2"}')

            rjs = reviewer.jetstream()
            mine = await rjs.pull_subscribe(
                "relaygraph.interrupts.billing.>",
                durable="billing-inbox",
                stream=subjects.interrupts_stream,
            )
            [msg] = await mine.fetch(1, timeout=5)
            assert msg.data == b'{"thread_id":"t1"}'
            await msg.ack()

            with pytest.raises((NatsError, asyncio.TimeoutError)):  # a wider consumer
                await rjs.add_consumer(
                    subjects.interrupts_stream,
                    ConsumerConfig(durable_name="all", filter_subject="relaygraph.interrupts.>"),
                    timeout=2,
                )
            with pytest.raises((NatsError, asyncio.TimeoutError)):  # a run request
                await rjs.publish(subjects.run_queue, b"{}", timeout=2)

            # Resumes go through (to the gateway, which checks who sends them).
            answers = await main.subscribe("relaygraph.resume.*", cb=_echo(main))
            await main.flush()
            reply = await _request_until_answered(
                reviewer, "relaygraph.resume.t1", b'{"resume": 1}'
            )
            assert reply.data == b'{"resume": 1}'
            await answers.unsubscribe()
            assert any("permissions violation" in v.lower() for v in violations), violations
        finally:
            await reviewer.close()
            await main.close()
    finally:
        server.stop()


async def _request_until_answered(nc: nats.NATS, subject: str, body: bytes) -> Any:
    """A request, asked again while the server says nobody listens yet (the
    responder's interest can reach it a moment after its flush on a busy
    machine); a permission refusal would be a violation and a timeout instead."""
    for _ in range(25):
        try:
            return await nc.request(subject, body, timeout=5)
        except NoRespondersError:
            await asyncio.sleep(0.2)
    return await nc.request(subject, body, timeout=5)


def _echo(nc: nats.NATS) -> object:
    async def echo(msg: nats.aio.msg.Msg) -> None:
        await nc.publish(msg.reply, msg.data)

    return echo
