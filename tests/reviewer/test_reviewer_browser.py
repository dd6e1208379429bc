"""A person answers an interrupt in the inbox, in real headless Chromium.

Needs Debian's chromium (``apt-get install -y chromium``). Without it the test
skips, except under ``CI=true`` where it fails: CI installs it.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from playwright.async_api import expect

from relaygraph.contracts import ResumeRequest
from tests.browser import chromium_page

pytestmark = pytest.mark.integration

SCREENSHOT = Path("/tmp/reviewer-inbox.png")
SCREENSHOT_PENDING = Path("/tmp/reviewer-inbox-pending.png")
VIEWPORT = {"width": 1200, "height": 900}


def _deploy_and_refund(event_factory):
    """A release's question with its changes, and a refund's with three options."""
    deploy = event_factory(
        graph_id="release",
        values=[
            {
                "question": "Deploy v2.3.0 to production?",
                "changes": ["faster search", "new billing page"],
                "requested_by": "ci-bot",
            }
        ],
        created_at="2026-03-02T09:15:00+00:00",
    )
    refund = event_factory(
        graph_id="support",
        values=[{"question": "Refund order #1042?", "options": ["refund", "store credit", "deny"]}],
        created_at="2026-03-02T09:20:00+00:00",
    )
    return deploy, refund


async def _answer_in_the_form(card, event, answer, gateway):
    """Text that is not JSON first (the page says so and sends nothing), then
    ``answer``, as grace."""
    textarea = card.locator(f'textarea[name="resume:{event.interrupts[0].id}"]')
    await textarea.fill("yes")
    await card.locator("button.primary").click()
    await expect(card.locator(".jsonerr")).to_contain_text("not valid JSON")
    assert gateway.requests == []
    await textarea.fill(json.dumps(answer))
    await card.locator('input[name="reviewer"]').fill("grace")
    await card.locator("button.primary").click()


async def test_a_person_answers_an_interrupt_in_the_inbox(
    chromium, start_reviewer, publish, event_factory, gateway, eventually
):
    deploy, refund = _deploy_and_refund(event_factory)
    await publish(deploy)
    await publish(refund)
    answer = {"approved": True, "comment": "ship it <b>now</b>"}

    async with start_reviewer() as reviewer:

        async def both_pending():
            assert len(await reviewer.pending()) == 2

        await eventually(both_pending)
        async with chromium_page(chromium, viewport=VIEWPORT) as (page, problems):
            await page.goto(reviewer.url + "/")

            card = page.locator(f"#thread-{deploy.thread_id}")
            await expect(card).to_contain_text("release")
            await expect(card).to_contain_text(deploy.thread_id)
            await expect(card).to_contain_text('"question": "Deploy v2.3.0 to production?"')
            await expect(page.locator(f"#thread-{refund.thread_id} .quick button")).to_have_count(3)

            await page.screenshot(path=str(SCREENSHOT_PENDING), full_page=True)

            await _answer_in_the_form(card, deploy, answer, gateway)

            flash = page.locator(".flash.ok")
            await expect(flash).to_contain_text("Resumed thread")
            run_id = gateway.run_ids[0]
            await expect(flash).to_contain_text(run_id)
            await expect(page.locator(f"#thread-{deploy.thread_id}")).to_have_count(0)
            recent = page.locator("#recent")
            await expect(recent).to_contain_text(run_id)
            await expect(recent).to_contain_text("grace")
            # the name is remembered for the next answer
            refund_name = page.locator(f'#thread-{refund.thread_id} input[name="reviewer"]')
            await expect(refund_name).to_have_value("grace")
            await page.screenshot(path=str(SCREENSHOT), full_page=True)
            assert problems == []

    assert gateway.requests == [
        (
            reviewer.subjects.resume(deploy.thread_id),
            ResumeRequest(resume=answer, reviewer="grace", interrupt_id=deploy.interrupts[0].id),
        )
    ]


async def test_the_inbox_follows_arrivals_and_answers_live_and_filters(
    chromium, start_reviewer, publish, event_factory, gateway, eventually
):
    deploy = event_factory(graph_id="release", values=[{"question": "Deploy v2.4?"}])
    refund = event_factory(graph_id="support", values=[{"question": "Refund order #2077?"}])
    await publish(deploy)
    async with start_reviewer() as reviewer:

        async def one_pending():
            assert len(await reviewer.pending()) == 1

        await eventually(one_pending)
        async with chromium_page(chromium, viewport=VIEWPORT) as (page, problems):
            await page.goto(reviewer.url + "/")
            await expect(page.locator("#cards article")).to_have_count(1)

            await publish(refund)  # arrives without a reload
            await expect(page.locator(f"#thread-{refund.thread_id}")).to_be_visible()
            await expect(page.locator("#pending .count")).to_have_text("2")
            await expect(page.locator("#graph-filter option")).to_have_text(
                ["all graphs", "release (1)", "support (1)"]
            )

            await page.select_option("#graph-filter", "support")
            await expect(page.locator(f"#thread-{deploy.thread_id}")).to_be_hidden()
            await page.select_option("#graph-filter", "")
            await page.fill("#search", "v2.4")
            await expect(page.locator(f"#thread-{refund.thread_id}")).to_be_hidden()
            await expect(page.locator(f"#thread-{deploy.thread_id}")).to_be_visible()
            await page.fill("#search", "")

            async with httpx.AsyncClient(base_url=reviewer.url) as api:  # answered elsewhere
                r = await api.post(
                    f"/api/interrupts/{deploy.thread_id}/resume", json={"resume": "yes"}
                )
                assert r.status_code == 200, r.text
            await expect(page.locator(f"#thread-{deploy.thread_id}")).to_have_count(0)
            await expect(page.locator("#pending .count")).to_have_text("1")
            assert problems == []
