"""The reviewer through NATS trouble: a restarted server (JetStream on disk)
still delivers every interrupt, and a server gone at shutdown is no crash."""

from __future__ import annotations

import nats
import pytest

from relaygraph.contracts import encode
from relaygraph.streams import ensure_stream, interrupts_stream_config
from relaygraph.subjects import Subjects
from relaygraph_dev.servers import nats_server
from tests.reviewer.conftest import STREAM_BYTES

pytestmark = pytest.mark.integration


async def _publish(url: str, subjects: Subjects, event) -> None:
    client = await nats.connect(url)
    try:
        js = client.jetstream()
        await ensure_stream(js, interrupts_stream_config(subjects, max_bytes=STREAM_BYTES))
        await js.publish(
            subjects.interrupts(event.graph_id, event.thread_id),
            encode(event),
            headers={"Nats-Msg-Id": f"{event.thread_id}:{event.checkpoint_id}"},
        )
    finally:
        await client.close()


async def test_interrupts_published_across_a_nats_restart_all_arrive(
    tmp_path, start_reviewer, subjects, event_factory, eventually
):
    server = nats_server(tmp_path / "nats").start()
    try:
        before, after = event_factory(), event_factory()
        async with start_reviewer(nats_url=server.url) as reviewer:
            await _publish(server.url, subjects, before)

            async def first():
                assert [i["thread_id"] for i in await reviewer.pending()] == [before.thread_id]

            await eventually(first)
            server.restart()
            await _publish(server.url, subjects, after)

            async def both():
                threads = {i["thread_id"] for i in await reviewer.pending()}
                assert threads == {before.thread_id, after.thread_id}

            await eventually(both, within=30.0)
    finally:
        server.stop()


async def test_nats_gone_at_shutdown_is_a_clean_stop(tmp_path, start_reviewer):
    server = nats_server(tmp_path / "nats").start()
    try:
        async with start_reviewer(nats_url=server.url) as reviewer:
            assert await reviewer.pending() == []
            server.kill()
    finally:
        server.stop()
