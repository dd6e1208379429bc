"""Every public method of the official SDK's async clients is called by some
test of the suite against a real system, or is listed here as not served yet,
with the reason. A new SDK method fails this test until it is one or the
other."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from langgraph_sdk._async.assistants import AssistantsClient
from langgraph_sdk._async.cron import CronClient
from langgraph_sdk._async.runs import RunsClient
from langgraph_sdk._async.store import StoreClient
from langgraph_sdk._async.threads import ThreadsClient

TESTS = Path(__file__).resolve().parents[1]
CLIENTS = {
    "assistants": AssistantsClient,
    "threads": ThreadsClient,
    "store": StoreClient,
    "runs": RunsClient,
    "crons": CronClient,
}
PENDING = {
    "threads.stream": "LangGraph's v3 streaming protocol (/threads/{id}/commands and "
    "/threads/{id}/stream/events): not served",
}


def _public(cls: type) -> list[str]:
    return [n for n, _ in inspect.getmembers(cls, inspect.isfunction) if not n.startswith("_")]


def _suite() -> str:
    return "\n".join(p.read_text() for p in TESTS.rglob("*.py") if p.parent.name != "unit")


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_every_sdk_method_is_exercised_or_pending(client: str) -> None:
    suite = _suite()
    missing = [
        name
        for name in _public(CLIENTS[client])
        if f"{client}.{name}" not in PENDING and not re.search(rf"\.{client}\.{name}\(", suite)
    ]
    assert not missing, f"SDK methods no test calls: {[f'{client}.{m}' for m in missing]}"


def test_nothing_pending_is_exercised_already() -> None:
    """A pending entry goes once a test calls the method."""
    suite = _suite()
    stale = [
        name
        for name in PENDING
        if name.split(".")[1] in _public(CLIENTS[name.split(".")[0]])
        and re.search(rf"\.{re.escape(name)}\(", suite)
    ]
    assert not stale, stale
