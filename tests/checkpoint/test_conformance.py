"""langgraph-checkpoint-conformance against the Redis savers: FULL, every
capability (base and extended) detected and passing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import Capability
from langgraph.checkpoint.conformance.report import ProgressCallbacks

from relaygraph.checkpoint import AsyncRedisSaver, RedisSaver
from tests.checkpoint.conftest import Target


@pytest.mark.parametrize("kind", ["async", "async-ttl", "sync"])
async def test_conformance_full(target: Target, kind: str) -> None:
    prefix = f"conf{uuid4().hex[:8]}"
    ttl = 600.0 if kind == "async-ttl" else None

    @checkpointer_test(name=f"redis-{kind}")
    async def factory() -> AsyncIterator[AsyncRedisSaver | RedisSaver]:
        if kind == "sync":
            with RedisSaver.from_conn_string(
                target.url, key_prefix=prefix, cluster=target.cluster
            ) as saver:
                yield saver
        else:
            async with AsyncRedisSaver.from_conn_string(
                target.url, key_prefix=prefix, ttl=ttl, cluster=target.cluster
            ) as saver:
                yield saver

    report = await validate(factory, progress=ProgressCallbacks.verbose())
    report.print_report()
    assert report.conformance_level() == "FULL", report.to_dict()
    for cap in Capability:
        result = report.results[cap.value]
        assert result.detected and result.passed is True, (cap, result)
        assert result.tests_failed == 0 and result.tests_passed > 0, (cap, result)
