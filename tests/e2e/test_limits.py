"""Limits of a public API: the largest body (413, also for a body sent without
``Content-Length``) and a rate per caller (429 with ``Retry-After``), counted
in Redis so two gateways count one caller together."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.system import System

pytestmark = pytest.mark.e2e


async def test_a_body_over_the_limit_is_refused_with_413(system: System) -> None:
    with system.another_gateway("small-bodies", RELAYGRAPH_MAX_BODY_BYTES="2048") as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            small = await http.post("/threads", json={"metadata": {"a": "x" * 100}})
            assert small.status_code == 200, small.text
            big = {"metadata": {"a": "x" * 4096}}
            refused = await http.post("/threads", json=big)
            assert refused.status_code == 413
            assert refused.json() == {"detail": "Request body is larger than 2048 bytes"}

            async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted
                yield b'{"metadata": {"a": "'
                for _ in range(10):
                    yield b"x" * 512
                yield b'"}}'

            streamed = await http.post(
                "/threads/search", content=chunks(), headers={"content-type": "application/json"}
            )
            assert streamed.status_code == 413, streamed.text
            assert (await http.get("/ok")).status_code == 200


async def test_each_caller_has_its_rate_across_gateways(system: System) -> None:
    limited = {"RELAYGRAPH_RATE_LIMIT": "4/min", "RELAYGRAPH_API_KEY": "k"}
    with (
        system.another_gateway("limited-a", **limited) as a,
        system.another_gateway("limited-b", **limited) as b,
    ):
        async with httpx.AsyncClient(timeout=30, headers={"x-api-key": "k"}) as http:
            codes = [
                (await http.post(f"{url}/threads/count", json={})).status_code
                for url in (a, b, a, b)
            ]
            assert codes == [200] * 4
            refused = await http.post(f"{b}/threads/count", json={})
            assert refused.status_code == 429
            assert refused.json()["detail"].startswith("Rate limit exceeded (4 requests per 60 s)")
            assert 1 <= int(refused.headers["retry-after"]) <= 15
            assert (await http.get(f"{a}/ok")).status_code == 200  # health checks are not counted
