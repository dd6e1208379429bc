"""The README's route-by-route table says what the gateway serves: each
operation marked served is a route of the gateway's app, and each route of
the app is in the table (as served) or is relaygraph's own."""

from __future__ import annotations

import re
from pathlib import Path

from relaygraph_gateway.app import create_app

ROOT = Path(__file__).resolve().parents[2]
OWN = {("GET", "/asyncapi.json"), ("GET", "/asyncapi"), ("GET", "/openapi.json")}
ROW = re.compile(r"^\| `(GET|POST|PUT|PATCH|DELETE) (\S+)` \| (.+) \|$")


def _table() -> dict[tuple[str, str], str]:
    text = (ROOT / "README.md").read_text().split("### Route by route", 1)[1]
    rows = [ROW.match(line) for line in text.splitlines()]
    return {(m[1], m[2]): m[3] for m in rows if m}


def _routes() -> set[tuple[str, str]]:
    """Every operation the app routes, as its OpenAPI document lists them."""
    app = create_app(ROOT / "tests/graphs/langgraph.json")
    found = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    found |= {("GET", "/docs"), ("GET", "/openapi.json")}  # FastAPI's own
    return found


def test_the_route_table_matches_the_gateway() -> None:
    table, routes = _table(), _routes()
    assert len(table) == 64  # langgraph-api 0.16.7's operations
    served = {op for op, status in table.items() if status == "served"}
    assert served - routes == set(), "marked served, not routed"
    assert routes - served - OWN == set(), "routed, not in the table as served"
