"""LangChain Agent Inbox's ``HumanInterrupt`` in the inbox, in real headless
Chromium: only the controls its ``config`` allows, the description as Markdown
(no raw HTML), and each control answers with the ``HumanResponse`` shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import async_playwright, expect

from relaygraph.contracts import ResumeRequest
from tests.conftest import CHROMIUM_ARGS

pytestmark = pytest.mark.integration
SCREENSHOT = Path("/tmp/reviewer-human-interrupts.png")


def _asking(allow: dict[str, bool], listed: bool = True) -> Any:
    request = {
        "action_request": {"action": "send_email", "args": {"to": "ann@example.com", "cc": []}},
        "config": {
            "allow_accept": False,
            "allow_edit": False,
            "allow_respond": False,
            "allow_ignore": False,
        }
        | allow,
        "description": "Send **this** email?\n\n<script>alert(1)</script> [x](javascript:alert(1))",
    }
    return [request] if listed else request


async def test_each_control_answers_with_a_human_response(
    chromium, start_reviewer, publish, event_factory, gateway, eventually
):
    accept = event_factory(values=[_asking({"allow_accept": True, "allow_ignore": True})])
    edit = event_factory(values=[_asking({"allow_edit": True}, listed=False)])
    respond = event_factory(values=[_asking({"allow_respond": True, "allow_accept": True})])
    ignore = event_factory(values=[_asking({"allow_ignore": True})])
    events = [accept, edit, respond, ignore]
    for event in events:
        await publish(event)

    async with start_reviewer() as reviewer:

        async def all_pending():
            assert len(await reviewer.pending()) == 4

        await eventually(all_pending)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=chromium, headless=True, args=CHROMIUM_ARGS
            )
            try:
                page = await browser.new_page(viewport={"width": 1200, "height": 1400})
                problems: list[str] = []
                page.on("pageerror", lambda e: problems.append(str(e)))
                page.on("dialog", lambda d: problems.append(f"dialog {d.message}"))
                await page.goto(reviewer.url + "/")

                card = page.locator(f"#thread-{accept.thread_id}")
                await expect(card.locator(".description strong")).to_have_text("this")
                await expect(card.locator(".description script")).to_have_count(0)
                await expect(card.locator(".description a")).to_have_count(0)
                await expect(card.locator(".choices button")).to_have_text(["Accept", "Ignore"])
                await expect(card.locator("button", has_text="Send answer")).to_have_count(0)
                await expect(card.locator("table.args")).to_contain_text("ann@example.com")
                await page.screenshot(path=str(SCREENSHOT), full_page=True)

                await card.locator("button", has_text="Accept").click()
                await expect(page.locator(".flash.ok")).to_contain_text("Resumed thread")

                card = page.locator(f"#thread-{edit.thread_id}")
                await expect(card.locator(".choices button")).to_have_text(["Send edited"])
                await card.locator('fieldset.args input[value="ann@example.com"]').fill(
                    "bob@example.com"
                )
                await card.locator('fieldset.args input[value="[]"]').fill('["cc@example.com"]')
                await card.locator("button", has_text="Send edited").click()
                await expect(page.locator(f"#thread-{edit.thread_id}")).to_have_count(0)

                card = page.locator(f"#thread-{respond.thread_id}")
                await card.locator("textarea").fill("Ask Ann first.")
                await card.locator("button", has_text="Send reply").click()
                await expect(page.locator(f"#thread-{respond.thread_id}")).to_have_count(0)

                card = page.locator(f"#thread-{ignore.thread_id}")
                await expect(card.locator(".choices button")).to_have_text(["Ignore"])
                await card.locator("button", has_text="Ignore").click()
                await expect(page.locator(f"#thread-{ignore.thread_id}")).to_have_count(0)

                await page.click("text=Answered")  # the audit: every answer, newest first
                rows = page.locator("#audit tbody tr")
                await expect(rows).to_have_count(4)
                await expect(rows.first).to_contain_text(ignore.thread_id)
                await expect(rows.first).to_contain_text('"type": "ignore"')
                assert problems == []
            finally:
                await browser.close()

    sent = {req.interrupt_id: req.resume for _, req in gateway.requests}
    assert all(isinstance(req, ResumeRequest) for _, req in gateway.requests)
    assert sent == {
        accept.interrupts[0].id: [{"type": "accept", "args": None}],
        edit.interrupts[0].id: {
            "type": "edit",
            "args": {
                "action": "send_email",
                "args": {"to": "bob@example.com", "cc": ["cc@example.com"]},
            },
        },
        respond.interrupts[0].id: [{"type": "response", "args": "Ask Ann first."}],
        ignore.interrupts[0].id: [{"type": "ignore", "args": None}],
    }
