"""The ``http`` section of langgraph.json, as LangGraph Server applies it:
CORS (any origin by default; ``http.cors`` as Starlette reads it), a custom
FastAPI app (``http.app``) served before the API and listed in
``/openapi.json``, and ``http.disable_*``. A browser (headless Chromium) on
another origin calls the API, and the API key is still enforced.

A second gateway beside the session's system, on its NATS and Redis, with a
config of its own."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import async_playwright

from relaygraph_dev.servers import free_port
from tests.conftest import CHROMIUM_ARGS
from tests.system import System, graphs_config

pytestmark = pytest.mark.e2e
KEY = "cors-key"
ALLOWED = "http://allowed.test"
CUSTOM_APP = '''
from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
async def hello() -> dict:
    """Says hello."""
    return {"hello": "world"}


@app.post("/threads/search")
async def shadowed() -> list:
    return [{"shadowed": True}]


@app.get("/ok")
async def not_ours() -> dict:
    return {"ok": False}
'''


@pytest.fixture(scope="module")
def custom(system: System, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    project = Path(tmp_path_factory.mktemp("custom-http"))
    (project / "app.py").write_text(CUSTOM_APP)
    config = graphs_config(
        project,
        http={
            "app": "./app.py:app",
            "cors": {
                "allow_origins": [ALLOWED],
                "allow_credentials": True,
                "allow_methods": ["GET", "POST"],
                "allow_headers": ["x-api-key", "content-type"],
                "max_age": 77,
            },
            "disable_store": True,
        },
    )
    with system.another_gateway("gateway-custom-http", config, RELAYGRAPH_API_KEY=KEY) as url:
        yield url


def test_default_cors_allows_any_origin(system: System) -> None:
    pre = httpx.options(
        f"{system.url}/threads/search",
        headers={
            "Origin": "http://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-api-key",
        },
    )
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == "*"
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert pre.headers["access-control-allow-headers"] == "content-type,x-api-key"
    assert pre.headers["access-control-max-age"] == "600"
    r = httpx.post(
        f"{system.url}/threads/search", json={"limit": 1}, headers={"Origin": "http://app.example"}
    )
    assert r.headers["access-control-allow-origin"] == "*"
    exposed = r.headers["access-control-expose-headers"]
    assert {h.strip() for h in exposed.split(",")} == {
        "x-pagination-total",
        "x-pagination-next",
        "content-location",
    }


def test_configured_cors_and_the_key(custom: str) -> None:
    asked = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-api-key"}
    pre = httpx.options(f"{custom}/threads", headers={"Origin": ALLOWED, **asked})
    assert pre.status_code == 200  # a preflight carries no key, and needs none
    assert pre.headers["access-control-allow-origin"] == ALLOWED
    assert pre.headers["access-control-allow-credentials"] == "true"
    assert pre.headers["access-control-max-age"] == "77"
    refused = httpx.options(f"{custom}/threads", headers={"Origin": "http://other.test", **asked})
    assert refused.status_code == 400
    no_key = httpx.post(f"{custom}/threads", json={}, headers={"Origin": ALLOWED})
    assert no_key.status_code == 401
    assert no_key.headers["access-control-allow-origin"] == ALLOWED  # the browser can read why
    made = httpx.post(f"{custom}/threads", json={}, headers={"Origin": ALLOWED, "x-api-key": KEY})
    assert made.status_code == 200 and made.json()["thread_id"]


def test_custom_routes_come_first_and_groups_can_be_turned_off(custom: str) -> None:
    auth = {"x-api-key": KEY}
    assert httpx.get(f"{custom}/hello", headers=auth).json() == {"hello": "world"}
    assert httpx.get(f"{custom}/hello").status_code == 401  # the key guards custom routes too
    assert httpx.post(f"{custom}/threads/search", json={}, headers=auth).json() == [
        {"shadowed": True}
    ]
    assert httpx.get(f"{custom}/ok").json() == {"ok": True}  # never the custom app's
    paths = httpx.get(f"{custom}/openapi.json").json()["paths"]
    assert paths["/hello"]["get"]["summary"] == "Hello"
    assert "/assistants/search" in paths
    store = httpx.put(
        f"{custom}/store/items", json={"namespace": ["a"], "key": "k", "value": {}}, headers=auth
    )
    assert store.status_code == 404
    assert httpx.get(f"{custom}/info", headers=auth).json()["flags"]["store"] is False
    # the API's own routes are still served
    assert httpx.post(f"{custom}/assistants/search", json={}, headers=auth).status_code == 200


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>app</title><p>an app on another origin</p>"
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def page_origin() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


CALL = """async (url) => {
  try {
    const r = await fetch(url, {method: "POST", headers: {"content-type": "application/json"},
                                body: JSON.stringify({limit: 1})});
    return {status: r.status, total: r.headers.get("x-pagination-total"),
            items: (await r.json()).length};
  } catch (e) { return {blocked: String(e)}; }
}"""


async def test_a_page_on_another_origin_calls_the_api(
    system: System, custom: str, page_origin: str, chromium: str
) -> None:
    async with httpx.AsyncClient() as http:
        await http.post(f"{system.url}/threads", json={})  # at least one thread
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page()
            await page.goto(page_origin)
            allowed = await page.evaluate(CALL, f"{system.url}/threads/search")
            assert allowed["status"] == 200 and allowed["items"] == 1
            assert allowed["total"] is not None  # an exposed header the page can read
            blocked = await page.evaluate(CALL, f"{custom}/threads/search")
            assert "Failed to fetch" in blocked["blocked"]  # that gateway allows one origin only
        finally:
            await browser.close()
