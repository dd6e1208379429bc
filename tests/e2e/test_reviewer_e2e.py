"""The reviewer process against the real system: rules answer what they match,
the inbox shows the rest, and a person's answer resumes the real thread."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REDIS_KINDS, on_redis_kind
from tests.system import System, assert_eventually

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=REDIS_KINDS)
def system(request: pytest.FixtureRequest) -> System:
    """The reviewer (its inbox in Redis) on one Valkey and on a Valkey cluster."""
    return on_redis_kind(request)


@pytest.fixture
def reviewer(system: System, tmp_path: Path) -> Iterator[str]:
    rules = tmp_path / "rules.json"
    rules.write_text(
        json.dumps(
            [{"graph_id": "counter", "match": {"question": "go?"}, "resume": "auto-approved"}]
        )
    )
    with system.reviewer("e2e", REVIEWER_RULES=str(rules)) as reviewer:
        yield reviewer.url
    log = reviewer.svc.log.read_text()
    assert "Traceback" not in log, log


async def test_rules_and_inbox_resume_real_threads(c: Any, reviewer: str) -> None:
    async with httpx.AsyncClient(base_url=reviewer, timeout=10) as inbox:
        # A rule answers the counter graph's question by itself.
        auto = (await c.threads.create())["thread_id"]
        await c.runs.wait(auto, "counter", input={})

        async def auto_answered() -> None:
            t = await c.threads.get(auto)
            assert t["status"] == "idle", t["status"]
            assert t["values"]["answer"] == "auto-approved"

        await assert_eventually(auto_answered, timeout=20)

        # The edit-text interrupt waits in the inbox for a person.
        manual = (await c.threads.create())["thread_id"]
        await c.runs.wait(manual, "agent", input={"some_text": "please edit"})

        async def listed() -> dict[str, Any]:
            items = {i["thread_id"]: i for i in (await inbox.get("/api/interrupts")).json()}
            assert manual in items
            return items[manual]

        item = await assert_eventually(listed, timeout=20)
        assert item["interrupts"][0]["value"] == {"text_to_revise": "please edit"}
        r = await inbox.post(
            f"/api/interrupts/{manual}/resume",
            json={"resume": "edited by a person", "reviewer": "carol"},
        )
        assert r.status_code == 200, r.text
        run_id = r.json()["run_id"]
        assert await c.runs.join(manual, run_id) == {"some_text": "edited by a person"}
        run = await c.runs.get(manual, run_id)
        assert run["metadata"]["reviewer"] == "carol"
        pending = [i["thread_id"] for i in (await inbox.get("/api/interrupts")).json()]
        assert manual not in pending and auto not in pending
