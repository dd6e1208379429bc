"""Interrupt deadlines (which LangGraph Server does not have): an interrupt
whose value says ``timeout_s`` and ``on_timeout`` is resumed with that
default once the time passes, exactly once, even when a person's answer
races it (one wins, the other gets a 409), and after a reviewer restart."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import chromium_page
from tests.system import ReviewerProcess, System, assert_eventually

pytestmark = pytest.mark.e2e
SCREENSHOT = Path("/tmp/reviewer-inbox-send-email.png")


@pytest.fixture
def inbox(system: System) -> Iterator[ReviewerProcess]:
    with system.reviewer("deadlines", REVIEWER_API_URL=system.url) as reviewer:
        yield reviewer


async def _paused(c: Any, timeout_s: float) -> str:
    tid = (await c.threads.create())["thread_id"]
    out = await c.runs.wait(tid, "deadline", input={"timeout_s": timeout_s})
    assert out["__interrupt__"][0]["value"]["on_timeout"] == "default"
    return str(tid)


async def _paused_at(c: Any, timeout_s: float) -> tuple[str, float]:
    tid = await _paused(c, timeout_s)
    return tid, time.monotonic()


async def _outcome(c: Any, tid: str) -> str:
    """The send_email thread's outcome, once it ran to its end."""
    state = await c.threads.get_state(tid)
    assert not state["next"], state
    return str(state["values"]["outcome"])


async def _resumed_once(c: Any, tid: str) -> str:
    """The thread's answer, once it is resumed; it was resumed by one run."""

    async def done() -> str:
        state = await c.threads.get_state(tid)
        assert not state["next"] and "answer" in state["values"], state
        return str(state["values"]["answer"])

    answer = await assert_eventually(done, 20)
    runs = await c.runs.list(tid)
    assert len(runs) == 2, runs  # the run that paused, and one resume
    return answer


async def test_an_unanswered_interrupt_is_resumed_with_its_default(
    c: Any, inbox: ReviewerProcess
) -> None:
    tid = await _paused(c, 1.0)
    assert await _resumed_once(c, tid) == "default"
    async with httpx.AsyncClient(base_url=inbox.url, timeout=10) as http:
        answered = [a for a in (await http.get("/api/answered")).json() if a["thread_id"] == tid]
        audit = (await http.get("/api/audit")).json()["entries"]
    assert [a["reviewer"] for a in answered] == ["deadline"]
    [entry] = [e for e in audit if e["thread_id"] == tid]  # the audit keeps who, what, which
    runs = await c.runs.list(tid)
    assert entry["reviewer"] == "deadline" and entry["answer"] == "default"
    assert entry["interrupt_ids"] == [answered[0]["interrupts"][0]["id"]]
    assert entry["run_id"] == runs[0]["run_id"] and entry["graph_id"] == "deadline"


async def test_a_person_racing_the_deadline_either_wins_or_gets_a_conflict(
    c: Any, inbox: ReviewerProcess
) -> None:
    paused = await asyncio.gather(*(_paused_at(c, 1.0) for _ in range(10)))
    threads = [tid for tid, _ in paused]
    rng = random.Random(7)

    async with httpx.AsyncClient(base_url=inbox.url, timeout=15) as http:

        async def listed(tid: str) -> str:
            r = await http.get(f"/api/interrupts/{tid}")
            assert r.status_code == 200, r.text
            return str(r.json()["msg_id"])

        msg_ids = [await assert_eventually(lambda tid=tid: listed(tid), 10) for tid in threads]

        async def person(tid: str, at: float, msg_id: str) -> int:
            # From just before the deadline to just after it.
            await asyncio.sleep(max(0.0, at + rng.uniform(0.8, 1.6) - time.monotonic()))
            r = await http.post(
                f"/api/interrupts/{tid}/resume",
                json={"resume": "person", "reviewer": "p", "msg_id": msg_id},
            )
            assert r.status_code in (200, 409), r.text
            if r.status_code == 409:
                assert "already answered by deadline" in r.json()["detail"], r.text
            return r.status_code

        codes = await asyncio.gather(
            *(person(tid, at, m) for (tid, at), m in zip(paused, msg_ids, strict=True))
        )
        answers = [await _resumed_once(c, tid) for tid in threads]
        recent = (await http.get("/api/answered", params={"limit": 200})).json()
    for tid, code, answer in zip(threads, codes, answers, strict=True):
        assert answer == ("person" if code == 200 else "default"), (tid, code, answer)
        by = [a["reviewer"] for a in recent if a["thread_id"] == tid]
        assert by == (["p"] if code == 200 else ["deadline"]), (tid, code, by)


async def test_a_deadline_that_passed_while_the_reviewer_was_down(
    c: Any, inbox: ReviewerProcess
) -> None:
    tid = await _paused(c, 2.0)

    async with httpx.AsyncClient(base_url=inbox.url, timeout=10) as http:

        async def recorded() -> None:
            assert (await http.get(f"/api/interrupts/{tid}")).status_code == 200

        await assert_eventually(recorded, 10)
    inbox.kill()  # kill -9 before the deadline
    await asyncio.sleep(2.5)
    assert (await c.threads.get(tid))["status"] == "interrupted"
    inbox.start()  # the same durable: it finds the deadline passed
    assert await _resumed_once(c, tid) == "default"


async def test_an_interrupt_answered_elsewhere_leaves_the_inbox(
    c: Any, inbox: ReviewerProcess
) -> None:
    tid = await _paused(c, 3600.0)
    async with httpx.AsyncClient(base_url=inbox.url, timeout=10) as http:

        async def listed() -> None:
            assert (await http.get(f"/api/interrupts/{tid}")).status_code == 200

        await assert_eventually(listed, 10)
        await c.runs.wait(tid, "deadline", command={"resume": "over http"})

        async def gone() -> None:
            assert (await http.get(f"/api/interrupts/{tid}")).status_code == 404
            answered = [
                a for a in (await http.get("/api/answered")).json() if a["thread_id"] == tid
            ]
            assert [a["reviewer"] for a in answered] == ["(answered elsewhere)"], answered

        await assert_eventually(gone, 10)


async def test_agent_inbox_responses_and_deadlines_drive_the_example(
    c: Any, inbox: ReviewerProcess
) -> None:
    """``examples/graphs/send_email.py``: a HumanInterrupt answered through the
    inbox with an edit, and another left to its deadline (ignore)."""
    edited_tid = (await c.threads.create())["thread_id"]
    await c.runs.wait(edited_tid, "send_email", input={"to": "ann@example.com"})
    timed_tid = (await c.threads.create())["thread_id"]
    await c.runs.wait(timed_tid, "send_email", input={"to": "ann@example.com", "timeout_s": 1})
    async with httpx.AsyncClient(base_url=inbox.url, timeout=10) as http:

        async def listed() -> dict[str, Any]:
            r = await http.get(f"/api/interrupts/{edited_tid}")
            assert r.status_code == 200, r.text
            return dict(r.json())

        item = await assert_eventually(listed, 10)
        request = item["interrupts"][0]["value"][0]["action_request"]
        edit = {"action": request["action"], "args": {**request["args"], "to": "bob@example.com"}}
        r = await http.post(
            f"/api/interrupts/{edited_tid}/resume",
            json={"resume": [{"type": "edit", "args": edit}], "reviewer": "ann"},
        )
        assert r.status_code == 200, r.text

    assert await assert_eventually(lambda: _outcome(c, edited_tid), 20) == (
        "sent to bob@example.com (edited)"
    )
    assert await assert_eventually(lambda: _outcome(c, timed_tid), 20) == "not sent"


async def test_each_interrupt_shows_what_led_to_it(c: Any, inbox: ReviewerProcess) -> None:
    """The thread's latest messages (here the agent's tool call), collapsed,
    and how long ago it paused."""
    tid = (await c.threads.create())["thread_id"]
    await c.runs.wait(
        tid,
        "review",
        input={"messages": [{"role": "user", "content": "what's the weather in sf?"}]},
    )
    async with httpx.AsyncClient(base_url=inbox.url, timeout=10) as http:

        async def shown() -> str:
            page = (await http.get("/")).text
            assert f"thread-{tid}" in page
            return page

        page = await assert_eventually(shown, 10)
    card = page.split(f'id="thread-{tid}"', 1)[1].split("</article>", 1)[0]
    assert '<details class="context"><summary>What led here (2 messages)' in card, card
    assert "what&#x27;s the weather in sf?" in card and "weather_search" in card
    assert " s ago)" in card or " min ago)" in card
    # Its history, read from the API (REVIEWER_API_URL).
    assert f'href="threads/{tid}/history"' in card
    async with httpx.AsyncClient(base_url=inbox.url, timeout=10) as http:
        history = await http.get(f"/threads/{tid}/history")
        missing = await http.get(f"/threads/{uuid.uuid4()}/history")
    assert history.status_code == 200, history.text
    assert history.text.count("<tr>") >= 3 and "human_review_node" in history.text
    assert missing.status_code == 404


async def test_a_person_answers_real_threads_in_chromium(
    c: Any, inbox: ReviewerProcess, chromium: str
) -> None:
    """The example's HumanInterrupts, answered in the browser: Accept sends the
    draft, Edit sends it to another address, a reply and Ignore do not send it;
    each real thread runs on with that HumanResponse."""
    from playwright.async_api import expect

    accepted = (await c.threads.create())["thread_id"]
    edited = (await c.threads.create())["thread_id"]
    replied = (await c.threads.create())["thread_id"]
    ignored = (await c.threads.create())["thread_id"]
    for tid in (accepted, edited, replied, ignored):
        await c.runs.wait(tid, "send_email", input={"to": "ann@example.com"})
    async with chromium_page(chromium, viewport={"width": 1100, "height": 900}) as (page, _):
        await page.goto(inbox.url + "/")
        await expect(page.locator(f"#thread-{edited}")).to_be_visible(timeout=10_000)
        await page.locator(f"#thread-{accepted} button", has_text="Accept").click()
        await expect(page.locator(".flash.ok")).to_contain_text("Resumed thread")
        card = page.locator(f"#thread-{edited}")
        await card.locator("details.context summary").click()
        await card.locator('fieldset.args input[value="ann@example.com"]').fill("bob@example.com")
        await page.screenshot(path=str(SCREENSHOT), full_page=True)
        await card.locator("button", has_text="Send edited").click()
        await expect(page.locator(f"#thread-{edited}")).to_have_count(0)
        card = page.locator(f"#thread-{replied}")
        await card.locator("textarea").fill("Wait for the figures.")
        await card.locator("button", has_text="Send reply").click()
        await expect(page.locator(f"#thread-{replied}")).to_have_count(0)
        await page.locator(f"#thread-{ignored} button", has_text="Ignore").click()
        await expect(page.locator(f"#thread-{ignored}")).to_have_count(0)

    assert await assert_eventually(lambda: _outcome(c, accepted), 20) == "sent to ann@example.com"
    assert await assert_eventually(lambda: _outcome(c, edited), 20) == (
        "sent to bob@example.com (edited)"
    )
    assert await assert_eventually(lambda: _outcome(c, replied), 20) == (
        "not sent: Wait for the figures."
    )
    assert await assert_eventually(lambda: _outcome(c, ignored), 20) == "not sent"


async def test_a_person_on_a_stale_page_learns_the_deadline_answered_first(
    c: Any, inbox: ReviewerProcess, chromium: str
) -> None:
    """The deadline race as a person meets it: a page that does not update
    (scripts off), Accept pressed after the default resumed the thread: the
    page says who answered, and the thread ran once."""
    from playwright.async_api import expect

    tid = (await c.threads.create())["thread_id"]
    await c.runs.wait(tid, "send_email", input={"to": "ann@example.com", "timeout_s": 1.5})
    async with chromium_page(chromium, java_script_enabled=False) as (page, _):

        async def listed() -> None:
            await page.goto(inbox.url + "/")
            assert await page.locator(f"#thread-{tid}").count() == 1

        await assert_eventually(listed, 10)

        assert await assert_eventually(lambda: _outcome(c, tid), 20) == "not sent"
        await page.locator(f"#thread-{tid} button", has_text="Accept").click()
        await expect(page.locator(".flash.err")).to_contain_text("already answered by deadline")
    assert len(await c.runs.list(tid)) == 2
