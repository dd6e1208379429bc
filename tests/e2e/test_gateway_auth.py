"""A gateway with ``RELAYGRAPH_API_KEY`` set refuses every request without the
key but ``/ok`` and the API descriptions (OpenAPI, AsyncAPI), on the fast
routes (threads create, runs wait) as on the others, and serves the same
answers with it (``x-api-key`` or ``Authorization: Bearer``).
A second gateway process beside the session's system, on its NATS and Redis."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.system import System

KEY = "s3cret-key"


@pytest.fixture(scope="module")
def guarded(system: System) -> Iterator[str]:
    with system.another_gateway("gateway-auth", RELAYGRAPH_API_KEY=KEY) as url:
        yield url


async def test_every_route_but_ok_and_docs_wants_the_key(guarded: str) -> None:
    async with httpx.AsyncClient(base_url=guarded, timeout=30) as http:
        assert (await http.get("/ok")).status_code == 200
        assert (await http.get("/docs")).status_code == 200
        assert (await http.get("/openapi.json")).status_code == 200  # open, as documented
        # The NATS API's description is open too, as the page that shows it.
        asyncapi = await http.get("/asyncapi.json")
        assert asyncapi.status_code == 200 and asyncapi.json()["asyncapi"], asyncapi.text
        page = await http.get("/asyncapi")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        refused = [
            await http.post("/threads", json={}),
            await http.post("/threads", json={}, headers={"x-api-key": "wrong"}),
            await http.post("/threads/x/runs/wait", json={"assistant_id": "agent"}),
            await http.post("/runs/wait", json={"assistant_id": "agent"}),
            await http.post("/threads/search", json={}),
            await http.get("/threads/x"),
        ]
        for r in refused:
            assert r.status_code == 401, r.text
            assert r.json() == {"detail": "Missing or wrong API key (x-api-key header)"}


async def test_with_the_key_the_api_answers(guarded: str) -> None:
    for headers in ({"x-api-key": KEY}, {"Authorization": f"Bearer {KEY}"}):
        async with httpx.AsyncClient(base_url=guarded, timeout=30, headers=headers) as http:
            r = await http.post("/threads", json={})
            assert r.status_code == 200, r.text
            tid = r.json()["thread_id"]
            r = await http.post(
                f"/threads/{tid}/runs/wait",
                json={"assistant_id": "agent", "input": {"some_text": "hi"}},
            )
            assert r.status_code == 200, r.text
            assert r.json()["__interrupt__"][0]["value"] == {"text_to_revise": "hi"}
            r = await http.get(f"/threads/{tid}")
            assert r.json()["status"] == "interrupted"
            # A body the fast route cannot take gets FastAPI's answer, key checked first.
            r = await http.post(f"/threads/{tid}/runs/wait", json={"input": {}})
            assert r.status_code == 422 and "assistant_id" in r.json()["detail"], r.text
            r = await http.post(
                f"/threads/{tid}/runs/wait",
                content=b"{not json",
                headers={"content-type": "application/json"},
            )
            assert r.status_code == 422 and "not valid JSON" in r.json()["detail"], r.text
