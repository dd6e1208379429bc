"""POST a finished run to its ``webhook``, as the reference does (the run
object with its final ``status``, ``run_started_at``, ``run_ended_at``,
``webhook_sent_at``, ``values`` and ``error``), off the run's path.

Before each attempt the URL is checked again and the host resolved again; the
request goes to an address just checked (the ``Host`` header and TLS name stay
the host's), so a DNS answer that changes after the check cannot point it at
the internal network. Redirects are not followed. Three attempts, 1 s then
2 s apart, on a network error, a timeout, a 5xx or a 429. With
``RELAYGRAPH_WEBHOOK_SECRET`` set, each POST is signed the Standard Webhooks
way (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import time
from typing import Any

import httpx
import msgspec

from relaygraph.errors import InvalidInput
from relaygraph.runs import now_iso
from relaygraph.webhooks import WebhookConfig, check_url

log = logging.getLogger("relaygraph.webhooks")

ATTEMPTS = 3
TIMEOUT = httpx.Timeout(30.0, connect=5.0)
RETRY_STATUSES = frozenset({429}) | frozenset(range(500, 600))


def signed(secret: str, msg_id: str, body: bytes) -> dict[str, str]:
    """Standard Webhooks headers: HMAC-SHA256 of ``id.timestamp.body``, base64.
    A ``whsec_``-prefixed secret is base64 (as those libraries write it)."""
    key = (
        base64.b64decode(secret.removeprefix("whsec_"))
        if secret.startswith("whsec_")
        else secret.encode()
    )
    stamp = str(int(time.time()))
    digest = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


class WebhookSender:
    def __init__(self, config: WebhookConfig, secret: str | None) -> None:
        self.config = config
        self.secret = secret
        self._tasks: set[asyncio.Task[bool]] = set()
        self._client: httpx.AsyncClient | None = None

    def send_soon(self, url: str, payload: dict[str, Any]) -> None:
        if self.config.disabled:
            log.info("webhooks are disabled (http.disable_webhooks); run %s", payload["run_id"])
            return
        task = asyncio.get_running_loop().create_task(self.send(url, payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send(self, url: str, payload: dict[str, Any]) -> bool:
        """Whether the receiver took it (a 2xx)."""
        run_id = str(payload.get("run_id", ""))
        delay = 1.0
        for attempt in range(1, ATTEMPTS + 1):
            try:
                status = await self._post(url, payload, run_id)
                if 200 <= status < 300:
                    log.info("run %s: webhook answered %d", run_id, status)
                    return True
                if status not in RETRY_STATUSES:
                    log.warning("run %s: webhook answered %d; not retried", run_id, status)
                    return False
                why = f"answered {status}"
            except InvalidInput as exc:
                log.warning("run %s: webhook refused: %s", run_id, exc.message)
                return False
            except httpx.HTTPError as exc:
                why = f"{type(exc).__name__}: {exc}"
            if attempt < ATTEMPTS:
                log.info("run %s: webhook %s; again in %.0f s", run_id, why, delay)
                await asyncio.sleep(delay)
                delay *= 2
        log.warning("run %s: webhook failed %d times (%s); given up", run_id, ATTEMPTS, why)
        return False

    async def _post(self, url: str, payload: dict[str, Any], run_id: str) -> int:
        target = await check_url(url, self.config)
        payload = {**payload, "webhook_sent_at": now_iso()}
        fields = self.config.allowed_fields
        if fields is not None:  # the last step, as in the reference
            payload = {k: v for k, v in payload.items() if k in fields}
        body = msgspec.json.encode(payload)
        headers = {"Content-Type": "application/json", **self.config.headers}
        if self.secret:
            headers.update(signed(self.secret, f"run_{run_id}", body))
        request_url, extensions = httpx.URL(url), {}
        if target.addresses:  # pinned to the address just checked
            address = target.addresses[0]
            headers["Host"] = request_url.netloc.decode()
            request_url = request_url.copy_with(host=address)
            extensions["sni_hostname"] = target.host
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False)
        response = await self._client.post(
            request_url, content=body, headers=headers, extensions=extensions
        )
        return response.status_code

    async def close(self, grace: float = 5.0) -> None:
        """Give webhooks under way ``grace`` seconds, then stop."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        for task in list(self._tasks):
            task.cancel()
        if self._client is not None:
            await self._client.aclose()
