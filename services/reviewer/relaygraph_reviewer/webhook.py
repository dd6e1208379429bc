"""Webhook bridge for chat bots: each new interrupt is POSTed as JSON.

The body is the interrupt event plus ``resume_subject``, the NATS subject to
answer on (a bot can also answer through the inbox's HTTP API). Deliveries run
in the background, retried with exponential backoff; a delivery that still
fails is logged, and the interrupt stays in the inbox either way.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import msgspec

from relaygraph.contracts import InterruptEvent

log = logging.getLogger("relaygraph.reviewer.webhook")

_RETRYABLE_STATUS = {408, 425, 429}


def webhook_body(event: InterruptEvent, resume_subject: str) -> dict[str, Any]:
    body: dict[str, Any] = msgspec.to_builtins(event)
    body["resume_subject"] = resume_subject
    return body


class WebhookBridge:
    """A queue of deliveries and the loop that sends them (owned by a TaskGroup)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        *,
        attempts: int = 4,
        backoff: float = 0.5,
    ) -> None:
        self._client = client
        self.url = url
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def submit(self, event: InterruptEvent, resume_subject: str) -> None:
        self._queue.put_nowait(webhook_body(event, resume_subject))

    async def run(self) -> None:
        """Deliver forever, one at a time; ends when cancelled."""
        while True:
            body = await self._queue.get()
            try:
                await self.deliver(body)
            finally:
                self._queue.task_done()

    async def deliver(self, body: dict[str, Any]) -> bool:
        """POST with retries; True when a 2xx came back."""
        thread_id = body.get("thread_id")
        for attempt in range(1, self._attempts + 1):
            try:
                response = await self._client.post(self.url, json=body)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
                retryable = True
            else:
                if response.is_success:
                    return True
                problem = f"HTTP {response.status_code}"
                retryable = response.status_code >= 500 or response.status_code in _RETRYABLE_STATUS
            if not retryable or attempt == self._attempts:
                log.error(
                    "webhook %s: interrupt of thread %s not delivered after %d attempt(s): %s "
                    "(it stays in the inbox)",
                    self.url,
                    thread_id,
                    attempt,
                    problem,
                )
                return False
            delay = self._backoff * 2 ** (attempt - 1)
            log.warning(
                "webhook %s: attempt %d for thread %s failed (%s), retrying in %.1fs",
                self.url,
                attempt,
                thread_id,
                problem,
                delay,
            )
            await asyncio.sleep(delay)
        return False
