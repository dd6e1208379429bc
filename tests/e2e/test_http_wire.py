"""The HTTP wire as curl sees it: SSE framing, headers, status codes and
``{"detail": ...}`` errors for bad input; the services keep serving after each."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.system import System

pytestmark = pytest.mark.e2e


@pytest.fixture
async def http(system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=system.url, timeout=30) as client:
        yield client


async def new_thread(http: httpx.AsyncClient) -> str:
    r = await http.post("/threads", json={})
    assert r.status_code == 200, r.text
    return str(r.json()["thread_id"])


async def test_sse_framing_and_headers(http: httpx.AsyncClient) -> None:
    tid = await new_thread(http)
    body = {
        "assistant_id": "agent",
        "input": {"some_text": "hi"},
        "stream_mode": ["updates", "values"],
    }
    async with http.stream("POST", f"/threads/{tid}/runs/stream", json=body) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = b"".join([chunk async for chunk in r.aiter_raw()])
    loc, content_loc = r.headers["location"], r.headers["content-location"]
    assert loc.startswith(f"/threads/{tid}/runs/") and loc.endswith("/stream")
    run_id = content_loc.rsplit("/", 1)[-1]
    assert content_loc == f"/threads/{tid}/runs/{run_id}"

    assert raw.endswith(b"\r\n\r\n")
    frames = [f for f in raw.split(b"\r\n\r\n") if f]
    events, ids = [], []
    for frame in frames:
        lines = frame.split(b"\r\n")
        assert b"\n" not in frame.replace(b"\r\n", b"")  # every line ends in CRLF
        fields = dict(line.split(b": ", 1) for line in lines)
        events.append((fields[b"event"].decode(), json.loads(fields[b"data"])))
        ids.append(int(fields[b"id"]))
    assert events[0] == ("metadata", {"run_id": run_id, "attempt": 1})
    names = [e for e, _ in events[1:]]
    assert names == ["values", "updates", "values"]
    assert events[2][1]["__interrupt__"][0]["value"] == {"text_to_revise": "hi"}
    assert "end" not in names  # the stream just closes

    # The run can be joined (a finished run: its output) and its stream replayed.
    joined = await http.get(f"/threads/{tid}/runs/{run_id}/join")
    assert joined.json()["__interrupt__"][0]["value"] == {"text_to_revise": "hi"}, joined.text
    assert ids == sorted(set(ids))  # ids grow
    async with http.stream(
        "GET", f"/threads/{tid}/runs/{run_id}/stream", headers={"Last-Event-ID": str(ids[1])}
    ) as r:
        replay = b"".join([chunk async for chunk in r.aiter_raw()])
    assert replay.count(b"event: ") == 2  # the events after the second


async def test_wait_headers_and_error_output(http: httpx.AsyncClient) -> None:
    tid = await new_thread(http)
    r = await http.post(
        f"/threads/{tid}/runs/wait",
        json={
            "assistant_id": "review",
            "input": {"messages": [{"role": "user", "content": "weather in Paris?"}]},
        },
    )
    assert r.status_code == 200
    run_path = r.headers["content-location"]
    assert r.headers["location"] == f"{run_path}/join"
    assert run_path.startswith(f"/threads/{tid}/runs/")
    # An unknown review action makes the node raise: HTTP 200 with __error__, as
    # LangGraph Server does, and the thread is marked error.
    r = await http.post(
        f"/threads/{tid}/runs/wait",
        json={"assistant_id": "review", "command": {"resume": {"action": "?"}}},
    )
    assert r.status_code == 200
    assert r.json()["__error__"]["error"] == "ValueError"
    assert "unknown review action" in r.json()["__error__"]["message"]
    assert (await http.get(f"/threads/{tid}")).json()["status"] == "error"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "detail"),
    [
        ("POST", "/threads", b"{not json", 422, "not valid JSON"),
        ("POST", "/threads", {"metadata": "nope"}, 422, "metadata"),
        ("POST", "/threads", {"thread_id": "a.b>c"}, 422, "thread_id"),
        ("GET", "/threads/00000000-0000-0000-0000-000000000000", None, 404, "not found"),
        (
            "POST",
            "/threads/00000000-0000-0000-0000-000000000000/runs/wait",
            {"assistant_id": "agent", "input": {"some_text": "x"}},
            404,
            "not found",
        ),
        (
            "POST",
            "/runs/wait",
            {"assistant_id": "no-such-graph", "input": {}},
            422,
            "Invalid assistant: 'no-such-graph'",
        ),
        (
            "POST",
            "/runs/wait",
            {"assistant_id": "00000000-0000-0000-0000-000000000001", "input": {}},
            404,
            "Assistant 00000000-0000-0000-0000-000000000001 not found",
        ),
        (
            "POST",
            "/runs/wait",
            {"assistant_id": "agent", "input": {"other": 1}},
            422,
            "not in graph",
        ),
        (
            "POST",
            "/runs/wait",
            {"assistant_id": "agent", "input": {"some_text": 5}},
            422,
            "type string",
        ),
        (
            "POST",
            "/runs/wait",
            {"assistant_id": "agent", "input": {"some_text": "x"}, "command": {"resume": 1}},
            422,
            "not both",
        ),
        (
            "POST",
            "/runs/wait",
            {"assistant_id": "agent", "stream_mode": "bogus"},
            422,
            "stream_mode",
        ),
        ("POST", "/runs/wait", {"input": {}}, 422, "assistant_id"),
        ("POST", "/runs", {"assistant_id": "agent", "after_seconds": -5}, 422, "after_seconds"),
        ("POST", "/runs", {"assistant_id": "agent", "webhook": "https://x.test"}, 422, "Webhook"),
        ("GET", "/assistants/nope", None, 422, "must be a UUID"),
        ("GET", "/assistants/agent/graph?xray=%C2%B3", None, 422, "Invalid xray"),
        ("GET", "/assistants/00000000-0000-0000-0000-000000000001", None, 404, "not found"),
        (
            "POST",
            "/threads/00000000-0000-0000-0000-000000000000/state",
            {"messages": [], "as_node": "ask_human"},
            422,
            "goes under `values`",
        ),
    ],
)
async def test_bad_input_gets_a_clear_4xx(
    http: httpx.AsyncClient, method: str, path: str, body: object, status: int, detail: str
) -> None:
    if isinstance(body, bytes):
        r = await http.request(
            method, path, content=body, headers={"content-type": "application/json"}
        )
    else:
        r = await http.request(method, path, json=body)
    assert r.status_code == status, r.text
    assert detail.lower() in r.json()["detail"].lower()
    assert (await http.get("/ok")).status_code == 200


async def test_resume_of_a_thread_that_is_not_interrupted(http: httpx.AsyncClient) -> None:
    tid = await new_thread(http)
    r = await http.post(
        f"/threads/{tid}/runs/wait", json={"assistant_id": "agent", "command": {"resume": "x"}}
    )
    assert r.status_code == 400
    assert "not interrupted" in r.json()["detail"]
    # The thread is untouched and still usable.
    r = await http.post(
        f"/threads/{tid}/runs/wait", json={"assistant_id": "agent", "input": {"some_text": "ok"}}
    )
    assert r.json()["__interrupt__"][0]["value"] == {"text_to_revise": "ok"}


async def test_resume_of_a_missing_thread_creates_nothing(http: httpx.AsyncClient) -> None:
    before = (await http.post("/threads/count", json={})).json()
    r = await http.post(
        f"/threads/{uuid.uuid4()}/runs/wait",
        json={"assistant_id": "agent", "command": {"resume": "x"}, "if_not_exists": "create"},
    )
    assert r.status_code == 404, r.text
    assert (await http.post("/threads/count", json={})).json() == before


async def test_thread_search_patch_delete(http: httpx.AsyncClient) -> None:
    tag = new_tag = "t-" + (await new_thread(http))[:8]
    r = await http.post("/threads", json={"metadata": {"tag": tag}})
    tid = r.json()["thread_id"]
    found = (await http.post("/threads/search", json={"metadata": {"tag": tag}})).json()
    assert [t["thread_id"] for t in found] == [tid]
    r = await http.patch(f"/threads/{tid}", json={"metadata": {"extra": 1}})
    assert r.json()["metadata"] == {"tag": new_tag, "extra": 1}
    assert (await http.delete(f"/threads/{tid}")).status_code == 204
    assert (await http.get(f"/threads/{tid}")).status_code == 404
    assert (await http.post("/threads", json={"thread_id": tid})).status_code == 200
    assert (await http.post("/threads", json={"thread_id": tid})).status_code == 409
    r = await http.post("/threads", json={"thread_id": tid, "if_exists": "do_nothing"})
    assert r.status_code == 200


async def test_delete_a_finished_run(http: httpx.AsyncClient) -> None:
    tid = await new_thread(http)
    run = (
        await http.post(
            f"/threads/{tid}/runs", json={"assistant_id": "breakpoints", "input": {"input": "d"}}
        )
    ).json()
    await http.get(f"/threads/{tid}/runs/{run['run_id']}/join")
    assert (await http.delete(f"/threads/{tid}/runs/{run['run_id']}")).status_code == 204
    assert (await http.get(f"/threads/{tid}/runs/{run['run_id']}")).status_code == 404
    assert (await http.get(f"/threads/{tid}/runs")).json() == []
