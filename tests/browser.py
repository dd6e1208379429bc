"""Headless Chromium for the inbox's browser tests: a page, and what its
console and scripts complain of."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from tests.conftest import CHROMIUM_ARGS

if TYPE_CHECKING:
    from playwright.async_api import Page


@contextlib.asynccontextmanager
async def chromium_page(executable: str, **options: Any) -> AsyncIterator[tuple[Page, list[str]]]:
    """A page of a headless Chromium (``executable``: the ``chromium``
    fixture; ``options``: the page's, e.g. ``viewport``, ``java_script_enabled``)
    and the console errors and warnings and uncaught script errors it collects.
    The browser is closed on leaving."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page(**options)
            problems: list[str] = []
            page.on(
                "console",
                lambda m: problems.append(m.text) if m.type in ("error", "warning") else None,
            )
            page.on("pageerror", lambda e: problems.append(str(e)))
            yield page, problems
        finally:
            await browser.close()
